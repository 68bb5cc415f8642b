/**
 * In-memory implementations of every port in `functions/domain/ports.ts`, for the fast unit
 * tests of the use cases: no AWS SDK, no Java, no network. Each store keeps the semantics
 * of its DynamoDB / Scheduler / SQS adapter, condition for condition (the adapter's
 * ConditionExpression is quoted beside each write), so a use case behaves here as it does
 * over the real tables. Reads return copies and writes store copies, as a database does;
 * values go through a JSON round trip, which drops `undefined` like the document client's
 * `removeUndefinedValues`.
 *
 * Beyond the ports, each fake has a few test helpers (seed, peek, calls, writes) for setting
 * up a world and asserting on it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Breaker } from '../../functions/domain/breaker.js';
import {
  IdempotencyConflictError,
  QuotaExceededError,
  ValidationError,
} from '../../functions/domain/errors.js';
import { type FiringMessage, firing } from '../../functions/domain/firing.js';
import type { RunSummary, StoredJob } from '../../functions/domain/job.js';
import { watchShardKey, watchShardOf } from '../../functions/domain/long-run.js';
import type {
  AttemptClaim,
  AttemptPointer,
  BreakerStore,
  ClaimResult,
  Clock,
  DeadLetter,
  DeadLetterRepository,
  EndedStatus,
  FailureNotifier,
  FairShare,
  FiringIdentity,
  FiringQueue,
  FiringSigner,
  Heartbeat,
  IdempotencyRecord,
  JobRepository,
  ListedSchedule,
  ListJobsQuery,
  Logger,
  LongHandle,
  LongStart,
  LongStartContext,
  LongTargets,
  LongWrite,
  Page,
  ReadOptions,
  RunExpectation,
  RunMetrics,
  RunRepository,
  ScheduleGateway,
  ScheduleView,
  ScheduleWriter,
  SecretSealer,
  TargetCallContext,
  TargetCaller,
  TargetOutcome,
  UrlPolicy,
} from '../../functions/domain/ports.js';
import type { LongOutcome, Run, RunResult, RunStatus, StoredRun } from '../../functions/domain/run.js';
import type { LongTarget, Target } from '../../functions/domain/target.js';
import { PRIORITIES, type Priority, SYNC_SHARDS } from '../../lib/definitions.js';

/** What a table keeps of a value: a copy, without `undefined` (removeUndefinedValues). */
export function marshal<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

// ---------------------------------------------------------------------------------------
// Paging, as `queryPage` in functions/adapters/dynamo.ts pages a DynamoDB Query
// ---------------------------------------------------------------------------------------

/** Bounds the items one list request may read when a filter discards most of them (as dynamo.ts). */
const MAX_EVALUATED_PER_PAGE = 1000;

function encodeCursor(sk: string): string {
  return Buffer.from(JSON.stringify({ sk }), 'utf8').toString('base64url');
}

function decodeCursor(skPrefix: string, cursor: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { sk?: unknown };
    if (typeof parsed.sk === 'string' && parsed.sk.startsWith(skPrefix)) return parsed.sk;
  } catch {
    // not ours: fall through to the validation error
  }
  throw ValidationError.of('cursor', 'is not a cursor returned by this API');
}

/**
 * One page of a partition, as `queryPage` reads it: DynamoDB's `Limit` counts items
 * evaluated before the filter, a round that evaluates `Limit` items returns a
 * LastEvaluatedKey (even when nothing follows it), and a page stops after 1000 evaluated.
 */
function queryPage<T>(
  rows: { sk: string; item: T }[],
  options: { skPrefix: string; descending?: boolean; filter?: (item: T) => boolean },
  limit: number,
  cursor: string | undefined,
): Page<T> {
  const sorted = rows
    .filter((r) => r.sk.startsWith(options.skPrefix))
    .sort((a, b) => (a.sk < b.sk ? -1 : a.sk > b.sk ? 1 : 0));
  if (options.descending) sorted.reverse();
  const after = (sk: string, start: string) => (options.descending ? sk < start : sk > start);
  let startKey = cursor ? decodeCursor(options.skPrefix, cursor) : undefined;
  const items: T[] = [];
  let evaluated = 0;
  do {
    const from = startKey;
    const remaining = from === undefined ? sorted : sorted.filter((r) => after(r.sk, from));
    const want = limit - items.length;
    const round = remaining.slice(0, want);
    for (const r of round) if (!options.filter || options.filter(r.item)) items.push(marshal(r.item));
    evaluated += round.length;
    startKey = round.length === want && round.length > 0 ? round[round.length - 1]!.sk : undefined;
  } while (startKey && items.length < limit && evaluated < MAX_EVALUATED_PER_PAGE);
  return { items, nextCursor: startKey ? encodeCursor(startKey) : null };
}

// ---------------------------------------------------------------------------------------
// Jobs (functions/adapters/job-store.ts)
// ---------------------------------------------------------------------------------------

/** Fields the worker and the dependency edges keep on the job; an edit never overwrites them. */
const RUN_BOOKKEEPING = new Set(['lastSucceededAt', 'dependencyCursor', 'hasDependents']);

/** The job's sync shard, as `syncShardFor` in job-store.ts computes it (copied: that module loads the SDK). */
export function syncShardOf(jobId: string): number {
  let hash = 0;
  for (const ch of jobId) hash = (hash * 31 + ch.charCodeAt(0)) | 0;
  return Math.abs(hash) % SYNC_SHARDS;
}

interface IdempotencyItem {
  requestHash: string;
  jobId: string;
  job: StoredJob;
  expiresAt: number;
}

/** A write the jobs table took, in order: what a test asserts "nothing was written" with. */
export interface JobWrite {
  op:
    | 'create'
    | 'replace'
    | 'advanceDependencyCursor'
    | 'clearSyncMarker'
    | 'deleteIfVersion'
    | 'recordSuccess';
  tenantId: string;
  jobId: string;
}

const jobKey = (tenantId: string, jobId: string) => `${tenantId}\u0000${jobId}`;

export class InMemoryJobs implements JobRepository {
  private readonly jobs = new Map<string, StoredJob>();
  /** Per tenant: `${dependencyId}#${jobId}` → the edge (DEPENDENT#<dependency>#<job>). */
  private readonly edges = new Map<string, Map<string, { jobId: string; dependsOn: string }>>();
  /** Per tenant: COUNTER#jobs. */
  readonly jobCounts = new Map<string, number>();
  private readonly idempotency = new Map<string, IdempotencyItem>();
  /** Every successful write, in order. */
  readonly writes: JobWrite[] = [];
  /** Every call, by method (`get` also by consistency: `get:strong`, `get:eventual`). */
  readonly calls: Record<string, number> = {};
  /** What a lagging replica serves eventually consistent reads (null: not there yet). */
  private readonly lagging = new Map<string, StoredJob | null>();

  private count(method: string) {
    this.calls[method] = (this.calls[method] ?? 0) + 1;
  }

  // --- test helpers -------------------------------------------------------------------

  /** Puts a job as it is, unconditionally (its edges too): a world set up before the test. */
  seed(job: StoredJob): StoredJob {
    this.jobs.set(jobKey(job.tenantId, job.id), marshal(job));
    for (const d of job.dependsOn ?? [])
      this.edgesOf(job.tenantId).set(`${d}#${job.id}`, { jobId: job.id, dependsOn: d });
    return marshal(job);
  }

  /** The stored job, without counting as a read. */
  peek(tenantId: string, jobId: string): StoredJob | undefined {
    const job = this.jobs.get(jobKey(tenantId, jobId));
    return job && marshal(job);
  }

  /**
   * Eventually consistent reads of this job see it as it is now (or absent) until `caughtUp`:
   * a replica that has not had the writes made after this call.
   */
  lag(tenantId: string, jobId: string): { caughtUp(): void } {
    const key = jobKey(tenantId, jobId);
    const job = this.jobs.get(key);
    this.lagging.set(key, job ? marshal(job) : null);
    return { caughtUp: () => this.lagging.delete(key) };
  }

