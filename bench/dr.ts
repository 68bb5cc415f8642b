/**
 * Failover at scale (issue 16, item 3): how long the standby region takes to take over N jobs
 * (100,000 by default), and what that makes of the 15-minute RTO within Scheduler's quotas.
 *
 * One local runtime is the standby, `us-west-2` of the pair `us-east-1` (home) / `us-west-2`:
 * passive, so its Scheduler emulator holds every job's schedule disabled. It is set up as
 * replication would leave it, the fastest honest way: the first job written to the standby's
 * jobs table by its own job store exactly as the home region's API leaves it (created at
 * version 1, then its schedule synced: no marker, `scheduleSyncedAt` set) and its latest run
 * by the run store as the home region's worker recorded it; every other job and run in
 * BatchWriteItem calls of those same items with its own fields (checked to read back as the
 * stores would have written them); then each schedule laid down disabled by the standby's
 * schedule gateway as its sync function does for each replicated job record
 * (`gateway.apply(passiveView(job))`), several at a time as stream shards would be. Creating
 * them through a home region's API and a replicator instead runs at ~90 jobs a second here
 * (the scale section): 20 minutes for 100,000, for the same items.
 *
 * Then the home region is lost: the failover is written as `sundial dr failover --to
 * us-west-2 --force` writes it (the home table does not answer), and the standby's sync
 * function takes over exactly as it does on its stream record of that change: `changeRole`
 * with its `services.sync.role` deps, unpaced here (the emulator has no quota), every AWS
 * call counted. What that costs on AWS is modelled from the counts, two ways: the calls over
 * whatever paces them there (Scheduler's quota or Sundial's pace, DynamoDB's on-demand
 * throughput), and the larger of that and the time measured here.
 */
