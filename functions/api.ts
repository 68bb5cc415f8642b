/** API Lambda entry: API Gateway REST proxy events -> job API. */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { apiServicesFromEnv } from './commons/env-services.js';
import { logger } from './commons/logger.js';
import { tracer } from './commons/tracer.js';
import { createApiHandler } from './handlers/api.js';

const app = createApiHandler(apiServicesFromEnv());

export const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler((event) => {
    // API Gateway's request id is every log line's correlation id, and travels with run-now.
    // Set directly: a JMESPath `correlationIdPath` needs the logger's search function (22 KB of
    // JMESPath), and without it Powertools warns and sets nothing.
    logger.setCorrelationId(event.requestContext.requestId);
    return app(event);
  });
