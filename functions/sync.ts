/** Sync sweeper Lambda entry, run every minute by a schedule. */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import { SYNC_GRACE_SECONDS } from '../lib/definitions.js';
import { syncServicesFromEnv } from './commons/env-services.js';
import { logger } from './commons/logger.js';
import { metrics } from './commons/metrics.js';
import { tracer } from './commons/tracer.js';
import { createSyncHandler } from './handlers/sync.js';

const sweep = createSyncHandler(syncServicesFromEnv(), SYNC_GRACE_SECONDS);

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
