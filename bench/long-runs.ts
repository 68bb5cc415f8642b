/**
 * Long runs: the AWS calls and the cost of one long run of each kind — an HTTP target that
 * calls back (heartbeats, then its outcome), an ECS task (a container command that exits 0,
 * on the local ECS stand-in) and a Step Functions execution (a registered handler) — by the
 * function that makes them, over the run's whole life, at 1 hour and at 24 hours.
 *
 * The clock is a manual one: nothing runs by itself. Each step of a run is a phase, counted
 * on its own and credited to the function that AWS would invoke for it: the Scheduler's
 * firing, the worker (start, settle message), the api (heartbeats, the callback), the
 * completion function's event (ECS, Step Functions) and its sweep. The sweep runs every
 * minute whatever the runs; here it runs only at the instants a run is due for a look (its
 * poll, heartbeat check or deadline), which is where a minute's sweep finds it, and the
 * per-minute Query of each shard is taken out (measured on an empty sweep) and priced once
 * per deployment as a fixed monthly cost.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { ECSClient, RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { METRICS_NAMESPACE, PowertoolsRunMetrics } from '../functions/adapters/run-metrics.js';
import { POLL_OFFSETS_SECONDS } from '../functions/domain/long-run.js';
import { scheduledRunId } from '../functions/domain/run.js';
import { createApiHandler } from '../functions/handlers/api.js';
import { COMPLETION_SWEEP_MINUTES, WATCH_SHARDS } from '../lib/definitions.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../local/dynamodb-local.js';
import type { ManualClock } from '../local/manual-clock.js';
import { DEV_TENANT, LOCAL_ACCOUNT, type LocalRuntime } from '../local/runtime.js';
import type { CallCounter, CommandCalls } from './counter.js';
import { MAINTENANCE } from './fixed-costs.js';
import { LAMBDA_CONTEXT, loggedBytes, withRuntime } from './harness.js';
import {
  LONG_RUN_ASSUMPTIONS,
  LONG_RUN_PRICES,
  type LongRunUsage,
  longRunCostModel,
  PRICES,
} from './prices.js';
import { apiRequest, type BenchTarget } from './support.js';

export const KINDS = ['callback', 'ecs', 'stepfunctions'] as const;
export type Kind = (typeof KINDS)[number];
export const LENGTHS = ['1h', '24h'] as const;
export type Length = (typeof LENGTHS)[number];

/** The functions (and the Scheduler) a long run's calls are credited to. */
export const FUNCTIONS = ['scheduler', 'worker', 'api', 'completion (event)', 'completion (sweep)'] as const;
export type FunctionName = (typeof FUNCTIONS)[number];

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** A day's run: inside runTimeoutSeconds' maximum (86,400 s), so its deadline never ends it. */
const DAY_RUN_MS = 24 * HOUR - 10 * MINUTE;
const LENGTH_MS: Record<Length, number> = { '1h': HOUR, '24h': DAY_RUN_MS };
const HEARTBEATS = 6;

/** What a worker instance reads once, on its first long run of a kind. */
const COLD_REASON: Record<Kind, string> = {
  callback: "the callback URL's signing key",
  ecs: "the task definition's log configuration",
  stepfunctions: 'nothing more',
};

const KIND_LABEL: Record<Kind, string> = {
  callback: `HTTP target that calls back (${HEARTBEATS} heartbeats, then "succeeded")`,
  ecs: 'ECS task (a container command that exits 0)',
  stepfunctions: 'Step Functions execution (succeeds)',
};

export interface FunctionCalls {
  /** Lambda invocations (for the api: API Gateway requests; for the sweep: runs looked at). */
  invocations: number;
  dynamoRequests: number;
  dynamoRcu: number;
  dynamoWcu: number;
  sqsRequests: number;
  ecsCalls: number;
  stepFunctionsCalls: number;
  kmsRequests: number;
  otherCalls: number;
  /** Every AWS SDK call, by client and command, with the DynamoDB units it consumed. */
  byCommand: Record<string, CommandCalls>;
  /** The function's own log lines at INFO. */
  logBytes: number;
}

