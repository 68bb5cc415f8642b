/**
 * The web console's files, served by the API itself under /console/: the same origin as
 * the API, so the page needs no CORS and its credential never leaves the origin, and the
 * deployment has no second host to secure. The files are the console's build (console/build.ts):
 * read from the Lambda package's `console/` folder on AWS, built in memory by the local runtime.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';

/** The console's files by their path below /console/ (`index.html`, `app.js`, …). */
export type ConsoleFiles = Readonly<Record<string, string>>;

export interface ConsoleSettings {
  files: ConsoleFiles;
  /** The Cognito hosted sign-in the page may offer, when the stack has a user pool domain. */
  cognito: { domain: string; clientId: string; region: string } | null;
}

const CONTENT_TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  json: 'application/json',
  map: 'application/json',
  txt: 'text/plain; charset=utf-8',
};

/**
 * Nothing runs but the console's own script, nothing loads from elsewhere, and the page may
 * not be framed; it talks to its own origin and, when it signs in with the user pool, to
 * that pool's sign-in domain only (its token endpoint).
 */
export function consoleCsp(signInDomain?: string | null): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self'${signInDomain ? ` ${signInDomain}` : ''}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; ');
}

const securityHeaders = (settings: Pick<ConsoleSettings, 'cognito'>) => ({
  'content-security-policy': consoleCsp(settings.cognito?.domain),
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
});

/** Whether a request is the console's (and not the API's, which lives under /v1). */
export function isConsolePath(path: string): boolean {
  return path === '/console' || path.startsWith('/console/');
}

/**
 * The answer to a request below /console. `event.path` is the path without the stage (a
 * proxy integration's resource path); `requestContext.path` has the stage, for redirects.
 */
export function serveConsole(settings: ConsoleSettings, event: APIGatewayProxyEvent): APIGatewayProxyResult {
  if (event.httpMethod !== 'GET' && event.httpMethod !== 'HEAD') {
    return text(settings, 405, 'method not allowed: the console is read with GET', { allow: 'GET, HEAD' });
  }
  if (event.path === '/console') {
    // Relative to where the browser is, so a stage prefix (/prod) is kept.
    return { statusCode: 301, headers: { location: 'console/', ...securityHeaders(settings) }, body: '' };
  }
  const name = event.path.slice('/console/'.length) || 'index.html';
  if (name === 'config.json') {
    return {
      statusCode: 200,
      headers: {
        'content-type': CONTENT_TYPES.json!,
        'cache-control': 'no-store',
        ...securityHeaders(settings),
      },
      body: JSON.stringify({ cognito: settings.cognito }),
    };
  }
  const body = Object.hasOwn(settings.files, name) ? settings.files[name] : undefined;
  if (body === undefined) return text(settings, 404, `no such console file: ${name}`);
  const type = CONTENT_TYPES[name.split('.').pop() ?? ''] ?? 'application/octet-stream';
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  const headers = {
    'content-type': type,
    // Changes with each deployment: the browser revalidates each time, and an unchanged
    // file costs a 304 without its body.
    'cache-control': 'no-cache',
    etag,
    ...securityHeaders(settings),
  };
  const ifNoneMatch = Object.entries(event.headers ?? {}).find(
    ([k]) => k.toLowerCase() === 'if-none-match',
  )?.[1];
  if (ifNoneMatch?.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag)) {
    return { statusCode: 304, headers, body: '' };
  }
  return { statusCode: 200, headers, body: event.httpMethod === 'HEAD' ? '' : body };
}

function text(
  settings: ConsoleSettings,
  statusCode: number,
  body: string,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { 'content-type': CONTENT_TYPES.txt!, ...securityHeaders(settings), ...headers },
    body,
  };
}

/** The console's files in a folder (the Lambda package's `console/`); none when it is absent. */
export function readConsoleFiles(dir: string): ConsoleFiles {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return {};
  }
  return Object.fromEntries(names.map((name) => [name, readFileSync(join(dir, name), 'utf8')]));
}
