/**
 * Sync Lambda entry: the sweeper, run every minute by a schedule (and, with two regions, the
 * region's heartbeat); and the jobs table's stream (two regions: a passive region's schedules
 * kept in step, takeover and stand-down).
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import middy from '@middy/core';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { SYNC_GRACE_SECONDS } from '../lib/definitions.js';
import { PowertoolsRunMetrics } from './adapters/run-metrics.js';
import { createDocumentClient, createLazyKmsClient, createLazySqsClient } from './commons/clients.js';
import { systemClock } from './commons/clock.js';
import { loadConfig } from './commons/config.js';
import { ready } from './commons/lazy.js';
import { logger } from './commons/logger.js';
import { metrics } from './commons/metrics.js';
import { sampledTracing, traced } from './commons/tracer.js';
import { createSyncHandler, createSyncStreamHandler } from './handlers/sync.js';
import { wireSync } from './wiring/maintenance.js';

const services = wireSync(
  loadConfig('Sync'),
  {
    db: traced(createDocumentClient()),
    // Made at init: every invocation reads or writes schedules.
    scheduler: ready(traced(new SchedulerClient({}))),
    kms: createLazyKmsClient(traced),
    sqs: createLazySqsClient(traced),
  },
  { clock: systemClock, logger, runMetrics: new PowertoolsRunMetrics(metrics) },
);
const sweep = createSyncHandler(services, SYNC_GRACE_SECONDS);
const stream = createSyncStreamHandler(services);

const isStream = (event: unknown): event is DynamoDBStreamEvent =>
  Array.isArray((event as DynamoDBStreamEvent | undefined)?.Records);

export const handler = middy()
  .use(sampledTracing())
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .handler(async (event: unknown) => {
    if (isStream(event)) return stream(event);
    const result = await sweep();
    // The alarms on schedule drift and failed repairs read these.
    metrics.addMetric('SchedulesRepaired', MetricUnit.Count, result.repaired);
    metrics.addMetric('ScheduleRepairsFailed', MetricUnit.Count, result.failed);
    return result;
  });