export interface MeasuredRun {
  kind: Kind;
  length: Length;
  durationSeconds: number;
  status: string;
  heartbeats: number;
  /** Callbacks: the heartbeats' interval and the job's heartbeatTimeoutSeconds. */
  heartbeatEverySeconds: number | null;
  heartbeatTimeoutSeconds: number | null;
  /** Describe calls the sweep made (ECS, Step Functions): at most a few, whatever the length. */
  polls: number;
  byFunction: Record<FunctionName, FunctionCalls>;
  total: FunctionCalls;
  /** Every SDK call of the run (DynamoDB, SQS, ECS, Step Functions, KMS). */
  awsCalls: number;
  usage: LongRunUsage;
  cost: ReturnType<typeof longRunCostModel>;
}

export interface LongRunResults {
  date: string;
  command: string;
  size: 'tiny' | 'full';
  runs: Record<Kind, Record<Length, MeasuredRun>>;
  /** What a worker instance's first run of a kind adds (read once per instance): its cold start, not per run. */
  coldStartExtra: Record<Kind, Record<string, number>>;
  /** One sweep with nothing due: the Query of each shard of the watch index. */
  emptySweep: FunctionCalls;
  emfBytes: { started: number; ended: number };
  fixedMonthly: ReturnType<typeof completionSweepMonthly>;
  assumptions: typeof LONG_RUN_ASSUMPTIONS;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

function emptyCalls(): FunctionCalls {
  return {
    invocations: 0,
    dynamoRequests: 0,
    dynamoRcu: 0,
    dynamoWcu: 0,
    sqsRequests: 0,
    ecsCalls: 0,
    stepFunctionsCalls: 0,
    kmsRequests: 0,
    otherCalls: 0,
    byCommand: {},
    logBytes: 0,
  };
}

/** Adds `commands` (times `sign`) to `into`, the per-service figures recomputed from them. */
function addCommands(into: FunctionCalls, commands: Record<string, CommandCalls>, sign = 1): void {
  for (const [name, c] of Object.entries(commands)) {
    const entry = into.byCommand[name] ?? { calls: 0, rcu: 0, wcu: 0, failed: 0 };
    into.byCommand[name] = entry;
    entry.calls += sign * c.calls;
    entry.rcu = round(entry.rcu + sign * c.rcu);
    entry.wcu = round(entry.wcu + sign * c.wcu);
    entry.failed += sign * c.failed;
    if (entry.calls === 0 && entry.rcu === 0 && entry.wcu === 0) delete into.byCommand[name];
  }
  into.dynamoRequests = 0;
  into.dynamoRcu = 0;
  into.dynamoWcu = 0;
  into.sqsRequests = 0;
  into.ecsCalls = 0;
  into.stepFunctionsCalls = 0;
  into.kmsRequests = 0;
  into.otherCalls = 0;
  for (const [name, c] of Object.entries(into.byCommand)) {
    if (name.startsWith('DynamoDB')) {
      into.dynamoRequests += c.calls;
      into.dynamoRcu = round(into.dynamoRcu + c.rcu);
      into.dynamoWcu = round(into.dynamoWcu + c.wcu);
    } else if (name.startsWith('SQS')) into.sqsRequests += c.calls;
    else if (name.startsWith('ECS')) into.ecsCalls += c.calls;
    else if (name.startsWith('SFN')) into.stepFunctionsCalls += c.calls;
    else if (name.startsWith('KMS')) into.kmsRequests += c.calls;
    else into.otherCalls += c.calls;
  }
}

function sumCalls(parts: FunctionCalls[]): FunctionCalls {
  const total = emptyCalls();
  for (const p of parts) {
    addCommands(total, p.byCommand);
    total.invocations += p.invocations;
    total.logBytes += p.logBytes;
  }
  return total;
}

const awsCallsOf = (c: FunctionCalls) => Object.values(c.byCommand).reduce((n, x) => n + x.calls, 0);

/** Counts each phase of a run on its own and credits it to one function. */
class Ledger {
  readonly byFunction = Object.fromEntries(FUNCTIONS.map((f) => [f, emptyCalls()])) as Record<
    FunctionName,
    FunctionCalls
  >;

  constructor(
    private readonly counter: CallCounter,
    /** The calls of a sweep with nothing due, taken out of every sweep this ledger counts. */
    private readonly sweepBaseline: Record<string, CommandCalls> = {},
  ) {}

