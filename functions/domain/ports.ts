/**
 * The ports: what the use cases need from the world, as interfaces. Adapters (DynamoDB,
 * SQS, Scheduler, KMS, HTTP) implement them; the use cases import only these and the
 * domain, so they run the same over the AWS adapters and over the in-memory ones of the
 * fast tests. No AWS SDK types here.
 */
import type { Priority } from '../../lib/definitions.js';
import type { Breaker } from './breaker.js';
import type {
  DEGRADATION_STEP_NAMES,
  DegradationLevel,
  DegradationSettings,
  PressureSignals,
} from './degradation.js';
import type { FiringMessage } from './firing.js';
import type { JobState, RunSummary, StoredJob } from './job.js';
import type { LongOutcome, PublicRun, RunResult, RunStatus, StoredRun } from './run.js';
import type { LongTarget, Target } from './target.js';

/** Time source, injected so tests and the local runtime can drive time by hand. */
export interface Clock {
  now(): Date;
}

/** The slice of the Powertools Logger the use cases need; tests pass a recorder. */
export interface Logger {
  debug?(message: string, ...extra: Record<string, unknown>[]): void;
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

export interface ListJobsQuery {
  limit: number;
  cursor?: string;
  state?: JobState;
  tag?: { key: string; value: string };
}

/** A read may be eventually consistent when a degraded path asks for the cheaper read. */
export interface ReadOptions {
  consistent?: boolean;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface IdempotencyRecord {
  key: string;
  /** A hash of the request, to tell a replay from a reuse of the key; the record keeps no request. */
  requestHash: string;
  expiresAt: number;
}

/** The jobs table. Every read and write names the tenant (invariant 5). */
export interface JobRepository {
  /** Strongly consistent unless `consistent: false` (degraded reads, issue 17). */
  get(tenantId: string, jobId: string, options?: ReadOptions): Promise<StoredJob | undefined>;
  /**
   * Writes a new job with its sync marker, its dependency edges and, with `maxJobs`, the
   * tenant's job count, atomically. With an idempotency record, a replay returns the first job.
   */
  create(
    job: StoredJob,
    idempotency?: IdempotencyRecord,
    maxJobs?: number,
  ): Promise<{ job: StoredJob; replayed: boolean }>;
  list(tenantId: string, query: ListJobsQuery): Promise<Page<StoredJob>>;
  /**
   * Replaces a job's fields if it is still at `expectedVersion` (and not being deleted),
   * sets its sync marker and moves its dependency edges; false when it changed meanwhile.
   */
  replace(
    job: StoredJob,
    expectedVersion: number,
    syncPendingAt: string,
    previousDependsOn?: readonly string[],
  ): Promise<boolean>;
  /** The ids of the jobs that list `jobId` in their dependsOn (edges may be stale: check). */
  listDependents(tenantId: string, jobId: string): Promise<string[]>;
  /** Moves a job's dependency cursor forward to `to`; false if it is already there or beyond. */
  advanceDependencyCursor(tenantId: string, jobId: string, to: string): Promise<boolean>;
  /** Clears the sync marker if the job is still at `version`, recording when its schedule matched. */
  clearSyncMarker(tenantId: string, jobId: string, version: number, syncedAt?: string): Promise<boolean>;
  /** Deletes the job, its edges and its place in the tenant's count, unless it changed meanwhile. */
  deleteIfVersion(job: Pick<StoredJob, 'tenantId' | 'id' | 'version' | 'dependsOn'>): Promise<boolean>;
  /** Records when the job's latest successful run finished (what its dependents wait for). */
  recordSuccess(tenantId: string, jobId: string, finishedAt: string): Promise<void>;
  /** Every job: maintenance only (the reconciler), never a request path (invariant 4). */
  scanAll(): AsyncIterable<StoredJob>;
  /** Jobs whose sync marker is older than `before`, oldest first, from one shard. */
  listSyncPending(
    shard: number,
    before: string,
    limit: number,
  ): Promise<{ tenantId: string; jobId: string }[]>;
}

export type ClaimResult =
  | { claimed: true; run: StoredRun }
  | { claimed: false; existing: StoredRun | undefined };

/** A claim on one attempt of a run: who holds it and until when. */
export interface AttemptClaim {
  claimToken: string;
  leaseUntil: string;
  startedAt: string;
}

/** What a long run's attempt must still be for a write to land (optimistic concurrency). */
export interface RunExpectation {
  status: RunStatus;
  attempt: number;
  /** The long attempt's key, when the run must still be waiting on that attempt. */
  key?: string;
  /** The claim of the worker that must still hold it. */
  claimToken?: string;
  /** No outcome may have been reported since the run was read. */
  unreported?: boolean;
  /** The run must still be in the watch index (so an ended run's watch is closed once). */
  watched?: boolean;
}

/** Which long attempt an attempt key stands for (ECS startedBy, an execution name). */
export interface AttemptPointer {
  tenantId: string;
  jobId: string;
  runId: string;
  attempt: number;
}

/** A heartbeat's news: when, and optionally how far along. */
export interface Heartbeat {
  at: string;
  progress?: number | undefined;
  message?: string | undefined;
}

/** What a write to a long attempt found: done, the run ended, or no such attempt in progress. */
export type LongWrite = 'ok' | 'ended' | 'stale';

/** The runs table: runs keyed by job and run id (invariant 2), and each job's overlap lock. */
export interface RunRepository {
  /** Replaces the run if it is still as `expected` says; false when it changed meanwhile. */
  replaceIf(run: StoredRun, expected: RunExpectation, now: Date): Promise<boolean>;
  /** Records a long attempt's heartbeat, if that attempt is still waiting for its outcome. */
  heartbeat(
    tenantId: string,
    jobId: string,
    runId: string,
    attempt: number,
    beat: Heartbeat,
  ): Promise<LongWrite>;
  /**
   * Records a long attempt's reported outcome for settling (and makes it due to the sweep
   * now), once: `ended` when an outcome was already reported or the run ended.
   */
  report(
    tenantId: string,
    jobId: string,
    runId: string,
    attempt: number,
    outcome: LongOutcome,
    now: Date,
  ): Promise<LongWrite>;
  /** Moves a running long attempt's next look (and its poll count), if it still waits on that attempt. */
  rewatch(
    tenantId: string,
    jobId: string,
    runId: string,
    expected: { attempt: number; key: string },
    next: { watchAt: string; polls: number },
  ): Promise<boolean>;
  /** The runs whose watch is due by `before`, oldest first, from one shard of the watch index. */
  dueWatches(
    shard: number,
    before: string,
    limit: number,
  ): Promise<{ tenantId: string; jobId: string; runId: string }[]>;
  /** Adds occurrences to the job's backfill line (runs of a job whose runs may not overlap go one by one). */
  enqueueBackfill(tenantId: string, jobId: string, scheduledTimes: readonly string[]): Promise<void>;
  /**
   * Moves the job's backfill line on: after the occurrence `finished` ended (or, with null,
   * if no occurrence is in progress), takes the next one and returns its scheduled time.
   */
  advanceBackfill(tenantId: string, jobId: string, finished: string | null): Promise<string | undefined>;
  /** Remembers which attempt an attempt key stands for, so an event naming it finds its run. */
  putAttemptPointer(key: string, pointer: AttemptPointer, now: Date): Promise<void>;
  getAttemptPointer(key: string): Promise<AttemptPointer | undefined>;
  /** Creates a run if none exists, or takes a manual run still waiting at attempt 0. */
  claim(run: StoredRun, now: Date): Promise<ClaimResult>;
  /** Records a run waiting for its first attempt, unless one exists already (false then). */
  putQueued(run: StoredRun, now: Date): Promise<boolean>;
  /**
   * Records why a run not yet running waits and when it will be tried (an open circuit):
   * creates it as `run` (queued) when none exists, or updates a queued run's nextAttemptAt and
   * waitReason; false when the run is running or has ended.
   */
  markWaiting(run: StoredRun, now: Date): Promise<boolean>;
  /**
   * Claims attempt `attempt`: of a run queued for its retry (`queued` at attempt-1), or of
   * one whose worker died during attempt `from.attempt` (`running`, lease run out).
   */
  claimAttempt(
    tenantId: string,
    jobId: string,
    runId: string,
    attempt: number,
    claim: AttemptClaim,
    now: Date,
    from?: { status: 'queued' | 'running'; attempt: number },
  ): Promise<StoredRun | undefined>;
  /** Writes a run's outcome if this worker still holds the claim. */
  finish(run: StoredRun, claimToken: string, now: Date): Promise<boolean>;
  get(tenantId: string, jobId: string, runId: string, options?: ReadOptions): Promise<StoredRun | undefined>;
  /** The job's newest run, whatever its status. */
  latest(tenantId: string, jobId: string): Promise<RunSummary | null>;
  /** Newest first. */
  list(
    tenantId: string,
    jobId: string,
    /** `maxEvaluated`: how many records a status filter may read for one page (default 1000). */
    query: { limit: number; cursor?: string; status?: RunStatus; maxEvaluated?: number },
  ): Promise<Page<StoredRun>>;
  /**
   * Takes (or extends) the job's overlap lock for `runId` until `leaseUntil`; false when
   * another run holds it. With a `token` (the claim of the message working on the run), the
   * lock remembers who wrote it last, and `previous` is this run's own live holding before
   * the call, if it had one (a redelivery of a run in progress), for `returnLock`.
   */
  acquireLock(
    tenantId: string,
    jobId: string,
    runId: string,
    leaseUntil: string,
    now: Date,
    token?: string,
  ): Promise<false | { previous: { leaseUntil: string; token: string | null } | null }>;
  /**
   * Undoes an acquireLock made with `token`, if nobody wrote the lock since: back to
   * `previous`, or freed. A message that turned out not to be the one to work on the run
   * leaves the lock as the one that is found it.
   */
  returnLock(
    tenantId: string,
    jobId: string,
    runId: string,
    token: string,
    previous: { leaseUntil: string; token: string | null } | null,
  ): Promise<void>;
  readLock(
    tenantId: string,
    jobId: string,
  ): Promise<{ holder?: string; leaseUntil?: string; buffered?: string }>;
  /** Takes the single waiting place behind a live lock; false when it is taken or the lock is free. */
  bufferBehindLock(tenantId: string, jobId: string, runId: string, now: Date): Promise<boolean>;
  releaseLock(tenantId: string, jobId: string, runId: string): Promise<void>;
  clearBuffered(tenantId: string, jobId: string, runId: string): Promise<void>;
}

/**
 * The circuit breakers (issue 17): one record per tenant and target, under the tenant's own
 * partition, so one tenant's failures never touch another's breaker (invariant 5).
 */
export interface BreakerStore {
  /** `consistent`: a strongly consistent read (before a write); the calm path reads eventually. */
  get(tenantId: string, target: string, consistent?: boolean): Promise<Breaker | undefined>;
  /** Writes the breaker if it is still at `expectedVersion` (0: none exists); false when it changed. */
  save(breaker: Breaker, expectedVersion: number): Promise<boolean>;
  list(tenantId: string, query: { limit: number; cursor?: string }): Promise<Page<Breaker>>;
}

export interface DeadLetter {
  id: string;
  tenantId: string;
  jobId: string | null;
  runId: string | null;
  priority: Priority;
  body: string;
  reason: string;
  receiveCount: number;
  deadLetteredAt: string;
  status: 'dead' | 'redriven';
  redrivenAt: string | null;
  redrivenBy: string | null;
}

/** Where a message no tenant can be proven for is archived: the operator's, never a tenant's. */
export const UNKNOWN_TENANT = '_unknown';

export interface DeadLetterRepository {
  archive(letter: DeadLetter, now: Date): Promise<void>;
  get(tenantId: string, id: string): Promise<DeadLetter | undefined>;
  list(
    tenantId: string,
    query: { limit: number; cursor?: string; status?: DeadLetter['status'] },
  ): Promise<Page<DeadLetter>>;
  /** Marks a dead letter redriven, once: false if it was already. */
  markRedriven(tenantId: string, id: string, by: string, at: Date): Promise<boolean>;
}

/**
 * Old records leaving the runs table without DynamoDB TTL (a strongly consistent runs table
 * has none): the records of one expiry shard whose time has passed, deleted.
 */
export interface RecordExpiry {
  /**
   * Deletes up to `limit` records of `shard` expired by `now`; `due` is how many were found
   * (a record whose expiry moved on meanwhile is found but kept).
   */
  sweep(shard: number, now: Date, limit: number): Promise<{ due: number; deleted: number }>;
}

/** Puts firing messages on the priority queues; each is signed on the way (invariant 8). */
export interface FiringQueue {
  send(priority: Priority, message: FiringMessage): Promise<void>;
}

/** The fields of a firing message a MAC covers: who and what it runs. */
export interface FiringIdentity {
  v: 1;
  tenantId: string;
  jobId: string;
  trigger: string;
  runId?: string | undefined;
  attempt?: number | undefined;
  mac?: string | undefined;
}

export interface FiringSigner {
  /** The message with its MAC. */
  sign<T extends FiringIdentity>(message: T): Promise<T & { mac: string }>;
  /** Whether the message carries a MAC Sundial made for exactly what it names. */
  verify(message: FiringIdentity): Promise<boolean>;
}

/** A schedule as Sundial compares it: what Scheduler holds, or what a job says it should hold. */
export interface ScheduleView {
  name: string;
  expression: string;
  timezone: string;
  enabled: boolean;
  startAt: string | null;
  endAt: string | null;
  /** 0 when the window is off. */
  flexibleWindowMinutes: number;
  targetArn: string;
  roleArn: string;
  input: string;
  /** When it was last modified (Scheduler's LastModificationDate); absent for a wanted schedule. */
  modifiedAt?: string;
}

/** What a listing says of one schedule: enough to judge most jobs without reading it in full. */
export interface ListedSchedule {
  name: string;
  enabled: boolean;
  targetArn: string | undefined;
  modifiedAt: string | undefined;
}

/** Writes each job's one EventBridge Scheduler schedule (invariant 1): what the job service needs. */
export interface ScheduleWriter {
  /**
   * Makes the job's schedule match the job, whatever state it was in (idempotent). `exists`:
   * the caller knows the schedule is there (a region's change of role), so it is updated first.
   */
  apply(job: StoredJob, hint?: { exists?: boolean }): Promise<void>;
  /** Makes the schedule gone (idempotent). */
  remove(jobId: string): Promise<void>;
}

/** The schedules in Sundial's group, written and read back: what the reconciler needs. */
export interface ScheduleGateway extends ScheduleWriter {
  /** One page of the group's schedules (up to 100). */
  list(nextToken?: string): Promise<{ schedules: ListedSchedule[]; nextToken?: string }>;
  /** The schedule in full, or undefined when there is none. */
  get(name: string): Promise<ScheduleView | undefined>;
  /** The schedule the job should have (a job with a schedule). */
  desired(job: StoredJob & { schedule: NonNullable<StoredJob['schedule']> }): Promise<ScheduleView>;
}

export type TargetOutcome =
  /** An HTTP target answered; success is decided by the status code. */
  | { kind: 'response'; statusCode: number; bodyExcerpt: string }
  /** An AWS target accepted the call. */
  | { kind: 'delivered'; statusCode: number | null; bodyExcerpt: string }
  /** An AWS target refused it: a function error, a failed entry, an AWS error. */
  | { kind: 'rejected'; type: string; message: string; statusCode: number | null; bodyExcerpt: string | null }
  | { kind: 'timeout'; message: string }
  | { kind: 'error'; message: string };

export interface TargetCallContext {
  jobId: string;
  runId: string;
  scheduledAt: string;
  tenantId?: string;
  /** The job's KMS-sealed secret headers, opened only to make the call. */
  sealedHeaders?: string | null;
  /** The attempt being made. */
  attempt?: number;
  /** A callback target's Sundial-Callback-Url: where it reports its outcome and heartbeats. */
  callbackUrl?: string;
}

/** What starting a long target says: started (with what to show), or the start's failure. */
export type LongStart =
  | { kind: 'started'; ref: string | null; result: Partial<RunResult> }
  | Exclude<TargetOutcome, { kind: 'delivered' }>;

/** Which long attempt to describe or stop. */
export interface LongHandle {
  kind: 'callback' | 'ecs' | 'stepfunctions';
  key: string;
  /** The task or execution ARN. */
  ref: string | null;
  /** ECS: the cluster the task runs in. */
  cluster?: string;
}

export interface LongStartContext extends TargetCallContext {
  tenantId: string;
  attempt: number;
  /** Names the attempt at the target: ECS startedBy and clientToken, the execution name. */
  attemptKey: string;
  callbackUrl: string;
  /** A lost worker may have started this attempt already: look for its task first. */
  resuming?: boolean;
}

/** Starts, describes and stops the targets that finish later than they start. */
export interface LongTargets {
  /** Starts the attempt, idempotently: an attempt already started is found, not started again. */
  start(target: LongTarget, context: LongStartContext): Promise<LongStart>;
  /** How the attempt ended, or null while it runs (a callback target cannot be described). */
  describe(handle: LongHandle): Promise<LongOutcome | null>;
  /** Stops the attempt's task or execution (nothing for a callback target); idempotent. */
  stop(handle: LongHandle, reason: string): Promise<void>;
}

/** Calls a job's target within its timeout and says what happened; never throws for the target's faults. */
export type TargetCaller = (target: Target, context: TargetCallContext) => Promise<TargetOutcome>;

/** Tells people a run finally failed: the job's webhooks and the stack's failure topic. */
export interface FailureNotifier {
  runFailed(job: StoredJob, run: PublicRun): Promise<void>;
}

/** Each tenant's places on a queue (fair share). */
export interface FairShare {
  /** The tenant's places on the queue of `priority`; 0: fair share is off there. */
  limit(priority: Priority): number;
  /** Takes a place for `holder` until `leaseUntil`; false when the tenant has none free. */
  take(tenantId: string, priority: Priority, holder: string, leaseUntil: Date, now: Date): Promise<boolean>;
  /** Gives the place back. */
  give(tenantId: string, priority: Priority, holder: string): Promise<void>;
  /**
   * Takes a place for every one of `holders` in one write, or none: false when they do not
   * all fit (the caller then takes them one by one, which also clears expired leases).
   */
  takeAll(
    tenantId: string,
    priority: Priority,
    holders: readonly string[],
    leaseUntil: Date,
    now: Date,
  ): Promise<boolean>;
  /** Gives every one of `holders` back in one write. */
  giveAll(tenantId: string, priority: Priority, holders: readonly string[]): Promise<void>;
}

/**
 * Whether the deployment's queues are shared by tenants: fair share has someone to be fair
 * to only once runs of a second tenant have been worked on.
 */
export interface Tenancy {
  /** True once runs of more than one tenant have been worked on, `tenants` (a batch's) included. */
  shared(tenants: readonly string[], now: Date): Promise<boolean>;
}

export const ENDED_STATUSES = ['succeeded', 'failed', 'timed_out', 'skipped', 'missed', 'cancelled'] as const;
export type EndedStatus = (typeof ENDED_STATUSES)[number];

/** Which run ended, for reports that name it (the local runtime's console lines). */
export interface EndedRun {
  tenantId: string;
  jobId: string;
  jobName: string;
  runId: string;
}

/** What the worker reports about runs (CloudWatch metrics on AWS). */
export interface RunMetrics {
  /** A run reached a final status. */
  ended(status: EndedStatus, priority: Priority, durationMs: number | null, run?: EndedRun): void;
  /** A scheduled run started `lagMs` after its scheduled time. */
  started(priority: Priority, lagMs: number): void;
  /** A message on a queue was not Sundial's (invariant 8): dropped, never run. */
  rejected(): void;
  /** A run waited: its tenant had its fair share of runs in progress on the queue. */
  deferred?(priority: Priority): void;
  /** Long runs found past their deadline and not yet closed (the sweep is behind). */
  overdue?(count: number): void;
  /** A firing reached a passive region: recorded as skipped, its target not called. */
  passiveSkipped?(): void;
  /** A tenant's breaker for a target opened (or opened again after a failed probe). */
  circuitOpened?(): void;
  /** A run waited: its target's breaker was open. */
  deferredByCircuit?(priority: Priority): void;
  /** Each minute: whether this region is active, and how old the other region's heartbeat is. */
  region?(active: boolean, peerHeartbeatAgeSeconds: number | null): void;
  /** Each minute: this region's degradation level (0..4). */
  degradationLevel?(level: DegradationLevel): void;
  /** What a degradation step did: a firing deferred, a read made cheaper, a dependent delayed, a create refused. */
  degraded?(step: DegradationStepName, count?: number): void;
}

export type DegradationStepName = (typeof DEGRADATION_STEP_NAMES)[number];

/** This region's degradation level (graceful degradation, issue 17). */
export interface Degradation {
  readonly settings: DegradationSettings;
  /** The level now; read at most every few seconds, never fails (0 when it cannot be read). */
  level(): Promise<DegradationLevel>;
  /** The level now and how long until it steps down (a Retry-After for what it refuses). */
  status(): Promise<{ level: DegradationLevel; stepDownInSeconds: number }>;
  /**
   * What this process measured. Calm signals cost nothing; a level past a threshold is
   * written (one conditional write) unless it was written within the last half minute.
   * Returns the level now.
   */
  report(signals: PressureSignals): Promise<DegradationLevel>;
}

/** Seals secrets at rest (KMS), bound to an encryption context. */
export interface SecretSealer {
  seal(plaintext: string, context: Record<string, string>): Promise<string>;
  open(ciphertext: string, context: Record<string, string>): Promise<string>;
}

/** Judges an HTTP target or webhook URL: why it may not be called, or null. */
export interface UrlPolicy {
  refusal(url: string): Promise<string | null>;
}

/** Which region is active (issue 16); a one-region deployment is always active. */
export interface RegionGate {
  /** This region. */
  readonly region: string;
  /** False for a one-region deployment: no region item is ever read. */
  readonly multiRegion: boolean;
  /** Whether this region is the active one, as last read (a few seconds' cache at most). */
  current(): Promise<{ active: boolean; activeRegion: string; epoch: number }>;
  /** Forgets what was read: the active item just changed. */
  invalidate(): void;
}
