/**
 * Completion Lambda entry: ECS task and Step Functions execution state-change events (an
 * EventBridge rule) and a scheduled event every minute that sweeps long runs for their
 * deadlines, heartbeats and polls.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { PowertoolsRunMetrics } from './adapters/run-metrics.js';
import { createDocumentClient, createLazyKmsClient, createLazySqsClient } from './commons/clients.js';
import { systemClock } from './commons/clock.js';
import { loadConfig } from './commons/config.js';
import { lazy } from './commons/lazy.js';
import { logger } from './commons/logger.js';
import { metrics } from './commons/metrics.js';
import { sampledTracing, traced } from './commons/tracer.js';
import { type CompletionEvent, createCompletionHandler } from './handlers/completion.js';
import { wireCompletion } from './wiring/completion.js';

const complete = createCompletionHandler(
  wireCompletion(
    loadConfig('Completion'),
    {
      db: traced(createDocumentClient()),
      sqs: createLazySqsClient(traced),
      kms: createLazyKmsClient(traced),
      // Each made, its SDK code loaded (a chunk of its own), when work first needs it.
      sns: lazy(async () => traced(new (await import('@aws-sdk/client-sns')).SNSClient({}))),
      ecs: lazy(async () => traced(new (await import('@aws-sdk/client-ecs')).ECSClient({}))),
      sfn: lazy(async () => traced(new (await import('@aws-sdk/client-sfn')).SFNClient({}))),
    },
    { clock: systemClock, logger, runMetrics: new PowertoolsRunMetrics(metrics) },
  ),
);

export const handler = middy<CompletionEvent, { detail: string }>()
  .use(sampledTracing())
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .handler((event) => complete(event));