  async phase<T>(fn: FunctionName, action: () => Promise<T>, invocations: (value: T) => number): Promise<T> {
    this.counter.reset();
    const { bytes, value } = await loggedBytes(action);
    const calls = this.byFunction[fn];
    addCommands(calls, this.counter.commands());
    if (fn === 'completion (sweep)') addCommands(calls, this.sweepBaseline, -1);
    calls.invocations += invocations(value);
    calls.logBytes += bytes;
    return value;
  }
}

interface Bench {
  runtime: LocalRuntime;
  counter: CallCounter;
  clock: ManualClock;
  target: BenchTarget;
  api: ReturnType<typeof createApiHandler>;
  gates: string;
  taskDefinition: string;
  sweepBaseline: Record<string, CommandCalls>;
  sequence: number;
}

const cluster = `arn:aws:ecs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:cluster/bench`;
/** The container command: waits for its gate file (the bench says when the task ends), then exits 0. */
const GATED_COMMAND = [
  process.execPath,
  '-e',
  'const fs = require("node:fs"); setInterval(() => { if (fs.existsSync(process.env.BENCH_GATE)) process.exit(0); }, 10);',
];

/**
 * The job's task definition, as a user registers it (Fargate, its container logging with
 * awslogs): registered outside the counted clients, since registering is not Sundial's.
 */
async function registerTaskDefinition(runtime: LocalRuntime): Promise<string> {
  const ecs = new ECSClient({
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    endpoint: runtime.endpoints.ecs,
  });
  try {
    const { taskDefinition } = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'bench-import',
        requiresCompatibilities: ['FARGATE'],
        networkMode: 'awsvpc',
        cpu: '256',
        memory: '512',
        containerDefinitions: [
          {
            name: 'main',
            image: 'public.ecr.aws/docker/library/python:3.13-slim',
            essential: true,
            command: GATED_COMMAND,
            logConfiguration: {
              logDriver: 'awslogs',
              options: {
                'awslogs-group': '/ecs/bench-import',
                'awslogs-region': LOCAL_REGION,
                'awslogs-stream-prefix': 'bench',
              },
            },
          },
        ],
      }),
    );
    if (!taskDefinition?.taskDefinitionArn)
      throw new Error('the local ECS stand-in registered no task definition');
    return taskDefinition.taskDefinitionArn;
  } finally {
    ecs.destroy();
  }
}

/** The next whole minute at least a minute from now, and a yearly cron that fires then only. */
function nextFiring(clock: ManualClock): { at: Date; expression: string } {
  const at = new Date(Math.ceil((clock.now().getTime() + MINUTE) / MINUTE) * MINUTE);
  return {
    at,
    expression: `cron(${at.getUTCMinutes()} ${at.getUTCHours()} ${at.getUTCDate()} ${at.getUTCMonth() + 1} ? *)`,
  };
}

async function post(url: string, body: unknown): Promise<number> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

/**
 * One run of `kind` lasting `lengthMs`, start to end, every phase counted in `ledger`: the
 * firing, the worker's start, the sweep's looks at the instants the run is due, heartbeats
 * (callbacks), and the end (the callback and the worker's settle, or the state-change event).
 */
