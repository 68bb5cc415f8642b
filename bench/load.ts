/**
 * Load (issue 17, item 3): the local runtime's API held at 100 requests a second for two
 * minutes, then at a 3× peak (300) for 30 s, by a generator in a process of its own
 * (bench/load-generator.ts) sending real HTTP open-loop, with a realistic mix: 60% reads of
 * jobs and runs, 25% creates and updates, 10% run-nows, 5% lists. p50/p95/p99 per
 * operation, errors, 429s, the generator's own lag.
 *
 * Then the same schedule and mix straight to the same DynamoDB Local and fauxqs with the AWS
 * SDK's document client, without Sundial in front (the baseline): the difference is what
 * Sundial itself adds.
 *
 * To say where the time goes, the API process (this one) is watched as it serves: each
 * request timed from the moment Node parsed it to its response's end (the diagnostics
 * channels `http.server.request.start` / `response.finish`), every AWS call the request made
 * timed and counted (an SDK middleware; an AsyncLocalStorage ties each call to its request),
 * the event loop's delay, the CPU of this process, of DynamoDB Local's JVM, of the generator
 * and of the rest of the machine, and a CPU profile of one extra peak phase.
 *
 * Runs with the real clock (the API as served: rate limits by the second, the Scheduler
 * emulator ticking, the worker polling and running each run-now against a local target).
 */

