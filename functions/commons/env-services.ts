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

/** Services for a Lambda entry point, from its environment; fails fast on bad config. */
export function servicesFromEnv(): Services {
  return buildServices({
    config: loadConfig(),
    db: createDocumentClient(),
    scheduler: createSchedulerClient(),
    sqs: new SQSClient({}),
    sns: new SNSClient({}),
    lambda: new LambdaClient({}),
    eventBridge: new EventBridgeClient({}),
    kms: new KMSClient({}),
    runMetrics: new PowertoolsRunMetrics(metrics),
    clock: systemClock,
    logger,
  });
}
