/**
 * Job use cases. Every change follows the same path (invariant 1): write the job with a
 * sync marker, apply the schedule, clear the marker if the job did not change meanwhile.
 * A crash anywhere leaves the marker behind, and `sweepSyncPending` finishes the work.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ulid } from 'ulid';
import {
  ConflictError,
  type FieldError,
  NotFoundError,
  PreconditionFailedError,
  ValidationError,
} from '../domain/errors.js';
import { firing } from '../domain/firing.js';
import {
  computeNextRunAt,
  isPlainObject,
  type Job,
  type JobInput,
  type JobState,
  mergePatch,
  notifySecretContext,
  type RunSummary,
  type StoredJob,
  zodIssuesToFieldErrors,
} from '../domain/job.js';
import type {
  Clock,
  FiringQueue,
  IdempotencyRecord,
  JobRepository,
  ListJobsQuery,
  Logger,
  ReadOptions,
  ScheduleWriter,
  SecretSealer,
  UrlPolicy,
} from '../domain/ports.js';
import { nextFireTimes, parseScheduleExpression } from '../domain/schedule/index.js';
import type { Target } from '../domain/target.js';
import { awsTargetRefusal, type TargetAccess } from '../domain/target-access.js';
import { ScheduleSync } from './schedule-sync.js';

/** The input schemas: loaded at the first create, change or apply, not at a cold start. */
const jobInput = () => import('../domain/job-input.js');

export interface JobServiceDeps {
  jobs: JobRepository;
  schedules: ScheduleWriter;
  clock: Clock;
  logger: Logger;
  newJobId?: () => string;
  /** Where catch-up runs are queued on resume. */
  queue?: FiringQueue;
  /** Which AWS resources targets may name; no AWS target is allowed without it. */
  targetAccess?: TargetAccess;
  /** Refuses HTTP targets and webhooks at internal addresses. */
  urlGuard?: UrlPolicy;
  /** At most this many jobs per tenant. */
  maxJobsPerTenant?: number;
  /** Seals secret header values and webhook secrets (KMS); without it, both are refused. */
  box?: SecretSealer;
  /** Counts a creation against the tenant's rate; throws when over it. Only valid jobs count. */
  countCreation?: (tenantId: string) => Promise<void>;
}

/** How many upstream jobs a cycle check may visit before it refuses the graph as too large. */
const MAX_UPSTREAM_JOBS = 200;

/** At most this many catch-up runs are queued by one resume. */
const MAX_CATCH_UP_RUNS = 100;

const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;

export type PublicJob = Omit<Job, 'tenantId' | 'notify' | 'pausedReason'> & {
  notify: { onFailure: { url: string }[]; secretSet: boolean };
  /** Why the job was paused; null when enabled or paused without a reason. */
  pausedReason: string | null;
  /** The job's newest run, read from the runs table as the job is shown. */
  lastRun: RunSummary | null;
};

/** What the API returns: the stored job without internal bookkeeping, in a stable field order. */
export function toPublicJob(job: StoredJob, lastRun: RunSummary | null): PublicJob {
  const s = job.schedule;
  return {
    id: job.id,
    name: job.name,
    description: job.description,
    schedule: s
      ? {
          expression: s.expression,
          timezone: s.timezone,
          startAt: s.startAt,
          endAt: s.endAt,
          flexibleWindowMinutes: s.flexibleWindowMinutes,
        }
      : null,
    // Secret header values are write-only: only their names are shown.
    target:
      job.target.type === 'http'
        ? { ...withoutSecrets(job.target), secretHeaderNames: job.secretHeaders?.names ?? [] }
        : job.target,
    dependsOn: job.dependsOn ?? [],
    retryPolicy: job.retryPolicy,
    overlapPolicy: job.overlapPolicy,
    misfireGraceSeconds: job.misfireGraceSeconds ?? null,
    // The signing secret is write-only (sealed; in clear only on jobs stored before sealing).
    notify: {
      onFailure: job.notify?.onFailure ?? [],
      secretSet: Boolean(job.sealedNotifySecret || job.notify?.secret),
    },
    catchUp: job.catchUp ?? 'none',
    catchUpWindowMinutes: job.catchUpWindowMinutes ?? 60,
    priority: job.priority,
    state: job.state as PublicJob['state'],
    pausedReason: job.state === 'paused' ? (job.pausedReason ?? null) : null,
    tags: job.tags,
    nextRunAt: job.nextRunAt,
    lastRun,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    version: job.version,
  } as PublicJob;
}

