/**
 * What a deployment costs a month before any run: counted from the synthesized stack
 * (alarms, dashboards, KMS keys, queues that Lambda polls) and from the metrics the code
 * publishes, at list prices. The per-run model leaves these out; a comparison per job
 * (Google Cloud Scheduler's $0.10 a job a month) must not.
 */
import { App } from 'aws-cdk-lib';
import { RUN_STATUS_METRICS } from '../functions/adapters/run-metrics.js';
import { PRIORITIES, RECONCILE_MINUTES, SYNC_SHARDS, SYNC_SWEEP_MINUTES } from '../lib/definitions.js';
import { SundialStack } from '../lib/sundial-stack.js';
import { PRICES } from './prices.js';

/** Monthly list prices (us-east-1); per-request prices come from the run model's table. */
export const MONTHLY_PRICES = {
  alarm: {
    usd: 0.1,
    what: 'CloudWatch alarm (standard resolution), per month',
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
  },
  compositeAlarm: {
    usd: 0.5,
    what: 'CloudWatch composite alarm, per month',
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
  },
  dashboard: {
    usd: 3.0,
    what: 'CloudWatch dashboard, per month (beyond 3 free)',
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
  },
  metric: {
    usd: 0.3,
    what: 'CloudWatch custom metric, per month (first 10,000)',
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
  },
  kmsKey: {
    usd: 1.0,
    what: 'KMS customer managed key, per month',
    source: 'https://aws.amazon.com/kms/pricing/',
  },
} as const;

/** Lambda's SQS pollers long-poll an idle queue; an assumption, not a published figure. */
export const IDLE_POLLING = { pollersPerQueue: 5, waitSeconds: 20 };
/** The sweeper and reconciler: an invocation's GB-seconds, and a job item's size as the reconciler's Scan reads it. */
export const MAINTENANCE = { gbSecondsPerInvocation: 0.5 * 0.2, jobItemBytes: 2048 };

const MONTH_MINUTES = 30 * 24 * 60;

export function fixedMonthlyCosts() {
  // Bundling is not needed to count resources: skip esbuild for speed.
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new SundialStack(app, 'Sundial-cost', { stage: 'prod' });
  const resources = Object.values(
    app.synth().getStackByName(stack.stackName).template.Resources as Record<string, { Type: string }>,
  );
  const count = (type: string) => resources.filter((r) => r.Type === type).length;
  const alarms = count('AWS::CloudWatch::Alarm');
  const composites = count('AWS::CloudWatch::CompositeAlarm');
  const dashboards = count('AWS::CloudWatch::Dashboard');
  const keys = count('AWS::KMS::Key');
  const polledQueues = count('AWS::Lambda::EventSourceMapping');
  // Per priority: each run status, schedule lag and duration; per service: the sweeper's
  // and the reconciler's six.
  const metrics = PRIORITIES.length * (Object.keys(RUN_STATUS_METRICS).length + 2) + 6;
  const idleReceives =
    polledQueues * IDLE_POLLING.pollersPerQueue * (60 / IDLE_POLLING.waitSeconds) * MONTH_MINUTES;
  const scheduledInvocations = MONTH_MINUTES / SYNC_SWEEP_MINUTES + MONTH_MINUTES / RECONCILE_MINUTES;
  const perRequest = (usdPerMillion: number) => usdPerMillion / 1_000_000;
  const parts = {
    alarms: alarms * MONTHLY_PRICES.alarm.usd + composites * MONTHLY_PRICES.compositeAlarm.usd,
    dashboard: dashboards * MONTHLY_PRICES.dashboard.usd,
    metrics: metrics * MONTHLY_PRICES.metric.usd,
    kms: keys * MONTHLY_PRICES.kmsKey.usd,
    idlePolling: idleReceives * perRequest(PRICES.sqs.usd),
    sweeperAndReconciler:
      scheduledInvocations *
        (perRequest(PRICES.lambdaRequests.usd) +
          MAINTENANCE.gbSecondsPerInvocation * PRICES.lambdaGbSecond.usd) +
      // The sweeper queries each shard of the sync index every minute (an empty read's minimum).
      (MONTH_MINUTES / SYNC_SWEEP_MINUTES) * SYNC_SHARDS * 0.5 * perRequest(PRICES.dynamoRead.usd),
  };
  // Every reconciler run scans every job (eventually consistent: half a unit per 4 KB).
  const reconcilerScanPer1000Jobs =
    (MONTH_MINUTES / RECONCILE_MINUTES) *
    ((1000 * MAINTENANCE.jobItemBytes) / 4096) *
    0.5 *
    perRequest(PRICES.dynamoRead.usd);
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    counted: {
      alarms,
      composites,
      dashboards,
      keys,
      polledQueues,
      metrics,
      idleReceives,
      scheduledInvocations,
    },
    parts: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, round(v)])),
    total: round(Object.values(parts).reduce((a, b) => a + b, 0)),
    reconcilerScanPer1000Jobs: round(reconcilerScanPer1000Jobs),
    assumptions: { ...IDLE_POLLING, ...MAINTENANCE },
  };
}
