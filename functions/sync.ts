/** Sync sweeper Lambda entry, run every minute by a schedule. */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { KMSClient } from '@aws-sdk/client-kms';
import middy from '@middy/core';
import { SYNC_GRACE_SECONDS } from '../lib/definitions.js';
import { createDocumentClient, createSchedulerClient } from './commons/clients.js';
import { systemClock } from './commons/clock.js';
import { loadConfig } from './commons/config.js';
import { logger } from './commons/logger.js';
import { metrics } from './commons/metrics.js';
import { traced, tracer } from './commons/tracer.js';
import { createSyncHandler } from './handlers/sync.js';
import { wireSync } from './wiring/maintenance.js';

const sweep = createSyncHandler(
  wireSync(
    loadConfig('Sync'),
    {
      db: traced(createDocumentClient()),
      scheduler: traced(createSchedulerClient()),
      kms: traced(new KMSClient({})),
    },
    { clock: systemClock, logger },
  ),
  SYNC_GRACE_SECONDS,
);

export const handler = middy()
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .handler(async () => {
    const result = await sweep();
    // The alarms on schedule drift and failed repairs read these.
    metrics.addMetric('SchedulesRepaired', MetricUnit.Count, result.repaired);
    metrics.addMetric('ScheduleRepairsFailed', MetricUnit.Count, result.failed);
    return result;
  });