export class JobService {
  private readonly newJobId: () => string;
  private readonly sync: ScheduleSync;

  constructor(private readonly deps: JobServiceDeps) {
    this.sync = new ScheduleSync(deps);
    this.newJobId = deps.newJobId ?? (() => `job_${ulid()}`);
  }

  async create(
    tenantId: string,
    body: unknown,
    idempotencyKey?: string,
  ): Promise<{ job: StoredJob; replayed: boolean }> {
    const now = this.deps.clock.now();
    const { input } = (await jobInput()).validateJobInput(body, now);
    await this.checkTargetAllowed(input);
    const id = this.newJobId();
    await this.checkDependencies(tenantId, id, input.dependsOn);
    await this.deps.countCreation?.(tenantId);
    const createdAt = now.toISOString();
    const secretHeaders = await this.sealHeaders(tenantId, id, input.target);
    const sealedNotifySecret = await this.sealNotifySecret(tenantId, id, input.notify.secret);
    const job: Job & Pick<StoredJob, 'secretHeaders' | 'sealedNotifySecret'> = {
      ...input,
      target: withoutSecrets(input.target),
      secretHeaders,
      // The webhook secret is kept only sealed, in the job and in its idempotency record.
      notify: { onFailure: input.notify.onFailure, secret: null },
      sealedNotifySecret,
      id,
      tenantId,
      nextRunAt: null,
      createdAt,
      updatedAt: createdAt,
      version: 1,
    };
    job.nextRunAt = computeNextRunAt(job, now);
    let idempotency: IdempotencyRecord | undefined;
    if (idempotencyKey !== undefined) {
      // Only a hash of the request is kept, to compare a replay with; it holds no secret in clear.
      idempotency = {
        key: idempotencyKey,
        requestHash: createHash('sha256').update(JSON.stringify(body)).digest('hex'),
        expiresAt: Math.floor(now.getTime() / 1000) + IDEMPOTENCY_TTL_SECONDS,
      };
    }
    const result = await this.deps.jobs.create(job, idempotency, this.deps.maxJobsPerTenant);
    if (!result.replayed) await this.syncSafely(tenantId, job.id, result.job);
    return result;
  }

  async get(tenantId: string, jobId: string, options?: ReadOptions): Promise<StoredJob> {
    const job = await this.deps.jobs.get(tenantId, jobId, options);
    if (!job || job.state === 'deleting') throw new NotFoundError(`job ${jobId}`);
    return job;
  }

  list(tenantId: string, query: ListJobsQuery) {
    return this.deps.jobs.list(tenantId, query);
  }

  async update(tenantId: string, jobId: string, body: unknown, ifMatch?: number): Promise<StoredJob> {
    const patch = (await jobInput()).jobPatchSchema.safeParse(body);
    if (!patch.success) throw new ValidationError(zodIssuesToFieldErrors(patch.error));
    const expected = ifMatch ?? patch.data.version;
    return this.change(tenantId, jobId, expected, (current) => mergePatch(current, patch.data));
  }