import { loadavg } from 'node:os';
import { isDeepStrictEqual } from 'node:util';
import { KMSClient } from '@aws-sdk/client-kms';
import {
  BatchWriteCommand,
  type BatchWriteCommandInput,
  GetCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { RegionStore } from '../functions/adapters/region-store.js';
import { createDocumentClient } from '../functions/commons/clients.js';
import { ready } from '../functions/commons/lazy.js';
import type { Job, StoredJob } from '../functions/domain/job.js';
import { validateJobInput } from '../functions/domain/job-input.js';
import type { RoleChange } from '../functions/domain/region.js';
import { type StoredRun, scheduledRunId } from '../functions/domain/run.js';
import { changeRole, passiveView } from '../functions/usecases/region-role.js';
import { failover, type RegionTable } from '../functions/usecases/regions.js';
import { ROLE_CHANGE_SCHEDULER_CALLS_PER_SECOND } from '../functions/wiring/maintenance.js';
import { newFiringSigner, newSecretBox } from '../functions/wiring/parts.js';
import { PEER_STALE_SECONDS } from '../lib/definitions.js';
import { LOCAL_CREDENTIALS } from '../local/dynamodb-local.js';
import { ManualClock } from '../local/manual-clock.js';
import { DEV_TENANT, startLocalRuntime } from '../local/runtime.js';
import { type CommandCalls, countCalls } from './counter.js';

const HOME = 'us-east-1';
const STANDBY = 'us-west-2';
/** The RTO the seeds ask for (issue 16). */
export const RTO_TARGET_SECONDS = 15 * 60;
/** The sync function's time limit (lib/constructs/maintenance.ts, SYNC_TIMEOUT). */
const SYNC_TIMEOUT_SECONDS = 15 * 60;
/** Jobs a change of role works on at once when its deps name no other (changeRole's default). */
const CHANGE_ROLE_CONCURRENCY = 32;

/**
 * The quotas the model uses, as AWS documents them (looked up 2026-12; they differ by Region
 * and have changed over time: check your account's in the Service Quotas console).
 */
export const QUOTAS = {
  pages: {
    quotas: 'https://docs.aws.amazon.com/scheduler/latest/UserGuide/scheduler-quotas.html',
    // Read in its Chinese copy; the English one is the same path without /cn.
    raised:
      'https://aws.amazon.com/cn/about-aws/whats-new/2024/08/amazon-eventbridge-scheduler-higher-quotas/',
    older: 'https://docs.aws.amazon.com/zh_tw/scheduler/latest/UserGuide/scheduler-quotas.html',
    onDemand: 'https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html',
  },
  /** UpdateSchedule requests per second, per account and Region. */
  updateSchedule: [
    {
      label:
        'large Regions (us-east-1, us-east-2, us-west-2, ap-northeast-1, ap-south-1, ap-southeast-1, ap-southeast-2, eu-central-1, eu-west-1, eu-west-2, sa-east-1)',
      perSecond: 1_000,
      source:
        "Scheduler quotas page: Create/Delete/GetSchedule 1,000/s in these 11 Regions, 250/s in every other (UpdateSchedule's row was not readable in the stored copy); the August 2024 announcement raised Create/Delete/Get/UpdateSchedule together to 1,000/s 'in most Regions', from 50",
    },
    {
      label: 'every other Region',
      perSecond: 250,
      source:
        "Scheduler quotas page: 'Each of the other supported Regions: 250' (Create/Delete/GetSchedule rows)",
    },
    {
      label: 'the default before August 2024 (an account that kept it)',
      perSecond: 50,
      source:
        "the page before the August 2024 increase (still served in a translation): 'each supported Region: 50' for Create/Delete/GetSchedule and ListSchedules; the announcement: UpdateSchedule's default was 50 too",
    },
  ],
  /**
   * ListSchedules requests per second: the lowest documented default (the current page's
   * figure was not readable here; it has only ever been raised), a bound on the listing.
   */
  listSchedulesPerSecond: 50,
  /**
   * CreateSchedule requests per second: never below UpdateSchedule's in any version of the
   * page (today 5,000 in the large Regions, 250 elsewhere), so paced with it, it never binds.
   */
  createScheduleAtLeastUpdate: true,
  /** A new on-demand table sustains up to 4,000 writes and 12,000 reads a second (DynamoDB guide, on-demand, "Initial throughput"). */
  dynamo: { readUnitsPerSecond: 12_000, writeUnitsPerSecond: 4_000 },
} as const;

export interface DrOptions {
  jobs: number;
  tiny: boolean;
  command: string;
  /** Setup writes in flight. Default 32. */
  concurrency?: number;
  progress?: (line: string) => void;
}

export interface ModelRow {
  /** What paces UpdateSchedule: Sundial's own pace, or a quota. */
  case: string;
  updatesPerSecond: number;
  source: string;
  /** The takeover's calls over what paces them on AWS: the slowest of UpdateSchedule, ListSchedules, DynamoDB. */
  quotaSeconds: number;
  quotaRtoSeconds: number;
  /** RTO under 15 minutes and the takeover within one invocation of the sync function, by the quotas alone. */
  quotaMet: boolean;
  /** Which of those binds. */
  bound: string;
  /** max(measured here, quotaSeconds). */
  takeoverSeconds: number;
  rtoSeconds: number;
  met: boolean;
  notes: string[];
}

export interface DrResults {
  date: string;
  command: string;
  size: 'tiny' | 'full';
  jobs: number;
  setup: { how: string; seconds: number; jobsPerSecond: number; schedulesDisabled: number };
  fleet: {
    schedule: string;
    catchUp: string;
    lastRecordedOccurrence: string;
    homeLostAt: string;
    failoverAt: string;
  };
  takeover: {
    /** Measured here, unpaced. */
    seconds: number;
    /** This machine's 1-minute load average as the takeover started (it shares its CPUs). */
    loadAverage: number;
    change: RoleChange;
    /** Every call of the takeover by kind: total, refused, per job, DynamoDB units. */
    byKind: Record<string, { calls: number; failed: number; perJob: number; rcu: number; wcu: number }>;
    calls: number;
    createScheduleCalls: number;
    /** Jobs worked on at once. */
    concurrency: number;
    /** Calls each job makes one after another (its schedule, its record, its runs, its gap). */
    callsPerJobInSequence: number;
    /** What each call took here on average, with `concurrency` jobs at once. */
    localMsPerCall: number;
    schedulesEnabledAfter: number;
  };
  model: {
    detectionSeconds: number;
    rtoTargetSeconds: number;
    paceUpdatesPerSecond: number;
    listPages: number;
    listSecondsAtQuota: number;
    dynamo: { readUnits: number; writeUnits: number; readSeconds: number; writeSeconds: number };
    rows: ModelRow[];
    /** The longest a call may take on average for the takeover, at its concurrency, to fit the RTO. */
    maxMsPerCallForRto: number;
    /** The takeover at a few per-call latencies (assumed, not measured on AWS), paced at Sundial's pace. */
    atLatency: { msPerCall: number; takeoverSeconds: number; rtoSeconds: number; met: boolean }[];
  };
  quotas: typeof QUOTAS;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Runs `fn` over 0..n-1 with `concurrency` in flight. */
async function pool(n: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
}

const callsOf = (c: Record<string, CommandCalls>, suffix: string) =>
  Object.entries(c)
    .filter(([name]) => name.endsWith(suffix))
    .reduce((sum, [, v]) => sum + v.calls, 0);
const unitsOf = (c: Record<string, CommandCalls>, kind: 'rcu' | 'wcu') =>
  Object.values(c).reduce((sum, v) => sum + v[kind], 0);
const total = (c: Record<string, CommandCalls>) => Object.values(c).reduce((sum, v) => sum + v.calls, 0);

export async function dr(options: DrOptions): Promise<DrResults> {
  const progress = options.progress ?? (() => undefined);
  const n = options.jobs;
  const concurrency = options.concurrency ?? 32;
  // The home region ran every job until it was lost at 00:00:30; its last firings, at 00:00,
  // are recorded. The failover is written once the peer-heartbeat alarm's threshold has passed.
  const createdAt = '2026-12-31T00:00:00.000Z';
  const lastRecorded = new Date('2027-01-01T00:00:00.000Z');
  const homeLostAt = new Date(lastRecorded.getTime() + 30_000);
  const failoverAt = new Date(homeLostAt.getTime() + PEER_STALE_SECONDS * 1000);
  const clock = new ManualClock(createdAt);
  const counter = countCalls();
  const runtime = await startLocalRuntime({
    port: 0,
    clock,
    logLevel: 'SILENT',
    region: STANDBY,
    drRegions: [HOME, STANDBY],
    instrument: counter.instrument,
    limits: { requestsPerSecond: 10_000_000, jobCreatesPerMinute: 10_000_000, maxJobs: 10_000_000 },
  });
  const operatorDb = createDocumentClient({
    region: STANDBY,
    credentials: LOCAL_CREDENTIALS,
    endpoint: runtime.endpoints.dynamodb,
  });
  try {
    const role = runtime.services.sync.role;
    if (!role) throw new Error('the standby runtime has no sync role: drRegions not applied');
    const jobStore = runtime.services.jobStore;
    const runStore = runtime.services.runStore;

    // 1. Setup: the deployment's firing key as the home region made it (sealed with the
    // multi-Region secrets key, replicated here), then N replicated jobs, each with its
    // latest run, each schedule disabled here.
    const operatorKms = new KMSClient({
      region: STANDBY,
      credentials: LOCAL_CREDENTIALS,
      endpoint: runtime.endpoints.kms,
    });
    try {
      const homeSigner = newFiringSigner(
        operatorDb,
        runtime.config,
        newSecretBox(ready(operatorKms), runtime.config),
      );
      await homeSigner.sign({ v: 1, tenantId: DEV_TENANT, jobId: 'bench-firing-key', trigger: 'schedule' });
    } finally {
      operatorKms.destroy();
    }
    progress(`  dr: setting up ${n.toLocaleString('en')} jobs on the standby (${STANDBY})`);
    const setupStarted = performance.now();
    const created = new Date(createdAt);
    const syncedAt = new Date(created.getTime() + 1000).toISOString();
    const jobOf = (i: number): StoredJob => {
      const { input } = validateJobInput(
        {
          name: `dr-${i}`,
          // Hourly, spread over the hour: 1,667 firings a minute at 100,000 jobs.
          schedule: { expression: `cron(${i % 60} * * * ? *)` },
          target: { type: 'http', url: 'http://127.0.0.1:8009/never-called', method: 'GET' },
          tags: { shard: String(i % 100) },
        },
        created,
      );
      // As the home region's JobService stores it: no secret headers, no webhook secret.
      const { secretHeaders: _none, ...target } = input.target as Extract<Job['target'], { type: 'http' }>;
      const job: Job & Pick<StoredJob, 'secretHeaders' | 'sealedNotifySecret'> = {
        ...input,
        target: target as Job['target'],
        secretHeaders: null,
        notify: { onFailure: input.notify.onFailure, secret: null },
        sealedNotifySecret: null,
        id: `job_dr${String(i).padStart(7, '0')}`,
        tenantId: DEV_TENANT,
        state: 'enabled',
        nextRunAt: null,
        createdAt,
        updatedAt: createdAt,
        version: 1,
      };
      return { ...job, hasDependents: false, scheduleSyncedAt: syncedAt };
    };
    // Its latest occurrence before the loss, as the home region's worker recorded it.
    const runOf = (job: StoredJob, i: number): StoredRun => {
      const at = new Date(lastRecorded.getTime() - ((60 - (i % 60)) % 60) * 60_000);
      const finished = new Date(at.getTime() + 120).toISOString();
      return {
        id: scheduledRunId(at),
        jobId: job.id,
        tenantId: job.tenantId,
        scheduledAt: at.toISOString(),
        trigger: 'schedule',
        status: 'succeeded',
        attempt: 1,
        startedAt: at.toISOString(),
        finishedAt: finished,
        durationMs: 120,
        result: { statusCode: 200, bodyExcerpt: 'ok' },
        error: null,
        skipReason: null,
        attempts: [
          {
            attempt: 1,
            status: 'succeeded',
            startedAt: at.toISOString(),
            finishedAt: finished,
            durationMs: 120,
            statusCode: 200,
            error: null,
          },
        ],
        nextAttemptAt: null,
      };
    };
    // Job 0 through the stores' own code, as the home region wrote it: created with its
    // marker, its schedule synced (marker cleared), its run claimed. Its items, read back,
    // are the template of every other job's (same tenant, same fields), written in batches.
    const job0 = jobOf(0);
    const { hasDependents: _h, scheduleSyncedAt: _s, ...new0 } = job0;
    await jobStore.create(new0 as Job);
    await jobStore.clearSyncMarker(DEV_TENANT, job0.id, 1, syncedAt);
    const run0 = runOf(job0, 0);
    await runStore.claim(run0, new Date(run0.scheduledAt));
    const raw = async (table: string, pk: string, sk: string) =>
      (await operatorDb.send(new GetCommand({ TableName: table, Key: { pk, sk }, ConsistentRead: true })))
        .Item!;
    const jobsTable = runtime.config.jobsTableName;
    const runsTable = runtime.config.runsTableName;
    const jobTemplate = await raw(jobsTable, `TENANT#${DEV_TENANT}`, `JOB#${job0.id}`);
    const runKeys = await operatorDb.send(
      new QueryCommand({
        TableName: runsTable,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `TENANT#${DEV_TENANT}#JOB#${job0.id}` },
      }),
    );
    const runTemplate = runKeys.Items?.[0];
    if (!jobTemplate || !runTemplate) throw new Error('setup: the first job or its run did not read back');
    const swap = (value: unknown, from: string, to: string) => String(value).replaceAll(from, to);
    const batchWrite = async (table: string, items: Record<string, unknown>[]) => {
      let requests: NonNullable<BatchWriteCommandInput['RequestItems']>[string] = items.map((Item) => ({
        PutRequest: { Item },
      }));
      while (requests.length > 0) {
        const out = await operatorDb.send(new BatchWriteCommand({ RequestItems: { [table]: requests } }));
        requests = out.UnprocessedItems?.[table] ?? [];
      }
    };
    const BATCH = 25;
    await pool(Math.ceil(n / BATCH), concurrency / 4, async (b) => {
      const jobItems: Record<string, unknown>[] = [];
      const runItems: Record<string, unknown>[] = [];
      for (let i = Math.max(1, b * BATCH); i < Math.min(n, (b + 1) * BATCH); i++) {
        const job = jobOf(i);
        const run = runOf(job, i);
        jobItems.push({
          ...jobTemplate,
          ...job,
          pk: jobTemplate.pk,
          sk: swap(jobTemplate.sk, job0.id, job.id),
        });
        runItems.push({
          ...runTemplate,
          ...run,
          pk: swap(runTemplate.pk, job0.id, job.id),
          sk: swap(runTemplate.sk, run0.id, run.id),
          expiresAt:
            Number(runTemplate.expiresAt) +
            (Date.parse(run.scheduledAt) - Date.parse(run0.scheduledAt)) / 1000,
        });
      }
      if (jobItems.length > 0) await batchWrite(jobsTable, jobItems);
      if (runItems.length > 0) await batchWrite(runsTable, runItems);
    });
    // The template held: the last job and its run read back as the stores would have written them.
    const last = jobOf(n - 1);
    const lastRun = runOf(last, n - 1);
    const [gotJob, gotRun] = await Promise.all([
      jobStore.get(DEV_TENANT, last.id),
      runStore.get(DEV_TENANT, last.id, lastRun.id),
    ]);
    if (!isDeepStrictEqual(gotJob, last) || !isDeepStrictEqual(gotRun, lastRun)) {
      throw new Error('setup: a batched job or run does not read back as its store writes it');
    }
    // Each schedule as the standby's sync function lays it down for a replicated job record.
    await pool(n, concurrency, async (i) => {
      await role.gateway.apply(passiveView(jobOf(i)));
      if ((i + 1) % 20_000 === 0)
        progress(`  dr: ${(i + 1).toLocaleString('en')} schedules laid down disabled`);
    });
    const setupSeconds = (performance.now() - setupStarted) / 1000;
    const countSchedules = async () => {
      let token: string | undefined;
      let enabled = 0;
      let all = 0;
      do {
        const page = await role.gateway.list(token);
        all += page.schedules.length;
        enabled += page.schedules.filter((s) => s.enabled).length;
        token = page.nextToken;
      } while (token);
      return { all, enabled };
    };
    const before = await countSchedules();
    if (before.all !== n || before.enabled !== 0) {
      throw new Error(
        `setup: ${before.all} schedules, ${before.enabled} enabled; expected ${n}, none enabled`,
      );
    }

    // 2. The home region is lost. The standby's minute heartbeat is fresh; the home table does
    // not answer, so the operator forces the failover (`sundial dr failover --to us-west-2 --force`).
    clock.set(new Date(failoverAt.getTime() - 20_000));
    await role.store.beat({
      region: STANDBY,
      at: clock.now().toISOString(),
      role: 'passive',
      epoch: 0,
      change: null,
    });
    clock.set(failoverAt);
    const down = async (): Promise<never> => {
      throw new Error('connect ETIMEDOUT');
    };
    const lost: RegionTable = { state: down, write: down, heartbeats: down };
    const { state } = await failover(
      {
        regions: [HOME, STANDBY],
        tables: {
          [HOME]: lost,
          [STANDBY]: new RegionStore(operatorDb, runtime.config.jobsTableName, [HOME, STANDBY]),
        },
        clock,
        staleSeconds: PEER_STALE_SECONDS,
      },
      { to: STANDBY, by: 'bench', force: true, reason: 'bench: home region lost' },
    );

    // 3. The takeover, as the sync function runs it on the stream's record of that change.
    progress(`  dr: takeover of ${n.toLocaleString('en')} jobs (unpaced)`);
    const load = loadavg()[0] ?? 0;
    counter.reset();
    const started = performance.now();
    const change = await changeRole(role, state);
    const seconds = round((performance.now() - started) / 1000);
    const all = counter.commands();
    const after = await countSchedules();
    progress(`  dr: takeover ${seconds} s, ${after.enabled} of ${after.all} schedules enabled`);

    const byKind = Object.fromEntries(
      Object.entries(all)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, c]) => [
          name.replace('Command', ''),
          {
            calls: c.calls,
            failed: c.failed,
            perJob: round(c.calls / n, 4),
            rcu: round(c.rcu),
            wcu: round(c.wcu),
          },
        ]),
    );
    const calls = total(all);
    // Per job, one after another: its schedule write(s), the UpdateItem recording it, the
    // Query of its runs, its gap's messages; the scan's pages and the heartbeats are shared.
    const shared =
      callsOf(all, 'ScanCommand') + callsOf(all, 'PutItemCommand') + callsOf(all, 'GetItemCommand');
    const chain = (calls - shared) / n;

    // 4. The model: the takeover takes at least what it took here, and at least its calls
    // over whatever paces them on AWS.
    const updates = callsOf(all, 'UpdateScheduleCommand');
    const creates = callsOf(all, 'CreateScheduleCommand');
    const listPages = callsOf(all, 'ListSchedulesCommand');
    const dyn = QUOTAS.dynamo;
    const readUnits = unitsOf(all, 'rcu');
    const writeUnits = unitsOf(all, 'wcu');
    const pace = ROLE_CHANGE_SCHEDULER_CALLS_PER_SECOND;
    const listSeconds = listPages / QUOTAS.listSchedulesPerSecond;
    const detection = PEER_STALE_SECONDS;
    // First Sundial's own pace under a quota above it, then each documented quota as the
    // rate: were the pace raised to it (1,000/s) or lowered to it (250/s, 50/s).
    const cases = [
      {
        rate: pace,
        case: `Sundial's pace, ${fmt(pace)}/s (ROLE_CHANGE_SCHEDULER_CALLS_PER_SECOND), under a 1,000/s quota`,
        source: 'functions/wiring/maintenance.ts',
        notes: [] as string[],
      },
      ...QUOTAS.updateSchedule.map((q) => ({
        rate: q.perSecond,
        case: `quota ${fmt(q.perSecond)}/s: ${q.label}`,
        source: q.source,
        notes:
          q.perSecond > pace
            ? [`were the pace raised to the quota`]
            : [
                `below the pace: as deployed, calls are throttled, jobs fail and the takeover is retried; modelled with the pace lowered to the quota`,
              ],
      })),
    ];
    const fits = (takeover: number) =>
      detection + takeover <= RTO_TARGET_SECONDS && takeover <= SYNC_TIMEOUT_SECONDS;
    const rows: ModelRow[] = cases.map((c) => {
      const bounds: [string, number][] = [
        [`UpdateSchedule at ${fmt(c.rate)}/s`, updates / c.rate],
        [`ListSchedules at ${QUOTAS.listSchedulesPerSecond}/s`, listSeconds],
        [`DynamoDB reads at ${fmt(dyn.readUnitsPerSecond)}/s`, readUnits / dyn.readUnitsPerSecond],
        [`DynamoDB writes at ${fmt(dyn.writeUnitsPerSecond)}/s`, writeUnits / dyn.writeUnitsPerSecond],
      ];
      const [bound, quotaSeconds] = bounds.reduce((x, y) => (y[1] > x[1] ? y : x));
      const takeoverSeconds = Math.max(seconds, quotaSeconds);
      const notes = [...c.notes];
      if (quotaSeconds > SYNC_TIMEOUT_SECONDS)
        notes.push(
          `over the sync function's ${SYNC_TIMEOUT_SECONDS / 60}-minute limit: cut off, and its retry starts again from the first job`,
        );
      return {
        case: c.case,
        updatesPerSecond: c.rate,
        source: c.source,
        quotaSeconds: round(quotaSeconds, 1),
        quotaRtoSeconds: round(detection + quotaSeconds, 0),
        quotaMet: fits(quotaSeconds),
        bound,
        takeoverSeconds: round(takeoverSeconds, 1),
        rtoSeconds: round(detection + takeoverSeconds, 0),
        met: fits(takeoverSeconds),
        notes,
      };
    });
    const budget = RTO_TARGET_SECONDS - detection;
    const concurrencyUsed = role.concurrency ?? CHANGE_ROLE_CONCURRENCY;
    const latencySeconds = (ms: number) => (n * chain * ms) / 1000 / concurrencyUsed;
    const atLatency = [5, 10, 20, 50].map((ms) => {
      const takeoverSeconds = Math.max(latencySeconds(ms), updates / pace);
      return {
        msPerCall: ms,
        takeoverSeconds: round(takeoverSeconds, 0),
        rtoSeconds: round(detection + takeoverSeconds, 0),
        met: detection + takeoverSeconds <= RTO_TARGET_SECONDS,
      };
    });

    return {
      date: new Date().toISOString().slice(0, 10),
      command: options.command,
      size: options.tiny ? 'tiny' : 'full',
      jobs: n,
      setup: {
        how: "the first job written by the standby's job store as the home API leaves it (created at version 1, then its schedule synced) and its latest run by the run store; every other job and run in BatchWriteItem calls of those items with its own fields (checked to read back as the stores would have written them); each schedule laid down disabled by the standby's gateway as its sync function does for a replicated job record (`gateway.apply(passiveView(job))`)",
        seconds: round(setupSeconds, 1),
        jobsPerSecond: round(n / setupSeconds, 0),
        schedulesDisabled: before.all,
      },
      fleet: {
        schedule: 'cron(m * * * ? *), m = job index mod 60 (hourly, spread over the hour)',
        catchUp: 'none (the default): each gap occurrence is recorded missed, one SQS message each',
        lastRecordedOccurrence: lastRecorded.toISOString(),
        homeLostAt: homeLostAt.toISOString(),
        failoverAt: failoverAt.toISOString(),
      },
      takeover: {
        seconds,
        loadAverage: round(load, 1),
        change,
        byKind,
        calls,
        createScheduleCalls: creates,
        concurrency: concurrencyUsed,
        callsPerJobInSequence: round(chain, 2),
        localMsPerCall: round((seconds * 1000 * concurrencyUsed) / (n * chain), 1),
        schedulesEnabledAfter: after.enabled,
      },
      model: {
        detectionSeconds: detection,
        rtoTargetSeconds: RTO_TARGET_SECONDS,
        paceUpdatesPerSecond: pace,
        listPages,
        listSecondsAtQuota: round(listSeconds, 1),
        dynamo: {
          readUnits: round(readUnits),
          writeUnits: round(writeUnits),
          readSeconds: round(readUnits / dyn.readUnitsPerSecond, 1),
          writeSeconds: round(writeUnits / dyn.writeUnitsPerSecond, 1),
        },
        rows,
        maxMsPerCallForRto: round((budget * 1000 * concurrencyUsed) / (n * chain), 1),
        atLatency,
      },
      quotas: QUOTAS,
    };
  } finally {
    operatorDb.destroy();
    await runtime.stop();
  }
}