async function driveRun(b: Bench, kind: Kind, lengthMs: number, ledger: Ledger) {
  const { runtime, clock } = b;
  const n = ++b.sequence;
  const { at, expression } = nextFiring(clock);
  const heartbeatEvery = lengthMs / HEARTBEATS;
  // Heartbeats halfway through each sixth of the run; its timeout one and a half intervals.
  const heartbeatTimeoutSeconds = Math.round((1.5 * heartbeatEvery) / 1000);
  let end: () => Promise<unknown> = async () => undefined;
  let target: Record<string, unknown>;
  if (kind === 'callback') {
    target = {
      type: 'http',
      url: b.target.url,
      method: 'POST',
      completion: 'callback',
      runTimeoutSeconds: 86_400,
      heartbeatTimeoutSeconds,
    };
  } else if (kind === 'ecs') {
    const gate = join(b.gates, `task-${n}`);
    target = {
      type: 'ecs',
      cluster,
      taskDefinition: b.taskDefinition,
      launchType: 'FARGATE',
      network: { subnets: ['subnet-0123456789abcdef0'], securityGroups: ['sg-0123456789abcdef0'] },
      runTimeoutSeconds: 86_400,
      containerOverrides: [{ name: 'main', command: GATED_COMMAND, environment: { BENCH_GATE: gate } }],
    };
    end = async () => writeFileSync(gate, 'done');
  } else {
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const stateMachineArn = runtime.stepFunctions.register(`bench-pipeline-${n}`, async (input) => {
      await gate;
      return { imported: input, rows: 42_000 };
    });
    target = { type: 'stepfunctions', stateMachineArn, input: { day: n }, runTimeoutSeconds: 86_400 };
    end = async () => open();
  }
  const created = await b.api(
    apiRequest(runtime.devApiKey, 'POST', '/v1/jobs', {
      name: `bench-long-${kind}-${n}`,
      schedule: { expression },
      target,
    }),
  );
  if (created.statusCode !== 201)
    throw new Error(`create ${kind} job -> ${created.statusCode}: ${created.body}`);
  const jobId = JSON.parse(created.body).id as string;
  const runId = scheduledRunId(at);
  const runOf = () => runtime.services.runStore.get(DEV_TENANT, jobId, runId);

  // The firing: the Scheduler sends the message; the worker starts the attempt.
  clock.set(at);
  const fired = runtime.firings.length;
  await ledger.phase(
    'scheduler',
    () => runtime.fire(),
    () => 1,
  );
  if (runtime.firings.length !== fired + 1)
    throw new Error(`the ${kind} job did not fire at ${at.toISOString()}`);
  const callbacks = b.target.callbackUrls.length;
  await ledger.phase(
    'worker',
    () => runtime.drain(),
    (messages) => messages,
  );
  const started = await runOf();
  if (started?.status !== 'running' || !started.long) {
    throw new Error(`the ${kind} run did not start: ${JSON.stringify(started)}`);
  }
  const startedAt = Date.parse(started.long.startedAt);
  const callbackUrl = kind === 'callback' ? b.target.callbackUrls[callbacks] : undefined;
  if (kind === 'callback' && !callbackUrl)
    throw new Error('the callback target was not given a callback URL');

  // Heartbeats, then the end; in between, the sweep's looks when the run is due for one.
  const actions: { at: number; what: 'heartbeat' | 'end'; index: number }[] = [];
  if (kind === 'callback') {
    for (let i = 0; i < HEARTBEATS; i++) {
      actions.push({ at: startedAt + (i + 0.5) * heartbeatEvery, what: 'heartbeat', index: i });
    }
  }
  actions.push({ at: startedAt + lengthMs, what: 'end', index: HEARTBEATS });
  let looks = 0;
  for (const action of actions) {
    for (;;) {
      const run = await runOf();
      const due = run?.watchAt === undefined ? Number.POSITIVE_INFINITY : Date.parse(run.watchAt);
      // At the same instant, the target's request comes first.
      if (due >= action.at) break;
      clock.set(new Date(Math.max(due, clock.now().getTime())));
      const { detail } = await ledger.phase(
        'completion (sweep)',
        () => runtime.sweepLongRuns(),
        () => 1,
      );
      if (detail !== 'swept 1') throw new Error(`the sweep at ${clock.now().toISOString()}: ${detail}`);
      looks++;
      await ledger.phase(
        'worker',
        () => runtime.drain(),
        (messages) => messages,
      );
    }
    clock.set(new Date(action.at));
    if (action.what === 'heartbeat') {
      const progress = (action.index + 1) / (HEARTBEATS + 1);
      const status = await ledger.phase(
        'api',
        () =>
          post(`${callbackUrl}/heartbeat`, {
            progress,
            message: `${action.index + 1} of ${HEARTBEATS} parts`,
          }),
        () => 1,
      );
      if (status !== 204) throw new Error(`heartbeat -> ${status}`);
    } else if (kind === 'callback') {
      const status = await ledger.phase(
        'api',
        () => post(callbackUrl!, { status: 'succeeded', output: { rows: 42_000 } }),
        () => 1,
      );
      if (status !== 204) throw new Error(`callback -> ${status}`);
      await ledger.phase(
        'worker',
        () => runtime.drain(),
        (messages) => messages,
      );
    } else {
      // The task exits or the execution ends: its state-change event reaches the completion function.
      await ledger.phase(
        'completion (event)',
        async () => {
          const handled = runtime.nextCompletion();
          await end();
          const { detail } = await handled;
          if (detail !== 'succeeded') throw new Error(`the ${kind} completion event: ${detail}`);
        },
        () => 1,
      );
      await ledger.phase(
        'worker',
        () => runtime.drain(),
        (messages) => messages,
      );
    }
  }
  const ended = await runOf();
  if (ended?.status !== 'succeeded' || ended.watchAt !== undefined) {
    throw new Error(`the ${kind} run did not end as expected: ${JSON.stringify(ended)}`);
  }
  const callback = kind === 'callback';
  return {
    status: ended.status,
    polls: ended.long?.polls ?? 0,
    looks,
    heartbeats: callback ? HEARTBEATS : 0,
    heartbeatEverySeconds: callback ? Math.round(heartbeatEvery / 1000) : null,
    heartbeatTimeoutSeconds: callback ? heartbeatTimeoutSeconds : null,
  };
}

