/** API Lambda: API Gateway REST proxy events -> job API. */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { createDocumentClient, createSchedulerClient } from './commons/clients.js';
import { systemClock } from './commons/clock.js';
import { loadConfig } from './commons/config.js';
import { logger } from './commons/logger.js';
import { buildServices, type Services } from './commons/services.js';
import { createApiApp } from './http/app.js';

export function createApiHandler(services: Services) {
  return createApiApp({
    jobs: services.jobService,
    runs: services.runStore,
    clock: services.clock,
    logger: services.logger,
    healthChecks: services.healthChecks,
  });
}

const app = createApiHandler(
  buildServices({
    config: loadConfig(),
    db: createDocumentClient(),
    scheduler: createSchedulerClient(),
    clock: systemClock,
    logger,
  }),
);

export const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler((event) => app(event));