  /** Pauses (with an optional reason, kept until resumed) or resumes a job. */
  async setState(tenantId: string, jobId: string, state: JobState, reason?: string): Promise<StoredJob> {
    const current = await this.get(tenantId, jobId);
    const newReason = state === 'paused' && reason !== undefined && reason !== (current.pausedReason ?? null);
    if (current.state === state && !newReason) return current;
    let pausedAt: string | null = null;
    const changed = await this.change(
      tenantId,
      jobId,
      current.version,
      (job) => ({ ...mergePatch(job, {}), state }),
      (job, now) => {
        pausedAt = job.pausedAt ?? null;
        if (state !== 'paused') return { pausedAt: null, pausedReason: null };
        // Paused again with a new reason: the pause itself (and so catch-up) dates from the first.
        const since = job.state === 'paused' && job.pausedAt ? job.pausedAt : now.toISOString();
        return {
          pausedAt: since,
          pausedReason: reason ?? (job.state === 'paused' ? (job.pausedReason ?? null) : null),
        };
      },
      { stateOnly: true },
    );
    if (state === 'enabled' && pausedAt) await this.catchUp(changed, new Date(pausedAt));
    return changed;
  }

  /**
   * On resume, the occurrences missed while paused (within catchUpWindowMinutes): none,
   * the latest, or all of them, queued as `catch_up` runs. Each keeps the identity of the
   * occurrence it stands for, so it can never run twice.
   */
  private async catchUp(job: StoredJob, pausedAt: Date): Promise<void> {
    if (job.catchUp === 'none' || !this.deps.queue || !job.schedule) return;
    const now = this.deps.clock.now();
    const windowStart = new Date(now.getTime() - job.catchUpWindowMinutes * 60_000);
    const schedule = job.schedule;
    const parsed = parseScheduleExpression(schedule.expression);
    if (!parsed.ok) return;
    const missed = nextFireTimes(parsed.schedule, {
      timezone: schedule.timezone,
      after: pausedAt > windowStart ? pausedAt : windowStart,
      endAt: now,
      count: MAX_CATCH_UP_RUNS,
      createdAt: new Date(job.createdAt),
      ...(schedule.startAt ? { startAt: new Date(schedule.startAt) } : {}),
    }).filter((t) => !schedule.endAt || t.getTime() <= Date.parse(schedule.endAt));
    const chosen = job.catchUp === 'latest' ? missed.slice(-1) : missed;
    for (const t of chosen) {
      await this.deps.queue.send(job.priority, firing.catchUp(job, t));
    }
    if (chosen.length > 0)
      this.deps.logger.info('catch-up runs queued', { jobId: job.id, count: chosen.length });
  }

  /**
   * Hides the job at once, then removes its schedule and finally the row. A job that others
   * depend on is kept: deleting it would leave them waiting forever.
   */
  async delete(tenantId: string, jobId: string): Promise<void> {
    const current = await this.get(tenantId, jobId);
    const dependents = await this.liveDependents(tenantId, jobId);
    if (dependents.length > 0) {
      throw new ConflictError(
        `job ${jobId} is a dependency of ${dependents.join(', ')}; remove it from their dependsOn first`,
      );
    }
    const now = this.deps.clock.now().toISOString();
    const tombstone: StoredJob = {
      ...current,
      state: 'deleting',
      nextRunAt: null,
      updatedAt: now,
      version: current.version + 1,
    };
    if (!(await this.deps.jobs.replace(tombstone, current.version, now))) return this.delete(tenantId, jobId);
    await this.syncSafely(tenantId, jobId, tombstone);
  }

  /** Seals an HTTP target's secret headers for this job; null when it has none. */
  private async sealHeaders(
    tenantId: string,
    jobId: string,
    target: Target,
  ): Promise<StoredJob['secretHeaders']> {
    if (target.type !== 'http' || Object.keys(target.secretHeaders).length === 0) return null;
    if (!this.deps.box)
      throw ValidationError.of('target.secretHeaders', 'secret headers are not available here');
    return {
      names: Object.keys(target.secretHeaders).sort(),
      ciphertext: await this.deps.box.seal(JSON.stringify(target.secretHeaders), { tenantId, jobId }),
    };
  }

  /** Seals the secret a job's failure webhooks are signed with; null when it has none. */
  private async sealNotifySecret(
    tenantId: string,
    jobId: string,
    secret: string | null,
  ): Promise<string | null> {
    if (secret === null) return null;
    if (!this.deps.box) throw ValidationError.of('notify.secret', 'webhook secrets are not available here');
    return this.deps.box.seal(secret, notifySecretContext(tenantId, jobId));
  }

