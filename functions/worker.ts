/** Worker Lambda entry: SQS batches of firings -> runs, with partial batch failures. */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { PowertoolsRunMetrics } from './adapters/run-metrics.js';
import { createDocumentClient, createLazyKmsClient, createLazySqsClient } from './commons/clients.js';
import { systemClock } from './commons/clock.js';
import { loadConfig } from './commons/config.js';
import { lazy } from './commons/lazy.js';
import { logger } from './commons/logger.js';
import { metrics } from './commons/metrics.js';
import { sampledTracing, traced } from './commons/tracer.js';
import { createWorkerHandler } from './handlers/worker.js';
import { wireWorker } from './wiring/worker.js';

const work = createWorkerHandler(
  wireWorker(
    loadConfig('Worker'),
    {
      db: traced(createDocumentClient()),
      sqs: createLazySqsClient(traced),
      kms: createLazyKmsClient(traced),
      // Each made, its SDK code loaded (a chunk of its own), when work first needs it: a cold
      // start pays only for the clients every batch uses.
      sns: lazy(async () => traced(new (await import('@aws-sdk/client-sns')).SNSClient({}))),
      lambda: lazy(async () => traced(new (await import('@aws-sdk/client-lambda')).LambdaClient({}))),
      eventBridge: lazy(async () =>
        traced(new (await import('@aws-sdk/client-eventbridge')).EventBridgeClient({})),
      ),
      ecs: lazy(async () => traced(new (await import('@aws-sdk/client-ecs')).ECSClient({}))),
      sfn: lazy(async () => traced(new (await import('@aws-sdk/client-sfn')).SFNClient({}))),
    },
    { clock: systemClock, logger, runMetrics: new PowertoolsRunMetrics(metrics) },
  ),
);

export const handler = middy<SQSEvent, SQSBatchResponse>()
  .use(sampledTracing())
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .handler((event) => work(event));
