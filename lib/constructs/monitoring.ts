/**
 * What a platform team watches: an alarm for every way Sundial can fail, all on one SNS
 * topic, a composite "Sundial unhealthy" over them, and a dashboard. In two regions each
 * stack also watches replication to its peer and its peer's heartbeat, and its dashboard shows
 * both regions (a dashboard widget may graph another region's metrics; an alarm may not).
 */
import { CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import type { RestApi } from 'aws-cdk-lib/aws-apigateway';
import {
  Alarm,
  AlarmRule,
  AlarmState,
  ComparisonOperator,
  CompositeAlarm,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Alias } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  CIRCUIT_OPENED_METRIC,
  DEGRADATION_LEVEL_METRIC,
  DEGRADATION_STEP_ALARMS,
  METRICS_NAMESPACE,
  OVERDUE_RUNS_METRIC,
  PASSIVE_SKIPS_METRIC,
  PEER_HEARTBEAT_AGE_METRIC,
  PEER_STALE_SECONDS,
  PRIORITIES,
  type Priority,
  REGION_ACTIVE_METRIC,
  RUNS_DEFERRED_BY_CIRCUIT_METRIC,
} from '../definitions.js';
import type { Stage } from '../stage.js';

export interface MonitoringProps {
  stage: Stage;
  queues: Record<Priority, { queue: Queue; dlq: Queue }>;
  functions: {
    api: IFunction;
    worker: IFunction;
    completion: IFunction;
    sync: IFunction;
    deadLetters: IFunction;
    reconciler: IFunction;
  };
  restApi: RestApi;
  /** Completion events that could not be delivered or handled. */
  completionDlq: Queue;
  /** Jobs-stream batches the sync function failed on for 24 hours. */
  syncDlq: Queue;
  /** Subscribed to the alarm topic when given. */
  alarmEmail?: string;
  /**
   * Two regions: this stack's region, its peer's, and the eventually consistent replicated
   * tables (by short id and name), whose replication is watched.
   */
  dr?: {
    role: 'home' | 'standby';
    region: string;
    peerRegion: string;
    tables: { id: string; name: string }[];
  };
}

/** Oldest message a queue may hold before it is a backlog worth waking someone for. */
const MAX_MESSAGE_AGE_SECONDS = 300;
/**
 * Replication to the peer region slower than this for three minutes running raises an alarm:
 * well inside the 5-minute recovery point objective (issue 16), which is the replication lag.
 */
export const REPLICATION_LATENCY_ALARM_MS = 60_000;

