/** API Lambda entry: API Gateway REST proxy events -> job API. */

import { fileURLToPath } from 'node:url';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { PowertoolsRunMetrics } from './adapters/run-metrics.js';
import {
  createDocumentClient,
  createLazyKmsClient,
  createLazySchedulerClient,
  createLazySqsClient,
} from './commons/clients.js';
import { systemClock } from './commons/clock.js';
import { loadConfig } from './commons/config.js';
import { logger } from './commons/logger.js';
import { metrics } from './commons/metrics.js';
import { sampledTracing, traced } from './commons/tracer.js';
import { createApiHandler } from './handlers/api.js';
import { readConsoleFiles } from './http/console.js';
import { wireApi } from './wiring/api.js';

const config = loadConfig('Api');
const app = createApiHandler(
  wireApi(
    config,
    {
      db: traced(createDocumentClient()),
      scheduler: createLazySchedulerClient(traced),
      sqs: createLazySqsClient(traced),
      kms: createLazyKmsClient(traced),
    },
    // Only degradation's counters, each its own EMF line: no per-request flush to set up.
    { clock: systemClock, logger, runMetrics: new PowertoolsRunMetrics(metrics) },
  ),
  {
    // Bundled beside this file by the stack (console/build.ts --out <bundle>/console), and
    // read when the console is first asked for: API requests' cold starts do not pay for it.
    files: async () => readConsoleFiles(fileURLToPath(new URL('./console', import.meta.url))),
    cognito:
      config.consoleSignInDomain && config.jwt
        ? { domain: config.consoleSignInDomain, clientId: config.jwt.audience, region: config.region }
        : null,
  },
);

export const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
  .use(sampledTracing())
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler((event) => {
    // API Gateway's request id is every log line's correlation id, and travels with run-now.
    // Set directly: a JMESPath `correlationIdPath` needs the logger's search function (22 KB of
    // JMESPath), and without it Powertools warns and sets nothing.
    logger.setCorrelationId(event.requestContext.requestId);
    return app(event);
  });