  /** Every stored job. */
  all(): StoredJob[] {
    return [...this.jobs.values()].map((j) => marshal(j));
  }

  /** The dependency edges of a tenant, as `dependency -> dependent` pairs. */
  edgeList(tenantId: string): string[] {
    return [...this.edgesOf(tenantId).values()].map((e) => `${e.dependsOn} -> ${e.jobId}`).sort();
  }

  private edgesOf(tenantId: string) {
    let edges = this.edges.get(tenantId);
    if (!edges) {
      edges = new Map();
      this.edges.set(tenantId, edges);
    }
    return edges;
  }

  private stored(tenantId: string, jobId: string): StoredJob | undefined {
    return this.jobs.get(jobKey(tenantId, jobId));
  }

  /**
   * The edge writes' conditions: each added dependency's `hasDependents` update needs
   * 'attribute_exists(pk) AND #state <> :deleting'. The first that fails, or undefined.
   */
  private goneDependency(tenantId: string, added: readonly string[]): string | undefined {
    return added.find((d) => {
      const dependency = this.stored(tenantId, d);
      return !dependency || dependency.state === 'deleting';
    });
  }

  private moveEdges(tenantId: string, jobId: string, added: readonly string[], removed: readonly string[]) {
    const edges = this.edgesOf(tenantId);
    for (const d of added) {
      edges.set(`${d}#${jobId}`, { jobId, dependsOn: d });
      const dependency = this.stored(tenantId, d);
      if (dependency) dependency.hasDependents = true;
    }
    for (const d of removed) edges.delete(`${d}#${jobId}`);
  }

  // --- the port ----------------------------------------------------------------------

  async get(tenantId: string, jobId: string, options?: ReadOptions): Promise<StoredJob | undefined> {
    this.count('get');
    const consistent = options?.consistent ?? true;
    this.count(consistent ? 'get:strong' : 'get:eventual');
    const key = jobKey(tenantId, jobId);
    if (!consistent && this.lagging.has(key)) {
      const stale = this.lagging.get(key);
      return stale ? marshal(stale) : undefined;
    }
    return this.peek(tenantId, jobId);
  }

  async create(
    job: StoredJob,
    idempotency?: IdempotencyRecord,
    maxJobs?: number,
  ): Promise<{ job: StoredJob; replayed: boolean }> {
    this.count('create');
    const stored: StoredJob = { ...job, hasDependents: false };
    const now = job.createdAt;
    const added = job.dependsOn ?? [];
    // One transaction: every condition is judged before anything is written.
    // Job put: 'attribute_not_exists(pk)'.
    const jobExists = this.stored(job.tenantId, job.id) !== undefined;
    const gone = this.goneDependency(job.tenantId, added);
    // Counter: 'attribute_not_exists(jobCount) OR jobCount < :max'.
    const count = this.jobCounts.get(job.tenantId);
    const overQuota = maxJobs !== undefined && count !== undefined && count >= maxJobs;
    // Idempotency record: 'attribute_not_exists(pk) OR expiresAt < :now'.
    const idemKey = idempotency ? jobKey(job.tenantId, idempotency.key) : undefined;
    const existingIdem = idemKey ? this.idempotency.get(idemKey) : undefined;
    const idemTaken =
      existingIdem !== undefined && !(existingIdem.expiresAt < Math.floor(Date.parse(now) / 1000));
    if (jobExists || gone !== undefined || overQuota || idemTaken) {
      // The store reads the reasons in this order: a replay first, then the quota, then a dependency.
      if (idemTaken && idempotency && existingIdem) {
        if (existingIdem.requestHash !== idempotency.requestHash) throw new IdempotencyConflictError();
        return { job: marshal(existingIdem.job), replayed: true };
      }
      if (overQuota) {
        throw new QuotaExceededError(`the tenant has its maximum of ${maxJobs} jobs; delete some first`, 60);
      }
      if (gone !== undefined) throw ValidationError.of('dependsOn', `job ${gone} does not exist`);
      throw new Error(`ConditionalCheckFailed: job ${job.id} already exists`);
    }
    const { syncPendingAt: _ignored, ...rest } = stored;
    this.jobs.set(jobKey(job.tenantId, job.id), marshal({ ...rest, syncPendingAt: now }));
    this.moveEdges(job.tenantId, job.id, added, []);
    if (maxJobs !== undefined) this.jobCounts.set(job.tenantId, (count ?? 0) + 1);
    if (idempotency && idemKey) {
      this.idempotency.set(idemKey, {
        requestHash: idempotency.requestHash,
        jobId: job.id,
        job: marshal(stored),
        expiresAt: idempotency.expiresAt,
      });
    }
    this.writes.push({ op: 'create', tenantId: job.tenantId, jobId: job.id });
    return { job: marshal({ ...stored, syncPendingAt: now }), replayed: false };
  }

  async list(tenantId: string, query: ListJobsQuery): Promise<Page<StoredJob>> {
    this.count('list');
    const rows = [...this.jobs.values()]
      .filter((j) => j.tenantId === tenantId)
      .map((item) => ({ sk: `JOB#${item.id}`, item }));
    // FilterExpression: '#state <> :deleting' [AND #state = :state] [AND #tags.#tagKey = :tagValue].
    const filter = (j: StoredJob) =>
      j.state !== 'deleting' &&
      (!query.state || j.state === query.state) &&
      (!query.tag ||
        (Object.hasOwn(j.tags ?? {}, query.tag.key) && j.tags[query.tag.key] === query.tag.value));
    return queryPage(rows, { skPrefix: 'JOB#', filter }, query.limit, query.cursor);
  }

  async replace(
    job: StoredJob,
    expectedVersion: number,
    syncPendingAt: string,
    previousDependsOn: readonly string[] = job.dependsOn ?? [],
  ): Promise<boolean> {
    this.count('replace');
    const current = this.stored(job.tenantId, job.id);
    // 'attribute_exists(pk) AND #version = :expected AND #state <> :deleting'
    if (!current || current.version !== expectedVersion || current.state === 'deleting') return false;
    const next = job.dependsOn ?? [];
    const added = next.filter((d) => !previousDependsOn.includes(d));
    const removed = previousDependsOn.filter((d) => !next.includes(d));
    if (added.length + removed.length > 0) {
      const gone = this.goneDependency(job.tenantId, added);
      if (gone !== undefined) throw ValidationError.of('dependsOn', `job ${gone} does not exist`);
    }
    // SET every field the job has (defined), but the run bookkeeping; nothing is removed.
    const { syncPendingAt: _ignored, ...fields } = marshal(job);
    const updated: Record<string, unknown> = { ...current };
    for (const [field, value] of Object.entries(fields)) {
      if (RUN_BOOKKEEPING.has(field)) continue;
      updated[field] = value;
    }
    if (syncPendingAt) updated.syncPendingAt = syncPendingAt;
    this.jobs.set(jobKey(job.tenantId, job.id), updated as unknown as StoredJob);
    this.moveEdges(job.tenantId, job.id, added, removed);
    this.writes.push({ op: 'replace', tenantId: job.tenantId, jobId: job.id });
    return true;
  }