  /** AWS targets must be allowed by ARN; URLs Sundial will call must not reach internal addresses. */
  private async checkTargetAllowed(input: { target: Target; notify: { onFailure: { url: string }[] } }) {
    const { target } = input;
    const errors: FieldError[] = [];
    const guard = this.deps.urlGuard;
    if (guard) {
      const urls = [
        ...(target.type === 'http' ? [{ field: 'target.url', url: target.url }] : []),
        ...input.notify.onFailure.map((hook, i) => ({ field: `notify.onFailure.${i}.url`, url: hook.url })),
      ];
      for (const { field, url } of urls) {
        const refusal = await guard.refusal(url);
        if (refusal) errors.push({ field, message: `cannot be called: ${refusal}` });
      }
    }
    if (errors.length > 0) throw new ValidationError(errors);
    if (target.type === 'http') return;
    const refusal = this.deps.targetAccess
      ? awsTargetRefusal(target, this.deps.targetAccess)
      : { field: 'type', message: 'AWS targets are not available here' };
    if (refusal) throw ValidationError.of(`target.${refusal.field}`, refusal.message);
  }

  /** Every dependency exists in the tenant, and none leads back to the job. */
  private async checkDependencies(
    tenantId: string,
    jobId: string,
    dependsOn: readonly string[],
  ): Promise<void> {
    const errors: FieldError[] = [];
    for (const [i, id] of dependsOn.entries()) {
      if (id === jobId) errors.push({ field: `dependsOn.${i}`, message: 'a job cannot depend on itself' });
      else {
        const dependency = await this.deps.jobs.get(tenantId, id);
        if (!dependency || dependency.state === 'deleting') {
          errors.push({ field: `dependsOn.${i}`, message: `job ${id} does not exist` });
        }
      }
    }
    if (errors.length > 0) throw new ValidationError(errors);
    // Walk upstream; reaching the job itself means the new edges would close a cycle.
    const via = new Map<string, string>(dependsOn.map((id) => [id, jobId]));
    const pending = [...dependsOn];
    while (pending.length > 0) {
      const id = pending.shift() as string;
      if (id === jobId) {
        const path = [jobId];
        for (let at = via.get(jobId); at !== undefined && at !== jobId; at = via.get(at)) path.unshift(at);
        path.unshift(jobId);
        throw ValidationError.of('dependsOn', `would create a cycle: ${path.join(' -> ')}`);
      }
      if (via.size > MAX_UPSTREAM_JOBS) {
        throw ValidationError.of('dependsOn', `has more than ${MAX_UPSTREAM_JOBS} jobs upstream`);
      }
      const job = await this.deps.jobs.get(tenantId, id);
      for (const upstream of job?.dependsOn ?? []) {
        if (!via.has(upstream)) {
          via.set(upstream, id);
          pending.push(upstream);
        }
      }
    }
  }

  /** Jobs that still list `jobId` in their dependsOn. */
  private async liveDependents(tenantId: string, jobId: string): Promise<string[]> {
    const live: string[] = [];
    for (const id of await this.deps.jobs.listDependents(tenantId, jobId)) {
      const job = await this.deps.jobs.get(tenantId, id);
      if (job && job.state !== 'deleting' && (job.dependsOn ?? []).includes(jobId)) live.push(id);
    }
    return live;
  }