export class Monitoring extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];
  readonly unhealthy: CompositeAlarm;
  readonly dashboard: Dashboard;
  private readonly stage: Stage;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.stage = props.stage;
    const { functions: fns } = props;
    this.topic = new Topic(this, 'AlarmTopic', {
      displayName: `Sundial ${props.stage}: alarms`,
      masterKey: Alias.fromAliasName(this, 'AwsManagedSnsKey', 'alias/aws/sns'),
      enforceSSL: true,
    });
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));

    const runMetric = (name: string, priority: Priority, statistic = 'Sum') =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName: name,
        dimensionsMap: { service: 'sundial', priority },
        statistic,
        period: Duration.minutes(5),
      });
    /** A metric of the sweeper or the reconciler, summed over `minutes`. */
    const serviceSum = (name: string, minutes: number) =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName: name,
        dimensionsMap: { service: 'sundial' },
        statistic: 'Sum',
        period: Duration.minutes(minutes),
      });
    const sumOverPriorities = (name: string, label: string) =>
      new MathExpression({
        expression: PRIORITIES.map((p) => `${name.toLowerCase()}_${p}`).join(' + '),
        usingMetrics: Object.fromEntries(
          PRIORITIES.map((p) => [`${name.toLowerCase()}_${p}`, runMetric(name, p)]),
        ),
        label,
        period: Duration.minutes(5),
      });

    // --- alarms ---
    for (const priority of PRIORITIES) {
      const { queue, dlq } = props.queues[priority];
      this.alarm(`DeadLetters-${priority}`, {
        metric: dlq.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: 'Maximum',
        }),
        threshold: 1,
        description: `The ${priority} queue's dead-letter queue holds messages: inspect and redrive with /v1/dead-letters.`,
      });
      this.alarm(`OldestMessage-${priority}`, {
        metric: queue.metricApproximateAgeOfOldestMessage({
          period: Duration.minutes(1),
          statistic: 'Maximum',
        }),
        threshold: MAX_MESSAGE_AGE_SECONDS,
        evaluationPeriods: 3,
        description: `The ${priority} queue has held a message for more than ${MAX_MESSAGE_AGE_SECONDS} s: the worker is behind.`,
      });
      this.alarm(`ScheduleLag-${priority}`, {
        metric: runMetric('ScheduleLag', priority, 'p99'),
        threshold: 120_000,
        evaluationPeriods: 2,
        description: `p99 schedule lag of ${priority} runs is over 2 minutes.`,
      });
    }
    const succeeded = sumOverPriorities('RunsSucceeded', 'succeeded');
    const failed = sumOverPriorities('RunsFailed', 'failed');
    const timedOut = sumOverPriorities('RunsTimedOut', 'timed out');
    this.alarm('RunFailureRate', {
      metric: new MathExpression({
        expression: '100 * (failed + timedout) / MAX([succeeded + failed + timedout, 1])',
        usingMetrics: { succeeded, failed, timedout: timedOut },
        label: 'failed or timed out, % of runs',
        period: Duration.minutes(5),
      }),
      threshold: 5,
      evaluationPeriods: 2,
      description: 'More than 5% of runs failed or timed out for 10 minutes.',
    });
    this.alarm('WorkerErrors', {
      metric: fns.worker.metricErrors({ period: Duration.minutes(5) }),
      threshold: 1,
      description: 'The worker Lambda failed invocations (not run failures: the worker itself).',
    });
    this.alarm('WorkerThrottles', {
      metric: fns.worker.metricThrottles({ period: Duration.minutes(5) }),
      threshold: 1,
      description: 'The worker Lambda was throttled: account concurrency is exhausted.',
    });
    this.alarm('CompletionErrors', {
      metric: fns.completion.metricErrors({ period: Duration.minutes(5) }),
      threshold: 1,
      description:
        'The completion function failed invocations: long runs may not end until a later sweep (the failed events are in the completion DLQ).',
    });
    // Published as FiringsRejected is (a single metric with the service dimension).
    const overdue = serviceSum(OVERDUE_RUNS_METRIC, 1);
    this.alarm('LongRunsOverdue', {
      metric: overdue,
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      description:
        'Long runs are past their deadline and still not closed for 3 minutes: the completion sweep cannot stop or record them (ECS or Step Functions permissions, throttling, the function failing).',
    });
    this.alarm('CompletionDeadLetters', {
      metric: props.completionDlq.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: 'Maximum',
      }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      description:
        "The completion DLQ holds events the completion function never got or failed on: the sweep's polls end those runs later; inspect the messages for why.",
    });
    this.alarm('ScheduleSyncErrors', {
      metric: fns.sync.metricErrors({ period: Duration.minutes(5) }),
      threshold: 1,
      description:
        'The sync function failed, sweeping or on a jobs-stream batch (retried until it succeeds or is 24 hours old): schedules may not match their jobs, a change of the active region may be stuck.',
    });
    this.alarm('SyncStreamDeadLetters', {
      metric: props.syncDlq.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: 'Maximum',
      }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      description:
        "The sync DLQ holds jobs-stream batches the sync function failed on for 24 hours: those job changes never reached this region's schedules (the reconciler repairs them within 15 minutes); a takeover or stand-down among them must be run again (sundial dr status).",
    });
    if (props.dr) this.regionAlarms(props.dr);
    this.alarm('ScheduleRepairsFailed', {
      metric: serviceSum('ScheduleRepairsFailed', 5),
      threshold: 1,
      description: 'The sweeper could not repair a schedule after a crashed or failed change.',
    });
    this.alarm('ScheduleDrift', {
      metric: serviceSum('SchedulesRepaired', 15),
      threshold: 10,
      description:
        'Many schedules needed repair: changes keep failing half-way, or schedules are edited by hand.',
    });
    this.alarm('ReconcilerDrift', {
      metric: serviceSum('DriftRepaired', 15),
      threshold: 1,
      description:
        'The reconciler found schedules that did not match their jobs (edited or deleted by hand?) and repaired them.',
    });
    this.alarm('ReconcilerIncomplete', {
      // Four runs an hour: every one of them stopped for time before checking every job.
      metric: serviceSum('ReconcileIncomplete', 60),
      threshold: 4,
      description:
        'No reconciler run finished checking every job within an hour (each stops before its timeout and the next carries on).',
    });
    this.alarm('ReconcilerErrors', {
      metric: fns.reconciler.metricErrors({ period: Duration.minutes(15) }),
      threshold: 1,
      description: 'The reconciler failed: drift between jobs and schedules goes unrepaired.',
    });
    this.alarm('FiringsRejected', {
      metric: serviceSum('FiringsRejected', 5),
      threshold: 1,
      description:
        "A message on Sundial's queues was not signed by Sundial (invariant 8) and was dropped: something other than Sundial can send to them.",
    });
    // Published as FiringsRejected is: one count per opening, whichever tenant and target.
    const circuitsOpened = serviceSum(CIRCUIT_OPENED_METRIC, 5);
    this.alarm('CircuitOpened', {
      metric: circuitsOpened,
      threshold: 1,
      description:
        "A tenant's circuit breaker opened: a target failed repeatedly and is not called for a cool-down; its runs wait, queued. The worker's 'circuit opened' log line names the tenant, the target and the last error; GET /v1/breakers shows the tenant's breakers.",
      // A tenant's endpoint being down is not Sundial being unhealthy: Sundial is doing
      // what it should. Notified, but not part of the composite.
      sundialHealth: false,
    });
    this.alarm('DeadLetterArchiverErrors', {
      metric: fns.deadLetters.metricErrors({ period: Duration.minutes(5) }),
      threshold: 1,
      description: 'The dead-letter archiver failed: dead letters may not be listed.',
    });
    // Graceful degradation (issue 17): one alarm per step, on the level the completion function
    // publishes each minute; each clears by itself as the level steps back down.
    const degradationLevel = new Metric({
      namespace: METRICS_NAMESPACE,
      metricName: DEGRADATION_LEVEL_METRIC,
      dimensionsMap: { service: 'sundial' },
      statistic: 'Maximum',
      period: Duration.minutes(1),
    });
    for (const { level, id, description } of DEGRADATION_STEP_ALARMS) {
      this.alarm(id, {
        metric: degradationLevel,
        threshold: level,
        description: `Sundial is degraded to level ${level} or more: ${description}. It steps back down by itself as the pressure (queue age, DynamoDB throttling) goes; see GET /v1/health.`,
      });
    }
    this.alarm('Api5xx', {
      metric: props.restApi.metricServerError({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 1,
      description: 'The API answered 5xx.',
    });
    this.alarm('ApiLatencyP99', {
      metric: props.restApi.metricLatency({ period: Duration.minutes(5), statistic: 'p99' }),
      threshold: 3000,
      evaluationPeriods: 3,
      description: 'API p99 latency is over 3 s.',
    });

    this.unhealthy = new CompositeAlarm(this, 'Unhealthy', {
      compositeAlarmName: `sundial-${props.stage}-unhealthy`,
      alarmDescription: 'Sundial unhealthy: one of its alarms is firing.',
      alarmRule: AlarmRule.anyOf(...this.alarms.map((a) => AlarmRule.fromAlarm(a, AlarmState.ALARM))),
    });
    this.unhealthy.addAlarmAction(new SnsAction(this.topic));

    // --- dashboard ---
    const graph = (title: string, left: IMetric[], width = 12) =>
      new GraphWidget({ title, left, width, height: 6 });
    const lambdas = Object.entries(fns) as [string, IFunction][];
    // Dashboard names are global to the account: the standby's says so.
    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName:
        props.dr?.role === 'standby' ? `sundial-${props.stage}-standby` : `sundial-${props.stage}`,
    });
    this.dashboard.addWidgets(
      graph('Runs by status (all priorities)', [
        succeeded,
        failed,
        timedOut,
        sumOverPriorities('RunsSkipped', 'skipped'),
        sumOverPriorities('RunsMissed', 'missed'),
      ]),
      graph(
        'Schedule lag (p50, p99)',
        PRIORITIES.flatMap((p) => [runMetric('ScheduleLag', p, 'p50'), runMetric('ScheduleLag', p, 'p99')]),
      ),
      graph(
        'Queue depth per priority',
        PRIORITIES.map((p) => props.queues[p].queue.metricApproximateNumberOfMessagesVisible()),
      ),
      graph(
        'Dead-letter queues',
        PRIORITIES.map((p) => props.queues[p].dlq.metricApproximateNumberOfMessagesVisible()),
      ),
      graph('API latency (p50, p99)', [
        props.restApi.metricLatency({ statistic: 'p50' }),
        props.restApi.metricLatency({ statistic: 'p99' }),
      ]),
      graph('API errors', [props.restApi.metricClientError(), props.restApi.metricServerError()]),
      graph(
        'Long runs: overdue, completion DLQ',
        [
          overdue.with({ label: 'long runs overdue' }),
          props.completionDlq.metricApproximateNumberOfMessagesVisible({ label: 'completion DLQ' }),
        ],
        24,
      ),
      graph('Degradation level (0 calm .. 4 creates refused)', [degradationLevel.with({ label: 'level' })]),
      graph(
        'Degradation steps taken',
        (['LowPriorityDeferred', 'RunHistoryCheap', 'DependentsDelayed', 'CreatesRefused'] as const).map(
          (name) => serviceSum(name, 1).with({ label: name }),
        ),
      ),
      graph('Circuit breakers: openings, runs deferred by an open circuit', [
        circuitsOpened.with({ label: 'circuits opened' }),
        sumOverPriorities(RUNS_DEFERRED_BY_CIRCUIT_METRIC, 'runs deferred by circuit'),
      ]),
      graph(
        'Lambda errors',
        lambdas.map(([, fn]) => fn.metricErrors()),
      ),
      graph(
        'Lambda duration (p99)',
        lambdas.map(([, fn]) => fn.metricDuration({ statistic: 'p99' })),
      ),
      graph(
        'Lambda concurrency',
        lambdas.map(
          ([, fn]) =>
            new Metric({
              namespace: 'AWS/Lambda',
              metricName: 'ConcurrentExecutions',
              dimensionsMap: { FunctionName: fn.functionName },
              statistic: 'Maximum',
            }),
        ),
        24,
      ),
    );
    if (props.dr) this.dashboard.addWidgets(...this.regionWidgets(props.dr));
    const region = Stack.of(this).region;
    new CfnOutput(Stack.of(this), 'DashboardUrl', {
      value: `https://console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards:name=${this.dashboard.dashboardName}`,
    });
    new CfnOutput(Stack.of(this), 'AlarmTopicArn', {
      value: this.topic.topicArn,
      description: 'Every Sundial alarm; subscribe on-call here (or pass -c alarmEmail=...)',
    });
  }

  private alarm(
    id: string,
    props: {
      metric: IMetric;
      threshold: number;
      description: string;
      evaluationPeriods?: number;
      datapointsToAlarm?: number;
      comparisonOperator?: ComparisonOperator;
      /** No data means nothing happened (the default), or that something stopped. */
      treatMissingData?: TreatMissingData;
      /**
       * False for an alarm about a tenant's own systems, not Sundial's: it notifies the topic
       * but is left out of the `unhealthy` composite.
       */
      sundialHealth?: boolean;
    },
  ): Alarm {
    const alarm = new Alarm(this, id, {
      alarmName: `sundial-${this.stage}-${id}`,
      metric: props.metric,
      threshold: props.threshold,
      evaluationPeriods: props.evaluationPeriods ?? 1,
      ...(props.datapointsToAlarm === undefined ? {} : { datapointsToAlarm: props.datapointsToAlarm }),
      comparisonOperator: props.comparisonOperator ?? ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // No data means nothing happened: no runs, no messages, no errors (unless told otherwise).
      treatMissingData: props.treatMissingData ?? TreatMissingData.NOT_BREACHING,
      alarmDescription: props.description,
    });
    alarm.addAlarmAction(new SnsAction(this.topic));
    if (props.sundialHealth !== false) this.alarms.push(alarm);
    return alarm;
  }

  /**
   * AWS/DynamoDB ReplicationLatency from `from` to `to` for one replicated table (milliseconds),
   * published in `from`: the peer's is named by its region (dashboards only; an alarm reads
   * its own region's metrics).
   */
  private replicationLatency(tableName: string, from: string, to: string): Metric {
    return new Metric({
      namespace: 'AWS/DynamoDB',
      metricName: 'ReplicationLatency',
      dimensionsMap: { TableName: tableName, ReceivingRegion: to },
      statistic: 'Maximum',
      period: Duration.minutes(1),
      ...(from === Stack.of(this).region ? {} : { region: from }),
    });
  }

  /** A region metric of the sync sweeper (service dimension only), in the given region. */
  private regionMetric(name: string, region: string, statistic = 'Maximum'): Metric {
    return new Metric({
      namespace: METRICS_NAMESPACE,
      metricName: name,
      dimensionsMap: { service: 'sundial' },
      statistic,
      period: Duration.minutes(1),
      ...(region === Stack.of(this).region ? {} : { region }),
    });
  }

  /**
   * Two regions. Replication from this region to its peer (ReplicationLatency is published in
   * the region that sends: the home stack watches home → standby, the standby the way back,
   * which carries the writes after a failover), and the peer's heartbeat as this region sees
   * it: the sweeper publishes its age every minute, so no data at all means this region's
   * sweeper is not running, which must wake someone as much as a stale peer does.
   */
  private regionAlarms(dr: NonNullable<MonitoringProps['dr']>): void {
    for (const { id, name: tableName } of dr.tables) {
      this.alarm(`ReplicationLatency-${id}`, {
        metric: this.replicationLatency(tableName, dr.region, dr.peerRegion),
        threshold: REPLICATION_LATENCY_ALARM_MS,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        datapointsToAlarm: 3,
        description: `Replication of ${tableName} from ${dr.region} to ${dr.peerRegion} took over ${REPLICATION_LATENCY_ALARM_MS / 1000} s for 3 minutes: what a failover now would lose grows toward the 5-minute RPO. (No writes, no data: not an alarm; replication stopped altogether shows as a stale peer heartbeat.)`,
      });
    }
    this.alarm('PeerHeartbeatStale', {
      metric: this.regionMetric(PEER_HEARTBEAT_AGE_METRIC, dr.region),
      threshold: PEER_STALE_SECONDS,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      treatMissingData: TreatMissingData.BREACHING,
      description: `The heartbeat of ${dr.peerRegion}, as ${dr.region} reads it from the replicated jobs table, is over ${PEER_STALE_SECONDS} s old (the peer's sweeper stopped, its region is down, or replication is stuck), or ${dr.region}'s own sweeper published nothing. Check the dashboard of both regions before a failover (sundial dr status).`,
    });
  }

  /** Two regions: replication both ways, which region is active, heartbeats and passive skips. */
  private regionWidgets(dr: NonNullable<MonitoringProps['dr']>): GraphWidget[] {
    const both = [dr.region, dr.peerRegion];
    const graph = (title: string, left: IMetric[]) => new GraphWidget({ title, left, width: 12, height: 6 });
    // Labelled here, not on the alarms' metrics: a label makes an alarm a metric-math one.
    const latency = (table: string, from: string, to: string) =>
      this.replicationLatency(table, from, to).with({ label: `${table} ${from} → ${to}` });
    const perRegion = (name: string, statistic?: string) =>
      both.map((r) => this.regionMetric(name, r, statistic).with({ label: r }));
    return [
      graph(
        'Replication latency, both ways (max, ms)',
        dr.tables.flatMap(({ name }) => [
          latency(name, dr.region, dr.peerRegion),
          latency(name, dr.peerRegion, dr.region),
        ]),
      ),
      graph('Active region (1 active, 0 passive)', perRegion(REGION_ACTIVE_METRIC)),
      graph('Peer heartbeat age (s), as each region sees the other', perRegion(PEER_HEARTBEAT_AGE_METRIC)),
      graph('Firings skipped by a passive region', perRegion(PASSIVE_SKIPS_METRIC, 'Sum')),
    ];
  }
}