  async listDependents(tenantId: string, jobId: string): Promise<string[]> {
    this.count('listDependents');
    // Query begins_with(sk, 'DEPENDENT#<jobId>#'), in sort-key order.
    return [...this.edgesOf(tenantId).entries()]
      .filter(([, e]) => e.dependsOn === jobId)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, e]) => e.jobId);
  }

  async advanceDependencyCursor(tenantId: string, jobId: string, to: string): Promise<boolean> {
    this.count('advanceDependencyCursor');
    const job = this.stored(tenantId, jobId);
    // 'attribute_exists(pk) AND (attribute_not_exists(dependencyCursor) OR dependencyCursor < :to)'
    if (!job || !(job.dependencyCursor === undefined || job.dependencyCursor < to)) return false;
    job.dependencyCursor = to;
    this.writes.push({ op: 'advanceDependencyCursor', tenantId, jobId });
    return true;
  }

  async clearSyncMarker(
    tenantId: string,
    jobId: string,
    version: number,
    syncedAt?: string,
  ): Promise<boolean> {
    this.count('clearSyncMarker');
    const job = this.stored(tenantId, jobId);
    // 'version = :v' (an absent item has no version: the condition fails).
    if (!job || job.version !== version) return false;
    if (syncedAt) job.scheduleSyncedAt = syncedAt;
    delete job.syncPendingAt;
    this.writes.push({ op: 'clearSyncMarker', tenantId, jobId });
    return true;
  }

  async deleteIfVersion(job: Pick<StoredJob, 'tenantId' | 'id' | 'version' | 'dependsOn'>): Promise<boolean> {
    this.count('deleteIfVersion');
    const current = this.stored(job.tenantId, job.id);
    // Delete: 'version = :v'; with the edges of job.dependsOn and ADD jobCount -1, in one transaction.
    if (!current || current.version !== job.version) return false;
    this.jobs.delete(jobKey(job.tenantId, job.id));
    this.moveEdges(job.tenantId, job.id, [], job.dependsOn ?? []);
    this.jobCounts.set(job.tenantId, (this.jobCounts.get(job.tenantId) ?? 0) - 1);
    this.writes.push({ op: 'deleteIfVersion', tenantId: job.tenantId, jobId: job.id });
    return true;
  }

  async recordSuccess(tenantId: string, jobId: string, finishedAt: string): Promise<void> {
    this.count('recordSuccess');
    const job = this.stored(tenantId, jobId);
    // 'attribute_exists(pk) AND (attribute_not_exists(lastSucceededAt) OR lastSucceededAt < :finished)'
    if (!job || !(job.lastSucceededAt === undefined || job.lastSucceededAt < finishedAt)) return;
    job.lastSucceededAt = finishedAt;
    this.writes.push({ op: 'recordSuccess', tenantId, jobId });
  }

  /** Page by page (500 a page, as the store scans): a page is read at once, so it may be stale when used. */
  async *scanAll(pageSize = 500): AsyncGenerator<StoredJob> {
    this.count('scanAll');
    const keys = [...this.jobs.keys()];
    for (let i = 0; i < keys.length; i += pageSize) {
      const page = keys
        .slice(i, i + pageSize)
        .map((k) => this.jobs.get(k))
        .filter((j): j is StoredJob => j !== undefined)
        .map((j) => marshal(j));
      for (const job of page) yield job;
    }
  }

  async listSyncPending(
    shard: number,
    before: string,
    limit: number,
  ): Promise<{ tenantId: string; jobId: string }[]> {
    this.count('listSyncPending');
    // Index bySyncPending: 'syncShard = :shard AND syncPendingAt < :before', oldest first.
    return [...this.jobs.values()]
      .filter((j) => j.syncPendingAt !== undefined && syncShardOf(j.id) === shard && j.syncPendingAt < before)
      .sort((a, b) =>
        a.syncPendingAt! < b.syncPendingAt! ? -1 : a.syncPendingAt! > b.syncPendingAt! ? 1 : 0,
      )
      .slice(0, limit)
      .map((j) => ({ tenantId: j.tenantId, jobId: j.id }));
  }
}

// ---------------------------------------------------------------------------------------
// Runs and the overlap lock (functions/adapters/run-store.ts)
// ---------------------------------------------------------------------------------------

export interface OverlapLock {
  holder?: string;
  leaseUntil?: string;
  /** Who wrote the lock last (a message's claim token), for returnLock. */
  lockToken?: string;
  buffered?: string;
}

/** A job's backfill line (sk BACKFILL): the occurrences waiting their turn, and the one in progress. */
export interface BackfillLine {
  pending?: string[];
  current?: string;
}

const runPk = (tenantId: string, jobId: string) => `${tenantId}\u0000${jobId}`;
const ENDED_RUN_STATUSES: readonly RunStatus[] = [
  'succeeded',
  'failed',
  'skipped',
  'missed',
  'timed_out',
  'cancelled',
];

/** Why a write to attempt `attempt` was refused, as `endedAttempt` in run-store.ts says (copied: that module loads the SDK). */
export function endedAttemptOf(run: StoredRun | undefined, attempt: number): LongWrite {
  if (!run || run.attempt !== attempt) return 'stale';
  if (ENDED_RUN_STATUSES.includes(run.status) || run.status === 'queued' || run.reported !== undefined)
    return 'ended';
  return 'stale';
}

export class InMemoryRuns implements RunRepository {
  private readonly runs = new Map<string, Map<string, StoredRun>>();
  private readonly locks = new Map<string, OverlapLock>();
  private readonly backfills = new Map<string, BackfillLine>();
  private readonly pointers = new Map<string, AttemptPointer>();
  readonly calls: Record<string, number> = {};

  private count(method: string) {
    this.calls[method] = (this.calls[method] ?? 0) + 1;
  }

  private partition(tenantId: string, jobId: string): Map<string, StoredRun> {
    const pk = runPk(tenantId, jobId);
    let runs = this.runs.get(pk);
    if (!runs) {
      runs = new Map();
      this.runs.set(pk, runs);
    }
    return runs;
  }

  private put(run: StoredRun) {
    this.partition(run.tenantId, run.jobId).set(run.id, marshal(run));
  }

  // --- test helpers -------------------------------------------------------------------

  seed(run: StoredRun): void {
    this.put(run);
  }

  /** The job's runs, oldest first (by id, as the table sorts them). */
  of(tenantId: string, jobId: string): StoredRun[] {
    return [...this.partition(tenantId, jobId).values()]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((r) => marshal(r));
  }

  peek(tenantId: string, jobId: string, runId: string): StoredRun | undefined {
    const run = this.partition(tenantId, jobId).get(runId);
    return run && marshal(run);
  }

  lockOf(tenantId: string, jobId: string): OverlapLock {
    return marshal(this.locks.get(runPk(tenantId, jobId)) ?? {});
  }

  /** The job's backfill line as stored ({} when it has none). */
  backfillOf(tenantId: string, jobId: string): BackfillLine {
    return marshal(this.backfills.get(runPk(tenantId, jobId)) ?? {});
  }

  /** The attempt pointers, by attempt key. */
  pointerKeys(): string[] {
    return [...this.pointers.keys()].sort();
  }

  /** Every run in the watch index (byWatch), as `tenant/job/run@watchAt`. */
  watched(): { tenantId: string; jobId: string; runId: string; watchShard: string; watchAt: string }[] {
    return [...this.runs.values()].flatMap((partition) =>
      [...partition.values()]
        .filter((r) => r.watchShard !== undefined && r.watchAt !== undefined)
        .map((r) => ({
          tenantId: r.tenantId,
          jobId: r.jobId,
          runId: r.id,
          watchShard: r.watchShard!,
          watchAt: r.watchAt!,
        })),
    );
  }

  // --- the port ----------------------------------------------------------------------

  async claim(run: StoredRun, _now: Date): Promise<ClaimResult> {
    this.count('claim');
    const existing = this.partition(run.tenantId, run.jobId).get(run.id);
    // 'attribute_not_exists(pk) OR (#status = :queued AND attempt = :zero)'
    if (!existing || (existing.status === 'queued' && existing.attempt === 0)) {
      this.put(run);
      return { claimed: true, run };
    }
    return { claimed: false, existing: marshal(existing) };
  }

  async putQueued(run: StoredRun, _now: Date): Promise<boolean> {
    this.count('putQueued');
    // 'attribute_not_exists(pk)'
    if (this.partition(run.tenantId, run.jobId).has(run.id)) return false;
    this.put(run);
    return true;
  }