import { AsyncLocalStorage } from 'node:async_hooks';
import { type ChildProcess, spawn } from 'node:child_process';
import { subscribe } from 'node:diagnostics_channel';
import { existsSync, readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { Session } from 'node:inspector/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { BatchWriteCommand, type DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient, sqsConfig } from '../functions/commons/clients.js';
import { DEFAULT_LIMITS, type TenantLimits } from '../functions/commons/config.js';
import { tablesFor } from '../lib/definitions.js';
import { LOCAL_CREDENTIALS } from '../local/dynamodb-local.js';
import { tableInput } from '../local/resources.js';
import { DEV_TENANT, type LocalRuntime, startLocalRuntime } from '../local/runtime.js';
import {
  type GeneratorConfig,
  type GeneratorMessage,
  type GeneratorResult,
  MIX,
  OPERATIONS,
  type Operation,
  type Phase,
  type SeedRun,
} from './load-generator.js';
import { percentile, startTarget } from './support.js';

/** The issue's targets for the API locally. */
export const LOAD_TARGETS = { p95Ms: 200, p99Ms: 500 } as const;

export interface LoadOptions {
  tiny: boolean;
  command: string;
  progress?: (line: string) => void;
}

export interface Percentiles {
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface OpFigures extends Percentiles {
  count: number;
  /** Answered other than 2xx and 429. */
  errors: number;
  /** No answer: a refused or reset connection, or none within the timeout. */
  networkErrors: number;
  /** 429 Too Many Requests. */
  throttled: number;
}

/** Where a slow request's time went, averaged over the requests at or above its operation's p95. */
export interface TailSplit {
  requests: number;
  /** Of them, answered 429 (refused before any call). */
  throttled: number;
  latencyMs: number;
  /** The generator starting it late. */
  generatorLagMs: number;
  /** Not in the handler: the socket, this process's event loop before it read the request, the generator's after. */
  outsideHandlerMs: number;
  /** In the handler, in AWS calls (DynamoDB Local, fauxqs, the Scheduler emulator). */
  awsMs: number;
  /** In the handler, not in an AWS call: Sundial's own code (and whatever else held the event loop). */
  ownMs: number;
}

export interface ServerFigures {
  requests: number;
  /** Node parsed the request → its response ended, in the API process. */
  handler: Percentiles;
  /** The union of the request's AWS calls' durations. */
  aws: Percentiles;
  /** handler − aws, per request. */
  own: Percentiles;
  /** AWS calls per request, by command (mean). */
  callsPerRequest: Record<string, number>;
  tail: TailSplit;
}

export interface Cores {
  /** This process: the API, the worker, fauxqs, the Scheduler emulator, the target. */
  apiProcess: number;
  dynamoDbLocal: number | null;
  generator: number | null;
  /** Everything else on the machine (other work sharing it). */
  rest: number | null;
  machine: number;
}

export interface PhaseFigures {
  name: string;
  rps: number;
  seconds: number;
  sent: number;
  /** Requests started per second over the phase. */
  achievedRps: number;
  /** 2xx answers per second over the phase. */
  answeredRps: number;
  /** How late the generator started requests. */
  lag: Percentiles;
  all: OpFigures;
  ops: Record<Operation, OpFigures>;
  cores: Cores;
  /** The API process's event-loop delay (sampled every 10 ms). */
  eventLoopDelay?: Percentiles;
  /** Sundial only: per operation, as the API process saw it. */
  server?: Record<Operation, ServerFigures>;
  /** Sundial only: every AWS call API requests made, by command. */
  awsCalls?: Record<string, Percentiles & { count: number }>;
  /**
   * Sundial only: AWS calls made outside any API request, by service, per second (the worker
   * running the run-nows, the pollers' receives, the sweeps, the Scheduler emulator's deliveries).
   */
  backgroundCallsPerSecond?: Record<string, number>;
  /** DynamoDB calls per second, from API requests and from the rest (Sundial), or the generator's (baseline). */
  dynamoCallsPerSecond: number;
  /** DynamoDB Local's CPU per DynamoDB call (its JVM's CPU time over the calls made). */
  dynamoCpuMsPerCall: number | null;
  /** DynamoDB calls per request served (Sundial: counted in the API process; the baseline: 1). */
  dynamoCallsPerRequest: number;
  /** The API process's CPU per request served (Sundial: those it answered; the baseline: its idle API, per request sent). */
  apiCpuMsPerRequest: number;
  /**
   * CPU per AWS call on the calling side: Sundial, the API process's over every call it made
   * (so also its HTTP serving and its own code); the baseline, the generator's.
   */
  sdkCpuMsPerCall: number | null;
}

export interface ProfileFigures {
  seconds: number;
  rps: number;
  /** Share of the API process's samples by where the running code lives (the bench's own left out). */
  byCategory: Record<string, number>;
  /** The bench's own watching's share of the samples, left out of the rest. */
  watchingPercent: number;
  /** The functions with the most self time (% of samples). */
  top: { function: string; where: string; category: string; percent: number }[];
}

export interface LoadResults {
  date: string;
  command: string;
  size: 'tiny' | 'full';
  machine: { cpus: number; model: string; memoryGiB: number; node: string; loadAverageAtStart: number };
  mix: Record<Operation, number>;
  limits: { inForce: TenantLimits; defaults: TenantLimits; raised: string[] };
  seed: { jobs: number; runs: number; runsFinished: number };
  pids: { api: number; sundialGenerator: number; baselineGenerator: number; dynamoDbLocal: number | null };
  sundial: PhaseFigures[];
  baseline: PhaseFigures[];
  /** Sundial at the lower rates of BENCH_LOAD_STEPS, one after another, after the rest. */
  steps: PhaseFigures[];
  /** The baseline at the same lower rates, after Sundial's. */
  baselineSteps: PhaseFigures[];
  /** Sundial − baseline, per phase (and lower rate) and operation. */
  difference: Record<string, Record<Operation, { p50Ms: number; p95Ms: number; p99Ms: number }>>;
  profile: ProfileFigures | null;
  targets: { phase: string; p95Ms: number; p99Ms: number; met: boolean; missedBy: Operation[] }[];
  errorSamples: { sundial: string[]; baseline: string[] };
  /** The first few 429s' bodies: which limit refused them. */
  throttleSamples: string[];
  /** Every 429 of Sundial's runs by what it said. */
  throttleKinds: Record<string, number>;
  diagnosis: string[];
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const envNumber = (name: string, fallback: number) => {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, not ${raw}`);
  return n;
};

function percentiles(xs: number[]): Percentiles {
  return {
    p50Ms: round(percentile(xs, 50)),
    p95Ms: round(percentile(xs, 95)),
    p99Ms: round(percentile(xs, 99)),
    maxMs: round(percentile(xs, 100)),
  };
}

/** What the API process saw of one request. */
interface ServerRecord {
  seq: number;
  phase: string;
  op: Operation;
  start: number;
  handlerMs: number;
  awsMs: number;
  calls: Record<string, number>;
  status: number;
}

interface RequestStore {
  seq: number;
  phase: string;
  op: Operation;
  start: number;
  calls: [name: string, start: number, ms: number][];
}

/** Watches the API process: its requests, their AWS calls, the calls made outside any request. */
function serverWatch() {
  const als = new AsyncLocalStorage<RequestStore>();
  const byResponse = new WeakMap<ServerResponse, RequestStore>();
  let records: ServerRecord[] = [];
  let background: Record<string, Record<string, number>> = {};
  let active = false;
  let phase = '';
  subscribe('http.server.request.start', (message) => {
    if (!active) return;
    const { request, response } = message as {
      request: { headers: Record<string, string | string[] | undefined> };
      response: ServerResponse;
    };
    const op = request.headers['x-bench-op'];
    const seq = request.headers['x-bench-seq'];
    if (typeof op !== 'string' || typeof seq !== 'string') return;
    const store: RequestStore = {
      seq: Number(seq),
      phase: String(request.headers['x-bench-phase']),
      op: op as Operation,
      start: performance.now(),
      calls: [],
    };
    // Published just before the server emits 'request': the handler's work runs in this store.
    als.enterWith(store);
    byResponse.set(response, store);
  });
  subscribe('http.server.response.finish', (message) => {
    const { response } = message as { response: ServerResponse };
    const store = byResponse.get(response);
    if (!store) return;
    byResponse.delete(response);
    const end = performance.now();
    // The union of the calls' intervals: a list's per-job reads overlap.
    const intervals = store.calls.map(([, s, ms]) => [s, s + ms] as const).sort((a, b) => a[0] - b[0]);
    let awsMs = 0;
    let reach = Number.NEGATIVE_INFINITY;
    for (const [s, e] of intervals) {
      if (e <= reach) continue;
      awsMs += e - Math.max(s, reach);
      reach = e;
    }
    const calls: Record<string, number> = {};
    for (const [name] of store.calls) calls[name] = (calls[name] ?? 0) + 1;
    records.push({
      seq: store.seq,
      phase: store.phase,
      op: store.op,
      start: store.start,
      handlerMs: end - store.start,
      status: response.statusCode,
      awsMs,
      calls,
    });
    callTimes.push(...store.calls.map(([name, , ms]) => [store.phase, name, ms] as const));
  });
  let callTimes: (readonly [string, string, number])[] = [];
  return {
    instrument(client: { middlewareStack: { add: (...args: never[]) => void } }) {
      const add = client.middlewareStack.add as unknown as (
        mw: (
          next: (args: unknown) => Promise<unknown>,
          context: { clientName?: string; commandName?: string },
        ) => (args: unknown) => Promise<unknown>,
        options: { step: string; name: string; priority: string },
      ) => void;
      add(
        (next, context) => async (args) => {
          const store = als.getStore();
          const started = performance.now();
          try {
            return await next(args);
          } finally {
            if (store) {
              const service = (context.clientName ?? 'unknown').replace(/Client$/, '');
              const command = (context.commandName ?? 'unknown').replace(/Command$/, '');
              store.calls.push([`${service}.${command}`, started, performance.now() - started]);
            } else if (active) {
              const service = (context.clientName ?? 'unknown').replace(/Client$/, '');
              const counts = background[phase] ?? {};
              background[phase] = counts;
              counts[service] = (counts[service] ?? 0) + 1;
            }
          }
        },
        { step: 'initialize', name: 'sundialBenchLoadTimer', priority: 'high' },
      );
    },
    start() {
      active = true;
    },
    /** The phase the generator is in: calls outside requests are counted in it. */
    phase(name: string) {
      phase = name;
    },
    stop() {
      active = false;
    },
    take() {
      const taken = { records, callTimes, background };
      records = [];
      callTimes = [];
      background = {};
      return taken;
    },
  };
}

/** CPU time of a process by /proc (Linux), in seconds; null where it cannot be read. */
function cpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined || !existsSync(`/proc/${pid}/stat`)) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime: fields 14 and 15 of stat(5), in clock ticks (100 a second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** The machine's busy and total CPU seconds (all cores), from /proc/stat. */
function machineSeconds(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const [, ...values] = line.trim().split(/\s+/);
    const n = values.map(Number);
    const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = n[3]! + n[4]!;
    return { busy: (total - idle) / 100, total: total / 100 };
  } catch {
    return null;
  }
}

interface CpuMark {
  wall: number;
  api: number;
  jvm: number | null;
  generator: number | null;
  machine: { busy: number; total: number } | null;
}

function cpuMark(jvmPid: number | undefined, generatorPid: number | undefined): CpuMark {
  const own = process.cpuUsage();
  return {
    wall: performance.now() / 1000,
    api: (own.user + own.system) / 1e6,
    jvm: cpuSeconds(jvmPid),
    generator: cpuSeconds(generatorPid),
    machine: machineSeconds(),
  };
}

function coresBetween(a: CpuMark, b: CpuMark): Cores {
  const wall = b.wall - a.wall;
  const per = (x: number | null, y: number | null) =>
    x === null || y === null ? null : round((y - x) / wall, 2);
  const n = cpus().length;
  const machine =
    a.machine && b.machine
      ? round(((b.machine.busy - a.machine.busy) / (b.machine.total - a.machine.total)) * n, 2)
      : 0;
  const apiProcess = round((b.api - a.api) / wall, 2);
  const dynamoDbLocal = per(a.jvm, b.jvm);
  const generator = per(a.generator, b.generator);
  const rest =
    a.machine && b.machine
      ? round(Math.max(0, machine - apiProcess - (dynamoDbLocal ?? 0) - (generator ?? 0)), 2)
      : null;
  return { apiProcess, dynamoDbLocal, generator, rest, machine };
}

const BENCH_CATEGORY = "the bench's own watching (bench/, the profiler)";

/** Categories of the running code in a CPU profile, by its file. */
function categoryOf(url: string, functionName: string): string {
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (functionName === '(program)') return 'V8 and native (unattributed)';
  if (url.startsWith('node:inspector')) return BENCH_CATEGORY;
  if (url === '' || url.startsWith('node:')) return 'Node.js (HTTP, streams, crypto, timers)';
  const path = url.replace(/^file:\/\//, '');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1];
  if (pkg) {
    if (pkg.startsWith('@aws-sdk/') || pkg.startsWith('@smithy/') || pkg.startsWith('@aws-crypto/'))
      return 'AWS SDK';
    if (pkg === 'fauxqs') return 'fauxqs (SQS emulator)';
    if (pkg === 'zod') return 'zod (validation)';
    if (pkg.startsWith('@aws-lambda-powertools/')) return 'Powertools';
    return `other packages`;
  }
  if (/\/(functions|lib)\//.test(path)) return "Sundial's code (functions/, lib/)";
  if (/\/local\//.test(path)) return 'local runtime and emulators (local/)';
  if (/\/bench\//.test(path)) return BENCH_CATEGORY;
  return 'other';
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

const ROOT_URL = new URL('..', import.meta.url).href;

function profileFigures(profile: CpuProfile, seconds: number, rps: number): ProfileFigures {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + Math.max(0, profile.timeDeltas[i] ?? 0));
  });
  const byCategory: Record<string, number> = {};
  const byFunction = new Map<string, { function: string; where: string; category: string; time: number }>();
  let total = 0;
  let watching = 0;
  for (const [id, time] of self) {
    const { callFrame } = byId.get(id)!;
    const category = categoryOf(callFrame.url, callFrame.functionName);
    // The bench's own watching (its middleware, the profiler's session) is left out of the shares.
    if (category === BENCH_CATEGORY) {
      watching += time;
      continue;
    }
    total += time;
    byCategory[category] = (byCategory[category] ?? 0) + time;
    const where = callFrame.url
      ? `${callFrame.url.replace(ROOT_URL, '').replace(/^.*?\/(node_modules\/)/, '$1')}:${callFrame.lineNumber + 1}`
      : '';
    const key = `${callFrame.functionName}@${where}`;
    const entry = byFunction.get(key) ?? {
      function: callFrame.functionName || '(anonymous)',
      where,
      category,
      time: 0,
    };
    entry.time += time;
    byFunction.set(key, entry);
  }
  const pct = (t: number) => round((100 * t) / Math.max(1, total), 1);
  return {
    seconds,
    rps,
    watchingPercent: round((100 * watching) / Math.max(1, total + watching), 1),
    byCategory: Object.fromEntries(
      Object.entries(byCategory)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => [k, pct(v)]),
    ),
    top: [...byFunction.values()]
      .filter((f) => f.category !== 'idle')
      .sort((a, b) => b.time - a.time)
      .slice(0, 15)
      .map((f) => ({ function: f.function, where: f.where, category: f.category, percent: pct(f.time) })),
  };
}

const LOOP_RESOLUTION_MS = 10;
const GENERATOR = fileURLToPath(new URL('./load-generator.ts', import.meta.url));

/** Runs the generator in a process of its own; `onPhase` is told as each phase starts and ends. */
function runGenerator(
  config: GeneratorConfig,
  onSpawn: (child: ChildProcess) => void,
  onPhase: (index: number, edge: 'start' | 'end') => void,
): Promise<GeneratorResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', GENERATOR], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // Where `--import tsx` resolves, whatever directory the bench was started from.
      cwd: fileURLToPath(ROOT_URL),
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      // Its lifetime is this run's: it ends with its last message or with this process.
      serialization: 'advanced',
    });
    onSpawn(child);
    let settled = false;
    child.on('message', (message: GeneratorMessage) => {
      if (message.type === 'phase') onPhase(message.index, message.edge);
      else if (message.type === 'done') {
        settled = true;
        resolve(message.result);
      } else {
        settled = true;
        reject(new Error(`the load generator failed: ${message.error}`));
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (!settled) reject(new Error(`the load generator exited (${code ?? signal}) before it reported`));
    });
    child.send({ type: 'start', config });
  });
}

const statusOk = (s: number) => s >= 200 && s < 300;

function opFigures(rows: { latency: number; status: number }[]): OpFigures {
  return {
    count: rows.length,
    ...percentiles(rows.map((r) => r.latency)),
    errors: rows.filter((r) => r.status !== 0 && !statusOk(r.status) && r.status !== 429).length,
    networkErrors: rows.filter((r) => r.status === 0).length,
    throttled: rows.filter((r) => r.status === 429).length,
  };
}

interface Watched {
  cores: Cores[];
  eventLoop: Percentiles[];
  server?: ReturnType<ReturnType<typeof serverWatch>['take']>;
}

function phaseFigures(result: GeneratorResult, phases: Phase[], watched: Watched): PhaseFigures[] {
  const serverBySeq = new Map((watched.server?.records ?? []).map((r) => [r.seq, r]));
  return phases.map((phase, p) => {
    const rows = result.records
      .filter((r) => r[0] === p)
      .map(([, op, latency, lag, status, seq]) => ({ op: OPERATIONS[op]!, latency, lag, status, seq }));
    const ops = Object.fromEntries(
      OPERATIONS.map((op) => [op, opFigures(rows.filter((r) => r.op === op))]),
    ) as Record<Operation, OpFigures>;
    const figures: PhaseFigures = {
      name: phase.name,
      rps: phase.rps,
      seconds: phase.seconds,
      sent: rows.length,
      achievedRps: round(rows.length / phase.seconds),
      answeredRps: round(rows.filter((r) => statusOk(r.status)).length / phase.seconds),
      lag: percentiles(rows.map((r) => r.lag)),
      all: opFigures(rows),
      ops,
      cores: watched.cores[p]!,
      ...(watched.eventLoop[p] ? { eventLoopDelay: watched.eventLoop[p] } : {}),
      // The baseline makes one DynamoDB call per request, whatever the operation.
      dynamoCallsPerSecond: round(rows.length / phase.seconds),
      dynamoCallsPerRequest: 1,
      dynamoCpuMsPerCall: null,
      apiCpuMsPerRequest: round(
        (watched.cores[p]!.apiProcess * 1000) / Math.max(1, rows.length / phase.seconds),
        2,
      ),
      // The generator makes the baseline's calls: one per request, two for a run now.
      sdkCpuMsPerCall:
        watched.cores[p]!.generator === null
          ? null
          : round(
              (watched.cores[p]!.generator! * 1000) /
                Math.max(1, (rows.length + rows.filter((r) => r.op === 'run now').length) / phase.seconds),
              2,
            ),
    };
    if (watched.server) {
      const server = {} as Record<Operation, ServerFigures>;
      for (const op of OPERATIONS) {
        const mine = rows.filter((r) => r.op === op);
        const seen = mine.flatMap((r) => {
          const s = serverBySeq.get(r.seq);
          return s ? [{ client: r, server: s }] : [];
        });
        const callsPerRequest: Record<string, number> = {};
        for (const { server: s } of seen)
          for (const [name, n] of Object.entries(s.calls))
            callsPerRequest[name] = (callsPerRequest[name] ?? 0) + n;
        for (const name of Object.keys(callsPerRequest))
          callsPerRequest[name] = round(callsPerRequest[name]! / Math.max(1, seen.length), 2);
        const p95 = ops[op].p95Ms;
        const tail = seen.filter((x) => x.client.latency >= p95);
        const mean = (f: (x: (typeof seen)[number]) => number) =>
          round(tail.reduce((sum, x) => sum + f(x), 0) / Math.max(1, tail.length));
        server[op] = {
          requests: seen.length,
          handler: percentiles(seen.map((x) => x.server.handlerMs)),
          aws: percentiles(seen.map((x) => x.server.awsMs)),
          own: percentiles(seen.map((x) => x.server.handlerMs - x.server.awsMs)),
          callsPerRequest,
          tail: {
            requests: tail.length,
            throttled: tail.filter((x) => x.client.status === 429).length,
            latencyMs: mean((x) => x.client.latency),
            generatorLagMs: mean((x) => x.client.lag),
            outsideHandlerMs: mean((x) => x.client.latency - x.client.lag - x.server.handlerMs),
            awsMs: mean((x) => x.server.awsMs),
            ownMs: mean((x) => x.server.handlerMs - x.server.awsMs),
          },
        };
      }
      figures.server = server;
      const byCommand = new Map<string, number[]>();
      for (const [ph, name, ms] of watched.server.callTimes) {
        if (ph !== phase.name) continue;
        const list = byCommand.get(name) ?? [];
        list.push(ms);
        byCommand.set(name, list);
      }
      const background = watched.server.background[phase.name] ?? {};
      figures.backgroundCallsPerSecond = Object.fromEntries(
        Object.entries(background).map(([service, n]) => [service, round(n / phase.seconds)]),
      );
      const inRequests = watched.server.records
        .filter((r) => r.phase === phase.name)
        .reduce(
          (sum, r) =>
            sum +
            Object.entries(r.calls)
              .filter(([name]) => name.startsWith('DynamoDB.'))
              .reduce((a, [, n]) => a + n, 0),
          0,
        );
      figures.dynamoCallsPerSecond = round((inRequests + (background.DynamoDB ?? 0)) / phase.seconds);
      const handled = watched.server.records.filter((r) => r.phase === phase.name);
      figures.dynamoCallsPerRequest = round(inRequests / Math.max(1, handled.length), 2);
      figures.apiCpuMsPerRequest = round(
        (figures.cores.apiProcess * 1000) / Math.max(1, handled.length / phase.seconds),
        2,
      );
      const allCalls =
        handled.reduce((sum, r) => sum + Object.values(r.calls).reduce((a, b) => a + b, 0), 0) +
        Object.values(background).reduce((a, b) => a + b, 0);
      figures.sdkCpuMsPerCall = round(
        (figures.cores.apiProcess * 1000) / Math.max(1, allCalls / phase.seconds),
        2,
      );
      figures.awsCalls = Object.fromEntries(
        [...byCommand.entries()]
          .sort((a, b) => b[1].length - a[1].length)
          .map(([name, xs]) => [name, { count: xs.length, ...percentiles(xs) }]),
      );
    }
    const jvm = figures.cores.dynamoDbLocal;
    figures.dynamoCpuMsPerCall =
      jvm === null ? null : round((jvm * 1000) / Math.max(1, figures.dynamoCallsPerSecond), 2);
    return figures;
  });
}

/** The phases of one run: a warm-up (not reported), the sustained load, the peak. */
function plan(tiny: boolean) {
  const rps = envNumber('BENCH_LOAD_RPS', tiny ? 20 : 100);
  const seconds = envNumber('BENCH_LOAD_SECONDS', tiny ? 5 : 120);
  const peakRps = rps * envNumber('BENCH_LOAD_PEAK', 3);
  const peakSeconds = envNumber('BENCH_LOAD_PEAK_SECONDS', tiny ? 3 : 30);
  const jobs = Math.round(envNumber('BENCH_LOAD_JOBS', tiny ? 20 : 200));
  const warmUp: Phase = {
    name: 'warm-up',
    rps: Math.min(25, Math.max(5, Math.round(rps / 2))),
    seconds: tiny ? 2 : 20,
  };
  const measured: Phase[] = [
    { name: 'sustained', rps, seconds },
    { name: 'peak', rps: peakRps, seconds: peakSeconds },
  ];
  const profiled: Phase = { name: 'profiled peak', rps: peakRps, seconds: tiny ? 2 : 10 };
  const stepSeconds = envNumber('BENCH_LOAD_STEP_SECONDS', tiny ? 2 : 15);
  const steps: Phase[] = (process.env.BENCH_LOAD_STEPS ?? (tiny ? '10' : '10,20,30,40,60'))
    .split(',')
    .filter((x) => x.trim() !== '')
    .map((x) => {
      const stepRps = Number(x);
      if (!Number.isFinite(stepRps) || stepRps <= 0) throw new Error(`BENCH_LOAD_STEPS: ${x} is not a rate`);
      return { name: `step ${stepRps}`, rps: stepRps, seconds: stepSeconds };
    });
  return { jobs, warmUp, measured, profiled, steps };
}

/**
 * The tenant limits for the plan: the deployed defaults unless the peak would be refused by
 * them (at 300 requests a second it would: the default is 100, and 15% of the mix creates
 * jobs), then wide enough for it. Returned with what was raised.
 */
function limitsFor(phases: Phase[], jobs: number) {
  const createShare = MIX.filter((op) => op === 'create job').length / MIX.length;
  const peak = Math.max(...phases.map((p) => p.rps));
  const createsPerMinute = peak * createShare * 60;
  const creates = phases.reduce((sum, p) => sum + p.rps * p.seconds * createShare, 0);
  const inForce: TenantLimits = { ...DEFAULT_LIMITS };
  const raised: string[] = [];
  // A fixed one-second window: a schedule at the limit exactly still lands a few over it.
  if (peak >= DEFAULT_LIMITS.requestsPerSecond * 0.9) {
    inForce.requestsPerSecond = Math.ceil(peak * 10);
    raised.push(
      `requestsPerSecond ${DEFAULT_LIMITS.requestsPerSecond} → ${inForce.requestsPerSecond} (the peak sends ${peak} a second)`,
    );
  }
  if (createsPerMinute >= DEFAULT_LIMITS.jobCreatesPerMinute * 0.9) {
    inForce.jobCreatesPerMinute = Math.ceil(createsPerMinute * 10);
    raised.push(
      `jobCreatesPerMinute ${DEFAULT_LIMITS.jobCreatesPerMinute} → ${inForce.jobCreatesPerMinute} (the peak creates ${Math.round(createsPerMinute)} a minute)`,
    );
  }
  if (jobs + creates >= DEFAULT_LIMITS.maxJobs * 0.9) {
    inForce.maxJobs = Math.ceil((jobs + creates) * 2);
    raised.push(
      `maxJobs ${DEFAULT_LIMITS.maxJobs} → ${inForce.maxJobs} (the run creates ${Math.round(creates)})`,
    );
  }
  return { inForce, raised };
}

async function http(runtime: LocalRuntime, method: string, path: string, body?: unknown) {
  const res = await fetch(new URL(path, runtime.apiUrl), {
    method,
    headers: {
      authorization: `Bearer ${runtime.devApiKey}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} -> ${res.status}: ${text}`);
  return JSON.parse(text || 'null');
}

async function pool<T>(items: T[], concurrency: number, fn: (item: T, i: number) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** Copies Sundial's job and run items into the baseline's own tables (same DynamoDB Local). */
async function baselineTables(db: DynamoDBDocumentClient, runtime: LocalRuntime) {
  // The same definitions as Sundial's tables (keys, indexes, stream): only the calls differ.
  const [jobsTable, runsTable] = tablesFor('ttl');
  const names = { jobs: 'sundial-bench-load-jobs', runs: 'sundial-bench-load-runs' };
  await db.send(new CreateTableCommand(tableInput(jobsTable!, names.jobs)));
  await db.send(new CreateTableCommand(tableInput(runsTable!, names.runs)));
  const copy = async (from: string, to: string, keep: (item: Record<string, unknown>) => boolean) => {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await db.send(new ScanCommand({ TableName: from, ExclusiveStartKey: start }));
      items.push(...(page.Items ?? []).filter(keep));
      start = page.LastEvaluatedKey;
    } while (start);
    for (let i = 0; i < items.length; i += 25) {
      await db.send(
        new BatchWriteCommand({
          RequestItems: { [to]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) },
        }),
      );
    }
    return items;
  };
  const jobs = await copy(runtime.config.jobsTableName, names.jobs, (item) =>
    String(item.sk).startsWith('JOB#'),
  );
  const runs = await copy(runtime.config.runsTableName, names.runs, (item) =>
    String(item.sk).startsWith('RUN#'),
  );
  return { names, jobItem: jobs[0]!, runItem: runs[0]! };
}

export async function load(options: LoadOptions): Promise<LoadResults> {
  const progress = options.progress ?? (() => undefined);
  const { jobs, warmUp, measured, profiled, steps } = plan(options.tiny);
  const limits = limitsFor([warmUp, ...measured, profiled, ...steps], jobs);
  const watch = serverWatch();
  const target = await startTarget();
  const loadAverageAtStart = loadavg()[0] ?? 0;
  const runtime = await startLocalRuntime({
    port: 0,
    logLevel: 'SILENT',
    instrument: watch.instrument,
    limits: limits.inForce,
  }).catch(async (error) => {
    await target.close();
    throw error;
  });
  const operatorDb = createDocumentClient({
    region: runtime.region,
    credentials: LOCAL_CREDENTIALS,
    endpoint: runtime.endpoints.dynamodb,
  });
  const operatorSqs = new SQSClient(
    sqsConfig({ region: runtime.region, credentials: LOCAL_CREDENTIALS, endpoint: runtime.endpoints.sqs }),
  );
  const children: ChildProcess[] = [];
  try {
    // 1. Seed: jobs through the API, and a run of a quarter of them, each left to finish.
    progress(`  load: seeding ${jobs} jobs`);
    const jobIds: string[] = [];
    await pool(
      Array.from({ length: jobs }, (_, i) => i),
      8,
      async (i) => {
        const job = await http(runtime, 'POST', '/v1/jobs', {
          name: `seed-${i}`,
          schedule: { expression: 'cron(0 0 1 1 ? *)' },
          target: { type: 'http', url: target.url, method: 'GET' },
        });
        jobIds[i] = job.id;
      },
    );
    const runs: SeedRun[] = [];
    await pool(jobIds.slice(0, Math.max(4, Math.round(jobs / 4))), 8, async (jobId) => {
      const run = await http(runtime, 'POST', `/v1/jobs/${jobId}/runs`);
      runs.push({ jobId, runId: run.id });
    });
    const deadline = Date.now() + 60_000;
    let finished = 0;
    while (Date.now() < deadline) {
      // A few at a time: the API refuses a 21st authentication in flight from one address.
      const statuses: string[] = [];
      await pool(runs, 8, async (r) => {
        statuses.push((await http(runtime, 'GET', `/v1/jobs/${r.jobId}/runs/${r.runId}`)).status);
      });
      finished = statuses.filter((s) => s !== 'queued' && s !== 'running').length;
      if (finished === runs.length) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const { names, jobItem, runItem } = await baselineTables(operatorDb, runtime);
    const { QueueUrl: queueUrl } = await operatorSqs.send(
      new CreateQueueCommand({ QueueName: 'sundial-bench-load-baseline' }),
    );

    const common = {
      jobIds,
      runs,
      targetUrl: target.url,
      timeoutMs: 30_000,
    };
    const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    loop.enable();
    const measureRun = async (
      mode: GeneratorConfig['mode'],
      phases: Phase[],
      profiledPhase: number | null,
    ) => {
      const cores: Cores[] = [];
      const eventLoop: Percentiles[] = [];
      let child: ChildProcess | undefined;
      let mark: CpuMark | undefined;
      let session: Session | undefined;
      let profilerStarted: Promise<void> | undefined;
      let profile: Promise<CpuProfile> | undefined;
      const config: GeneratorConfig = {
        ...common,
        mode,
        phases,
        ...(mode === 'sundial'
          ? { sundial: { apiUrl: runtime.apiUrl, apiKey: runtime.devApiKey } }
          : {
              baseline: {
                region: runtime.region,
                dynamodbEndpoint: runtime.endpoints.dynamodb,
                sqsEndpoint: runtime.endpoints.sqs,
                jobsTable: names.jobs,
                runsTable: names.runs,
                queueUrl: queueUrl!,
                tenantId: DEV_TENANT,
                jobItem,
                runItem,
              },
            }),
      };
      if (mode === 'sundial') watch.start();
      const result = await runGenerator(
        config,
        (c) => {
          child = c;
          children.push(c);
        },
        (index, edge) => {
          if (edge === 'start') {
            progress(`  load: ${mode} ${phases[index]!.name}, ${phases[index]!.rps} requests a second`);
            mark = cpuMark(runtime.dynamoDbPid, child?.pid);
            watch.phase(phases[index]!.name);
            loop.reset();
            if (index === profiledPhase) {
              const s = new Session();
              session = s;
              s.connect();
              profilerStarted = (async () => {
                await s.post('Profiler.enable');
                await s.post('Profiler.setSamplingInterval', { interval: 1000 });
                await s.post('Profiler.start');
              })();
            }
          } else {
            cores[index] = coresBetween(mark!, cpuMark(runtime.dynamoDbPid, child?.pid));
            watch.phase('');
            // The histogram holds the timer's whole interval: its delay is what exceeds 10 ms.
            const delay = (ns: number) => round(Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS));
            eventLoop[index] = {
              p50Ms: delay(loop.percentile(50)),
              p95Ms: delay(loop.percentile(95)),
              p99Ms: delay(loop.percentile(99)),
              maxMs: delay(loop.max),
            };
            if (index === profiledPhase && session) {
              const s = session;
              profile = (async () => {
                await profilerStarted;
                const { profile: p } = await s.post('Profiler.stop');
                s.disconnect();
                return p as unknown as CpuProfile;
              })();
            }
          }
        },
      );
      watch.stop();
      const server = mode === 'sundial' ? watch.take() : undefined;
      return {
        result,
        watched: { cores, eventLoop, ...(server ? { server } : {}) },
        profile: profile ? await profile : undefined,
      };
    };

    /** Until the worker has run every run-now sent (the queues empty), at most two minutes. */
    const settle = async () => {
      const until = Date.now() + 120_000;
      while (Date.now() < until) {
        let left = 0;
        for (const queue of Object.values(runtime.queues)) {
          const { Attributes } = await operatorSqs.send(
            new GetQueueAttributesCommand({
              QueueUrl: queue.url,
              AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
            }),
          );
          left +=
            Number(Attributes?.ApproximateNumberOfMessages ?? 0) +
            Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
        }
        if (left === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    };

    // 2. Sundial over HTTP, then 3. the baseline, on the same schedule and the same emulators,
    // then 4. Sundial at a few lower rates, to find what this machine sustains.
    const sundialPhases = [warmUp, ...measured, profiled];
    const sundial = await measureRun('sundial', sundialPhases, sundialPhases.length - 1);
    await settle();
    const baselinePhases = [warmUp, ...measured];
    const baseline = await measureRun('baseline', baselinePhases, null);
    await settle();
    const stepped = steps.length > 0 ? await measureRun('sundial', steps, null) : undefined;
    await settle();
    const baselineStepped = steps.length > 0 ? await measureRun('baseline', steps, null) : undefined;
    loop.disable();

    const sundialFigures = phaseFigures(sundial.result, sundialPhases, sundial.watched).slice(1);
    const baselineFigures = phaseFigures(baseline.result, baselinePhases, baseline.watched).slice(1);
    const stepFigures = stepped ? phaseFigures(stepped.result, steps, stepped.watched) : [];
    const baselineStepFigures = baselineStepped
      ? phaseFigures(baselineStepped.result, steps, baselineStepped.watched)
      : [];
    const reported = sundialFigures.slice(0, measured.length);
    const pairs: [PhaseFigures, PhaseFigures][] = [
      ...reported.map((phase, i) => [phase, baselineFigures[i]!] as [PhaseFigures, PhaseFigures]),
      ...stepFigures.map((phase, i) => [phase, baselineStepFigures[i]!] as [PhaseFigures, PhaseFigures]),
    ];
    const difference = Object.fromEntries(
      pairs.map(([phase, base]) => [
        phase.name,
        Object.fromEntries(
          OPERATIONS.map((op) => {
            const s = phase.ops[op];
            const b = base.ops[op];
            return [
              op,
              {
                p50Ms: round(s.p50Ms - b.p50Ms),
                p95Ms: round(s.p95Ms - b.p95Ms),
                p99Ms: round(s.p99Ms - b.p99Ms),
              },
            ];
          }),
        ) as Record<Operation, { p50Ms: number; p95Ms: number; p99Ms: number }>,
      ]),
    );
    const targets = reported.map((phase) => ({
      phase: phase.name,
      p95Ms: phase.all.p95Ms,
      p99Ms: phase.all.p99Ms,
      met: phase.all.p95Ms < LOAD_TARGETS.p95Ms && phase.all.p99Ms < LOAD_TARGETS.p99Ms,
      missedBy: OPERATIONS.filter(
        (op) => phase.ops[op].p95Ms >= LOAD_TARGETS.p95Ms || phase.ops[op].p99Ms >= LOAD_TARGETS.p99Ms,
      ),
    }));
    const profileResult = sundial.profile
      ? profileFigures(sundial.profile, profiled.seconds, profiled.rps)
      : null;
    const mix = Object.fromEntries(
      OPERATIONS.map((op) => [op, round((100 * MIX.filter((m) => m === op).length) / MIX.length, 0)]),
    ) as Record<Operation, number>;
    const results: Omit<LoadResults, 'diagnosis'> = {
      date: new Date().toISOString().slice(0, 10),
      command: options.command,
      size: options.tiny ? 'tiny' : 'full',
      machine: {
        cpus: cpus().length,
        model: cpus()[0]?.model ?? 'CPU',
        memoryGiB: round(totalmem() / 2 ** 30, 0),
        node: process.version,
        loadAverageAtStart: round(loadAverageAtStart, 2),
      },
      mix,
      limits: { inForce: limits.inForce, defaults: DEFAULT_LIMITS, raised: limits.raised },
      seed: { jobs, runs: runs.length, runsFinished: finished },
      pids: {
        api: process.pid,
        sundialGenerator: sundial.result.pid,
        baselineGenerator: baseline.result.pid,
        dynamoDbLocal: runtime.dynamoDbPid ?? null,
      },
      sundial: sundialFigures,
      baseline: baselineFigures,
      steps: stepFigures,
      baselineSteps: baselineStepFigures,
      difference,
      profile: profileResult,
      targets,
      errorSamples: { sundial: sundial.result.errorSamples, baseline: baseline.result.errorSamples },
      throttleSamples: sundial.result.throttleSamples,
      throttleKinds: [sundial.result, ...(stepped ? [stepped.result] : [])].reduce<Record<string, number>>(
        (kinds, result) => {
          for (const [kind, k] of Object.entries(result.throttleKinds)) kinds[kind] = (kinds[kind] ?? 0) + k;
          return kinds;
        },
        {},
      ),
    };
    return { ...results, diagnosis: diagnose(results) };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill();
    operatorDb.destroy();
    operatorSqs.destroy();
    await runtime.stop();
    await target.close();
  }
}

const fmt = (n: number) => n.toLocaleString('en');
const ms = (n: number) => `${fmt(n)} ms`;
const meets = (f: { p95Ms: number; p99Ms: number }) =>
  f.p95Ms < LOAD_TARGETS.p95Ms && f.p99Ms < LOAD_TARGETS.p99Ms;

/** The operation with the highest p95 in a phase. */
function slowest(phase: PhaseFigures): Operation {
  return OPERATIONS.reduce((worst, op) => (phase.ops[op].p95Ms > phase.ops[worst].p95Ms ? op : worst));
}

/** DynamoDB calls per request of an operation, as counted in the API process. */
function dynamoCalls(server: ServerFigures): number {
  return round(
    Object.entries(server.callsPerRequest)
      .filter(([name]) => name.startsWith('DynamoDB.'))
      .reduce((sum, [, n]) => sum + n, 0),
    2,
  );
}

const limitsText = (l: TenantLimits) =>
  `requestsPerSecond ${fmt(l.requestsPerSecond)}, jobCreatesPerMinute ${fmt(l.jobCreatesPerMinute)}, maxJobs ${fmt(l.maxJobs)}`;

/** What the figures say of where the time goes: computed from them, so it never outlives them. */
export function diagnose(r: Omit<LoadResults, 'diagnosis'>): string[] {
  const out: string[] = [];
  const n = r.machine.cpus;
  const all = [...r.sundial, ...r.baseline, ...r.steps, ...r.baselineSteps];
  const others = all.map((x) => x.cores.rest ?? 0);
  const othersMean = round(others.reduce((a, b) => a + b, 0) / Math.max(1, others.length), 2);
  if (othersMean > 0.25) {
    out.push(
      `The machine was shared: other work used ${othersMean} of its ${n} cores on average while this ran (up to ${Math.max(...others)}; the "rest" column below), so every figure here is lower than this machine gives the bench alone.`,
    );
  }
  const [baseSustained] = r.baseline;
  // The API process is one Node.js thread: saturated when it has about a core and its event loop runs late.
  const apiBound = (x: PhaseFigures) => x.cores.apiProcess >= 0.8 && (x.eventLoopDelay?.p50Ms ?? 0) >= 20;
  const machineBound = (x: PhaseFigures) => x.cores.machine >= 0.9 * n;
  const callP50 = (x: PhaseFigures, name: string) => x.awsCalls?.[name]?.p50Ms;
  for (const [i, phase] of r.sundial.slice(0, 2).entries()) {
    const base = r.baseline[i]!;
    if (meets(phase.all)) {
      out.push(
        `At ${phase.rps} requests a second (${phase.name}) Sundial met the targets: p95 ${ms(phase.all.p95Ms)}, p99 ${ms(phase.all.p99Ms)} (the baseline: ${ms(base.all.p95Ms)}, ${ms(base.all.p99Ms)}).`,
      );
      continue;
    }
    const worst = slowest(phase);
    const tail = phase.server?.[worst]?.tail;
    const queued = phase.answeredRps < phase.rps * 0.95;
    const c = phase.cores;
    const getItem = callP50(phase, 'DynamoDB.GetItem');
    const scheduler = callP50(phase, 'Scheduler.CreateSchedule');
    out.push(
      [
        `At ${phase.rps} requests a second (${phase.name}) Sundial missed the targets: p95 ${ms(phase.all.p95Ms)}, p99 ${ms(phase.all.p99Ms)}; the baseline at the same rate had ${ms(base.all.p95Ms)} and ${ms(base.all.p99Ms)}.`,
        queued
          ? `It answered ${phase.answeredRps} of the ${phase.rps} requests a second sent: the rest queued (${fmt(phase.all.networkErrors)} got no answer within 30 s, ${fmt(phase.all.throttled)} were answered 429), and latency grew for as long as the phase lasted.`
          : `It answered nearly all it was sent (${phase.answeredRps} a second), but late: the requests queued.`,
        `The machine had ${c.machine} of its ${n} cores busy: the API process ${c.apiProcess}, DynamoDB Local's JVM ${c.dynamoDbLocal ?? 'n/a'}, the generator ${c.generator ?? 'n/a'}, the rest of the machine ${c.rest ?? 'n/a'}.`,
        apiBound(phase)
          ? `The API process, one Node.js thread with the worker, fauxqs and the Scheduler emulator in it, was saturated: its event loop ran ${ms(phase.eventLoopDelay!.p50Ms)} late at p50 (${ms(phase.eventLoopDelay!.p99Ms)} at p99), so every call it made waited in it${getItem !== undefined ? ` — a DynamoDB GetItem took ${ms(getItem)} at p50 as the API process saw it${scheduler !== undefined ? `, a CreateSchedule to the in-process Scheduler emulator ${ms(scheduler)}` : ''}, while the baseline's GetItem took ${ms(base.ops['get job'].p50Ms)}` : ''}.`
          : machineBound(phase)
            ? "The machine's CPU was saturated, so every process waited for it."
            : '',
        meets(base.all)
          ? ''
          : `The baseline missed at this rate too, with one call a request: the machine had ${base.cores.machine} cores busy (DynamoDB Local ${base.cores.dynamoDbLocal ?? 'n/a'}, the generator ${base.cores.generator ?? 'n/a'}, the rest ${base.cores.rest ?? 'n/a'}) and the generator started requests up to ${ms(base.lag.p99Ms)} late (p99)${(base.cores.rest ?? 0) >= 0.3 ? ': other work took part of the machine meanwhile' : ': at this rate the emulator and this machine cannot serve even one call per request within the targets'}.`,
        tail && tail.requests > 0
          ? `Its slowest requests, ${worst} at or above its p95 (${tail.requests} of them${tail.throttled > 0 ? `, ${tail.throttled} answered 429 before any call` : ''}), took ${ms(tail.latencyMs)} on average: ${ms(tail.outsideHandlerMs)} before the API process had read them (waiting to be accepted and read, behind the requests ahead of them), ${ms(tail.awsMs)} in AWS calls, ${ms(tail.ownMs)} in Sundial's own code, ${ms(tail.generatorLagMs)} of the generator starting them late.`
          : '',
      ]
        .filter(Boolean)
        .join(' '),
    );
  }
  const sustained = r.sundial[0];
  if (sustained?.server && baseSustained) {
    // What a request costs, where nothing queues: the highest lower rate that met the targets
    // (else the sustained phase); the API process's CPU with no request to serve (the
    // baseline's phases) is left out of it.
    const calm = [...r.steps].reverse().find((x) => meets(x.all) && x.answeredRps >= x.rps * 0.95);
    const at = calm?.server ? calm : sustained;
    const perOp = OPERATIONS.map((op) => `${op} ${dynamoCalls(at.server![op])}`).join(', ');
    const idle = round(Math.min(...r.baseline.map((x) => x.cores.apiProcess)), 2);
    const apiMs = round((Math.max(0, at.cores.apiProcess - idle) * 1000) / at.rps);
    const jvmMs = round(((at.cores.dynamoDbLocal ?? 0) * 1000) / at.rps);
    // One thread for the API process (less what it spends idle), every core for the whole.
    const apiCap = Math.round(((1 - idle) * 1000) / Math.max(0.1, apiMs));
    const machineCap = Math.round(((n - idle) * 1000) / Math.max(0.1, apiMs + jvmMs));
    const baseGenMs = round(((baseSustained.cores.generator ?? 0) * 1000) / baseSustained.rps);
    const baseJvmMs = round(((baseSustained.cores.dynamoDbLocal ?? 0) * 1000) / baseSustained.rps);
    const baseCap = Math.round((n * 1000) / Math.max(0.1, baseGenMs + baseJvmMs));
    const ownP95 = Math.max(...OPERATIONS.map((op) => at.server?.[op]?.own.p95Ms ?? 0));
    const share = (category: string) => r.profile?.byCategory[category] ?? 0;
    const sundialMisses = r.sundial.slice(0, 2).filter((x) => !meets(x.all));
    const baseMeets = (x: PhaseFigures) => meets(r.baseline[r.sundial.indexOf(x)]!.all);
    const baseOf = (x: PhaseFigures) => r.baseline[r.sundial.indexOf(x)]!;
    const sundialSide = (x: PhaseFigures) =>
      apiBound(x)
        ? "what saturated was the API process's thread, with the SDK work of Sundial's calls"
        : "Sundial's calls are what the machine could not serve";
    const because = (x: PhaseFigures) =>
      baseMeets(x)
        ? `the miss is Sundial's: the baseline met the targets on the same emulators, and ${sundialSide(x)}`
        : (baseOf(x).cores.rest ?? 0) >= 0.3
          ? `the baseline missed too, but while other work took ${baseOf(x).cores.rest} cores of the machine, so that comparison does not tell (on Sundial's side, ${sundialSide(x)}; run it again on a quiet machine)`
          : "it is the emulator's and this machine's as much as Sundial's: the baseline, one call a request, missed too";
    const verdicts = [...new Set(sundialMisses.map(because))].map((reason) => {
      const rates = sundialMisses.filter((x) => because(x) === reason).map((x) => x.rps);
      return `at ${rates.join(' and ')} a second ${reason}`;
    });
    out.push(
      [
        `Why. At ${at.rps} requests a second${calm ? ', where nothing queued,' : ''} a Sundial request cost ${ms(apiMs)} of CPU in the API process (beyond the ${idle} cores it uses with no request to serve: the pollers, the Scheduler emulator's ticks, the sweeps) and ${ms(jvmMs)} in DynamoDB Local. The API process is one Node.js thread serving the API, the worker, fauxqs and the Scheduler emulator together (as \`npm start\` runs them; on AWS each Lambda instance has its own CPU): at ${ms(apiMs)} a request it serves at most some ${fmt(apiCap)} a second, and the ${n} cores, with DynamoDB Local's share, some ${fmt(machineCap)}.`,
        `A baseline request cost ${ms(baseGenMs)} in the generator's SDK and ${ms(baseJvmMs)} in DynamoDB Local (at ${baseSustained.rps} a second): some ${fmt(baseCap)} a second on ${n} cores.`,
        `The difference is the calls: each Sundial request made ${at.dynamoCallsPerRequest} DynamoDB calls on average (${perOp}), the baseline's 1 (run now: and one SendMessage), and the worker made ${fmt(at.backgroundCallsPerSecond?.DynamoDB ?? 0)} more a second running the run-nows.`,
        r.profile
          ? `The API process's CPU goes to those calls: in its profile the AWS SDK (serialising, SigV4 signing) has ${share('AWS SDK')}% of the samples and Node.js (HTTP to DynamoDB Local and the emulators, and the API's own) ${share('Node.js (HTTP, streams, crypto, timers)')}%, garbage collection ${share('garbage collection')}%; Sundial's code ${share("Sundial's code (functions/, lib/)")}%, zod ${share('zod (validation)')}%, the emulators in local/ and fauxqs ${round(share('local runtime and emulators (local/)') + share('fauxqs (SQS emulator)'), 1)}%.`
          : '',
        calm
          ? `Measured: the highest of the lower rates that met the targets was ${calm.rps} a second (p95 ${ms(calm.all.p95Ms)}, p99 ${ms(calm.all.p99Ms)}).`
          : r.steps.length > 0
            ? `Measured: none of the lower rates (${r.steps.map((x) => x.rps).join(', ')} a second) met the targets.`
            : '',
        verdicts.length > 0
          ? `So ${verdicts.join('; ')}. Sundial's part is how many calls a request makes, not its handler code (at most ${ms(ownP95)} at p95 outside AWS calls for any operation at ${at.rps} a second); DynamoDB Local's is ${ms(round(jvmMs / Math.max(0.01, at.dynamoCallsPerRequest), 1))} of CPU per call.`
          : '',
      ]
        .filter(Boolean)
        .join(' '),
    );
    const every = (op: Operation, name: string) => at.server![op].callsPerRequest[name] ?? 0;
    out.push(
      `Calls Sundial makes beyond the operation's own read or write: on every request about a tenth of an UpdateItem (the tenant's rate-limit counter, counted in leases) and, once every 10 s per API instance and key, the key's GetItem; ${round(every('list jobs', 'DynamoDB.Query') - 1, 0)} Queries in a list of 20 jobs, one per job for its latest run; in a create or an update, the UpdateItem that clears the job's sync marker once its schedule is written, and in an update the response's Query of the job's latest run; in a read of a run or of a job's runs, a GetItem of the job (at the same time as the run's read, so it adds no latency). Together ${round(at.dynamoCallsPerRequest - 1, 1)} of the ${at.dynamoCallsPerRequest} DynamoDB calls of an average request (at ${at.rps} a second).`,
    );
  }
  const kinds = Object.entries(r.throttleKinds).sort((x, y) => y[1] - x[1]);
  const throttled = kinds.reduce((sum, [, k]) => sum + k, 0);
  const auth = kinds
    .filter(([kind]) => kind.includes('failed authentications'))
    .reduce((sum, [, k]) => sum + k, 0);
  if (throttled > 0) {
    out.push(
      [
        `The ${fmt(throttled)} 429s said: ${kinds.map(([kind, k]) => `"${kind}" ${fmt(k)}`).join('; ')}.`,
        auth > 0
          ? `"Too many failed authentications" came with a valid key: the authenticator reserves one of a source address's 20 failure tokens for each key check in flight and gives it back only once the check succeeds (functions/adapters/authenticator.ts, \`limited\`; functions/domain/auth.ts, \`FailureLimiter.take\`), so once more than 20 requests from one address are in flight at once, as here when the calls queue, valid requests are refused. Every request here comes from 127.0.0.1. On AWS each Lambda instance serves one request at a time with its own limiter, so valid keys would not be refused there; locally, and wherever one process serves many requests at once, they are.`
          : '',
      ]
        .filter(Boolean)
        .join(' '),
    );
  }
  return out;
}

