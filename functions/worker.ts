/** Worker Lambda entry: SQS batches of firings -> runs, with partial batch failures. */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { ECSClient } from '@aws-sdk/client-ecs';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { PowertoolsRunMetrics } from './adapters/run-metrics.js';
import { createDocumentClient, createSqsClient } from './commons/clients.js';
import { systemClock } from './commons/clock.js';
import { loadConfig } from './commons/config.js';
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
      sqs: traced(createSqsClient()),
      sns: traced(new SNSClient({})),
      kms: traced(new KMSClient({})),
      lambda: traced(new LambdaClient({})),
      eventBridge: traced(new EventBridgeClient({})),
      ecs: traced(new ECSClient({})),
      sfn: traced(new SFNClient({})),
    },
    { clock: systemClock, logger, runMetrics: new PowertoolsRunMetrics(metrics) },
  ),
);

export const handler = middy<SQSEvent, SQSBatchResponse>()
  .use(sampledTracing())
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .handler((event) => work(event));
