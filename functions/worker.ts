/** Worker Lambda entry: SQS batches of firings -> runs, with partial batch failures. */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { workerServicesFromEnv } from './commons/env-services.js';
import { logger } from './commons/logger.js';
import { metrics } from './commons/metrics.js';
import { tracer } from './commons/tracer.js';
import { createWorkerHandler } from './handlers/worker.js';

const work = createWorkerHandler(workerServicesFromEnv());

export const handler = middy<SQSEvent, SQSBatchResponse>()
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .handler((event) => work(event));
