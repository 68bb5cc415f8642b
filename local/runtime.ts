/**
 * The whole of Sundial on one machine: DynamoDB Local, fauxqs, Sundial's Scheduler
 * emulator, the API behind a local API Gateway, SQS pollers feeding the worker, and the
 * sync sweeper — the same handler code and SDK clients as on AWS, pointed at local endpoints.
 */

import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ECSClient } from '@aws-sdk/client-ecs';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { CreateScheduleGroupCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { SFNClient } from '@aws-sdk/client-sfn';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import type { JwtConfig } from '../functions/adapters/authenticator.js';
import { SqsFiringQueue } from '../functions/adapters/firing-queue.js';
import { InMemoryRunMetrics, type RunEndedReport } from '../functions/adapters/run-metrics.js';
import { createDocumentClient, sqsConfig } from '../functions/commons/clients.js';
import { type Clock, systemClock } from '../functions/commons/clock.js';
import { type Config, environmentFor, loadConfig, type TenantLimits } from '../functions/commons/config.js';
import { ready } from '../functions/commons/lazy.js';
import type { DegradationSettings } from '../functions/domain/degradation.js';
import type { Logger as LoggerPort, ScheduleWriter, TargetCaller } from '../functions/domain/ports.js';
import { createApiHandler } from '../functions/handlers/api.js';
import { type CompletionEvent, createCompletionHandler } from '../functions/handlers/completion.js';
import { createDeadLetterHandler } from '../functions/handlers/dead-letters.js';
import { createReconcileHandler } from '../functions/handlers/reconcile.js';
import { createSyncHandler, createSyncStreamHandler } from '../functions/handlers/sync.js';
import { createWorkerHandler } from '../functions/handlers/worker.js';
import type { ReconcileReport } from '../functions/usecases/reconcile.js';
import { type ApiServices, wireApi } from '../functions/wiring/api.js';
import { type CompletionServices, wireCompletion } from '../functions/wiring/completion.js';
import {
  type DeadLetterServices,
  type ReconcilerServices,
  type SyncServices,
  wireDeadLetters,
  wireReconciler,
  wireSync,
} from '../functions/wiring/maintenance.js';
import { newFiringSigner, newSecretBox } from '../functions/wiring/parts.js';
import type { Platform } from '../functions/wiring/platform.js';
import { type WorkerServices, wireWorker } from '../functions/wiring/worker.js';
import {
  PRIORITIES,
  type Priority,
  RUN_RETENTION_DAYS,
  type RunExpiry,
  SYNC_GRACE_SECONDS,
} from '../lib/definitions.js';
import { type EnvKey, FUNCTION_IDS, type FunctionId } from '../lib/environment.js';
import { startApiGateway } from './api-gateway.js';
import { LocalEventBridge, LocalLambda } from './aws-targets.js';
import { DelayLine } from './delay-line.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal } from './dynamodb-local.js';
import { LocalEcs } from './ecs-emulator.js';
import { startFauxqs } from './fauxqs.js';
import { LocalKms } from './kms-emulator.js';
import { freePort } from './ports.js';
import { createQueues, createTables, type LocalQueue } from './resources.js';
import { createSchedulerEmulator, sqsDeliverer } from './scheduler-emulator/index.js';
import { pollOnce, startPoller } from './sqs-poller.js';
import { LocalStepFunctions } from './stepfunctions-emulator.js';
import { startTableStreamPoller } from './stream-poller.js';
import { withStrongTable } from './strong-table.js';

export interface LocalRuntimeOptions {
  /** API port; 0 picks a free one. Default 3000. */
  port?: number;
  /** Injected clock. With one, nothing runs by itself: call tick() to fire and work. */
  clock?: Clock;
  /** Keep DynamoDB data in this directory instead of memory. */
  dbPath?: string;
  logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';
  /** Replaces the runtime's logger (logLevel then does not apply); the benchmark measures log volume with one. */
  logger?: Logger;
  /** Test seams: replace the Scheduler adapter or the HTTP target caller of the API/worker. */
  scheduleGateway?: ScheduleWriter;
  callHttpTarget?: TargetCaller;
  /**
   * What HTTP targets may reach at internal addresses (`host:port` or `host:low-high`).
   * Default: LOCAL_HTTP_TARGETS, ports 8000-8999 of this machine. Sundial's own ports
   * (API, emulators, stand-ins) are refused whatever this says.
   */
  allowedHttpHosts?: string[];
  /** ARN patterns AWS targets may name. Default: anything in the local account. */
  allowedTargetArns?: string[];
  /** Make failed messages visible again after this many seconds instead of the queue's timeout. */
  failedVisibilityTimeoutSeconds?: number;
  /** Concurrent worker invocations per queue in real-clock mode. Default: the stack's maximum concurrency. */
  maxConcurrency?: Partial<Record<Priority, number>>;
  /** Messages per worker invocation. Default: the stack's batch size (10). */
  batchSize?: number;
  /** Called with every AWS SDK client the runtime makes (benchmarks count calls with it). */
  instrument?: (client: { middlewareStack: { add: (...args: never[]) => void } }) => void;
  /** Per-tenant quotas and rate limits (fair share's runsInProgress included). Default: the deployed defaults. */
  limits?: Partial<TenantLimits & { runsInProgress: number }>;
  /**
   * The circuit breaker per tenant and target: consecutive failures that open it (0: off),
   * its first cool-down and the longest. Default: the deployed defaults (5, 60 s, 900 s).
   */
  circuitBreaker?: { failures?: number; coolDownSeconds?: number; maxCoolDownSeconds?: number };
  /** Accept tokens from this OIDC issuer besides API keys. */
  jwt?: JwtConfig;
  /** Sweep interval in real-clock mode. Default 10 s. */
  sweepIntervalMs?: number;
  /** Where local ECS tasks' output lines go. Default: the console in real-clock mode, the logger's debug otherwise. */
  containerOutput?: (line: string) => void;
  /** How long a stopped local task gets between SIGTERM and SIGKILL. Default 30 s, as ECS. */
  taskStopTimeoutMs?: number;
  /**
   * The hosted sign-in the console offers (an OAuth2 authorization server with /oauth2/authorize
   * and /oauth2/token, as Cognito's), with `jwt` accepting its ID tokens. Default: API keys only.
   */
  consoleSignIn?: { domain: string; clientId: string };
  /** Told of each run as it reaches its final status (`npm start` prints a line for each). */
  onRunEnded?: (run: RunEndedReport) => void;
  /** This runtime's region name. Default us-east-1. */
  region?: string;
  /**
   * Two local regions (the drill): both runtimes' regions, home first; each runtime then
   * reads the active-region item and keeps its schedules as its role says.
   */
  drRegions?: string[];
  /** The secrets key's material, shared by two local regions as a multi-Region KMS key is. */
  kmsKeyMaterial?: Buffer;
  /**
   * The runs table lives in this DynamoDB Local, not the runtime's own: two local regions that
   * share it stand in for a runs table with multi-Region strong consistency (local/strong-table.ts).
   * Its records then expire by the completion sweep (`RUN_EXPIRY=sweep`), as MRSC has no TTL.
   */
  strongRunsTable?: { endpoint: string };
  /** How old runs leave the runs table. Default `ttl`, or `sweep` with strongRunsTable. */
  runExpiry?: RunExpiry;
  /** Graceful degradation's thresholds and steps (DEGRADATION_SETTINGS). Default: the deployed defaults. */
  degradation?: Partial<DegradationSettings>;
}

/** Parts a test may swap in when it builds services on a runtime's resources. */
export interface ServiceOverrides {
  scheduleGateway?: ScheduleWriter;
  callHttpTarget?: TargetCaller;
  logger?: LoggerPort;
}

/**
 * Each function's services, wired by the same code as its Lambda entry from the environment
 * the stack would give it, and a few shortcuts the tests use.
 */
export interface LocalServices {
  api: ApiServices;
  worker: WorkerServices;
  completion: CompletionServices;
  sync: SyncServices;
  reconciler: ReconcilerServices;
  deadLetters: DeadLetterServices;
  jobService: ApiServices['jobs'];
  jobStore: ApiServices['jobStore'];
  runStore: ApiServices['runs'];
  deadLetterStore: ApiServices['deadLetters'];
  apiKeys: ApiServices['apiKeys'];
  signingSecrets: ApiServices['signingSecrets'];
  schedules: ApiServices['schedules'];
  firingSigner: ApiServices['firingSigner'];
  fairShare: NonNullable<WorkerServices['fairShare']>;
}

export interface LocalRuntime {
  apiUrl: string;
  /** An admin API key of the development tenant `dev`, made at start. */
  devApiKey: string;
  endpoints: {
    dynamodb: string;
    /** The DynamoDB Local holding the runs table: dynamodb's, or the strongly consistent one. */
    runsTable: string;
    sqs: string;
    scheduler: string;
    lambda: string;
    eventBridge: string;
    kms: string;
    ecs: string;
    stepFunctions: string;
  };
  /** DynamoDB Local's Java process id (benchmarks read its memory). */
  dynamoDbPid: number | undefined;
  /** Every function's configuration, loaded from the environment each would be given. */
  config: Config;
  /** Each function's environment, exactly as the stack sets it (lib/environment.ts). */
  environments: Record<FunctionId, Record<string, string>>;
  services: LocalServices;
  queues: Record<Priority, LocalQueue>;
  clients: { dynamodb: DynamoDBClient; sqs: SQSClient; sns: SNSClient; scheduler: SchedulerClient };
  /** Local Lambda: register functions for Lambda targets; see what they were sent. */
  lambda: LocalLambda;
  /** Local EventBridge: buses for EventBridge targets; see what they received. */
  eventBridge: LocalEventBridge;
  /** Local ECS: runs a task's container command as a child process; its events reach the completion function. */
  ecs: LocalEcs;
  /** Local Step Functions: state machines are registered handlers; their events reach the completion function. */
  stepFunctions: LocalStepFunctions;
  /** Resolves when the next ECS or Step Functions state-change event has been handled by the completion function. */
  nextCompletion(): Promise<{ detail: string }>;
  /** Runs the completion function's sweep once (deadlines, heartbeats, polls, cancels). */
  sweepLongRuns(): Promise<{ detail: string }>;
  /** Fault injection for tests: how many copies of each firing the Scheduler delivers. */
  faults: { firingCopies: number };
  /** Run metrics, as the worker would publish them to CloudWatch. */
  metrics: InMemoryRunMetrics;
  /** Every firing the Scheduler emulator delivered (once per schedule and time), oldest first. */
  firings: { tenantId: string; jobId: string; scheduledTime: string }[];
  /** Fires the schedules that are due by the clock (messages land on the queues). */
  fire(): Promise<void>;
  /** Fires due schedules and runs the worker until the queues are empty. */
  tick(): Promise<void>;
  /** Hands every visible message to the worker until none is left. */
  drain(): Promise<number>;
  /** Runs the reconciler once: repairs drift between the jobs table and the schedules. */
  reconcile(): Promise<ReconcileReport>;
  /** Runs the schedule-sync sweeper once. */
  sweep(): Promise<{ repaired: number; failed: number }>;
  /** Builds services on this runtime's resources with other parts swapped in (tests). */
  servicesWith(overrides: ServiceOverrides): LocalServices;
  stop(): Promise<void>;
  /** This runtime's region. */
  region: string;
  /** Hands the jobs table's new stream records to the sync function (two regions); how many. */
  pollStreams(): Promise<number>;
  /** Stops everything but DynamoDB Local, whose table stays readable: a region lost (the drill). */
  kill(): Promise<void>;
}

export const LOCAL_ACCOUNT = '000000000000';
/** Where local HTTP targets may listen: ports 8000-8999 of this machine, and nothing else internal. */
export const LOCAL_HTTP_TARGETS = ['localhost:8000-8999', '127.0.0.1:8000-8999', '[::1]:8000-8999'];
export const LOCAL_SCHEDULE_GROUP = 'sundial-local';
/** The tenant of the development key the local runtime makes at start. */
export const DEV_TENANT = 'dev';

export async function startLocalRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  const faults: LocalRuntime['faults'] = { firingCopies: 1 };
  const firings: LocalRuntime['firings'] = [];
  const runMetrics = new InMemoryRunMetrics(options.onRunEnded);
  const recordFiring = (input: string) => {
    try {
      const { tenantId, jobId, scheduledTime } = JSON.parse(input);
      if (typeof jobId === 'string') firings.push({ tenantId, jobId, scheduledTime });
    } catch {
      // Not a Sundial schedule's input: nothing to account for.
    }
  };
  const manual = options.clock !== undefined;
  // A second local region (the drill) is another runtime with its own region name.
  const region = options.region ?? LOCAL_REGION;
  const clock = options.clock ?? systemClock;
  const logger =
    options.logger ?? new Logger({ serviceName: 'sundial', logLevel: options.logLevel ?? 'INFO' });
  const stops: (() => Promise<void>)[] = [];
  // DynamoDB Local stops last, and apart: a killed region's table stays readable (the drill).
  let stopDynamo: () => Promise<void> = async () => undefined;
  const kill = async () => {
    for (const fn of stops.reverse())
      await fn().catch((error) => console.error('shutdown step failed', error));
    stops.length = 0;
  };
  const stop = async () => {
    await kill();
    await stopDynamo().catch((error) => console.error('shutdown step failed', error));
    stopDynamo = async () => undefined;
  };

  try {
    const dynamo = await startDynamoDbLocal(options.dbPath ? { dbPath: options.dbPath } : {});
    stopDynamo = () => dynamo.stop();
    const fauxqs = await startFauxqs({ port: 0, logger: false });
    stops.push(() => fauxqs.stop());
    const sqsEndpoint = `http://127.0.0.1:${fauxqs.port}`;
    const common = { region, credentials: LOCAL_CREDENTIALS };
    const dynamodb = new DynamoDBClient({ ...common, endpoint: dynamo.endpoint });
    const sqs = new SQSClient(sqsConfig({ ...common, endpoint: sqsEndpoint }));
    // fauxqs speaks SNS too: the failure topic lives beside the queues.
    const sns = new SNSClient({ ...common, endpoint: sqsEndpoint });
    stops.push(async () => {
      dynamodb.destroy();
      sqs.destroy();
      sns.destroy();
    });

    const lambdaEmulator = await new LocalLambda(region, LOCAL_ACCOUNT).start();
    stops.push(() => lambdaEmulator.stop());
    const eventBridgeEmulator = await new LocalEventBridge(region, LOCAL_ACCOUNT).start();
    stops.push(() => eventBridgeEmulator.stop());
    // The completion handler exists once the services are wired; events wait for it.
    let completionHandler: ((event: CompletionEvent) => Promise<{ detail: string }>) | undefined;
    const completionWaiters: ((result: { detail: string }) => void)[] = [];
    const onCompletionEvent = async (event: unknown) => {
      if (!completionHandler) return;
      // As an EventBridge rule would: only stopped tasks and ended executions (the rules' patterns).
      const e = event as CompletionEvent;
      const status = e.detail?.lastStatus ?? e.detail?.status;
      if (status === 'RUNNING' || status === 'PROVISIONING' || status === 'PENDING') return;
      try {
        const result = await completionHandler(e);
        for (const resolve of completionWaiters.splice(0)) resolve(result);
      } catch (error) {
        logger.error('completion function failed', { error: String(error) });
        for (const resolve of completionWaiters.splice(0)) resolve({ detail: `failed: ${String(error)}` });
      }
    };
    const ecsEmulator = await new LocalEcs({
      region,
      accountId: LOCAL_ACCOUNT,
      onEvent: onCompletionEvent,
      output:
        options.containerOutput ??
        (manual ? (line: string) => logger.debug(line) : (line: string) => console.log(line)),
      ...(options.taskStopTimeoutMs !== undefined ? { stopTimeoutMs: options.taskStopTimeoutMs } : {}),
    }).start();
    stops.push(() => ecsEmulator.stop());
    const sfnEmulator = await new LocalStepFunctions({
      region,
      accountId: LOCAL_ACCOUNT,
      onEvent: onCompletionEvent,
    }).start();
    stops.push(() => sfnEmulator.stop());
    const ecs = new ECSClient({ ...common, endpoint: ecsEmulator.endpoint });
    const sfn = new SFNClient({ ...common, endpoint: sfnEmulator.endpoint });
    stops.push(async () => {
      ecs.destroy();
      sfn.destroy();
    });
    const kmsEmulator = await new LocalKms(
      `arn:aws:kms:${region}:${LOCAL_ACCOUNT}:key/00000000-0000-0000-0000-000000000000`,
      options.kmsKeyMaterial,
    ).start();
    stops.push(() => kmsEmulator.stop());
    const kms = new KMSClient({ ...common, endpoint: kmsEmulator.endpoint });
    stops.push(async () => kms.destroy());
    const lambda = new LambdaClient({ ...common, endpoint: lambdaEmulator.endpoint });
    const eventBridge = new EventBridgeClient({ ...common, endpoint: eventBridgeEmulator.endpoint });
    stops.push(async () => {
      lambda.destroy();
      eventBridge.destroy();
    });

    const runExpiry = options.runExpiry ?? (options.strongRunsTable ? 'sweep' : 'ttl');
    const strongRuns = options.strongRunsTable
      ? new DynamoDBClient({ ...common, endpoint: options.strongRunsTable.endpoint })
      : undefined;
    if (strongRuns) stops.push(async () => strongRuns.destroy());
    const tables = await createTables(dynamodb, { runExpiry, ...(strongRuns ? { runsIn: strongRuns } : {}) });
    const { TopicArn: failureTopicArn } = await sns.send(
      new CreateTopicCommand({ Name: 'sundial-failures' }),
    );
    const queues = await createQueues(sqs);
    // Under an injected clock a message's SentTimestamp must be on that clock too, or the
    // queue age the worker measures (graceful degradation) would be wall-clock time.
    const sentAt = manual ? recordSendTimes(sqs, clock) : undefined;
    const byArn = new Map<string, string>();
    for (const q of Object.values(queues)) {
      byArn.set(q.arn, q.url);
      byArn.set(q.dlqArn, q.dlqUrl);
    }

    // Sundial's queues by the map (no lookup call to count); any other queue of the local SQS by GetQueueUrl.
    const toQueue = sqsDeliverer(sqs, (arn) => byArn.get(arn));
    stops.push(async () => toQueue.destroy());
    const emulator = createSchedulerEmulator({
      clock,
      region,
      accountId: LOCAL_ACCOUNT,
      logger,
      deliver: async (target) => {
        // At-least-once, made visible: a fault test can have every firing delivered N times.
        for (let copy = 0; copy < faults.firingCopies; copy++) await toQueue(target);
        if (!target.deadLetterReason) recordFiring(target.input);
      },
    });
    const schedulerEndpoint = await emulator.listen(0);
    stops.push(() => emulator.close());
    const scheduler = new SchedulerClient({ ...common, endpoint: schedulerEndpoint });
    stops.push(async () => scheduler.destroy());
    await scheduler.send(new CreateScheduleGroupCommand({ Name: LOCAL_SCHEDULE_GROUP }));

    const apiPort = options.port === 0 ? await freePort() : (options.port ?? 3000);
    const portOf = (endpoint: string) => Number(new URL(endpoint).port);
    const arn = (service: string, resource: string) =>
      `arn:aws:${service}:${region}:${LOCAL_ACCOUNT}:${resource}`;
    const byPriority = (f: (p: Priority) => string) =>
      JSON.stringify(Object.fromEntries(PRIORITIES.map((p) => [p, f(p)])));
    const limits = options.limits ?? {};
    const breaker = options.circuitBreaker ?? {};
    const jwt = options.jwt;
    // The values the stack sets, here for the local resources; each function gets its share.
    const values: Partial<Record<EnvKey, string>> = {
      jobsTable: tables.Jobs,
      runsTable: tables.Runs,
      scheduleGroup: LOCAL_SCHEDULE_GROUP,
      schedulerRole: `arn:aws:iam::${LOCAL_ACCOUNT}:role/sundial-local-scheduler`,
      queueArns: byPriority((p) => queues[p].arn),
      queueUrlHigh: queues.high.url,
      queueUrlDefault: queues.default.url,
      queueUrlLow: queues.low.url,
      deadLetterQueueArns: byPriority((p) => queues[p].dlqArn),
      secretsKey: kmsEmulator.keyArn,
      // Development mode: any Lambda, queue or bus of the local account, except Sundial's own.
      allowedTargetArns: JSON.stringify(
        options.allowedTargetArns ?? [`arn:aws:*:${region}:${LOCAL_ACCOUNT}:*`],
      ),
      protectedArns: JSON.stringify([
        ...Object.values(queues).flatMap((q) => [q.arn, q.dlqArn]),
        arn('dynamodb', `table/${tables.Jobs}*`),
        arn('dynamodb', `table/${tables.Runs}*`),
        ...(failureTopicArn ? [failureTopicArn] : []),
        arn('lambda', 'function:sundial-*'),
      ]),
      allowedHttpHosts: (options.allowedHttpHosts ?? LOCAL_HTTP_TARGETS).join(','),
      // fauxqs names its queues http://sqs.<region>.localhost:<port>/...: that origin, exactly.
      sqsEndpoint: new URL(queues.default.url).origin,
      runRetentionDays: String(RUN_RETENTION_DAYS),
      ...(runExpiry === 'sweep' ? { runExpiry } : {}),
      // The address the local API actually listens on: callback targets call back there.
      callbackBaseUrl: `http://127.0.0.1:${apiPort}`,
      ...(failureTopicArn ? { failureTopic: failureTopicArn } : {}),
      ...(limits.maxJobs !== undefined ? { tenantMaxJobs: String(limits.maxJobs) } : {}),
      ...(limits.jobCreatesPerMinute !== undefined
        ? { tenantJobCreatesPerMinute: String(limits.jobCreatesPerMinute) }
        : {}),
      ...(limits.requestsPerSecond !== undefined
        ? { tenantRequestsPerSecond: String(limits.requestsPerSecond) }
        : {}),
      ...(limits.runsInProgress !== undefined ? { tenantRunsInProgress: String(limits.runsInProgress) } : {}),
      ...(breaker.failures !== undefined ? { breakerFailures: String(breaker.failures) } : {}),
      ...(breaker.coolDownSeconds !== undefined
        ? { breakerCoolDownSeconds: String(breaker.coolDownSeconds) }
        : {}),
      ...(breaker.maxCoolDownSeconds !== undefined
        ? { breakerMaxCoolDownSeconds: String(breaker.maxCoolDownSeconds) }
        : {}),
      ...(jwt
        ? {
            jwtIssuer: jwt.issuer,
            jwtAudience: jwt.audience,
            ...(jwt.jwksUri ? { jwtJwksUri: jwt.jwksUri } : {}),
            ...(jwt.tenantClaim ? { jwtTenantClaim: jwt.tenantClaim } : {}),
            ...(jwt.roleClaim ? { jwtRoleClaim: jwt.roleClaim } : {}),
          }
        : {}),
      ...(options.drRegions ? { drRegions: JSON.stringify(options.drRegions) } : {}),
      ...(options.degradation ? { degradationSettings: JSON.stringify(options.degradation) } : {}),
      region,
    };
    const environments = Object.fromEntries(
      FUNCTION_IDS.map((fn) => [fn, environmentFor(fn, values)]),
    ) as Record<FunctionId, Record<string, string>>;
    const configs = {
      Api: loadConfig('Api', environments.Api),
      Worker: loadConfig('Worker', environments.Worker),
      Completion: loadConfig('Completion', environments.Completion),
      DeadLetters: loadConfig('DeadLetters', environments.DeadLetters),
      Sync: loadConfig('Sync', environments.Sync),
      Reconciler: loadConfig('Reconciler', environments.Reconciler),
    };
    const config: Config = {
      ...configs.Completion,
      ...configs.Reconciler,
      ...configs.Sync,
      ...configs.DeadLetters,
      ...configs.Worker,
      ...configs.Api,
    };
    // The API, the emulators and the stand-ins: never a target (invariant 9).
    const ownPorts = [
      apiPort,
      ...[dynamo.endpoint, sqsEndpoint, schedulerEndpoint, lambdaEmulator.endpoint].map(portOf),
      ...[eventBridgeEmulator.endpoint, kmsEmulator.endpoint].map(portOf),
      ...[ecsEmulator.endpoint, sfnEmulator.endpoint].map(portOf),
    ];
    const ownDb = createDocumentClient({ ...common, endpoint: dynamo.endpoint });
    const strongDb = options.strongRunsTable
      ? createDocumentClient({ ...common, endpoint: options.strongRunsTable.endpoint })
      : undefined;
    if (strongDb) stops.push(async () => strongDb.destroy());
    const db = strongDb ? withStrongTable(ownDb, tables.Runs, strongDb) : ownDb;
    if (options.instrument) {
      for (const client of [db, sqs, sns, scheduler, lambda, eventBridge, kms, ecs, sfn]) {
        options.instrument(client as unknown as Parameters<typeof options.instrument>[0]);
      }
    }
    // Under an injected clock, message delays follow that clock too.
    const delayLine = manual
      ? new DelayLine(
          new SqsFiringQueue(
            ready(sqs),
            config.queueUrls,
            clock,
            newFiringSigner(db, config, newSecretBox(ready(kms), config)),
          ),
          clock,
        )
      : undefined;
    const servicesWith = (overrides: ServiceOverrides): LocalServices => {
      const platform: Platform = {
        clock,
        logger: overrides.logger ?? logger,
        runMetrics,
        ownPorts,
        seams: {
          ...(delayLine ? { firingQueue: delayLine } : {}),
          ...(overrides.scheduleGateway ? { schedules: overrides.scheduleGateway } : {}),
          ...(overrides.callHttpTarget ? { callHttpTarget: overrides.callHttpTarget } : {}),
        },
      };
      const maintenance = { db, scheduler: ready(scheduler), kms: ready(kms) };
      const api = wireApi(
        configs.Api,
        { db, scheduler: ready(scheduler), sqs: ready(sqs), kms: ready(kms) },
        platform,
      );
      const worker = wireWorker(
        configs.Worker,
        {
          db,
          sqs: ready(sqs),
          sns: ready(sns),
          kms: ready(kms),
          lambda: ready(lambda),
          eventBridge: ready(eventBridge),
          ecs: ready(ecs),
          sfn: ready(sfn),
        },
        platform,
      );
      return {
        api,
        worker,
        completion: wireCompletion(
          configs.Completion,
          { db, sqs: ready(sqs), sns: ready(sns), kms: ready(kms), ecs: ready(ecs), sfn: ready(sfn) },
          platform,
        ),
        sync: wireSync(
          configs.Sync,
          { ...maintenance, sqs: ready(sqs) },
          { ...platform, pace: async () => undefined },
        ),
        reconciler: wireReconciler(configs.Reconciler, maintenance, platform),
        deadLetters: wireDeadLetters(configs.DeadLetters, maintenance, platform),
        jobService: api.jobs,
        jobStore: api.jobStore,
        runStore: api.runs,
        deadLetterStore: api.deadLetters,
        apiKeys: api.apiKeys,
        signingSecrets: api.signingSecrets,
        schedules: api.schedules,
        firingSigner: api.firingSigner,
        fairShare: worker.fairShare!,
      };
    };
    const services = servicesWith({
      ...(options.scheduleGateway ? { scheduleGateway: options.scheduleGateway } : {}),
      ...(options.callHttpTarget ? { callHttpTarget: options.callHttpTarget } : {}),
    });

    const { secretKey: devApiKey } = await services.apiKeys.create(
      { tenantId: DEV_TENANT, name: 'local development', role: 'admin', createdBy: 'npm start' },
      clock.now(),
    );
    const api = await startApiGateway(
      createApiHandler(services.api, {
        // Built in memory when first asked for, so runtimes that never show it pay nothing.
        files: async () => (await import('../console/build.js')).buildConsole(),
        cognito: options.consoleSignIn ? { ...options.consoleSignIn, region: 'local' } : null,
      }),
      apiPort,
    );
    stops.push(
      () =>
        new Promise<void>((resolve) => {
          api.server.close(() => resolve());
          api.server.closeAllConnections();
        }),
    );

    const worker = createWorkerHandler(services.worker);
    const complete = createCompletionHandler(services.completion);
    completionHandler = complete;
    const sweepLongRuns = () =>
      complete({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} });
    const archiveDeadLetters = createDeadLetterHandler(services.deadLetters);
    const dlqPollerQueue = (q: LocalQueue) => ({ url: q.dlqUrl, arn: q.dlqArn, batchSize: 10 });
    const workerInvoke = (event: SQSEvent) => worker(event);
    const sweep = createSyncHandler(services.sync, SYNC_GRACE_SECONDS);
    // Two regions: the jobs table's stream feeds the sync function, as its event source
    // mapping does on AWS (a passive region's schedules, takeover and stand-down).
    const jobsStream = options.drRegions
      ? await startTableStreamPoller({
          db: dynamodb,
          endpoint: dynamo.endpoint,
          region,
          credentials: LOCAL_CREDENTIALS,
          tableName: tables.Jobs,
          handler: createSyncStreamHandler(services.sync),
        })
      : undefined;
    if (jobsStream) stops.push(async () => jobsStream.stop());
    const pollStreams = async (): Promise<number> => {
      let total = 0;
      for (;;) {
        const n = (await jobsStream?.poll()) ?? 0;
        if (n === 0) return total;
        total += n;
      }
    };
    // The emulator has no rate quota to respect.
    const reconcileOnce = createReconcileHandler(services.reconciler, async () => undefined);
    const ordered = PRIORITIES.map((p) => queues[p]);
    const pollerQueue = (q: LocalQueue) => ({
      url: q.url,
      arn: q.arn,
      batchSize: options.batchSize ?? q.definition.batchSize,
    });
    const pollOptions = {
      ...(options.failedVisibilityTimeoutSeconds === undefined
        ? {}
        : { failedVisibilityTimeoutSeconds: options.failedVisibilityTimeoutSeconds }),
      ...(sentAt ? { sentAt } : {}),
    };

    const drain = async (): Promise<number> => {
      let total = 0;
      for (;;) {
        let round = (await delayLine?.release()) ?? 0;
        // High first, low last: the order a backlog drains in.
        for (const q of ordered) round += await pollOnce(sqs, pollerQueue(q), workerInvoke, pollOptions);
        for (const q of ordered)
          round += await pollOnce(sqs, dlqPollerQueue(q), archiveDeadLetters, pollOptions);
        total += round;
        if (round === 0) return total;
      }
    };

    if (!manual) {
      emulator.startTicking(250);
      stops.push(async () => emulator.stopTicking());
      for (const q of ordered) {
        const archiver = startPoller(sqs, dlqPollerQueue(q), archiveDeadLetters, pollOptions);
        stops.push(() => archiver.stop());
        const concurrency = options.maxConcurrency?.[q.definition.priority] ?? q.definition.maxConcurrency;
        const poller = startPoller(sqs, pollerQueue(q), workerInvoke, pollOptions, concurrency);
        stops.push(() => poller.stop());
      }
      const timer = setInterval(() => {
        sweep().catch((error) => logger.error('sync sweep failed', { error: String(error) }));
        sweepLongRuns().catch((error) => logger.error('completion sweep failed', { error: String(error) }));
      }, options.sweepIntervalMs ?? 10_000);
      stops.push(async () => clearInterval(timer));
      const reconcileTimer = setInterval(
        () => {
          reconcileOnce().catch((error) => logger.error('reconciliation failed', { error: String(error) }));
        },
        5 * 60 * 1000,
      );
      stops.push(async () => clearInterval(reconcileTimer));
      if (jobsStream) {
        const streamTimer = setInterval(() => {
          pollStreams().catch((error) => logger.error('jobs stream poll failed', { error: String(error) }));
        }, 1000);
        stops.push(async () => clearInterval(streamTimer));
      }
    }

    return {
      apiUrl: api.url,
      devApiKey,
      endpoints: {
        dynamodb: dynamo.endpoint,
        runsTable: options.strongRunsTable?.endpoint ?? dynamo.endpoint,
        sqs: sqsEndpoint,
        scheduler: schedulerEndpoint,
        lambda: lambdaEmulator.endpoint,
        eventBridge: eventBridgeEmulator.endpoint,
        kms: kmsEmulator.endpoint,
        ecs: ecsEmulator.endpoint,
        stepFunctions: sfnEmulator.endpoint,
      },
      dynamoDbPid: dynamo.pid,
      config,
      environments,
      services,
      queues,
      clients: { dynamodb, sqs, sns, scheduler },
      lambda: lambdaEmulator,
      eventBridge: eventBridgeEmulator,
      ecs: ecsEmulator,
      stepFunctions: sfnEmulator,
      nextCompletion: () => new Promise((resolve) => completionWaiters.push(resolve)),
      sweepLongRuns,
      faults,
      firings,
      metrics: runMetrics,
      fire: async () => {
        await emulator.fireDue();
      },
      tick: async () => {
        await emulator.fireDue();
        await drain();
        // The jobs stream's changes (a passive region's schedules, a change of role), and what follows.
        while ((await pollStreams()) > 0) await drain();
        // Long runs due for a look by the clock (deadlines, heartbeats, polls), and what follows.
        for (let round = 0; round < 10; round++) {
          const { detail } = await sweepLongRuns();
          if (/^swept 0\b/.test(detail)) break;
          await drain();
        }
      },
      drain,
      sweep,
      pollStreams,
      region,
      kill,
      reconcile: reconcileOnce,
      servicesWith,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Remembers, by message id, when (on `clock`) each message this client sent was sent. */
function recordSendTimes(sqs: SQSClient, clock: Clock): (messageId: string) => number | undefined {
  const sent = new Map<string, number>();
  sqs.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const output = result.output as {
        MessageId?: string;
        Successful?: { MessageId?: string }[];
      };
      const now = clock.now().getTime();
      if (output.MessageId) sent.set(output.MessageId, now);
      for (const entry of output.Successful ?? []) if (entry.MessageId) sent.set(entry.MessageId, now);
      return result;
    },
    { step: 'initialize', name: 'sundialLocalSentTimes' },
  );
  return (messageId) => sent.get(messageId);
}