  private async change(
    tenantId: string,
    jobId: string,
    expectedVersion: number | undefined,
    build: (current: StoredJob) => Record<string, unknown>,
    /** Server-kept fields set with the change (they are not client input). */
    extra: (current: StoredJob, now: Date) => Partial<StoredJob> = () => ({}),
    options: { stateOnly?: boolean } = {},
  ): Promise<StoredJob> {
    const current = await this.get(tenantId, jobId);
    if (expectedVersion !== undefined && expectedVersion !== current.version) {
      throw new PreconditionFailedError(current.version);
    }
    const now = this.deps.clock.now();
    // The edit is built on the job with its webhook secret, if any, stood in for by a value
    // no client can send: still there, the secret is kept sealed; replaced or cleared, resealed.
    const hasNotifySecret = Boolean(current.sealedNotifySecret || current.notify?.secret);
    const keptSecret = `kept-secret:${randomBytes(16).toString('hex')}`;
    const candidate = build({
      ...current,
      notify: { onFailure: current.notify?.onFailure ?? [], secret: hasNotifySecret ? keptSecret : null },
    });
    // Pausing a job whose one-time firing has passed is fine; a new schedule must fire again.
    const scheduleChanged = JSON.stringify(candidate.schedule) !== JSON.stringify(current.schedule);
    const { validateJobInput } = await jobInput();
    let input: JobInput;
    try {
      ({ input } = validateJobInput(candidate, now, { requireFutureFire: scheduleChanged }));
    } catch (error) {
      // A pause or resume never re-judges a stored job by rules newer than it (e.g. header
      // rules): it was valid when saved, and an operator must always be able to stop it.
      if (!(options.stateOnly && error instanceof ValidationError)) throw error;
      input = { ...candidate, dependsOn: current.dependsOn ?? [] } as unknown as typeof input;
    }
    // A narrowed allowlist does not block edits of a job whose target is unchanged.
    if (
      JSON.stringify(input.target) !== JSON.stringify(current.target) ||
      JSON.stringify(input.notify.onFailure) !== JSON.stringify(current.notify?.onFailure ?? [])
    ) {
      await this.checkTargetAllowed(input);
    }
    const previousDependsOn = current.dependsOn ?? [];
    if (JSON.stringify(input.dependsOn) !== JSON.stringify(previousDependsOn)) {
      await this.checkDependencies(tenantId, jobId, input.dependsOn);
    }
    // Secret headers sent with the change replace the sealed ones; otherwise those stay.
    const provided = isPlainObject(candidate.target) && 'secretHeaders' in candidate.target;
    const secretHeaders =
      input.target.type !== 'http'
        ? null
        : provided
          ? await this.sealHeaders(tenantId, jobId, input.target)
          : (current.secretHeaders ?? null);
    // A job stored before webhook secrets were sealed has its secret in clear: sealed now.
    const sealedNotifySecret =
      input.notify.secret !== keptSecret
        ? await this.sealNotifySecret(tenantId, jobId, input.notify.secret)
        : (current.sealedNotifySecret ??
          (await this.sealNotifySecret(tenantId, jobId, current.notify?.secret ?? null)));
    const next: StoredJob = {
      ...current,
      ...input,
      target: withoutSecrets(input.target),
      secretHeaders,
      notify: { onFailure: input.notify.onFailure, secret: null },
      sealedNotifySecret,
      ...extra(current, now),
      updatedAt: now.toISOString(),
      version: current.version + 1,
    };
    next.nextRunAt = computeNextRunAt(next, now);
    if (!(await this.deps.jobs.replace(next, current.version, now.toISOString(), previousDependsOn))) {
      // Changed or deleted between our read and write.
      const latest = await this.get(tenantId, jobId);
      if (expectedVersion !== undefined) throw new PreconditionFailedError(latest.version);
      return this.change(tenantId, jobId, undefined, build, extra, options);
    }
    await this.syncSafely(tenantId, jobId, next);
    return { ...next };
  }

  /** The request path: a failed sync is logged and left to the sweeper, never lost. */
  private async syncSafely(tenantId: string, jobId: string, written: StoredJob): Promise<void> {
    try {
      await this.sync.syncJob(tenantId, jobId, written);
    } catch (error) {
      this.deps.logger.warn('schedule sync deferred to the sweeper', {
        tenantId,
        jobId,
        error: String(error),
      });
    }
  }

  /** Makes the job's schedule match the job (see ScheduleSync.syncJob). */
  syncJob(tenantId: string, jobId: string) {
    return this.sync.syncJob(tenantId, jobId);
  }
}

/** The target as stored and shown: secret header values never stay in it. */
function withoutSecrets(target: Target): Target {
  if (target.type !== 'http') return target;
  const { secretHeaders: _secret, ...rest } = target;
  return rest as Target;
}
