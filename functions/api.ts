/** API Lambda entry: API Gateway REST proxy events -> job API. */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { servicesFromEnv } from './commons/env-services.js';
import { logger } from './commons/logger.js';
import { createApiHandler } from './handlers/api.js';

const app = createApiHandler(servicesFromEnv());

export const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler((event) => app(event));
