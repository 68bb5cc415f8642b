import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { type ApiDeps, createApiApp } from '../http/app.js';

/** The API handler over injected services; the Lambda entry and the local runtime both use it. */
export function createApiHandler(
  services: ApiDeps,
): (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult> {
  return createApiApp(services);
}