  async markWaiting(run: StoredRun, now: Date): Promise<boolean> {
    this.count('markWaiting');
    if (await this.putQueued(run, now)) return true;
    // 'SET nextAttemptAt = :next, waitReason = :reason' if '#status = :queued'
    const existing = this.partition(run.tenantId, run.jobId).get(run.id);
    if (existing?.status !== 'queued') return false;
    Object.assign(existing, { nextAttemptAt: run.nextAttemptAt, waitReason: run.waitReason ?? null });
    return true;
  }

  async claimAttempt(
    tenantId: string,
    jobId: string,
    runId: string,
    attempt: number,
    claim: AttemptClaim,
    now: Date,
    from: { status: 'queued' | 'running'; attempt: number } = { status: 'queued', attempt: attempt - 1 },
  ): Promise<StoredRun | undefined> {
    this.count('claimAttempt');
    const run = this.partition(tenantId, jobId).get(runId);
    if (!run) return undefined;
    // queued:  '#status = :queued AND attempt = :previous'
    // running: '#status = :running AND attempt = :previous AND leaseUntil < :now'
    const holds =
      from.status === 'queued'
        ? run.status === 'queued' && run.attempt === from.attempt
        : run.status === 'running' &&
          run.attempt === from.attempt &&
          run.leaseUntil !== undefined &&
          run.leaseUntil < now.toISOString();
    if (!holds) return undefined;
    Object.assign(run, {
      status: 'running',
      attempt,
      claimToken: claim.claimToken,
      leaseUntil: claim.leaseUntil,
      startedAt: claim.startedAt,
      nextAttemptAt: null,
    } satisfies Partial<StoredRun>);
    // 'REMOVE waitReason'
    delete run.waitReason;
    return marshal(run);
  }

  async finish(run: StoredRun, claimToken: string, _now: Date): Promise<boolean> {
    this.count('finish');
    const existing = this.partition(run.tenantId, run.jobId).get(run.id);
    // 'claimToken = :token'
    if (existing?.claimToken !== claimToken) return false;
    this.put(run);
    return true;
  }

  async replaceIf(run: StoredRun, expected: RunExpectation, _now: Date): Promise<boolean> {
    this.count('replaceIf');
    const current = this.partition(run.tenantId, run.jobId).get(run.id);
    // '#status = :status AND attempt = :attempt' [AND #long.#key = :key] [AND claimToken = :token]
    // [AND attribute_not_exists(reported)] [AND attribute_exists(watchAt)] (Put: an absent item fails).
    if (!current || current.status !== expected.status || current.attempt !== expected.attempt) return false;
    if (expected.key !== undefined && current.long?.key !== expected.key) return false;
    if (expected.claimToken !== undefined && current.claimToken !== expected.claimToken) return false;
    if (expected.unreported && current.reported !== undefined) return false;
    if (expected.watched && current.watchAt === undefined) return false;
    this.put(run);
    return true;
  }

  /** A conditional update of a long attempt, as `longWrite`: on refusal, one read says which. */
  private longWrite(
    tenantId: string,
    jobId: string,
    runId: string,
    attempt: number,
    update: (run: StoredRun) => void,
  ): LongWrite {
    const run = this.partition(tenantId, jobId).get(runId);
    // '#status = :running AND attempt = :attempt AND attribute_not_exists(reported)'
    if (run?.status !== 'running' || run.attempt !== attempt || run.reported !== undefined) {
      return endedAttemptOf(run && marshal(run), attempt);
    }
    update(run);
    return 'ok';
  }

  async heartbeat(
    tenantId: string,
    jobId: string,
    runId: string,
    attempt: number,
    beat: Heartbeat,
  ): Promise<LongWrite> {
    this.count('heartbeat');
    // SET heartbeatAt = :at [, progress = :progress] [, progressMessage = :message]
    return this.longWrite(tenantId, jobId, runId, attempt, (run) => {
      run.heartbeatAt = beat.at;
      if (beat.progress !== undefined) run.progress = beat.progress;
      if (beat.message !== undefined) run.progressMessage = beat.message;
    });
  }

  async report(
    tenantId: string,
    jobId: string,
    runId: string,
    attempt: number,
    outcome: LongOutcome,
    now: Date,
  ): Promise<LongWrite> {
    this.count('report');
    // SET reported = :outcome, watchShard = :shard, watchAt = :now (due to the sweep at once)
    return this.longWrite(tenantId, jobId, runId, attempt, (run) => {
      run.reported = marshal(outcome);
      run.watchShard = watchShardOf(runId);
      run.watchAt = now.toISOString();
    });
  }

  async rewatch(
    tenantId: string,
    jobId: string,
    runId: string,
    expected: { attempt: number; key: string },
    next: { watchAt: string; polls: number },
  ): Promise<boolean> {
    this.count('rewatch');
    const run = this.partition(tenantId, jobId).get(runId);
    // '#status = :running AND attempt = :attempt AND #long.#key = :key AND attribute_not_exists(reported)'
    if (
      run?.status !== 'running' ||
      run.attempt !== expected.attempt ||
      run.long?.key !== expected.key ||
      run.reported !== undefined
    ) {
      return false;
    }
    // SET watchAt = :watchAt, #long.polls = :polls
    run.watchAt = next.watchAt;
    run.long = { ...run.long, polls: next.polls };
    return true;
  }

  async dueWatches(
    shard: number,
    before: string,
    limit: number,
  ): Promise<{ tenantId: string; jobId: string; runId: string }[]> {
    this.count('dueWatches');
    // Index byWatch (sparse: both keys set): 'watchShard = :shard AND watchAt <= :before', oldest first, Limit.
    const key = watchShardKey(shard);
    return this.watched()
      .filter((w) => w.watchShard === key && w.watchAt <= before)
      .sort((a, b) =>
        a.watchAt !== b.watchAt
          ? a.watchAt < b.watchAt
            ? -1
            : 1
          : `${a.tenantId}\u0000${a.jobId}\u0000${a.runId}` < `${b.tenantId}\u0000${b.jobId}\u0000${b.runId}`
            ? -1
            : 1,
      )
      .slice(0, limit)
      .map(({ tenantId, jobId, runId }) => ({ tenantId, jobId, runId }));
  }

  async enqueueBackfill(tenantId: string, jobId: string, scheduledTimes: readonly string[]): Promise<void> {
    this.count('enqueueBackfill');
    if (scheduledTimes.length === 0) return;
    // SET pending = list_append(if_not_exists(pending, :empty), :times) (unconditional; creates the item)
    const pk = runPk(tenantId, jobId);
    const line = this.backfills.get(pk) ?? {};
    line.pending = [...(line.pending ?? []), ...scheduledTimes];
    this.backfills.set(pk, line);
  }

  async advanceBackfill(
    tenantId: string,
    jobId: string,
    finished: string | null,
  ): Promise<string | undefined> {
    this.count('advanceBackfill');
    const pk = runPk(tenantId, jobId);
    const line = this.backfills.get(pk) ?? {};
    // Only the occurrence in progress moves the line on; with null, only an idle line starts:
    // null: 'attribute_not_exists(#current)', else '#current = :finished' [AND pending[0] = :next].
    if (finished === null ? line.current !== undefined : line.current !== finished) return undefined;
    const next = line.pending?.[0];
    if (next === undefined) {
      // REMOVE #current
      delete line.current;
    } else {
      // SET #current = :next REMOVE pending[0]
      line.current = next;
      line.pending = line.pending!.slice(1);
    }
    this.backfills.set(pk, line);
    return next;
  }

  async putAttemptPointer(key: string, pointer: AttemptPointer, _now: Date): Promise<void> {
    this.count('putAttemptPointer');
    // Put (pk ATTEMPT#<key>, sk ATTEMPT), unconditional.
    this.pointers.set(key, marshal(pointer));
  }