export function loadMarkdown(r: LoadResults): string {
  const [sustained, peak] = r.sundial;
  const title =
    sustained && peak
      ? `## Load: ${sustained.rps} requests a second for ${sustained.seconds} s, then ${peak.rps} for ${peak.seconds} s`
      : '## Load';
  const pct = (p: Percentiles) => `${p.p50Ms} / ${p.p95Ms} / ${p.p99Ms} ms`;
  const opTable = (phases: PhaseFigures[]) => [
    `| operation | ${phases.map((p) => `${p.name} (${p.rps}/s): requests | p50 / p95 / p99 | errors, no answer, 429`).join(' | ')} |`,
    `| --- | ${phases.map(() => '--- | --- | ---').join(' | ')} |`,
    ...[...OPERATIONS, 'all' as const].map((op) => {
      const cells = phases.map((p) => {
        const f = op === 'all' ? p.all : p.ops[op];
        return `${fmt(f.count)} | ${pct(f)} | ${f.errors}, ${f.networkErrors}, ${f.throttled}`;
      });
      return `| ${op === 'all' ? '**all**' : op} | ${cells.join(' | ')} |`;
    }),
  ];
  const phaseLine = (p: PhaseFigures) =>
    `${p.name}: ${p.achievedRps} requests a second sent, ${p.answeredRps} answered 2xx; the generator started them late by ${p.lag.p50Ms} / ${p.lag.p99Ms} / ${p.lag.maxMs} ms (p50 / p99 / max).`;
  const cpuRow = (who: string, p: PhaseFigures) =>
    `| ${who}, ${p.name} (${p.rps}/s) | ${p.cores.apiProcess} | ${p.cores.dynamoDbLocal ?? 'n/a'} | ${p.cores.generator ?? 'n/a'} | ${p.cores.rest ?? 'n/a'} | ${p.cores.machine} of ${r.machine.cpus} | ${fmt(p.dynamoCallsPerSecond)} | ${p.dynamoCallsPerRequest} | ${p.dynamoCpuMsPerCall ?? 'n/a'} | ${p.sdkCpuMsPerCall ?? 'n/a'} | ${p.eventLoopDelay ? `${p.eventLoopDelay.p50Ms} / ${p.eventLoopDelay.p99Ms} ms` : 'n/a'} |`;
  const limits = r.limits;
  const limitText = limitsText;
  const server = (p: PhaseFigures) =>
    p.server
      ? [
          `| ${p.name} (${p.rps}/s): operation | calls per request | in the handler p50 / p95 / p99 | of which AWS calls | of which Sundial's own | slowest 5%: total = before the handler + AWS + own (+ generator lag) |`,
          '| --- | --- | --- | --- | --- | --- |',
          ...OPERATIONS.map((op) => {
            const s = p.server![op];
            const calls = Object.entries(s.callsPerRequest)
              .map(([name, k]) => `${k} ${name}`)
              .join(', ');
            const t = s.tail;
            const split =
              t.requests > 0
                ? `${t.latencyMs} = ${t.outsideHandlerMs} + ${t.awsMs} + ${t.ownMs} (+ ${t.generatorLagMs}) ms`
                : '–';
            return `| ${op} | ${calls} | ${pct(s.handler)} | ${pct(s.aws)} | ${pct(s.own)} | ${split} |`;
          }),
        ]
      : [];
  const callRows = (p: PhaseFigures) =>
    Object.entries(p.awsCalls ?? {}).map(
      ([name, c]) =>
        `| ${p.name} (${p.rps}/s) | ${name} | ${fmt(c.count)} | ${c.p50Ms} / ${c.p95Ms} / ${c.p99Ms} ms |`,
    );
  const main = r.sundial.slice(0, 2);
  const diffHeader = main.map((p) => `${p.name} (${p.rps}/s): p50 | p95 | p99`).join(' | ');
  const calm = [...r.steps].reverse().find((x) => meets(x.all) && x.answeredRps >= x.rps * 0.95);
  const calmBase = calm ? r.baselineSteps[r.steps.indexOf(calm)] : undefined;
  return [
    title,
    '',
    `Measured ${r.date} with \`${r.command}\` (${r.size} size) on ${r.machine.cpus} × ${r.machine.model}, ${r.machine.memoryGiB} GiB, Node ${r.machine.node}; the machine's load average was ${r.machine.loadAverageAtStart} as it started (it is shared: other work's CPU is the "rest" column below).`,
    '',
    `The local runtime with the real clock, as \`npm start\` serves it (rate limits by the second, the Scheduler emulator ticking, the worker polling). A generator in a process of its own (pid ${r.pids.sundialGenerator}; the API's is ${r.pids.api}, DynamoDB Local's ${r.pids.dynamoDbLocal ?? 'n/a'}) sends real HTTP with the development key, open-loop: each request is started on a fixed schedule (every 10 ms at 100 a second) whatever became of the earlier ones, and timed from its scheduled start, so a queue anywhere shows in the figures instead of slowing the schedule. The mix, repeated every 20 requests: ${OPERATIONS.map((op) => `${op} ${r.mix[op]}%`).join(', ')} (60% reads of jobs and runs, 25% creates and updates, 10% run-nows, 5% lists; lists are pages of 20). First ${r.seed.jobs} jobs are created (a yearly schedule: none fires during the run) and ${r.seed.runs} of them run now (${r.seed.runsFinished} finished before the load); the jobs' HTTP targets, the new ones' too, point at a local server that answers 200 at once, so each run-now runs in the worker. Each run starts with a warm-up (not reported); a request without an answer within 30 s is a network error.`,
    '',
    `Tenant limits in force: ${limitText(limits.inForce)}${limits.raised.length > 0 ? ` — raised from the deployed defaults (${limitText(limits.defaults)}) because the defaults would refuse the peak: ${limits.raised.join('; ')}` : ' (the deployed defaults)'}. 429s are counted whichever limit answered them${Object.keys(r.throttleKinds).length > 0 ? ' (what they said: under "Where the time goes")' : ''}.`,
    '',
    '### Targets (p95 under 200 ms, p99 under 500 ms, every operation together)',
    '',
    '| phase | p95 | p99 | met | operations over a target |',
    '| --- | --- | --- | --- | --- |',
    ...r.targets.map(
      (t) =>
        `| ${t.phase} | ${ms(t.p95Ms)} | ${ms(t.p99Ms)} | ${t.met ? 'yes' : '**no**'} | ${t.missedBy.join(', ') || 'none'} |`,
    ),
    '',
    '### Sundial over HTTP',
    '',
    ...opTable(r.sundial.slice(0, 2)),
    '',
    ...r.sundial.slice(0, 2).map((p) => `- ${phaseLine(p)}`),
    '',
    '### Baseline: the same schedule and mix straight to DynamoDB Local and fauxqs',
    '',
    `The same generator (pid ${r.pids.baselineGenerator}) with the AWS SDK's document client at its defaults, as Sundial's, on tables of Sundial's own definitions (keys, indexes, stream) holding copies of the seeded items: a GetItem for a job or a run, a Query of 20 for a list, a PutItem for a create, an UpdateItem for an update, a SendMessage (fauxqs) and a PutItem for a run now. No authentication, no limits, no schedules: what the operations cannot do with less.`,
    '',
    ...opTable(r.baseline),
    '',
    ...r.baseline.map((p) => `- ${phaseLine(p)}`),
    '',
    '### What Sundial adds (Sundial − baseline)',
    '',
    `| operation | ${diffHeader} |`,
    `| --- | ${r.sundial
      .slice(0, 2)
      .map(() => '--- | --- | ---')
      .join(' | ')} |`,
    ...OPERATIONS.map(
      (op) =>
        `| ${op} | ${main
          .map((p) => r.difference[p.name]![op])
          .map((d) => `${d.p50Ms} ms | ${d.p95Ms} ms | ${d.p99Ms} ms`)
          .join(' | ')} |`,
    ),
    '',
    ...(calm && calmBase
      ? [
          `Where Sundial is not past this machine's capacity, at ${calm.rps} requests a second (the highest of the lower rates below that met the targets), the baseline at the same rate:`,
          '',
          '| operation | Sundial p50 / p95 / p99 | baseline p50 / p95 / p99 | Sundial − baseline p50 / p95 / p99 |',
          '| --- | --- | --- | --- |',
          ...[...OPERATIONS, 'all' as const].map((op) => {
            const a = op === 'all' ? calm.all : calm.ops[op];
            const b = op === 'all' ? calmBase.all : calmBase.ops[op];
            return `| ${op === 'all' ? '**all**' : op} | ${pct(a)} | ${pct(b)} | ${round(a.p50Ms - b.p50Ms)} / ${round(a.p95Ms - b.p95Ms)} / ${round(a.p99Ms - b.p99Ms)} ms |`;
          }),
          '',
        ]
      : []),
    '### Where the time goes',
    '',
    // Diagnosed again from the figures, so a report re-rendered (`--only cost`) says what the code does now.
    ...diagnose(r).flatMap((d) => [d, '']),
    "In the API process, each request is timed from the moment Node parsed it to its response's end (the `http.server.request.start` and `response.finish` diagnostics channels), each AWS call it made is timed and counted (an SDK middleware; an AsyncLocalStorage ties a call to its request), and the rest is Sundial's own code. \"Before the handler\" is the request's latency less its time in the handler: the connection waiting to be accepted and read while the process served the requests ahead of it, and the way back.",
    '',
    ...(sustained ? server(sustained) : []),
    '',
    ...(peak ? server(peak) : []),
    '',
    'Every AWS call of the API requests, timed in the API process (p50 / p95 / p99):',
    '',
    '| phase | call | calls | latency |',
    '| --- | --- | --- | --- |',
    ...r.sundial.slice(0, 2).flatMap(callRows),
    '',
    "CPU, in cores (of the phase's wall time), by process; DynamoDB calls (Sundial: its API requests' and the worker's); CPU per call:",
    '',
    '| run, phase | API process | DynamoDB Local | generator | rest of the machine | machine | DynamoDB calls a second | per request | DynamoDB Local CPU per call (ms) | caller CPU per AWS call (ms) | API event-loop delay p50 / p99 |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...r.sundial.map((p) => cpuRow('Sundial', p)),
    ...r.baseline.map((p) => cpuRow('baseline', p)),
    ...r.steps.map((p) => cpuRow('Sundial', p)),
    ...r.baselineSteps.map((p) => cpuRow('baseline', p)),
    '',
    ...(r.profile
      ? [
          `A CPU profile of the API process over a further ${r.profile.seconds} s at ${r.profile.rps} a second (the "profiled peak" rows), self time by where the code lives: ${Object.entries(
            r.profile.byCategory,
          )
            .map(([k, v]) => `${k} ${v}%`)
            .join(
              ', ',
            )} (the bench's own watching, ${r.profile.watchingPercent}% of the samples, left out). The functions with the most: ${r.profile.top
            .slice(0, 8)
            .map((f) => `${f.function}${f.where ? ` (${f.where})` : ''} ${f.percent}%`)
            .join(', ')}.`,
          '',
        ]
      : []),
    ...(r.steps.length > 0
      ? [
          '### Sundial at lower rates: what this machine sustains',
          '',
          `After the rest, on the same runtime, ${r.steps[0]!.seconds} s at each rate in turn (BENCH_LOAD_STEPS), Sundial's then the baseline's:`,
          '',
          '| rate | Sundial: answered 2xx a second | p50 / p95 / p99 | errors, no answer, 429 | slowest operation (p95) | met | baseline: p50 / p95 / p99 | Sundial − baseline |',
          '| --- | --- | --- | --- | --- | --- | --- | --- |',
          ...r.steps.map((p, i) => {
            const worst = slowest(p);
            const b = r.baselineSteps[i];
            const d = b
              ? `${round(p.all.p50Ms - b.all.p50Ms)} / ${round(p.all.p95Ms - b.all.p95Ms)} / ${round(p.all.p99Ms - b.all.p99Ms)} ms`
              : 'n/a';
            return `| ${p.rps}/s | ${p.answeredRps} | ${pct(p.all)} | ${p.all.errors}, ${p.all.networkErrors}, ${p.all.throttled} | ${worst} (${ms(p.ops[worst].p95Ms)}) | ${meets(p.all) ? 'yes' : '**no**'} | ${b ? pct(b.all) : 'n/a'} | ${d} |`;
          }),
          '',
        ]
      : []),
    ...(r.errorSamples.sundial.length + r.errorSamples.baseline.length > 0
      ? [
          `First errors: ${[
            ...r.errorSamples.sundial.map((e) => `Sundial: ${e}`),
            ...r.errorSamples.baseline.map((e) => `baseline: ${e}`),
          ]
            .slice(0, 5)
            .map((e) => `\`${e.replace(/`/g, "'").slice(0, 160)}\``)
            .join('; ')}.`,
          '',
        ]
      : []),
  ].join('\n');
}