/** EMF bytes of the invocation that starts a run (schedule lag) and of the one that ends it (status, duration). */
async function emfBytes(): Promise<{ started: number; ended: number }> {
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'sundial' });
  const runMetrics = new PowertoolsRunMetrics(metrics);
  runMetrics.started('default', 1_250);
  const started = (await loggedBytes(async () => metrics.publishStoredMetrics())).bytes;
  runMetrics.ended('succeeded', 'default', 3_600_000);
  const ended = (await loggedBytes(async () => metrics.publishStoredMetrics())).bytes;
  return { started, ended };
}

function usageOf(
  total: FunctionCalls,
  byFunction: Record<FunctionName, FunctionCalls>,
  emf: { started: number; ended: number },
): LongRunUsage {
  return {
    schedulerInvocations: byFunction.scheduler.invocations,
    lambdaInvocations:
      byFunction.worker.invocations +
      byFunction.api.invocations +
      byFunction['completion (event)'].invocations,
    apiRequests: byFunction.api.invocations,
    sweepLooks: byFunction['completion (sweep)'].invocations,
    dynamoRcu: total.dynamoRcu,
    dynamoWcu: total.dynamoWcu,
    sqsRequests: total.sqsRequests,
    kmsRequests: total.kmsRequests,
    // The start's invocation publishes the schedule lag, the end's the status and duration.
    appLogBytes: total.logBytes + emf.started + emf.ended,
  };
}

/** The completion sweep's own cost: every minute, one invocation that Queries each shard of the watch index. */
export function completionSweepMonthly(emptySweep: FunctionCalls) {
  const monthMinutes = 30 * 24 * 60;
  const invocations = monthMinutes / COMPLETION_SWEEP_MINUTES;
  const perRequest = (usdPerMillion: number) => usdPerMillion / 1_000_000;
  const parts = {
    lambda:
      invocations *
      (perRequest(PRICES.lambdaRequests.usd) +
        MAINTENANCE.gbSecondsPerInvocation * PRICES.lambdaGbSecond.usd),
    dynamodb: invocations * emptySweep.dynamoRcu * perRequest(PRICES.dynamoRead.usd),
    xray: invocations * LONG_RUN_ASSUMPTIONS.tracedShareOfInvocations * perRequest(PRICES.xray.usd),
    logs: ((invocations * LONG_RUN_ASSUMPTIONS.platformLogBytesPerInvocation) / 2 ** 30) * PRICES.logs.usd,
    eventBridge: 0,
  };
  return {
    invocations,
    shards: WATCH_SHARDS,
    queriesPerSweep: emptySweep.byCommand['DynamoDBClient.QueryCommand']?.calls ?? emptySweep.dynamoRequests,
    rcuPerSweep: emptySweep.dynamoRcu,
    parts: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, round(v)])) as Record<
      keyof typeof parts,
      number
    >,
    total: round(Object.values(parts).reduce((x, y) => x + y, 0)),
    gbSecondsPerInvocation: MAINTENANCE.gbSecondsPerInvocation,
  };
}

