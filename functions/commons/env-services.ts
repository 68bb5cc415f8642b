import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { PowertoolsRunMetrics } from '../adapters/run-metrics.js';
import { createDocumentClient, createSchedulerClient } from './clients.js';
import { systemClock } from './clock.js';
import { loadConfig } from './config.js';
import { logger } from './logger.js';
import { metrics } from './metrics.js';
import { buildServices, type Services } from './services.js';
import { tracer } from './tracer.js';

/** Services for a Lambda entry point, from its environment; fails fast on bad config. */
export function servicesFromEnv(): Services {
  // Every SDK call becomes an X-Ray subsegment of the invocation.
  const traced = <T>(client: T): T => tracer.captureAWSv3Client(client);
  return buildServices({
    config: loadConfig(),
    db: traced(createDocumentClient()),
    scheduler: traced(createSchedulerClient()),
    sqs: traced(new SQSClient({})),
    sns: traced(new SNSClient({})),
    lambda: traced(new LambdaClient({})),
    eventBridge: traced(new EventBridgeClient({})),
    kms: traced(new KMSClient({})),
    runMetrics: new PowertoolsRunMetrics(metrics),
    clock: systemClock,
    logger,
  });
}