  async getAttemptPointer(key: string): Promise<AttemptPointer | undefined> {
    this.count('getAttemptPointer');
    const pointer = this.pointers.get(key);
    return pointer && marshal(pointer);
  }

  async get(tenantId: string, jobId: string, runId: string): Promise<StoredRun | undefined> {
    this.count('get');
    return this.peek(tenantId, jobId, runId);
  }

  async latest(tenantId: string, jobId: string): Promise<RunSummary | null> {
    this.count('latest');
    const newest = this.of(tenantId, jobId).at(-1);
    if (!newest) return null;
    return {
      id: newest.id,
      status: newest.status,
      scheduledAt: newest.scheduledAt,
      finishedAt: newest.finishedAt ?? null,
    };
  }

  async list(
    tenantId: string,
    jobId: string,
    query: { limit: number; cursor?: string; status?: RunStatus },
  ): Promise<Page<StoredRun>> {
    this.count('list');
    const rows = [...this.partition(tenantId, jobId).values()].map((item) => ({
      sk: `RUN#${item.id}`,
      item,
    }));
    return queryPage(
      rows,
      {
        skPrefix: 'RUN#',
        descending: true,
        ...(query.status ? { filter: (r) => r.status === query.status } : {}),
      },
      query.limit,
      query.cursor,
    );
  }

  async acquireLock(
    tenantId: string,
    jobId: string,
    runId: string,
    leaseUntil: string,
    now: Date,
    token?: string,
  ): Promise<false | { previous: { leaseUntil: string; token: string | null } | null }> {
    this.count('acquireLock');
    const pk = runPk(tenantId, jobId);
    const lock = this.locks.get(pk) ?? {};
    // 'attribute_not_exists(holder) OR leaseUntil < :now OR holder = :me'
    const free =
      lock.holder === undefined ||
      (lock.leaseUntil !== undefined && lock.leaseUntil < now.toISOString()) ||
      lock.holder === runId;
    if (!free) return false;
    // ReturnValues ALL_OLD: this run's own live holding before, if it had one.
    const mine =
      lock.holder === runId && lock.leaseUntil !== undefined && lock.leaseUntil >= now.toISOString();
    const previous = mine ? { leaseUntil: lock.leaseUntil as string, token: lock.lockToken ?? null } : null;
    // SET holder, leaseUntil[, lockToken] (REMOVE lockToken without a token)
    const next: OverlapLock = { ...lock, holder: runId, leaseUntil };
    if (token === undefined) delete next.lockToken;
    else next.lockToken = token;
    this.locks.set(pk, next);
    return { previous };
  }

  async returnLock(
    tenantId: string,
    jobId: string,
    runId: string,
    token: string,
    previous: { leaseUntil: string; token: string | null } | null,
  ): Promise<void> {
    this.count('returnLock');
    const lock = this.locks.get(runPk(tenantId, jobId));
    // 'holder = :me AND lockToken = :token'
    if (!lock || lock.holder !== runId || lock.lockToken !== token) return;
    if (!previous) {
      delete lock.holder;
      delete lock.leaseUntil;
      delete lock.lockToken;
      return;
    }
    lock.leaseUntil = previous.leaseUntil;
    if (previous.token === null) delete lock.lockToken;
    else lock.lockToken = previous.token;
  }

  async readLock(tenantId: string, jobId: string): Promise<OverlapLock> {
    this.count('readLock');
    return this.lockOf(tenantId, jobId);
  }

  async bufferBehindLock(tenantId: string, jobId: string, runId: string, now: Date): Promise<boolean> {
    this.count('bufferBehindLock');
    const lock = this.locks.get(runPk(tenantId, jobId));
    // 'leaseUntil >= :now AND (attribute_not_exists(buffered) OR buffered = :me)'
    if (!lock || lock.leaseUntil === undefined || !(lock.leaseUntil >= now.toISOString())) return false;
    if (lock.buffered !== undefined && lock.buffered !== runId) return false;
    lock.buffered = runId;
    return true;
  }

  async releaseLock(tenantId: string, jobId: string, runId: string): Promise<void> {
    this.count('releaseLock');
    const lock = this.locks.get(runPk(tenantId, jobId));
    // 'holder = :me' → REMOVE holder, leaseUntil, lockToken (the buffered place stays).
    if (lock?.holder !== runId) return;
    delete lock.holder;
    delete lock.leaseUntil;
    delete lock.lockToken;
  }

  async clearBuffered(tenantId: string, jobId: string, runId: string): Promise<void> {
    this.count('clearBuffered');
    const lock = this.locks.get(runPk(tenantId, jobId));
    // 'buffered = :me' → REMOVE buffered.
    if (lock?.buffered === runId) delete lock.buffered;
  }
}

// ---------------------------------------------------------------------------------------
// Dead letters (functions/adapters/dead-letter-store.ts)
// ---------------------------------------------------------------------------------------

export class InMemoryDeadLetters implements DeadLetterRepository {
  private readonly letters = new Map<string, DeadLetter>();

  all(): DeadLetter[] {
    return [...this.letters.values()].map((l) => marshal(l));
  }

  async archive(letter: DeadLetter, _now: Date): Promise<void> {
    const key = jobKey(letter.tenantId, letter.id);
    // 'attribute_not_exists(pk)': a redelivered DLQ message archives once.
    if (!this.letters.has(key)) this.letters.set(key, marshal(letter));
  }

  async get(tenantId: string, id: string): Promise<DeadLetter | undefined> {
    const letter = this.letters.get(jobKey(tenantId, id));
    return letter && marshal(letter);
  }

  async list(
    tenantId: string,
    query: { limit: number; cursor?: string; status?: DeadLetter['status'] },
  ): Promise<Page<DeadLetter>> {
    const rows = [...this.letters.values()]
      .filter((l) => l.tenantId === tenantId)
      .map((item) => ({ sk: `DL#${item.id}`, item }));
    return queryPage(
      rows,
      {
        skPrefix: 'DL#',
        descending: true,
        ...(query.status ? { filter: (l) => l.status === query.status } : {}),
      },
      query.limit,
      query.cursor,
    );
  }

  async markRedriven(tenantId: string, id: string, by: string, at: Date): Promise<boolean> {
    const letter = this.letters.get(jobKey(tenantId, id));
    // '#status = :dead'
    if (letter?.status !== 'dead') return false;
    Object.assign(letter, { status: 'redriven', redrivenAt: at.toISOString(), redrivenBy: by });
    return true;
  }
}

// ---------------------------------------------------------------------------------------
// Signing (functions/adapters/firing-signer.ts), queues (firing-queue.ts)
// ---------------------------------------------------------------------------------------

/**
 * Signs with a key at hand, as FixedKeyFiringSigner does (the same fields are covered),
 * without loading the adapter module (it loads the DynamoDB SDK for the keyed signer).
 */
export class InMemoryFiringSigner implements FiringSigner {
  constructor(private readonly key: string = 'unit-test-firing-key') {}

  private mac(message: FiringIdentity): string {
    const input = ['sundial-firing', message.v, message.tenantId, message.jobId, message.trigger]
      .concat(message.runId ?? '', message.attempt === undefined ? '' : String(message.attempt))
      .join('\n');
    return createHmac('sha256', this.key).update(input).digest('base64url');
  }

  async sign<T extends FiringIdentity>(message: T): Promise<T & { mac: string }> {
    const { mac: _old, ...rest } = message;
    return { ...(rest as T), mac: this.mac(rest) };
  }

