/**
 * The region drill (issue 16, item 6): two local regions under one injected clock, load on the
 * home region, the home region killed mid-minute with some replication not yet pumped, a
 * detection delay, a forced failover as an operator whose home region is gone would run it,
 * the standby's takeover, and then the accounting — from the surviving region's run records
 * and the target's call log — of every occurrence due during the drill.
 *
 * A second scenario (failbackDrill) keeps both regions alive: a planned failover (the home
 * region fenced directly), then a failback, with the same accounting.
 *
 * Everything is driven step by step: a "minute" is the clock moved to 15 s past the next
 * minute, each live region's sweeper (heartbeat, pending change of role) and tick (fire due
 * schedules, work the queues, the jobs stream), the queues worked again a few seconds later
 * (what fair share put back), then replication pumped both ways and each region's stream and
 * queues until nothing moves. No real waiting: 16 simulated minutes take under a minute.
 */
import { type AttributeValue, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { RunStore } from '../functions/adapters/run-store.js';
import { createDocumentClient } from '../functions/commons/clients.js';
import { heartbeatSk, REGION_PK, type RoleChange } from '../functions/domain/region.js';
import { type StoredRun, scheduledRunId } from '../functions/domain/run.js';
import { type DrDeps, failover } from '../functions/usecases/regions.js';
import { PEER_STALE_SECONDS, PRIORITIES } from '../lib/definitions.js';
import { LOCAL_CREDENTIALS } from '../local/dynamodb-local.js';
import { ManualClock } from '../local/manual-clock.js';
import { canonical, type ReplicatorStats } from '../local/replicator.js';
import type { LocalRuntime } from '../local/runtime.js';
import { type LocalConsistency, startTwoRegions, type TwoRegions } from '../local/two-regions.js';
import {
  account,
  type CatchUp,
  type DrillJob,
  type LedgerTotals,
  occurrenceKey,
  recoveryTimes,
} from './ledger.js';
import { DrillTarget } from './target.js';

const MINUTE = 60_000;
/** RTO the drill must meet (issue 16: under 15 minutes). */
export const RTO_LIMIT_SECONDS = 15 * 60;
/** The seconds past each minute at which the drill's minutes happen (jobs are created then too). */
const OFFSET_SECONDS = 15;

export interface DrillHarness {
  two: TwoRegions;
  clock: ManualClock;
  target: DrillTarget;
  /** Whether the home region still runs (a kill is for good in this harness). */
  homeAlive: boolean;
  /** When the next minute's tick is due, and when the last one was (clock ms). */
  nextTick: number;
  tickedAt: number;
  /** Seconds after each tick at which the queues are worked again (see work()). */
  steps: readonly number[];
  /** The clock time of the last replication pump (everything written before it was copied). */
  lastPumpAt: number | undefined;
  /**
   * Each region's tables as the drill reads them: still readable after a kill (the post-mortem).
   * `raw` reaches the jobs table, `rawRuns` the runs table (the one both share under strong
   * consistency).
   */
  tables: Record<
    string,
    { runs: RunStore; raw: DynamoDBClient; rawRuns: DynamoDBClient; doc: DynamoDBDocumentClient }
  >;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';
  /** The clock's start. Default: now, at 15 s past the minute. */
  start?: Date;
  /**
   * Seconds after each tick at which the queues are worked again. Default DEFAULT_STEPS (1, 3, 7,
   * 15, 31). [] keeps the clock still between ticks (a firing put back waits a minute).
   */
  steps?: readonly number[];
  /** Start DynamoDB Local with DRILL_JAVA_OPTIONS (unless JAVA_TOOL_OPTIONS is set). Default true. */
  tuneJava?: boolean;
  /**
   * The runs table's consistency across the regions: `eventual` (global tables' default, a
   * replicator between two tables) or `strong` (one shared table standing in for multi-Region
   * strong consistency). Default `eventual`.
   */
  consistency?: LocalConsistency;
}

export const DRILL_JAVA_OPTIONS = '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC';

/**
 * Fair share puts a firing back for 0.5-1 s, then 1-2, 2-4, 4-8, 8-16 s (execute-firing.ts):
 * a step after each of those waits, doubling, 31 s after the tick at the last.
 */
export const DEFAULT_STEPS = [1, 3, 7, 15, 31] as const;

/** Two local regions, the drill's target and the clock. One harness serves both scenarios. */
export async function startDrill(options: HarnessOptions = {}): Promise<DrillHarness> {
  const start = options.start ?? new Date(Math.floor(Date.now() / MINUTE) * MINUTE + OFFSET_SECONDS * 1000);
  const clock = new ManualClock(start);
  const target = await new DrillTarget(() => clock.now()).start();
  let two: TwoRegions;
  // DynamoDB Local's JVMs, tuned for a short run on few cores: the client compiler only and one
  // GC thread (about half the CPU of the defaults here). Given at their start only; a
  // JAVA_TOOL_OPTIONS of the caller's own wins.
  const javaOptions = process.env.JAVA_TOOL_OPTIONS;
  if (options.tuneJava !== false && javaOptions === undefined)
    process.env.JAVA_TOOL_OPTIONS = DRILL_JAVA_OPTIONS;
  try {
    two = await startTwoRegions({
      clock,
      consistency: options.consistency ?? 'eventual',
      logLevel: options.logLevel ?? 'SILENT',
      failedVisibilityTimeoutSeconds: 0,
      // The clock does not move while the drill creates its jobs: at one instant, N creates
      // would meet the per-second API limit a real client spreads its calls under.
      limits: { requestsPerSecond: 1_000_000, jobCreatesPerMinute: 1_000_000, maxJobs: 1_000_000 },
    });
  } catch (error) {
    await target.stop();
    throw error;
  } finally {
    if (javaOptions === undefined) delete process.env.JAVA_TOOL_OPTIONS;
  }
  const tables: DrillHarness['tables'] = {};
  for (const rt of [two.home, two.standby]) {
    const config = { region: rt.region, credentials: LOCAL_CREDENTIALS, endpoint: rt.endpoints.dynamodb };
    const runsConfig = { ...config, endpoint: rt.endpoints.runsTable };
    const doc = createDocumentClient(runsConfig);
    tables[rt.region] = {
      doc,
      raw: new DynamoDBClient(config),
      rawRuns: new DynamoDBClient(runsConfig),
      runs: new RunStore(doc, rt.config.runsTableName, rt.config.runRetentionDays),
    };
  }
  return {
    two,
    clock,
    target,
    homeAlive: true,
    nextTick: start.getTime() + MINUTE,
    tickedAt: start.getTime(),
    steps: options.steps ?? DEFAULT_STEPS,
    lastPumpAt: undefined,
    tables,
    stop: async () => {
      for (const t of Object.values(tables)) {
        t.doc.destroy();
        t.raw.destroy();
        t.rawRuns.destroy();
      }
      await two.stop();
      await target.stop();
    },
  };
}

// --- driving the regions ---

const live = (h: DrillHarness): LocalRuntime[] =>
  h.homeAlive ? [h.two.home, h.two.standby] : [h.two.standby];

/** Runs one region's functions, with the target's calls meanwhile tagged as that region's. */
function drive<T>(h: DrillHarness, rt: LocalRuntime, step: () => Promise<T>): Promise<T> {
  h.target.region = rt.region;
  return step();
}

/** Replication both ways (while both live), then each region's jobs stream and queues, until nothing moves. */
export async function settle(h: DrillHarness): Promise<void> {
  for (let round = 0; round < 20; round++) {
    let applied = 0;
    if (h.homeAlive) {
      applied = (await h.two.replication.pump()).applied;
      h.lastPumpAt = h.clock.now().getTime();
    }
    let moved = 0;
    for (const rt of live(h)) {
      moved += await drive(h, rt, () => rt.pollStreams());
      moved += await drive(h, rt, () => rt.drain());
    }
    if (applied === 0 && moved === 0) return;
  }
}

/** Moves the clock on to the next 15 s past a minute, where a scenario starts (its jobs made then). */
export function align(h: DrillHarness): void {
  const now = h.clock.now().getTime();
  let at = Math.floor(now / MINUTE) * MINUTE + OFFSET_SECONDS * 1000;
  if (at < now) at += MINUTE;
  h.clock.set(new Date(at));
  h.tickedAt = at;
  h.nextTick = at + MINUTE;
}

/** The minute's firings: the clock to the next tick (15 s past the minute), each live region's sweeper and tick. */
export async function tickAll(h: DrillHarness): Promise<void> {
  h.clock.set(new Date(Math.max(h.nextTick, h.clock.now().getTime())));
  h.tickedAt = h.clock.now().getTime();
  h.nextTick = h.tickedAt + MINUTE;
  for (const rt of live(h)) {
    await drive(h, rt, () => rt.sweep());
    await drive(h, rt, () => rt.tick());
  }
}

/**
 * The seconds after the tick: the clock in growing steps (DEFAULT_STEPS: 1 s to 31 s after it), each live
 * region's queues worked at each. Firings fair share put back for a second or two run then, as
 * they would on AWS, instead of waiting a whole simulated minute for the clock to move.
 */
export async function work(h: DrillHarness): Promise<void> {
  for (const step of h.steps) {
    const to = h.tickedAt + step * 1000;
    if (to <= h.clock.now().getTime()) continue;
    h.clock.set(new Date(to));
    for (const rt of live(h)) await drive(h, rt, () => rt.drain());
  }
}

/**
 * Before the count: the live regions' queues worked until nothing is left, the clock moving
 * 5 s at a time (no tick, so no new firing) until 40 s pass with nothing to do (fair share puts
 * a firing back for 30 s at most) or 10 minutes pass.
 */
export async function quiesce(h: DrillHarness): Promise<void> {
  let idle = 0;
  for (let step = 0; step < 120 && idle < 8; step++) {
    h.clock.advance(5000);
    let moved = 0;
    for (const rt of live(h)) moved += await drive(h, rt, () => rt.drain());
    idle = moved === 0 ? idle + 1 : 0;
  }
  await settle(h);
}

/** One simulated minute: tick, the seconds after it, then replication pumped and everything settled. */
export async function minute(h: DrillHarness): Promise<void> {
  await tickAll(h);
  await work(h);
  await settle(h);
}

// --- jobs ---

const SCHEDULES: { expression: string; timezone: string }[] = [
  { expression: 'rate(1 minute)', timezone: 'UTC' },
  { expression: 'rate(1 minute)', timezone: 'UTC' },
  { expression: 'rate(1 minute)', timezone: 'UTC' },
  { expression: 'cron(* * * * ? *)', timezone: 'Asia/Kolkata' },
  { expression: 'cron(0/2 * * * ? *)', timezone: 'America/New_York' },
];
const POLICIES: { catchUp: CatchUp; catchUpWindowMinutes: number }[] = [
  { catchUp: 'all', catchUpWindowMinutes: 60 },
  { catchUp: 'latest', catchUpWindowMinutes: 60 },
  { catchUp: 'none', catchUpWindowMinutes: 60 },
  // A short window: the older part of a failover gap is recorded missed, the rest runs.
  { catchUp: 'all', catchUpWindowMinutes: 2 },
];

async function api<T>(
  rt: LocalRuntime,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${rt.apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${rt.devApiKey}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/**
 * N jobs made through the region's HTTP API with its development key: every minute (rate and
 * cron in a time zone, one in five every 2 minutes), catch-up policies all / latest / none /
 * all with a 2-minute window in turn, the three priorities in turn, each calling the target.
 */
export async function createJobs(
  h: DrillHarness,
  rt: LocalRuntime,
  prefix: string,
  n: number,
): Promise<DrillJob[]> {
  const one = async (i: number): Promise<DrillJob> => {
    const schedule = SCHEDULES[i % SCHEDULES.length]!;
    const policy = POLICIES[i % POLICIES.length]!;
    const window = policy.catchUpWindowMinutes < 60 ? `-${policy.catchUpWindowMinutes}m` : '';
    const name = `${prefix}-${String(i).padStart(3, '0')}-${policy.catchUp}${window}`;
    const res = await api<{ id: string; createdAt: string; schedule: { timezone: string } }>(
      rt,
      'POST',
      '/v1/jobs',
      {
        name,
        schedule,
        target: { type: 'http', url: `${h.target.url}/${prefix}/${i}`, method: 'POST', body: '{}' },
        ...policy,
        priority: PRIORITIES[i % PRIORITIES.length],
      },
    );
    if (res.status !== 201)
      throw new Error(`creating ${name} answered ${res.status}: ${JSON.stringify(res.body)}`);
    return {
      id: res.body.id,
      tenantId: 'dev',
      name,
      expression: schedule.expression,
      timezone: res.body.schedule.timezone,
      ...policy,
      createdAt: res.body.createdAt,
    };
  };
  const jobs: DrillJob[] = [];
  h.target.region = rt.region;
  // Ten at a time, as a client would.
  for (let i = 0; i < n; i += 10) {
    jobs.push(...(await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, k) => one(i + k)))));
  }
  return jobs;
}

