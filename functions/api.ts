/** API Lambda entry: API Gateway REST proxy events -> job API. */
import { correlationPaths } from '@aws-lambda-powertools/logger/correlationId';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { servicesFromEnv } from './commons/env-services.js';
import { logger } from './commons/logger.js';
import { tracer } from './commons/tracer.js';
import { createApiHandler } from './handlers/api.js';

const app = createApiHandler(servicesFromEnv());

export const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
  // API Gateway's request id is every log line's correlation id, and travels with run-now.
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger, { resetKeys: true, correlationIdPath: correlationPaths.API_GATEWAY_REST }))
  .handler((event) => app(event));