  async verify(message: FiringIdentity): Promise<boolean> {
    if (typeof message.mac !== 'string' || message.mac.length === 0) return false;
    const expected = Buffer.from(this.mac(message));
    const given = Buffer.from(message.mac);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

export interface SentMessage {
  priority: Priority;
  message: FiringMessage;
}

/**
 * The priority queues, recorded: what was sent, on which queue, in order. With a signer,
 * messages are kept as SQS would carry them (signed, as SqsFiringQueue signs them).
 */
export class RecordingQueue implements FiringQueue {
  private readonly queued: SentMessage[] = [];
  /** Every message ever sent, taken or not. */
  readonly history: SentMessage[] = [];

  constructor(private readonly signer?: FiringSigner) {}

  async send(priority: Priority, message: FiringMessage): Promise<void> {
    const body = this.signer ? await this.signer.sign(message) : message;
    const sent = { priority, message: marshal(body) };
    this.queued.push(sent);
    this.history.push(marshal(sent));
  }

  /** The messages still on the queues (or on one of them), oldest first, left there. */
  peek(priority?: Priority): SentMessage[] {
    return this.queued
      .filter((m) => priority === undefined || m.priority === priority)
      .map((m) => marshal(m));
  }

  /** Takes the messages off the queues (or off one of them), oldest first. */
  take(priority?: Priority): FiringMessage[] {
    const taken: FiringMessage[] = [];
    for (let i = 0; i < this.queued.length; ) {
      const m = this.queued[i]!;
      if (priority === undefined || m.priority === priority) {
        taken.push(m.message);
        this.queued.splice(i, 1);
      } else i++;
    }
    return taken;
  }

  /** Takes the one message waiting; fails when there is not exactly one. */
  takeOne(priority?: Priority): FiringMessage {
    const taken = this.take(priority);
    if (taken.length !== 1) throw new Error(`expected one message on the queue, found ${taken.length}`);
    return taken[0]!;
  }

  get size(): number {
    return this.queued.length;
  }
}

// ---------------------------------------------------------------------------------------
// Schedules (functions/adapters/schedule-gateway.ts)
// ---------------------------------------------------------------------------------------

export const QUEUE_ARNS: Record<Priority, string> = Object.fromEntries(
  PRIORITIES.map((p) => [p, `arn:aws:sqs:eu-west-1:123456789012:sundial-jobs-${p}`]),
) as Record<Priority, string>;
export const SCHEDULER_ROLE_ARN = 'arn:aws:iam::123456789012:role/sundial-scheduler';

/** Scheduler's page size for ListSchedules, as the gateway asks for it. */
export const SCHEDULE_PAGE_SIZE = 100;

type Scheduled = StoredJob & { schedule: NonNullable<StoredJob['schedule']> };

/**
 * Sundial's schedule group, in memory: ScheduleViews by name. `apply` writes what
 * `desired` says and stamps `modifiedAt` from the clock, as Scheduler's
 * LastModificationDate; `list` pages by 100; hand edits (`handEdit`) stamp it too.
 */
export class InMemorySchedules implements ScheduleGateway {
  private readonly schedules = new Map<string, ScheduleView>();
  readonly calls = { list: 0, get: 0, apply: 0, remove: 0 };
  private readonly clock: Clock;
  private readonly signer: FiringSigner;
  private readonly queueArns: Record<Priority, string>;
  private readonly roleArn: string;

  constructor(options: {
    clock: Clock;
    signer?: FiringSigner;
    queueArns?: Record<Priority, string>;
    roleArn?: string;
  }) {
    this.clock = options.clock;
    this.signer = options.signer ?? new InMemoryFiringSigner();
    this.queueArns = options.queueArns ?? QUEUE_ARNS;
    this.roleArn = options.roleArn ?? SCHEDULER_ROLE_ARN;
  }

  // --- test helpers -------------------------------------------------------------------

  /** The schedule as Scheduler holds it, without counting as a GetSchedule. */
  peek(name: string): ScheduleView | undefined {
    const s = this.schedules.get(name);
    return s && marshal(s);
  }

  names(): string[] {
    return [...this.schedules.keys()].sort();
  }

  /** Someone changes a schedule outside Sundial (console, CLI): Scheduler stamps the change. */
  handEdit(name: string, changes: Partial<Omit<ScheduleView, 'name' | 'modifiedAt'>>): void {
    const s = this.schedules.get(name);
    if (!s) throw new Error(`no schedule ${name}`);
    this.schedules.set(name, { ...s, ...changes, modifiedAt: this.clock.now().toISOString() });
  }

  /** A schedule put there outside Sundial (or left by a job since gone). */
  plant(view: Omit<ScheduleView, 'modifiedAt'>): void {
    this.schedules.set(view.name, { ...marshal(view), modifiedAt: this.clock.now().toISOString() });
  }

  /** Removes a schedule outside Sundial. */
  handDelete(name: string): void {
    this.schedules.delete(name);
  }

  // --- the port ----------------------------------------------------------------------

  async desired(job: Scheduled): Promise<ScheduleView> {
    const { schedule } = job;
    const iso = (t: string | null) => (t ? new Date(t).toISOString() : null);
    return {
      name: job.id,
      expression: schedule.expression,
      timezone: schedule.timezone ?? 'UTC',
      enabled: job.state === 'enabled',
      startAt: iso(schedule.startAt),
      endAt: iso(schedule.endAt),
      flexibleWindowMinutes: schedule.flexibleWindowMinutes > 0 ? schedule.flexibleWindowMinutes : 0,
      targetArn: this.queueArns[job.priority],
      roleArn: this.roleArn,
      input: JSON.stringify(await this.signer.sign(firing.scheduleTemplate(job))),
    };
  }

  async apply(job: StoredJob): Promise<void> {
    this.calls.apply++;
    // A job without a schedule has no EventBridge schedule.
    if (!job.schedule) {
      this.schedules.delete(job.id);
      return;
    }
    const view = await this.desired({ ...job, schedule: job.schedule });
    this.schedules.set(view.name, { ...view, modifiedAt: this.clock.now().toISOString() });
  }

  async remove(jobId: string): Promise<void> {
    this.calls.remove++;
    this.schedules.delete(jobId);
  }

  async list(nextToken?: string): Promise<{ schedules: ListedSchedule[]; nextToken?: string }> {
    this.calls.list++;
    const names = this.names().filter((n) => nextToken === undefined || n > nextToken);
    const page = names.slice(0, SCHEDULE_PAGE_SIZE);
    const schedules = page.map((name) => {
      const s = this.schedules.get(name)!;
      return { name, enabled: s.enabled, targetArn: s.targetArn, modifiedAt: s.modifiedAt };
    });
    return names.length > page.length ? { schedules, nextToken: page.at(-1)! } : { schedules };
  }

  async get(name: string): Promise<ScheduleView | undefined> {
    this.calls.get++;
    return this.peek(name);
  }
}

/** A ScheduleWriter in front of another that fails while `down` (Scheduler unreachable, a crash). */
export class FailingScheduleWriter implements ScheduleWriter {
  down = true;
  failures = 0;

  constructor(private readonly inner: ScheduleWriter) {}

  private check(op: string) {
    if (this.down) {
      this.failures++;
      throw new Error(`Scheduler unavailable (${op})`);
    }
  }

  async apply(job: StoredJob): Promise<void> {
    this.check('apply');
    return this.inner.apply(job);
  }

  async remove(jobId: string): Promise<void> {
    this.check('remove');
    return this.inner.remove(jobId);
  }
}

// ---------------------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------------------

export const outcomes = {
  http: (statusCode: number, bodyExcerpt = ''): TargetOutcome => ({
    kind: 'response',
    statusCode,
    bodyExcerpt,
  }),
  ok: (bodyExcerpt = 'ok'): TargetOutcome => ({ kind: 'response', statusCode: 200, bodyExcerpt }),
  delivered: (statusCode: number | null = 200, bodyExcerpt = ''): TargetOutcome => ({
    kind: 'delivered',
    statusCode,
    bodyExcerpt,
  }),
  rejected: (
    type = 'FunctionError',
    message = 'Unhandled',
    bodyExcerpt: string | null = null,
  ): TargetOutcome => ({
    kind: 'rejected',
    type,
    message,
    statusCode: 200,
    bodyExcerpt,
  }),
  timeout: (message = 'no answer within 30s'): TargetOutcome => ({ kind: 'timeout', message }),
  error: (message = 'ECONNREFUSED'): TargetOutcome => ({ kind: 'error', message }),
};

export interface TargetCall {
  target: Target;
  context: TargetCallContext;
}

type Responder = (call: TargetCall) => TargetOutcome | Promise<TargetOutcome>;

/** A call held open by the test: the worker making it is stuck until `answer` (or forever). */
export interface HeldCall {
  call: TargetCall;
  answer(outcome: TargetOutcome): void;
}

/**
 * A job's target, scripted: each call takes the next planned answer (the last one repeats),
 * optionally taking `durationMs` on the clock; `hold()` makes the next call hang until the
 * test answers it, as a worker that stopped mid-call never returns.
 */
export class FakeTarget {
  readonly calls: TargetCall[] = [];
  readonly held: HeldCall[] = [];
  private readonly plan: (Responder | 'hold')[] = [];
  private fallback: Responder = () => outcomes.ok();

  constructor(
    private readonly clock?: { advance(ms: number): unknown },
    private readonly durationMs = 0,
  ) {}

  /** The next calls answer these, in order; then the last one keeps answering. */
  answers(...answers: (TargetOutcome | Responder)[]): this {
    for (const a of answers) this.plan.push(typeof a === 'function' ? a : () => a);
    const last = answers.at(-1);
    if (last !== undefined) this.fallback = typeof last === 'function' ? last : () => last;
    return this;
  }

  /** The next call hangs until answered through `held`. */
  hold(): this {
    this.plan.push('hold');
    return this;
  }

  readonly call: TargetCaller = async (target, context) => {
    const call = { target: marshal(target), context: marshal(context) };
    this.calls.push(call);
    const next = this.plan.shift() ?? this.fallback;
    if (next === 'hold') {
      return new Promise<TargetOutcome>((resolve) => {
        this.held.push({ call, answer: resolve });
      });
    }
    const outcome = await next(call);
    if (this.durationMs > 0) this.clock?.advance(this.durationMs);
    return outcome;
  };
}

// ---------------------------------------------------------------------------------------
// Long targets (functions/adapters/long-targets.ts): ECS tasks, executions, callback targets
// ---------------------------------------------------------------------------------------

export interface LongStartCall {
  target: LongTarget;
  context: LongStartContext;
}

type LongStarter = (call: LongStartCall) => LongStart | Promise<LongStart>;

/** The task or execution ARN the fake gives an attempt (null for a callback target: nothing to describe). */
export function fakeRefOf(target: LongTarget, attemptKey: string): string | null {
  if (target.type === 'ecs') return `${target.cluster.replace(':cluster/', ':task/')}/${attemptKey}`;
  if (target.type === 'stepfunctions')
    return `${target.stateMachineArn.replace(':stateMachine:', ':execution:')}:${attemptKey}`;
  return null;
}

/**
 * The long targets, scripted. `start` is idempotent per attempt key, as RunTask with its
 * startedBy / client token and a named execution are: a second start of the same key finds
 * the task it started (`tasks` counts what really started). A test plans what the next
 * starts say (`willStart`: a failure outcome, or an Error thrown), ends a task or execution
 * for `describe` to find (`end`; null while it runs), and makes the next stops fail
 * (`failStops`). Every call is recorded.
 */
export class FakeLongTargets implements LongTargets {
  readonly starts: LongStartCall[] = [];
  readonly describes: LongHandle[] = [];
  readonly stops: { handle: LongHandle; reason: string }[] = [];
  /** What each started attempt key got: its ref (a task or execution started once). */
  private readonly started = new Map<string, string | null>();
  private readonly plan: (LongStarter | Error | 'hold')[] = [];
  /** Starts the test holds open: the task was started, but the worker never hears back. */
  readonly held: LongStartCall[] = [];
  private readonly endings = new Map<string, LongOutcome>();
  private stopFailures = 0;
  private describeFailures = 0;

  /** The attempts really started (distinct keys), in order. */
  get tasks(): string[] {
    return [...this.started.keys()];
  }

  /** The next starts answer these, in order (an Error is thrown); then starts succeed again. */
  willStart(...answers: (LongStart | LongStarter | Error)[]): this {
    for (const a of answers) this.plan.push(a instanceof Error || typeof a === 'function' ? a : () => a);
    return this;
  }

  /**
   * The next start starts its task (or execution, or the callback target accepts the call)
   * and then never answers: the worker that made it is stuck until its Lambda times out.
   */
  holdStart(): this {
    this.plan.push('hold');
    return this;
  }

  /** The task or execution `ref` has ended so: `describe` says so from now on. */
  end(ref: string, outcome: LongOutcome): this {
    this.endings.set(ref, marshal(outcome));
    return this;
  }

  /** The next `count` stops throw (a throttled or unreachable ECS / Step Functions). */
  failStops(count = Number.POSITIVE_INFINITY): this {
    this.stopFailures = count;
    return this;
  }

  /** The next `count` describes throw. */
  failDescribes(count = Number.POSITIVE_INFINITY): this {
    this.describeFailures = count;
    return this;
  }

  /** The ref the attempt key was started with, if it was. */
  refOf(attemptKey: string): string | null | undefined {
    return this.started.get(attemptKey);
  }

  async start(target: LongTarget, context: LongStartContext): Promise<LongStart> {
    const call = { target: marshal(target), context: marshal(context) };
    this.starts.push(call);
    const key = context.attemptKey;
    if (this.started.has(key)) {
      // Found by its startedBy / name: not started twice.
      return {
        kind: 'started',
        ref: this.started.get(key)!,
        result: this.resultOf(target, this.started.get(key)!),
      };
    }
    const next = this.plan.shift();
    if (next instanceof Error) throw next;
    if (next === 'hold') {
      this.started.set(key, fakeRefOf(target, key));
      this.held.push(call);
      return new Promise<LongStart>(() => {});
    }
    if (next) {
      const answer = await next(call);
      if (answer.kind === 'started') this.started.set(key, answer.ref);
      return marshal(answer);
    }
    const ref = fakeRefOf(target, key);
    this.started.set(key, ref);
    return { kind: 'started', ref, result: this.resultOf(target, ref) };
  }

  private resultOf(target: LongTarget, ref: string | null): Partial<RunResult> {
    if (target.type === 'ecs' && ref) return { taskArn: ref };
    if (target.type === 'stepfunctions' && ref) return { executionArn: ref };
    return { statusCode: 202, bodyExcerpt: 'accepted' };
  }

  async describe(handle: LongHandle): Promise<LongOutcome | null> {
    this.describes.push(marshal(handle));
    if (this.describeFailures > 0) {
      this.describeFailures--;
      throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    }
    if (handle.ref === null || handle.kind === 'callback') return null;
    const outcome = this.endings.get(handle.ref);
    return outcome ? marshal(outcome) : null;
  }

  async stop(handle: LongHandle, reason: string): Promise<void> {
    this.stops.push({ handle: marshal(handle), reason });
    if (this.stopFailures > 0) {
      this.stopFailures--;
      throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    }
  }
}

// ---------------------------------------------------------------------------------------
// Notifier, fair share, metrics, logger, secrets, URLs
// ---------------------------------------------------------------------------------------

export class RecordingNotifier implements FailureNotifier {
  readonly failures: { job: StoredJob; run: Omit<Run, 'tenantId'> }[] = [];

  async runFailed(job: StoredJob, run: Omit<Run, 'tenantId'>): Promise<void> {
    this.failures.push({ job: marshal(job), run: marshal(run) });
  }
}

/**
 * Each tenant's places on each queue (functions/adapters/fair-share.ts): a place is free
 * while fewer than the limit are held, or when a holder's lease ran out; 0 turns it off.
 */
/** The breakers as the DynamoDB store keeps them: one per tenant and target, writes conditional on the version. */
export class InMemoryBreakers implements BreakerStore {
  private readonly items = new Map<string, Breaker>();
  readonly calls: Record<string, number> = {};

  private count(method: string) {
    this.calls[method] = (this.calls[method] ?? 0) + 1;
  }

  private key(tenantId: string, target: string) {
    return `${tenantId}\u0000${target}`;
  }

  async get(tenantId: string, target: string, _consistent?: boolean): Promise<Breaker | undefined> {
    this.count('get');
    const item = this.items.get(this.key(tenantId, target));
    return item ? structuredClone(item) : undefined;
  }

  async save(breaker: Breaker, expectedVersion: number): Promise<boolean> {
    this.count('save');
    const key = this.key(breaker.tenantId, breaker.target);
    // 'attribute_not_exists(pk)' or 'version = :expected'
    if ((this.items.get(key)?.version ?? 0) !== expectedVersion) return false;
    this.items.set(key, structuredClone(breaker));
    return true;
  }

  async list(tenantId: string, query: { limit: number; cursor?: string }): Promise<Page<Breaker>> {
    const all = [...this.items.values()]
      .filter((b) => b.tenantId === tenantId)
      .sort((a, b) => (a.target < b.target ? -1 : 1));
    const start = query.cursor ? Number(query.cursor) : 0;
    const items = all.slice(start, start + query.limit).map((b) => structuredClone(b));
    return { items, nextCursor: start + query.limit < all.length ? String(start + query.limit) : null };
  }
}

export class InMemoryFairShare implements FairShare {
  private readonly places = new Map<string, Map<string, number>>();
  /** Writes made, as DynamoDB would count them (a take or give of one holder or many is one). */
  writes = 0;

  constructor(private readonly limitOf: (priority: Priority) => number = () => 1) {}

  private key(tenantId: string, priority: Priority) {
    return `${tenantId}\u0000${priority}`;
  }

  limit(priority: Priority): number {
    return this.limitOf(priority);
  }

  /** Who holds the tenant's places on the queue. */
  holders(tenantId: string, priority: Priority): string[] {
    return [...(this.places.get(this.key(tenantId, priority))?.keys() ?? [])];
  }

  async take(
    tenantId: string,
    priority: Priority,
    holder: string,
    leaseUntil: Date,
    now: Date,
  ): Promise<boolean> {
    const limit = this.limitOf(priority);
    if (limit <= 0) return true;
    this.writes++;
    const key = this.key(tenantId, priority);
    const holders = this.places.get(key) ?? new Map<string, number>();
    this.places.set(key, holders);
    // 'size(holders) < :limit' → SET holders.#holder = :lease
    if (holders.size < limit) {
      holders.set(holder, leaseUntil.getTime());
      return true;
    }
    // Full: clear the places whose leases ran out, if that makes room, and take one.
    const expired = [...holders.entries()].filter(([, lease]) => lease < now.getTime());
    if (expired.length === 0 || holders.size - expired.length >= limit) return false;
    for (const [h] of expired) holders.delete(h);
    holders.set(holder, leaseUntil.getTime());
    return true;
  }

  async give(tenantId: string, priority: Priority, holder: string): Promise<void> {
    if (this.limitOf(priority) <= 0) return;
    this.writes++;
    this.places.get(this.key(tenantId, priority))?.delete(holder);
  }

  async takeAll(
    tenantId: string,
    priority: Priority,
    holders: readonly string[],
    leaseUntil: Date,
  ): Promise<boolean> {
    const limit = this.limitOf(priority);
    if (limit <= 0 || holders.length === 0) return true;
    this.writes++;
    const key = this.key(tenantId, priority);
    const held = this.places.get(key) ?? new Map<string, number>();
    this.places.set(key, held);
    // 'size(holders) <= :room' → SET holders.#h0 = :lease, …
    if (held.size + holders.length > limit) return false;
    for (const holder of holders) held.set(holder, leaseUntil.getTime());
    return true;
  }

  async giveAll(tenantId: string, priority: Priority, holders: readonly string[]): Promise<void> {
    if (this.limitOf(priority) <= 0 || holders.length === 0) return;
    this.writes++;
    const held = this.places.get(this.key(tenantId, priority));
    for (const holder of holders) held?.delete(holder);
  }
}

export class RecordingMetrics implements RunMetrics {
  readonly endedRuns: { status: EndedStatus; priority: Priority; durationMs: number | null }[] = [];
  readonly starts: { priority: Priority; lagMs: number }[] = [];
  readonly deferrals: Priority[] = [];
  rejections = 0;

  ended(status: EndedStatus, priority: Priority, durationMs: number | null): void {
    this.endedRuns.push({ status, priority, durationMs });
  }

  started(priority: Priority, lagMs: number): void {
    this.starts.push({ priority, lagMs });
  }

  rejected(): void {
    this.rejections++;
  }

  deferred(priority: Priority): void {
    this.deferrals.push(priority);
  }

  circuitOpenings = 0;
  readonly circuitDeferrals: Priority[] = [];

  circuitOpened(): void {
    this.circuitOpenings++;
  }

  deferredByCircuit(priority: Priority): void {
    this.circuitDeferrals.push(priority);
  }

  /** Each sweep's count of long runs found past their deadline and not yet closed. */
  readonly overdueCounts: number[] = [];

  overdue(count: number): void {
    this.overdueCounts.push(count);
  }

  /** How many runs ended with each status. */
  get endedCounts(): Partial<Record<EndedStatus, number>> {
    const counts: Partial<Record<EndedStatus, number>> = {};
    for (const { status } of this.endedRuns) counts[status] = (counts[status] ?? 0) + 1;
    return counts;
  }
}

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  extra: Record<string, unknown>;
}

export class RecordingLogger implements Logger {
  readonly lines: LogLine[] = [];