// --- reading the tables ---

/** Every run record of each job in one region's runs table. */
async function runsIn(h: DrillHarness, region: string, jobs: readonly DrillJob[]) {
  const store = h.tables[region]!.runs;
  const byJob = new Map<string, StoredRun[]>();
  for (const job of jobs) {
    const runs: StoredRun[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.list(job.tenantId, job.id, { limit: 100, ...(cursor ? { cursor } : {}) });
      runs.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    byJob.set(job.id, runs);
  }
  return byJob;
}

function stable(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stable).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stable(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

async function scanAll(
  db: DynamoDBClient,
  table: string,
): Promise<Map<string, Record<string, AttributeValue>>> {
  const items = new Map<string, Record<string, AttributeValue>>();
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await db.send(
      new ScanCommand({ TableName: table, ExclusiveStartKey: start, ConsistentRead: true }),
    );
    for (const item of page.Items ?? []) items.set(`${item.pk?.S}\u0000${item.sk?.S}`, item);
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/**
 * Items whose latest version in `from`'s table is not in `to`'s (missing or different), and the
 * newest `updatedAt` among the job items `to` holds as `from` wrote them.
 */
async function notReplicated(
  h: DrillHarness,
  from: LocalRuntime,
  to: LocalRuntime,
  skip: (key: string) => boolean,
) {
  const out = { jobs: 0, runs: 0, newestJobWrite: 0 };
  for (const [id, table, client] of [
    ['jobs', 'jobsTableName', 'raw'],
    ['runs', 'runsTableName', 'rawRuns'],
  ] as const) {
    const [a, b] = await Promise.all([
      scanAll(h.tables[from.region]![client], from.config[table]),
      scanAll(h.tables[to.region]![client], to.config[table]),
    ]);
    for (const [key, item] of a) {
      if (skip(key)) continue;
      const other = b.get(key);
      if (!other || canonical({ M: other }) !== canonical({ M: item })) out[id]++;
      else if (id === 'jobs' && item.sk?.S?.startsWith('JOB#') && item.updatedAt?.S) {
        out.newestJobWrite = Math.max(out.newestJobWrite, Date.parse(item.updatedAt.S));
      }
    }
  }
  return out;
}

/** The latest time a run record carries: when its last write was made (the injected clock's). */
function writtenAt(run: StoredRun): number {
  const times = [run.startedAt, run.finishedAt, ...run.attempts.map((a) => a.finishedAt)]
    .filter((t): t is string => typeof t === 'string')
    .map(Date.parse);
  return times.length ? Math.max(...times) : Date.parse(run.scheduledAt);
}

async function change(h: DrillHarness, reader: string, of: string): Promise<RoleChange | null> {
  const beats = await h.two.dr.tables[reader]!.heartbeats();
  return beats.find((b) => b.region === of)?.change ?? null;
}

// --- the kill scenario ---

export interface KillOptions {
  jobs: number;
  /** Minutes of load on the home region; the home region dies in the middle of the last one. */
  minutes: number;
  /** Minutes the standby runs alone before the failover, or "alarm": until PeerHeartbeatStale would fire. */
  detection: number | 'alarm';
  /** Minutes the standby runs after taking over. */
  afterMinutes: number;
  progress?: (line: string) => void;
}

export interface KillReport {
  scenario: 'kill';
  /** The runs table's consistency across the regions. */
  consistency: LocalConsistency;
  jobs: number;
  loadMinutes: number;
  home: string;
  standby: string;
  killAt: string;
  /** Seconds after each tick at which the queues were worked ([]: the clock still between ticks). */
  steps: readonly number[];
  /** The clock time of the last pump before the kill: everything written before it had been copied. */
  lastPumpAt: string | null;
  /**
   * The newest write of the home region found in the standby's tables at the kill: the latest of
   * its run records' times, its job items' updatedAt and its heartbeat there (a lower bound of
   * the newest write that arrived, so RPO is never shown better than it was).
   */
  newestReplicatedWrite: string | null;
  rpoSeconds: number | null;
  /** Items whose last write the home region made never reached the standby. */
  lostWrites: { jobs: number; runs: number };
  /** Firings the home region's Scheduler had delivered but it had not recorded at the kill (in its queues), and how the survivor ended them. */
  inFlightAtKill: { firings: number; endedAs: Record<string, number> };
  /** The home → standby replicator's counters when it was cut off. */
  replicationAtKill: ReplicatorStats;
  detection: {
    seconds: number;
    /** The peer heartbeat age the standby's sweeper published each minute after the kill. */
    peerAges: number[];
    /** Seconds after the kill at which PeerHeartbeatStale (> 180 s, 2 of 2 minutes) would be in alarm. */
    alarmAfterSeconds: number | null;
  };
  failover: { at: string; epoch: number; fencedDirectly: boolean; note: string | undefined };
  takeover: {
    /** Real milliseconds the standby's takeover took (its stream record to change done); added to the clock. */
    realMs: number;
    /** The clock time the takeover handled its gap at. */
    at: string;
    change: RoleChange | null;
  };
  afterMinutes: number;
  endAt: string;
  rtoSeconds: number | null;
  /** Seconds from the kill until every job had run an occurrence due after it. */
  everyJobRunningSeconds: number | null;
  firstRun: { job: string; scheduledAt: string; trigger: string; startedAt: string } | null;
  ledger: LedgerTotals;
  problems: string[];
  realSeconds: number;
}

export async function killDrill(h: DrillHarness, options: KillOptions): Promise<KillReport> {
  const began = performance.now();
  const say = options.progress ?? (() => undefined);
  const { home, standby, replication } = h.two;
  if (!h.homeAlive) throw new Error('the home region is already dead: one kill per harness');
  align(h);
  const jobs = await createJobs(h, home, 'drill', options.jobs);
  await settle(h);
  say(`${jobs.length} jobs created on ${home.region}`);
  for (let m = 1; m < options.minutes; m++) await minute(h);
  say(`${options.minutes - 1} minutes of load on ${home.region}`);

  // The last minute: both regions fire and work their queues once, then replication is cut
  // before its pump and the home region dies, with what fair share put back still in its
  // queues. Its table stays readable here, for the post-mortem only.
  await tickAll(h);
  const replicationAtKill = replication.aToB.stats();
  const lastPumpAt = h.lastPumpAt;
  await replication.aToB.stop();
  await home.kill();
  await replication.bToA.stop();
  h.homeAlive = false;
  const killAt = h.clock.now();
  say(`${home.region} killed at ${killAt.toISOString()}`);

  // Post-mortem at the kill: what of the home region's writes reached the standby.
  const [atKillHome, atKillStandby] = await Promise.all([
    runsIn(h, home.region, jobs),
    runsIn(h, standby.region, jobs),
  ]);
  const unreplicated = new Set<string>();
  let newest = 0;
  const recordedHome = new Set<string>();
  for (const job of jobs) {
    const there = new Map((atKillStandby.get(job.id) ?? []).map((r) => [r.id, r]));
    for (const run of atKillHome.get(job.id) ?? []) {
      if (run.id !== scheduledRunId(new Date(run.scheduledAt))) continue;
      recordedHome.add(occurrenceKey(job.id, run.scheduledAt));
      const copy = there.get(run.id);
      if (!copy || stable(copy) !== stable(run)) unreplicated.add(occurrenceKey(job.id, run.scheduledAt));
    }
    for (const run of there.values())
      if (!run.id.includes('_passive_')) newest = Math.max(newest, writtenAt(run));
  }
  const homeBeat = (await h.two.dr.tables[standby.region]!.heartbeats()).find(
    (b) => b.region === home.region,
  );
  if (homeBeat) newest = Math.max(newest, Date.parse(homeBeat.at));
  const standbyBeat = `${REGION_PK}\u0000${heartbeatSk(standby.region)}`;
  const { newestJobWrite, ...lostWrites } = await notReplicated(
    h,
    home,
    standby,
    (key) => key === standbyBeat,
  );
  newest = Math.max(newest, newestJobWrite);
  // Firings the home region's Scheduler delivered that it had not recorded: in its queues when it died.
  const ids = new Set(jobs.map((j) => j.id));
  const inFlight = new Set(
    home.firings
      .filter((f) => ids.has(f.jobId))
      .map((f) => occurrenceKey(f.jobId, f.scheduledTime))
      .filter((key) => !recordedHome.has(key)),
  );

  // Detection: the standby alone, its sweeper publishing the peer heartbeat's age each minute;
  // the failover comes right after the tick of the minute detection ends in.
  const peerAges: number[] = [];
  let alarmAfterSeconds: number | null = null;
  for (let m = 1; options.detection === 'alarm' ? m <= 30 : m <= options.detection; m++) {
    await tickAll(h);
    const age = standby.metrics.regionReport?.peerHeartbeatAgeSeconds ?? null;
    peerAges.push(age ?? Number.POSITIVE_INFINITY);
    const n = peerAges.length;
    if (
      alarmAfterSeconds === null &&
      n >= 2 &&
      peerAges[n - 1]! > PEER_STALE_SECONDS &&
      peerAges[n - 2]! > PEER_STALE_SECONDS
    ) {
      alarmAfterSeconds = Math.round((h.clock.now().getTime() - killAt.getTime()) / 1000);
    }
    const last = options.detection === 'alarm' ? alarmAfterSeconds !== null : m === options.detection;
    if (last) break;
    await work(h);
    await settle(h);
  }
  const failoverAt = h.clock.now();
  say(
    `detection: ${Math.round((failoverAt.getTime() - killAt.getTime()) / 1000)} s, peer heartbeat ages ${peerAges.length ? `${peerAges.join(', ')} s` : 'none'}`,
  );

  // The operator's failover: the home region's table does not answer either.
  const down = async (): Promise<never> => {
    throw new Error(`connect ETIMEDOUT (${home.region} is down)`);
  };
  const lostDeps: DrDeps = {
    ...h.two.dr,
    tables: { ...h.two.dr.tables, [home.region]: { state: down, write: down, heartbeats: down } },
  };
  const result = await failover(lostDeps, {
    to: standby.region,
    by: 'drill',
    force: true,
    reason: `drill: ${home.region} lost`,
  });

  // The takeover, from the standby's own stream. Its real time goes on the clock before the
  // runs it sent are worked, so RTO includes it.
  const t0 = performance.now();
  await drive(h, standby, () => standby.pollStreams());
  const realMs = performance.now() - t0;
  h.clock.advance(Math.ceil(realMs));
  await drive(h, standby, () => standby.drain());
  await work(h);
  await settle(h);
  const takeover = await change(h, standby.region, standby.region);
  say(`takeover ${takeover?.state ?? 'not started'} in ${Math.round(realMs)} ms`);

  for (let m = 0; m < options.afterMinutes; m++) await minute(h);
  const endAt = new Date(h.tickedAt);
  await quiesce(h);

  const survivor = await runsIn(h, standby.region, jobs);
  const ledger = account({
    jobs,
    end: endAt,
    survivor,
    calls: h.target.calls.filter((c) => ids.has(c.jobId)),
    unreplicated,
    takeovers: [failoverAt],
  });
  const rto = recoveryTimes(jobs, survivor, killAt);
  const inFlightEnded: Record<string, number> = {};
  for (const o of ledger.occurrences) {
    if (!inFlight.has(occurrenceKey(o.jobId, o.scheduledAt))) continue;
    const label = o.record ? `${o.record.status} ${o.record.trigger}` : o.outcome;
    inFlightEnded[label] = (inFlightEnded[label] ?? 0) + 1;
  }
  const nameOf = new Map(jobs.map((j) => [j.id, j.name]));
  return {
    scenario: 'kill',
    consistency: h.two.consistency,
    jobs: jobs.length,
    loadMinutes: options.minutes,
    home: home.region,
    standby: standby.region,
    killAt: killAt.toISOString(),
    steps: h.steps,
    lastPumpAt: lastPumpAt === undefined ? null : new Date(lastPumpAt).toISOString(),
    newestReplicatedWrite: newest ? new Date(newest).toISOString() : null,
    rpoSeconds: newest ? Math.round((killAt.getTime() - newest) / 1000) : null,
    lostWrites,
    inFlightAtKill: { firings: inFlight.size, endedAs: inFlightEnded },
    replicationAtKill,
    detection: {
      seconds: Math.round((failoverAt.getTime() - killAt.getTime()) / 1000),
      peerAges,
      alarmAfterSeconds,
    },
    failover: {
      at: failoverAt.toISOString(),
      epoch: result.state.epoch,
      fencedDirectly: result.fencedDirectly,
      note: result.note,
    },
    takeover: { realMs: Math.round(realMs), at: failoverAt.toISOString(), change: takeover },
    afterMinutes: options.afterMinutes,
    endAt: endAt.toISOString(),
    rtoSeconds: rto.first,
    everyJobRunningSeconds: rto.everyJob,
    firstRun: rto.firstRun
      ? {
          job: nameOf.get(rto.firstRun.jobId) ?? rto.firstRun.jobId,
          scheduledAt: rto.firstRun.scheduledAt,
          trigger: rto.firstRun.trigger,
          startedAt: rto.firstRun.startedAt!,
        }
      : null,
    ledger: ledger.totals,
    problems: ledger.problems,
    realSeconds: Math.round((performance.now() - began) / 100) / 10,
  };
}

// --- the failback scenario ---

export interface FailbackOptions {
  jobs: number;
  /** Minutes in each phase: home active, standby active, home active again. */
  minutes: number;
  progress?: (line: string) => void;
}

export interface FailbackReport {
  scenario: 'failback';
  jobs: number;
  minutesPerPhase: number;
  failover: { at: string; epoch: number; fencedDirectly: boolean; changes: (RoleChange | null)[] };
  failback: { at: string; epoch: number; fencedDirectly: boolean; changes: (RoleChange | null)[] };
  /** Run records that differ between the two regions' tables at the end (replication converged: 0). */
  divergent: number;
  /** Target calls by region in each phase (home active, standby active, home again). */
  phases: { active: string; calls: Record<string, number> }[];
  /** Calls made by a region while the other was the active one. */
  fenceViolations: number;
  ledger: LedgerTotals;
  problems: string[];
  realSeconds: number;
}

/** Waits (sweep by sweep) until `region` has finished its change of role for the current epoch. */
async function changed(h: DrillHarness, rt: LocalRuntime, epoch: number): Promise<RoleChange | null> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const done = await change(h, rt.region, rt.region);
    if (done && done.epoch === epoch && done.state === 'done') return done;
    await drive(h, rt, () => rt.sweep());
    await settle(h);
  }
  return change(h, rt.region, rt.region);
}

/**
 * Both regions stay up: a planned failover (the home region fenced directly: its schedules
 * disabled, its workers passive), minutes on the standby, a failback once the standby's change
 * is done, minutes on the home region again; every occurrence accounted for.
 */
export async function failbackDrill(h: DrillHarness, options: FailbackOptions): Promise<FailbackReport> {
  const began = performance.now();
  const say = options.progress ?? (() => undefined);
  const { home, standby } = h.two;
  if (!h.homeAlive) throw new Error('the failback scenario needs both regions alive: run it before a kill');
  align(h);
  const jobs = await createJobs(h, home, 'failback', options.jobs);
  await settle(h);
  for (let m = 0; m < options.minutes; m++) await minute(h);
  say(`failback scenario: ${jobs.length} jobs, ${options.minutes} min on ${home.region}`);

  // The operator's command comes a second after the minute's work: calls before it are the old region's turn.
  const failoverAt = h.clock.advance(1000);
  const out = await failover(h.two.dr, {
    to: standby.region,
    by: 'drill',
    reason: 'drill: planned failover',
  });
  await settle(h);
  const outChanges = [await changed(h, standby, out.state.epoch), await changed(h, home, out.state.epoch)];
  say(`failover to ${standby.region} (epoch ${out.state.epoch}, fenced directly: ${out.fencedDirectly})`);
  for (let m = 0; m < options.minutes; m++) await minute(h);

  const failbackAt = h.clock.advance(1000);
  const back = await failover(h.two.dr, {
    to: home.region,
    failback: true,
    by: 'drill',
    reason: 'drill: failback',
  });
  await settle(h);
  const backChanges = [await changed(h, home, back.state.epoch), await changed(h, standby, back.state.epoch)];
  say(`failback to ${home.region} (epoch ${back.state.epoch}, fenced directly: ${back.fencedDirectly})`);
  for (let m = 0; m < options.minutes; m++) await minute(h);
  const endAt = new Date(h.tickedAt);
  await quiesce(h);

  const [atHome, atStandby] = await Promise.all([
    runsIn(h, home.region, jobs),
    runsIn(h, standby.region, jobs),
  ]);
  let divergent = 0;
  for (const job of jobs) {
    const there = new Map((atStandby.get(job.id) ?? []).map((r) => [r.id, stable(r)]));
    const here = atHome.get(job.id) ?? [];
    if (here.length !== there.size) divergent += Math.abs(here.length - there.size);
    for (const run of here) if (there.has(run.id) && there.get(run.id) !== stable(run)) divergent++;
  }
  const ids = new Set(jobs.map((j) => j.id));
  const calls = h.target.calls.filter((c) => ids.has(c.jobId));
  const ledger = account({ jobs, end: endAt, survivor: atHome, calls, takeovers: [failoverAt, failbackAt] });

  // The fence: in each phase only the active region calls targets.
  const phases = [
    { active: home.region, calls: {} as Record<string, number> },
    { active: standby.region, calls: {} as Record<string, number> },
    { active: home.region, calls: {} as Record<string, number> },
  ];
  let fenceViolations = 0;
  for (const call of calls) {
    const at = Date.parse(call.at);
    const phase = phases[at < failoverAt.getTime() ? 0 : at < failbackAt.getTime() ? 1 : 2]!;
    phase.calls[call.region] = (phase.calls[call.region] ?? 0) + 1;
    if (call.region !== phase.active) fenceViolations++;
  }

  // Its jobs go, so that the kill scenario after it accounts for its own alone.
  for (const job of jobs) await drive(h, home, () => api(home, 'DELETE', `/v1/jobs/${job.id}`));
  await settle(h);
  say(`failback scenario done: ${options.minutes} min on ${home.region} again`);
  return {
    scenario: 'failback',
    jobs: jobs.length,
    minutesPerPhase: options.minutes,
    failover: {
      at: failoverAt.toISOString(),
      epoch: out.state.epoch,
      fencedDirectly: out.fencedDirectly,
      changes: outChanges,
    },
    failback: {
      at: failbackAt.toISOString(),
      epoch: back.state.epoch,
      fencedDirectly: back.fencedDirectly,
      changes: backChanges,
    },
    divergent,
    phases,
    fenceViolations,
    ledger: ledger.totals,
    problems: ledger.problems,
    realSeconds: Math.round((performance.now() - began) / 100) / 10,
  };
}

// --- the whole drill, its checks and its report ---

export interface DrillOptions extends Partial<Omit<KillOptions, 'progress'>> {
  /** See HarnessOptions.steps. */
  steps?: readonly number[];
  /** Run the failback scenario first (both regions alive), with this many jobs and minutes per phase. */
  failback?: { jobs: number; minutes: number } | false;
  logLevel?: HarnessOptions['logLevel'];
  /** See HarnessOptions.consistency. */
  consistency?: LocalConsistency;
  progress?: (line: string) => void;
}

export interface DrillReport {
  kill: KillReport;
  failback: FailbackReport | undefined;
  /** The checks that failed, each saying why; empty when the drill passed. */
  failures: string[];
}

export const DEFAULTS = { jobs: 50, minutes: 10, detection: 3, afterMinutes: 3 } as const;

/**
 * Starts two regions, runs the failback scenario if asked (first: a killed region cannot come
 * back in this harness), then the kill scenario, and stops everything.
 */
export async function runDrill(options: DrillOptions = {}): Promise<DrillReport> {
  const h = await startDrill({
    ...(options.logLevel ? { logLevel: options.logLevel } : {}),
    ...(options.steps ? { steps: options.steps } : {}),
    ...(options.consistency ? { consistency: options.consistency } : {}),
  });
  options.progress?.(
    `two regions started (${options.consistency ?? 'eventual'} consistency of the runs table)`,
  );
  try {
    const progress = options.progress;
    const failback = options.failback
      ? await failbackDrill(h, { ...options.failback, ...(progress ? { progress } : {}) })
      : undefined;
    const kill = await killDrill(h, {
      jobs: options.jobs ?? DEFAULTS.jobs,
      minutes: options.minutes ?? DEFAULTS.minutes,
      detection: options.detection ?? DEFAULTS.detection,
      afterMinutes: options.afterMinutes ?? DEFAULTS.afterMinutes,
      ...(progress ? { progress } : {}),
    });
    return { kill, failback, failures: checks(kill, failback) };
  } finally {
    await h.stop();
  }
}

/** What the drill requires, each failure saying which check failed and by how much. */
export function checks(kill: KillReport, failback?: FailbackReport): string[] {
  const failures: string[] = [];
  const k = kill.ledger;
  if (k.lost > 0)
    failures.push(`lost: ${k.lost} occurrences have no record in ${kill.standby} and were never run`);
  if (kill.rtoSeconds === null) failures.push(`RTO: ${kill.standby} ran no occurrence due after the kill`);
  else if (kill.rtoSeconds > RTO_LIMIT_SECONDS)
    failures.push(`RTO: ${kill.rtoSeconds} s is over the ${RTO_LIMIT_SECONDS} s limit`);
  const ledgers: [string, LedgerTotals][] = [['kill', k]];
  if (failback) {
    ledgers.push(['failback', failback.ledger]);
    if (failback.ledger.lost > 0) failures.push(`failback lost: ${failback.ledger.lost} occurrences`);
    if (failback.divergent > 0)
      failures.push(`failback: ${failback.divergent} run records differ between the regions`);
    for (const c of [...failback.failover.changes, ...failback.failback.changes]) {
      if (c?.state !== 'done')
        failures.push(`failback: a change of role ended ${c?.state ?? 'never started'}`);
    }
  }
  if (kill.takeover.change?.state !== 'done')
    failures.push(
      `takeover: ${kill.takeover.change?.state ?? 'never started'} ${kill.takeover.change?.error ?? ''}`.trim(),
    );
  // One runs table for both regions: every run the lost region recorded is the survivor's,
  // so nothing it ran may run again.
  if (kill.consistency === 'strong' && k.duplicated > 0)
    failures.push(
      `strong consistency: ${k.duplicated} occurrences ran twice, though the run claim holds across regions`,
    );
  for (const [name, l] of ledgers) {
    const outside = l.duplicated - l.duplicatedInsideRpo;
    if (outside > 0) failures.push(`${name}: ${outside} occurrences ran twice outside the RPO`);
    if (l.mismatches > 0)
      failures.push(`${name}: ${l.mismatches} records contradict their job's catch-up policy`);
    if (l.unrecorded > 0)
      failures.push(`${name}: ${l.unrecorded} occurrences ran but have no record in the survivor`);
    if (l.unfinished > 0) failures.push(`${name}: ${l.unfinished} runs were left queued or running`);
    if (l.unexpected > 0)
      failures.push(`${name}: ${l.unexpected} records are no occurrence of their schedule`);
  }
  return failures;
}

/** The last line: `RPO <seconds> RTO <seconds> lost <n> duplicated <n>` (integers; -1 when not measured). */
export function summaryLine(kill: KillReport): string {
  return `RPO ${kill.rpoSeconds ?? -1} RTO ${kill.rtoSeconds ?? -1} lost ${kill.ledger.lost} duplicated ${kill.ledger.duplicated}`;
}

const time = (iso: string) => iso.slice(11, 19);
const counts = (record: Record<string, number>) =>
  Object.entries(record)
    .sort(([, a], [, b]) => b - a)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ') || 'none';

function ledgerLines(l: LedgerTotals): string[] {
  return [
    `  ${l.due} occurrences due: ${counts(l.recorded)}`,
    `  lost ${l.lost} · unreplicated ${l.unreplicated} · duplicated ${l.duplicated} (${l.duplicatedInsideRpo} inside the RPO; ${l.rerunInsideRpo} unreplicated run again by the takeover) · unrecorded ${l.unrecorded} · unfinished ${l.unfinished} · policy mismatches ${l.mismatches}`,
    `  target calls by region: ${counts(l.callsByRegion)}`,
  ];
}

/** The human report; its last line is summaryLine(). */
export function formatReport(report: DrillReport): string[] {
  const lines: string[] = [];
  const fb = report.failback;
  if (fb) {
    const ch = (c: RoleChange | null) =>
      c
        ? `${c.role} ${c.state} (${c.schedules} schedules, ${c.caughtUp} caught up, ${c.missed} missed)`
        : 'none';
    lines.push(
      `failback scenario — ${fb.jobs} jobs, ${fb.minutesPerPhase} min per phase, both regions alive (${fb.realSeconds} s real)`,
      `  failover at ${time(fb.failover.at)}: epoch ${fb.failover.epoch}, old region fenced directly: ${fb.failover.fencedDirectly}; ${fb.failover.changes.map(ch).join(' / ')}`,
      `  failback at ${time(fb.failback.at)}: epoch ${fb.failback.epoch}, fenced directly: ${fb.failback.fencedDirectly}; ${fb.failback.changes.map(ch).join(' / ')}`,
      ...ledgerLines(fb.ledger),
      `  target calls by phase: ${fb.phases.map((p) => `${p.active} active: ${counts(p.calls)}`).join(' | ')}; by the passive region: ${fb.fenceViolations}`,
      `  run records differing between the regions at the end: ${fb.divergent}`,
      ...fb.problems.map((p) => `  ! ${p}`),
      '',
    );
  }
  const k = report.kill;
  const c = k.takeover.change;
  const since = (iso: string) => Math.round((Date.parse(iso) - Date.parse(k.killAt)) / 1000);
  lines.push(
    `kill scenario — ${k.jobs} jobs on ${k.home} (home), ${k.standby} standby, runs table ${k.consistency === 'strong' ? 'strongly consistent (one table, the MRSC stand-in)' : 'eventually consistent (replicated)'}, injected clock (${k.realSeconds} s real)`,
    `  load: ${k.loadMinutes} min on ${k.home}, replication pumped once a minute; ${k.steps.length ? `queues worked again ${k.steps.join(', ')} s after each tick` : 'the clock still between ticks'}`,
    `  kill: ${k.home} at ${time(k.killAt)}, after its firings of that minute ran and before the pump; ${k.lostWrites.runs} runs-table and ${k.lostWrites.jobs} jobs-table items never reached ${k.standby}`,
    `  in flight at the kill: ${k.inFlightAtKill.firings} firings delivered to ${k.home}'s queues and not yet recorded there, died with it; the survivor ended them as ${counts(k.inFlightAtKill.endedAs)}`,
    `  RPO ${k.rpoSeconds ?? '?'} s: newest ${k.home} write in ${k.standby} at ${k.newestReplicatedWrite ? time(k.newestReplicatedWrite) : 'none'} (last pump at ${k.lastPumpAt ? time(k.lastPumpAt) : 'never'}; the replicator had applied ${k.replicationAtKill.applied} writes, ${k.replicationAtKill.errors} errors)`,
    `  detection: ${k.detection.seconds} s with ${k.standby} alone; peer heartbeat age each minute ${k.detection.peerAges.length ? `${k.detection.peerAges.join(', ')} s` : 'none'}; PeerHeartbeatStale (> ${PEER_STALE_SECONDS} s, 2 of 2 minutes) ${k.detection.alarmAfterSeconds === null ? 'not in alarm yet' : `in alarm at kill + ${k.detection.alarmAfterSeconds} s`}`,
    `  failover: forced to ${k.standby} at ${time(k.failover.at)} (kill + ${since(k.failover.at)} s), epoch ${k.failover.epoch}; ${k.failover.fencedDirectly ? 'old region fenced directly' : (k.failover.note ?? '')}`,
    `  takeover: ${c ? `${c.state}, ${c.schedules} schedules enabled, ${c.caughtUp} gap occurrences run, ${c.missed} recorded missed, ${c.redriven} runs redriven` : 'no change recorded'}; ${k.takeover.realMs} ms real, added to the clock before its runs were worked`,
    `  after: ${k.afterMinutes} min on ${k.standby}`,
    ...ledgerLines(k.ledger),
    `  RTO ${k.rtoSeconds ?? '?'} s: first run after the kill ${k.firstRun ? `${k.firstRun.job} ${time(k.firstRun.scheduledAt)} (${k.firstRun.trigger}) started ${time(k.firstRun.startedAt)}` : 'none'}; ${k.everyJobRunningSeconds === null ? 'not every job has run an occurrence due after the kill yet' : `every job running again by kill + ${k.everyJobRunningSeconds} s`}`,
    ...k.problems.map((p) => `  ! ${p}`),
  );
  lines.push(
    report.failures.length === 0
      ? `checks passed: lost = 0, RTO ≤ ${RTO_LIMIT_SECONDS} s, duplicates only inside the RPO, every record as its catch-up policy says`
      : `CHECKS FAILED:\n${report.failures.map((f) => `  - ${f}`).join('\n')}`,
  );
  lines.push(summaryLine(k));
  return lines;
}
