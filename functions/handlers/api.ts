import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { type ApiDeps, createApiApp } from '../http/app.js';
import { type ConsoleFiles, type ConsoleSettings, isConsolePath, serveConsole } from '../http/console.js';

/** The console's settings; its files may be built on first use (the local runtime builds them in memory). */
export interface ConsoleSource extends Omit<ConsoleSettings, 'files'> {
  files: ConsoleFiles | (() => Promise<ConsoleFiles>);
}

/**
 * The API handler over injected services; the Lambda entry and the local runtime both use
 * it. With `consoleSource`, it also serves the web console's files under /console/.
 */
export function createApiHandler(
  services: ApiDeps,
  consoleSource?: ConsoleSource,
): (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult> {
  const app = createApiApp(services);
  if (!consoleSource) return app;
  const { files, ...rest } = consoleSource;
  let built: Promise<ConsoleFiles> | undefined;
  const load = async (): Promise<ConsoleFiles> => {
    if (typeof files !== 'function') return files;
    built ??= files().catch((error: unknown) => {
      built = undefined; // the next request tries again
      throw error;
    });
    return built;
  };
  return async (event) =>
    isConsolePath(event.path) ? serveConsole({ ...rest, files: await load() }, event) : app(event);
}