export async function longRuns(options: {
  tiny: boolean;
  command: string;
  progress?: (line: string) => void;
}): Promise<LongRunResults> {
  const progress = options.progress ?? (() => undefined);
  const logger = new Logger({ serviceName: 'sundial', logLevel: 'INFO' });
  logger.addContext(LAMBDA_CONTEXT);
  const gates = mkdtempSync(join(tmpdir(), 'sundial-bench-gates-'));
  try {
    return await withRuntime(
      10,
      async (runtime, counter, clock, _url, target) => {
        const b: Bench = {
          runtime,
          counter,
          clock,
          target,
          api: createApiHandler(runtime.services.api),
          gates,
          taskDefinition: await registerTaskDefinition(runtime),
          sweepBaseline: {},
          sequence: 0,
        };
        // A sweep with nothing due: the fixed part of every sweep.
        const empty = new Ledger(counter);
        await empty.phase(
          'completion (sweep)',
          () => runtime.sweepLongRuns(),
          () => 1,
        );
        const emptySweep = empty.byFunction['completion (sweep)'];
        b.sweepBaseline = emptySweep.byCommand;

        const runs = {} as LongRunResults['runs'];
        const coldStartExtra = {} as LongRunResults['coldStartExtra'];
        const emf = await emfBytes();
        for (const kind of KINDS) {
          // A first, short run warms what a worker instance reads once (a task definition's log configuration).
          progress(`bench: long runs (${kind})`);
          const warm = new Ledger(counter, b.sweepBaseline);
          await driveRun(b, kind, 2 * MINUTE, warm);
          runs[kind] = {} as Record<Length, MeasuredRun>;
          for (const length of LENGTHS) {
            const ledger = new Ledger(counter, b.sweepBaseline);
            const driven = await driveRun(b, kind, LENGTH_MS[length], ledger);
            const byFunction = ledger.byFunction;
            if (byFunction['completion (sweep)'].invocations !== driven.looks)
              throw new Error('looks miscounted');
            const total = sumCalls(Object.values(byFunction));
            const usage = usageOf(total, byFunction, emf);
            runs[kind][length] = {
              kind,
              length,
              durationSeconds: LENGTH_MS[length] / 1000,
              status: driven.status,
              heartbeats: driven.heartbeats,
              heartbeatEverySeconds: driven.heartbeatEverySeconds,
              heartbeatTimeoutSeconds: driven.heartbeatTimeoutSeconds,
              polls: driven.polls,
              byFunction,
              total,
              awsCalls: awsCallsOf(total),
              usage,
              cost: longRunCostModel(usage),
            };
          }
          const cold: Record<string, number> = {};
          const warmWorker = warm.byFunction.worker.byCommand;
          const steadyWorker = runs[kind]['1h'].byFunction.worker.byCommand;
          for (const [name, c] of Object.entries(warmWorker)) {
            const extra = c.calls - (steadyWorker[name]?.calls ?? 0);
            if (extra > 0) cold[name] = extra;
          }
          coldStartExtra[kind] = cold;
        }
        return {
          date: new Date().toISOString().slice(0, 10),
          command: options.command,
          size: options.tiny ? ('tiny' as const) : ('full' as const),
          runs,
          coldStartExtra,
          emptySweep,
          emfBytes: emf,
          fixedMonthly: completionSweepMonthly(emptySweep),
          assumptions: LONG_RUN_ASSUMPTIONS,
        };
      },
      { logger },
    );
  } finally {
    rmSync(gates, { recursive: true, force: true });
  }
}

const SERVICE_SHORT: Record<string, string> = {
  DynamoDBDocumentClient: '',
  DynamoDBClient: '',
  SQSClient: 'SQS ',
  ECSClient: 'ECS ',
  SFNClient: 'SFN ',
  KMSClient: 'KMS ',
  SNSClient: 'SNS ',
};

/** `GetItem`, `SQS SendMessage`, `ECS RunTask`: a command as the tables name it. */
function commandName(name: string): string {
  const [client = '', command = ''] = name.split('.');
  return `${SERVICE_SHORT[client] ?? `${client} `}${command.replace(/Command$/, '')}`;
}

/** 90 → `1 min 30 s`, 14,280 → `3 h 58 min`. */
function duration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return [h ? `${h} h` : '', m ? `${m} min` : '', s ? `${s} s` : ''].filter(Boolean).join(' ') || '0 s';
}

/** `a` when both lengths agree, `a / b` (1 h / 24 h) when they do not. */
const both = (a: number | string, b: number | string) => (a === b ? String(a) : `${a} / ${b}`);