export function drMarkdown(r: DrResults): string {
  const t = r.takeover;
  const m = r.model;
  const kind = (suffix: string) =>
    Object.entries(t.byKind).find(([name]) => name.endsWith(suffix))?.[1] ?? {
      calls: 0,
      failed: 0,
      perJob: 0,
      rcu: 0,
      wcu: 0,
    };
  const update = kind('UpdateSchedule');
  const create = kind('CreateSchedule');
  const minutes = (s: number) => round(s / 60, 1);
  const hhmmss = (iso: string) => iso.slice(11, 19);
  return [
    "## Failover: enabling the standby's schedules",
    '',
    `Measured ${r.date} with \`${r.command}\` (${r.size} size). A local standby region (${STANDBY}, passive, of ${HOME} / ${STANDBY}) holds **${fmt(r.jobs)} jobs** whose schedules sit disabled in its Scheduler emulator; the home region is lost, the failover is forced (\`sundial dr failover --to ${STANDBY} --force\`), and the standby takes over exactly as its sync function does on the stream's record of that change: \`changeRole\` with its \`services.sync.role\`, unpaced (the emulator has no quota), every AWS call counted.`,
    '',
    `Setup (${r.setup.seconds} s, ${fmt(r.setup.jobsPerSecond)} jobs a second, not part of any figure): ${r.setup.how}. The jobs fire ${r.fleet.schedule}; catch-up ${r.fleet.catchUp}. The home region recorded its last firings at ${hhmmss(r.fleet.lastRecordedOccurrence)}, was lost at ${hhmmss(r.fleet.homeLostAt)}, and the failover was written ${m.detectionSeconds} s later (${hhmmss(r.fleet.failoverAt)}): each job's gap is its occurrences in between.`,
    '',
    `**Measured here: ${t.seconds} s** for the takeover (${t.concurrency} jobs at once; load average ${t.loadAverage} on this machine as it started): each job's schedule applied enabled, the UpdateItem that records it, a Query of its recent runs, a message per gap occurrence. ${fmt(t.schedulesEnabledAfter)} of ${fmt(r.jobs)} schedules enabled after; the change of role: ${fmt(t.change.schedules)} schedules, ${fmt(t.change.caughtUp)} caught up, ${fmt(t.change.missed)} recorded missed, ${fmt(t.change.redriven)} redriven, state \`${t.change.state}\`.`,
    '',
    '| call | calls | per job | refused | RCU | WCU |',
    '| --- | --- | --- | --- | --- | --- |',
    ...Object.entries(t.byKind).map(
      ([name, c]) =>
        `| ${name} | ${fmt(c.calls)} | ${c.perJob} | ${fmt(c.failed)} | ${fmt(c.rcu)} | ${fmt(c.wcu)} |`,
    ),
    '',
    `${t.callsPerJobInSequence} calls per job, one after another, ${t.concurrency} jobs at once: each call took ${t.localMsPerCall} ms here on average (DynamoDB Local, the emulator, fauxqs and the function on this machine's shared CPUs), so the measured time is this machine's bound, not AWS's. Each job is at version 1 (never edited, as most are), so the gateway tries CreateSchedule first and falls back to UpdateSchedule on its ConflictException: ${create.perJob} CreateSchedule (${fmt(create.failed)} refused) and ${update.perJob} UpdateSchedule per job, both after the job's one pace call. No ListSchedules, GetSchedule or GetItem per job: the takeover works from one Scan of the jobs.`,
    '',
    '### On AWS: the model',
    '',
    `**By the quotas, at ${fmt(r.jobs)} jobs: ${m.rows.map((row) => `UpdateSchedule at ${fmt(row.updatesPerSecond)}/s → RTO ${minutes(row.quotaRtoSeconds)} min (${row.quotaMet ? 'under' : 'over'} 15)`).join('; ')}.** Detection is ${m.detectionSeconds} s of each; the rest is the takeover. Measured here, the takeover took ${fmt(t.seconds)} s (RTO ${minutes(m.detectionSeconds + t.seconds)} min): what this machine allows, not a figure for AWS.`,
    '',
    `Two readings. By the quotas: the takeover's calls over what paces them on AWS — UpdateSchedule at the row's pace or quota (CreateSchedule's quota is never below UpdateSchedule's in any version of the page, so the paired refused Create does not bind), ${fmt(m.listPages)} ListSchedules pages at ${QUOTAS.listSchedulesPerSecond}/s (${m.listSecondsAtQuota} s), DynamoDB at a new on-demand table's ${fmt(QUOTAS.dynamo.readUnitsPerSecond)} reads and ${fmt(QUOTAS.dynamo.writeUnitsPerSecond)} writes a second (${fmt(m.dynamo.readUnits)} RCU: ${m.dynamo.readSeconds} s; ${fmt(m.dynamo.writeUnits)} WCU: ${m.dynamo.writeSeconds} s; the Scan of the jobs and the Query of each job's runs are in these), SQS SendMessage unthrottled. And max(measured here, that). RTO = detection (the peer-heartbeat threshold, ${m.detectionSeconds} s) + the takeover; the target is ${m.rtoTargetSeconds / 60} minutes, and the takeover must also fit one ${SYNC_TIMEOUT_SECONDS / 60}-minute invocation of the sync function.`,
    '',
    `| UpdateSchedule paced by | by the quotas: takeover | RTO | under 15 min | bound by | max(measured here, quotas): takeover | RTO | under 15 min | note |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...m.rows.map(
      (row) =>
        `| ${row.case} | ${fmt(row.quotaSeconds)} s | ${fmt(row.quotaRtoSeconds)} s (${minutes(row.quotaRtoSeconds)} min) | ${row.quotaMet ? 'yes' : '**no**'} | ${row.bound} | ${fmt(row.takeoverSeconds)} s | ${fmt(row.rtoSeconds)} s (${minutes(row.rtoSeconds)} min) | ${row.met ? 'yes' : '**no**'} | ${row.notes.join('; ')} |`,
    ),
    '',
    `On AWS each call also takes its latency, ${t.callsPerJobInSequence} of them in a row per job with ${t.concurrency} jobs at once: to stay under the RTO they may average up to **${m.maxMsPerCallForRto} ms**. At assumed latencies (not measured on AWS: DynamoDB documents single-digit milliseconds, Scheduler and SQS document none), with Sundial's pace: ${m.atLatency.map((a) => `${a.msPerCall} ms → takeover ${fmt(a.takeoverSeconds)} s, RTO ${minutes(a.rtoSeconds)} min${a.met ? '' : ' (over)'}`).join('; ')}.`,
    '',
    `What to raise where the table says no: a Service Quotas increase of "UpdateSchedule request rate" in the standby's Region to at least the pace (${fmt(m.paceUpdatesPerSecond)}/s: 250/s Regions and accounts still at 50/s); ROLE_CHANGE_SCHEDULER_CALLS_PER_SECOND to the quota, never above it (above it, calls are throttled and jobs fail); and, for more jobs or slower calls, the change of role's concurrency. Detection is not counted beyond the alarm's threshold: the alarm wants two one-minute datapoints over it, and the failover is an operator's command.`,
    '',
    `Sources, as stored when this was written (quotas differ by Region and have changed over time: check the account's in the Service Quotas console): Scheduler quotas <${QUOTAS.pages.quotas}> (CreateSchedule 5,000/s in the 11 large Regions today; in the translations of the same page, Create/Delete/GetSchedule 1,000/s in those Regions and 250/s in every other; UpdateSchedule's own row and ListSchedules' current figure were not readable in the stored copy); the August 2024 increase <${QUOTAS.pages.raised}> (Create/Delete/Get/UpdateSchedule's default request rates now 1,000/s "in most Regions", instead of 50); the page before it <${QUOTAS.pages.older}> (each supported Region: 50/s for Create/Delete/GetSchedule and ListSchedules); DynamoDB on-demand, initial throughput <${QUOTAS.pages.onDemand}> (a new on-demand table sustains up to 4,000 writes and 12,000 reads a second).`,
    '',
  ].join('\n');
}

const fmt = (n: number) => n.toLocaleString('en');