  private log(level: LogLine['level'], message: string, extra: Record<string, unknown>[]) {
    this.lines.push({ level, message, extra: Object.assign({}, ...extra) });
  }

  debug(message: string, ...extra: Record<string, unknown>[]): void {
    this.log('debug', message, extra);
  }
  info(message: string, ...extra: Record<string, unknown>[]): void {
    this.log('info', message, extra);
  }
  warn(message: string, ...extra: Record<string, unknown>[]): void {
    this.log('warn', message, extra);
  }
  error(message: string, ...extra: Record<string, unknown>[]): void {
    this.log('error', message, extra);
  }

  messages(level?: LogLine['level']): string[] {
    return this.lines.filter((l) => level === undefined || l.level === level).map((l) => l.message);
  }
}

/** Seals with no key: the ciphertext names its context, and opening under another fails (as KMS does). */
export class InMemorySecretSealer implements SecretSealer {
  async seal(plaintext: string, context: Record<string, string>): Promise<string> {
    return Buffer.from(JSON.stringify({ context: sortedEntries(context), plaintext }), 'utf8').toString(
      'base64',
    );
  }

  async open(ciphertext: string, context: Record<string, string>): Promise<string> {
    const sealed = JSON.parse(Buffer.from(ciphertext, 'base64').toString('utf8')) as {
      context: [string, string][];
      plaintext: string;
    };
    if (JSON.stringify(sealed.context) !== JSON.stringify(sortedEntries(context))) {
      throw new Error('InvalidCiphertextException: the encryption context does not match');
    }
    return sealed.plaintext;
  }
}

const sortedEntries = (o: Record<string, string>) =>
  Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** Refuses URLs whose host is in `blocked` (an internal address, say); allows the rest. */
export class HostListUrlPolicy implements UrlPolicy {
  constructor(private readonly blocked: readonly string[] = []) {}

  async refusal(url: string): Promise<string | null> {
    const host = new URL(url).hostname;
    return this.blocked.includes(host) ? `${host} is an internal address` : null;
  }
}