function commandsCell(hour: FunctionCalls, day: FunctionCalls): string {
  const names = [...new Set([...Object.keys(hour.byCommand), ...Object.keys(day.byCommand)])];
  if (names.length === 0) return '—';
  return names
    .map((name) => {
      const h = hour.byCommand[name];
      const d = day.byCommand[name];
      const failed = Math.max(h?.failed ?? 0, d?.failed ?? 0);
      return `${commandName(name)} ×${both(h?.calls ?? 0, d?.calls ?? 0)}${failed > 0 ? ` (${both(h?.failed ?? 0, d?.failed ?? 0)} refused)` : ''}`;
    })
    .join(', ');
}

const INVOCATION_UNIT: Record<FunctionName, string> = {
  scheduler: ' Scheduler',
  worker: '',
  api: ' (API Gateway requests)',
  'completion (event)': '',
  'completion (sweep)': ' looks',
};

const FUNCTION_LABEL: Record<FunctionName, string> = {
  scheduler: 'Scheduler (fires into SQS)',
  worker: 'worker',
  api: 'api (callback and heartbeat requests)',
  'completion (event)': 'completion (state-change event)',
  'completion (sweep)': 'completion (sweep: looks at the run)',
};

export function longRunMarkdown(r: LongRunResults): string {
  const usd = (n: number) => `$${n}`;
  const sections = KINDS.flatMap((kind) => {
    const hour = r.runs[kind]['1h'];
    const day = r.runs[kind]['24h'];
    const row = (label: string, invocations: string, h: FunctionCalls, d: FunctionCalls, bold = false) => {
      const cells = [
        invocations,
        both(h.dynamoRequests, d.dynamoRequests),
        both(h.dynamoRcu, d.dynamoRcu),
        both(h.dynamoWcu, d.dynamoWcu),
        both(h.sqsRequests, d.sqsRequests),
        both(h.ecsCalls + h.stepFunctionsCalls, d.ecsCalls + d.stepFunctionsCalls),
        both(h.kmsRequests, d.kmsRequests),
        commandsCell(h, d),
      ];
      return `| ${bold ? `**${label}**` : label} | ${cells.join(' | ')} |`;
    };
    const used = FUNCTIONS.filter(
      (f) =>
        awsCallsOf(hour.byFunction[f]) + awsCallsOf(day.byFunction[f]) + hour.byFunction[f].invocations > 0,
    );
    const cost = (run: MeasuredRun) =>
      `${usd(run.cost.perMillionRuns.total)} (${Object.entries(run.cost.perMillionRuns.parts)
        .filter(([, v]) => v > 0)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')})`;
    const cold = Object.entries(r.coldStartExtra[kind]);
    return [
      `### ${KIND_LABEL[kind]}`,
      '',
      `Cells read \`1 h / 24 h\` where the two runs differ. ${
        kind === 'callback'
          ? `${HEARTBEATS} heartbeats per run, every ${both(duration(hour.heartbeatEverySeconds ?? 0), duration(day.heartbeatEverySeconds ?? 0))}, with \`heartbeatTimeoutSeconds\` ${both((hour.heartbeatTimeoutSeconds ?? 0).toLocaleString('en'), (day.heartbeatTimeoutSeconds ?? 0).toLocaleString('en'))} (one and a half intervals): the sweep looks when a heartbeat check falls due, ${both(hour.byFunction['completion (sweep)'].invocations, day.byFunction['completion (sweep)'].invocations)} times. No polls (nothing to describe); the callback's settle message is the worker's second invocation.`
          : `Polls: ${hour.polls} in the 1-hour run, ${day.polls} in the 24-hour run (describe calls ${POLL_OFFSETS_SECONDS.map((s) => duration(s)).join(', ')} after the start, then none until the deadline).`
      }`,
      '',
      '| function | invocations | DynamoDB requests | RCU | WCU | SQS requests | ECS / SFN calls | KMS | calls by command |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...used.map((f) =>
        row(
          FUNCTION_LABEL[f],
          `${both(hour.byFunction[f].invocations, day.byFunction[f].invocations)}${INVOCATION_UNIT[f]}`,
          hour.byFunction[f],
          day.byFunction[f],
        ),
      ),
      row(
        'per run',
        `${both(hour.usage.lambdaInvocations, day.usage.lambdaInvocations)} Lambda`,
        hour.total,
        day.total,
        true,
      ),
      '',
      `**${usd(hour.cost.perMillionRuns.total)} per million 1-hour runs, ${usd(day.cost.perMillionRuns.total)} per million 24-hour runs** (${both(hour.awsCalls, day.awsCalls)} AWS calls per run). 1 h: ${cost(hour)}; 24 h: ${cost(day)}.${
        cold.length > 0
          ? ` A worker instance's first such run adds ${cold.map(([k, v]) => `${commandName(k)} ×${v}`).join(', ')} (${COLD_REASON[kind]}: read once per instance, a cold start's cost, not a run's).`
          : ''
      }`,
      '',
    ];
  });
  const costRows = KINDS.flatMap((kind) =>
    LENGTHS.map((length) => {
      const run = r.runs[kind][length];
      return `| ${kind} | ${length === '1h' ? '1 hour' : '24 hours'} | ${run.awsCalls} | ${run.usage.lambdaInvocations} | ${run.usage.sweepLooks} | **${usd(run.cost.perMillionRuns.total)}** | ${Object.values(run.cost.perMillionRuns.parts).join(' | ')} |`;
    }),
  );
  const parts = Object.keys(r.runs.callback['1h'].cost.perMillionRuns.parts);
  const f = r.fixedMonthly;
  return [
    '## Long runs',
    '',
    `Measured ${r.date} with \`${r.command}\` (local runtime under a manual clock; the ECS and Step Functions stand-ins; ${r.size} sizes). One run of each kind, fired by its schedule, followed to its end at 1 hour and at 24 hours (23 h 50 min, inside the 86,400 s maximum \`runTimeoutSeconds\`). Every call is credited to the function AWS would invoke for it. The sweep runs every minute whatever the runs; the bench sweeps at the instants a run is due for a look, and takes out each sweep's own Query of the ${f.shards} watch-index shards (${f.queriesPerSweep} Query, ${f.rcuPerSweep} RCU, measured on an empty sweep), priced below as a fixed cost.`,
    '',
    ...sections,
    '### Cost per million long runs',
    '',
    `| kind | run | AWS calls | Lambda invocations | sweep looks | total | ${parts.join(' | ')} |`,
    `| --- | --- | --- | --- | --- | --- | ${parts.map(() => '---').join(' | ')} |`,
    ...costRows,
    '',
    `Lambda: each worker, api and completion invocation priced as one message, request or event (${r.assumptions.memoryGb} GB, ${r.assumptions.secondsPerInvocation} s); a sweep look adds ${r.assumptions.sweepSecondsPerLook} s to the sweep's invocation. Logs: the functions' lines at INFO as measured, the EMF documents of the start (${r.emfBytes.started} bytes) and the end (${r.emfBytes.ended} bytes), ${r.assumptions.platformLogBytesPerInvocation} bytes of Lambda's own lines per invocation and a ${r.assumptions.apiAccessLogBytesPerRequest}-byte API Gateway access log line per callback request. X-Ray: one trace per invocation (API Gateway's and the api function's are one). EventBridge: $0 — the ECS and Step Functions state-change events are AWS service events on the default bus, free to ingest, and the rule's delivery to the completion function (same account) is not charged. ECS and Step Functions API calls are not charged either.`,
    '',
    "What AWS bills for the task or the execution itself — Fargate vCPU and memory by the second, Step Functions state transitions — is the user's workload, billed to the account that runs it, and not part of Sundial's cost.",
    '',
    `**Fixed: the completion sweep, $${f.total} a month per deployment** whatever the runs (${Object.entries(
      f.parts,
    )
      .map(([k, v]) => `${k} $${v}`)
      .join(
        ', ',
      )}): ${f.invocations.toLocaleString('en')} invocations a month (every ${COMPLETION_SWEEP_MINUTES} minute), each ${f.queriesPerSweep} Query of the watch index (${f.rcuPerSweep} RCU) and ${f.gbSecondsPerInvocation} GB-s. Not included in the fixed monthly costs above.`,
    '',
    '| price | USD | source |',
    '| --- | --- | --- |',
    ...Object.values(LONG_RUN_PRICES).map((p) => `| ${p.what} | ${p.usd} | ${p.source} |`),
    '',
  ].join('\n');
}
