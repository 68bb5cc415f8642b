/** Reconciler Lambda entry, run every 15 minutes: repairs drift between jobs and schedules. */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import middy from '@middy/core';
import { createDocumentClient, createLazyKmsClient } from './commons/clients.js';
import { systemClock } from './commons/clock.js';
import { loadConfig } from './commons/config.js';
import { ready } from './commons/lazy.js';
import { logger } from './commons/logger.js';
import { metrics } from './commons/metrics.js';
import { sampledTracing, traced } from './commons/tracer.js';
import { createReconcileHandler } from './handlers/reconcile.js';
import { wireReconciler } from './wiring/maintenance.js';

const run = createReconcileHandler(
  wireReconciler(
    loadConfig('Reconciler'),
    {
      db: traced(createDocumentClient()),
      // Made at init: every invocation reads or writes schedules.
      scheduler: ready(traced(new SchedulerClient({}))),
      kms: createLazyKmsClient(traced),
    },
    { clock: systemClock, logger },
  ),
);

export const handler = middy()
  .use(sampledTracing())
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .handler(async (_event, context) => {
    // Stops cleanly, and says so, before the function's timeout would cut it off.
    const report = await run({ timeLeftMs: () => context.getRemainingTimeInMillis() });
    metrics.addMetric('DriftRepaired', MetricUnit.Count, report.missing + report.drifted + report.orphaned);
    metrics.addMetric('DriftRepairsFailed', MetricUnit.Count, report.failed);
    metrics.addMetric('JobsReconciled', MetricUnit.Count, report.jobs);
    // A run that stopped for time: the next one carries on; one that never ends raises an alarm.
    metrics.addMetric('ReconcileIncomplete', MetricUnit.Count, report.completed ? 0 : 1);
    return report;
  });
