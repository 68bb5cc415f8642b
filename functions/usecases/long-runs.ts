/**
 * Long runs: targets that finish later than they start (ECS tasks, Step Functions
 * executions, HTTP targets that call back). The worker starts an attempt and records it as
 * watched; no Lambda waits for it. The attempt is then settled by whichever comes first:
 * its state-change event, its callback, a describe-call poll, its heartbeat check or its
 * deadline. Settling is one conditional write on the attempt (status, attempt and key), so
 * a duplicate or out-of-order event, a second poll or a late callback changes nothing.
 */
import type { SettleMessage } from '../domain/firing.js';
import { firing } from '../domain/firing.js';
import type { StoredJob } from '../domain/job.js';
import { heartbeatTimeoutOf, runTimeoutOf } from '../domain/job-rules.js';
import {
  attemptKey,
  callbackIdentity,
  formatCallbackToken,
  heartbeatDeadline,
  longAttemptRecord,
  nextPollAt,
  nextWatchAt,
  startedAttempt,
  watchShardOf,
} from '../domain/long-run.js';
import type {
  Clock,
  FiringSigner,
  LongHandle,
  LongStart,
  LongTargets,
  RunExpectation,
} from '../domain/ports.js';
import { hasAttemptsLeft, retryDelaySeconds } from '../domain/retry.js';
import { type LongAttempt, type LongOutcome, type StoredRun, TERMINAL_STATUSES } from '../domain/run.js';
import { attemptEvent, transition } from '../domain/run-lifecycle.js';
import type { LongTarget } from '../domain/target.js';
import { afterFinal, continueBackfill, type EndingDeps, ended, isExclusive } from './run-ending.js';

/** What starting and settling long runs needs besides the run path's own parts. */
export interface LongRunParts {
  targets: LongTargets;
  /** Makes the callback tokens (a MAC with the deployment's firing key). */
  signer: FiringSigner;
  /** The API's base URL: callback URLs are `<base>/v1/callbacks/<token>`. */
  callbackBaseUrl: string;
}

export interface LongRunDeps extends EndingDeps {
  long: LongRunParts;
  clock: Clock;
  random?: () => number;
}

/** Seconds the overlap lock outlives a long attempt's deadline, covering the sweep's lag. */
const LOCK_MARGIN_SECONDS = 300;
/** How soon the sweep tries again to stop a task or execution whose stop failed. */
const STOP_RETRY_SECONDS = 60;
/** Pages of due runs one sweep reads from a shard at most (each up to `limit`). */
const MAX_PAGES_PER_SHARD = 20;
/** A deadline older than this and still open means the sweep is behind (the overdue alarm). */
const OVERDUE_SECONDS = 120;

type Ids = { tenantId: string; jobId: string; runId: string };
type Result = { result: 'done'; detail: string; run?: StoredRun };

/** The callback URL of an attempt: unguessable, bound to the attempt, never logged. */
export async function callbackUrlFor(
  parts: Pick<LongRunParts, 'signer' | 'callbackBaseUrl'>,
  ids: Ids & { attempt: number },
): Promise<string> {
  const { mac } = await parts.signer.sign(callbackIdentity(ids));
  return `${parts.callbackBaseUrl}/v1/callbacks/${formatCallbackToken(ids, mac)}`;
}

/** Which long attempt a run waits on, for describe and stop calls. */
function handleOf(long: LongAttempt): LongHandle {
  return {
    key: long.key,
    ref: long.ref,
    kind: long.kind,
    ...(long.cluster ? { cluster: long.cluster } : {}),
  };
}

/**
 * Starts attempt `run.attempt` of a long target (idempotently: a task or execution a lost
 * worker started is found, not started twice). A start that failed is returned as the
 * attempt's outcome, for the run path to retry or end like any failed call.
 */
export async function startLongAttempt(
  deps: LongRunDeps,
  job: StoredJob & { target: LongTarget },
  run: StoredRun,
  claimToken: string,
  log: Record<string, unknown>,
  resuming = false,
): Promise<{ started: Result } | { failed: Exclude<LongStart, { kind: 'started' }> }> {
  const ids = { tenantId: run.tenantId, jobId: run.jobId, runId: run.id, attempt: run.attempt };
  const key = attemptKey(ids);
  const now = deps.clock.now();
  const target = job.target;
  const kind = target.type === 'http' ? 'callback' : target.type;
  if (
    run.long?.stop &&
    run.long.key !== key &&
    !(await stopQuietly(deps, run.long, 'Sundial: a later attempt starts', log))
  ) {
    // The previous attempt outlived its deadline and could not be stopped: this one waits
    // (the message comes back) rather than run beside it.
    throw new Error(
      `attempt ${run.attempt - 1}'s task or execution could not be stopped; attempt ${run.attempt} waits`,
    );
  }
  // Written first: an event for the task must find its run even if we stop right after starting it.
  if (kind !== 'callback') await deps.runs.putAttemptPointer(key, ids, now);
  const callbackUrl = await callbackUrlFor(deps.long, ids);
  const start = await deps.long.targets
    .start(target, {
      jobId: run.jobId,
      runId: run.id,
      scheduledAt: run.scheduledAt,
      tenantId: run.tenantId,
      sealedHeaders: job.secretHeaders?.ciphertext ?? null,
      attempt: run.attempt,
      attemptKey: key,
      callbackUrl,
      resuming,
    })
    .catch(
      (error: Error): LongStart => ({
        kind: 'error',
        message: `${error.name}: ${error.message}`.slice(0, 500),
      }),
    );
  if (start.kind !== 'started') return { failed: start };

  const startedAt = deps.clock.now();
  const deadline = new Date(startedAt.getTime() + runTimeoutOf(target) * 1000);
  const long: LongAttempt = {
    kind,
    key,
    ref: start.ref,
    startedAt: startedAt.toISOString(),
    polls: 0,
    heartbeatTimeoutSeconds: heartbeatTimeoutOf(target),
    ...(target.type === 'ecs' ? { cluster: target.cluster } : {}),
  };
  const watched = transition(run, 'start_long', {
    long,
    deadlineAt: deadline.toISOString(),
    heartbeatAt: null,
    progress: null,
    progressMessage: null,
    result: { statusCode: null, bodyExcerpt: '', ...start.result },
    error: null,
    watchShard: watchShardOf(run.id),
  });
  watched.watchAt = nextWatchAt(watched);
  if (isExclusive(job)) {
    // The run holds the job's lock until it ends, however long that is (taken before the
    // record, so a worker lost in between leaves no gap another firing could run in).
    const until = new Date(deadline.getTime() + LOCK_MARGIN_SECONDS * 1000).toISOString();
    await deps.runs.acquireLock(run.tenantId, run.jobId, run.id, until, startedAt);
  }
  const expected: RunExpectation = { status: 'running', attempt: run.attempt, claimToken, unreported: true };
  if (!(await deps.runs.replaceIf(watched, expected, startedAt))) {
    // A fast callback reported before we recorded the start, or the claim was taken over.
    const current = await deps.runs.get(run.tenantId, run.jobId, run.id);
    if (current?.status === 'running' && current.attempt === run.attempt && current.reported) {
      return { started: await settle(deps, job, { ...current, long }, current.reported) };
    }
    if (isExclusive(job) && (!current || TERMINAL_STATUSES.has(current.status))) {
      // Settled meanwhile (a callback faster than our record): the lock taken to the deadline
      // above is nobody's now.
      await deps.runs.releaseLock(run.tenantId, run.jobId, run.id);
    }
    deps.logger.warn('long attempt started but not recorded: the claim was taken over', log);
    return { started: { result: 'done', detail: 'claim lost' } };
  }
  deps.logger.info('long attempt started', {
    ...log,
    attempt: run.attempt,
    kind,
    deadlineAt: watched.deadlineAt,
  });
  return { started: { result: 'done', detail: 'started', run: watched } };
}

/**
 * Settles a long attempt with its outcome: the next attempt queued if the retry policy has
 * one, otherwise the run's final status, the lock released, failures announced, dependents
 * told. Lands once: a second settle of the same attempt finds it settled and does nothing.
 */
export async function settle(
  deps: LongRunDeps,
  job: StoredJob | undefined,
  run: StoredRun,
  outcome: LongOutcome,
  options: { stopPending?: boolean } = {},
): Promise<Result> {
  const now = deps.clock.now();
  const record = longAttemptRecord(run, outcome, now);
  const { reported, watchShard: _shard, watchAt: _at, ...rest } = run;
  const expected: RunExpectation = {
    status: 'running',
    attempt: run.attempt,
    ...(run.long && startedAttempt(run) && !reported ? { key: run.long.key } : {}),
    ...(reported ? {} : { unreported: true }),
  };
  const attempted = transition(rest, attemptEvent(record.status as 'succeeded' | 'failed' | 'timed_out'), {
    finishedAt: record.finishedAt,
    durationMs: record.durationMs,
    result: { statusCode: null, bodyExcerpt: '', ...run.result, ...outcome.result },
    error: outcome.error,
    attempts: [...(run.attempts ?? []), record],
    ...(outcome.output !== undefined ? { output: outcome.output } : {}),
  });
  if (options.stopPending && attempted.long) {
    // The task or execution may still run: the sweep comes back to stop it.
    attempted.long = { ...attempted.long, stop: true };
    attempted.watchShard = watchShardOf(run.id);
    attempted.watchAt = new Date(now.getTime() + STOP_RETRY_SECONDS * 1000).toISOString();
  }
  const log = { tenantId: run.tenantId, jobId: run.jobId, runId: run.id, attempt: run.attempt };
  if (job && outcome.status !== 'succeeded' && hasAttemptsLeft(job.retryPolicy, run.attempt)) {
    const delay = retryDelaySeconds(job.retryPolicy, run.attempt, deps.random);
    const retryAt = new Date(now.getTime() + delay * 1000);
    // The message first: if we stop after it, the retry still happens; its claim needs the
    // run queued, so a retry that finds the run still running waits for the sweep to settle it.
    await deps.queue.send(
      job.priority,
      firing.retry(
        { tenantId: run.tenantId, jobId: run.jobId, scheduledTime: run.scheduledAt, jobVersion: job.version },
        run.id,
        run.attempt + 1,
        retryAt,
      ),
    );
    const waiting = transition(attempted, 'await_retry', { nextAttemptAt: retryAt.toISOString() });
    if (!(await deps.runs.replaceIf(waiting, expected, now)))
      return { result: 'done', detail: 'already settled' };
    if (isExclusive(job)) {
      const until = new Date(retryAt.getTime() + (job.target.timeoutSeconds + 30) * 1000).toISOString();
      await deps.runs.acquireLock(run.tenantId, run.jobId, run.id, until, now);
    }
    deps.logger.info('long attempt ended; retry scheduled', { ...log, status: outcome.status, delay });
    return { result: 'done', detail: 'retry scheduled', run: waiting };
  }
  if (!(await deps.runs.replaceIf(attempted, expected, now)))
    return { result: 'done', detail: 'already settled' };
  if (job) await afterFinal(deps, job, attempted);
  else await deps.runs.releaseLock(run.tenantId, run.jobId, run.id);
  const line = { ...log, status: attempted.status, durationMs: attempted.durationMs };
  if (attempted.status === 'succeeded') deps.logger.debug?.('run finished', line);
  else deps.logger.info('run finished', line);
  return { result: 'done', detail: attempted.status, run: attempted };
}

/**
 * Looks at one watched run: settles a reported outcome, ends an attempt past its deadline
 * or its heartbeat (stopping its task or execution), polls an ECS task or an execution
 * when a poll is due, finishes a cancel (stops, counts), and moves the next look.
 */
export async function watchRun(deps: LongRunDeps, ids: Ids, onOverdue?: () => void): Promise<Result> {
  const now = deps.clock.now();
  const run = await deps.runs.get(ids.tenantId, ids.jobId, ids.runId);
  if (!run || run.watchAt === undefined) return { result: 'done', detail: 'not watched' };
  // Read only to settle or close: a look that finds the attempt still running needs no job.
  const job = () => deps.jobs.get(ids.tenantId, ids.jobId);
  if (run.status !== 'running') return closeWatch(deps, await job(), run);
  if (run.reported) return settle(deps, await job(), run, run.reported);
  const long = run.long;
  if (!long || !startedAttempt(run)) return { result: 'done', detail: 'not started' };
  const log = { ...ids, attempt: run.attempt, kind: long.kind };

  const deadline = Date.parse(run.deadlineAt ?? '');
  // Long past its deadline and still open: the sweep has been failing or falling behind.
  if (now.getTime() > deadline + OVERDUE_SECONDS * 1000) onOverdue?.();
  const beat = heartbeatDeadline(run);
  const late =
    now.getTime() >= deadline
      ? `no outcome within the run timeout (${Math.round((deadline - Date.parse(long.startedAt)) / 1000)}s)`
      : beat !== null && now.getTime() >= beat
        ? `no heartbeat for ${long.heartbeatTimeoutSeconds}s`
        : null;
  if (late) {
    const stopped = await stopQuietly(deps, long, `Sundial: ${late}`, log);
    deps.logger.warn('long attempt timed out', { ...log, reason: late });
    return settle(
      deps,
      await job(),
      run,
      { status: 'timed_out', error: { type: 'timeout', message: late }, result: {} },
      { stopPending: !stopped },
    );
  }

  const poll = nextPollAt(run);
  let polls = long.polls;
  if (poll !== null && now.getTime() >= poll) {
    polls += 1;
    const outcome = await deps.long.targets.describe(handleOf(long)).catch((error: Error) => {
      deps.logger.warn('poll failed; the next look tries again', {
        ...log,
        error: `${error.name}: ${error.message}`,
      });
      return null;
    });
    if (outcome) {
      deps.logger.info('long attempt ended, found by a poll', { ...log, status: outcome.status });
      return settle(deps, await job(), run, outcome);
    }
  }
  const next = nextWatchAt({ ...run, long: { ...long, polls } });
  await deps.runs.rewatch(
    ids.tenantId,
    ids.jobId,
    ids.runId,
    { attempt: run.attempt, key: long.key },
    { watchAt: next, polls },
  );
  return { result: 'done', detail: 'watching' };
}

/** A run no longer running but still watched: a cancel to finish, or a stop that failed to retry. */
async function closeWatch(deps: LongRunDeps, job: StoredJob | undefined, run: StoredRun): Promise<Result> {
  const log = { tenantId: run.tenantId, jobId: run.jobId, runId: run.id, status: run.status };
  if (run.long?.stop && run.long.ref !== null) {
    const stopped = await stopQuietly(deps, run.long, `Sundial: run ${run.status}`, log);
    if (!stopped) {
      // Looked at again later, behind the other runs due in its shard, not ahead of them.
      const later = new Date(deps.clock.now().getTime() + STOP_RETRY_SECONDS * 1000).toISOString();
      await deps.runs.replaceIf(
        { ...run, watchAt: later },
        { status: run.status, attempt: run.attempt, watched: true },
        deps.clock.now(),
      );
      return { result: 'done', detail: 'stop failed; tried again later' };
    }
  }
  const { watchShard: _s, watchAt: _a, ...closed } = run;
  if (closed.long) closed.long = { ...closed.long, stop: false };
  // Conditional on the watch, so a cancel is counted once however often this runs.
  const expected: RunExpectation = { status: run.status, attempt: run.attempt, watched: true };
  if (!(await deps.runs.replaceIf(closed, expected, deps.clock.now())))
    return { result: 'done', detail: 'closed elsewhere' };
  if (run.status === 'cancelled' && job) {
    await ended(deps, job, closed);
    if (run.trigger === 'backfill') await continueBackfill(deps, job, run);
  }
  return { result: 'done', detail: `${run.status}: watch closed` };
}

async function stopQuietly(
  deps: LongRunDeps,
  long: LongAttempt,
  reason: string,
  log: Record<string, unknown>,
): Promise<boolean> {
  if (long.kind === 'callback' || long.ref === null) return true;
  try {
    await deps.long.targets.stop(handleOf(long), reason);
    return true;
  } catch (error) {
    deps.logger.warn('stop failed; the sweep tries again', { ...log, error: String(error) });
    return false;
  }
}

/** One sweep over every shard of the watch index: what is due by now, up to `limit` per shard. */
export async function sweepWatches(
  deps: LongRunDeps,
  options: { shards: number; limit?: number; stopBy?: () => boolean } = { shards: 1 },
): Promise<{ looked: number; overdue: number; failed: number }> {
  const now = deps.clock.now();
  let looked = 0;
  let overdue = 0;
  let failed = 0;
  const limit = options.limit ?? 100;
  for (let shard = 0; shard < options.shards; shard++) {
    // Page after page while time is left: a look moves a run's watch on (or removes it), so
    // the next page holds others; one whose look failed is seen again and ends the shard.
    const seen = new Set<string>();
    for (let page = 0; page < MAX_PAGES_PER_SHARD && !options.stopBy?.(); page++) {
      const due = await deps.runs.dueWatches(shard, now.toISOString(), limit);
      const fresh = due.filter((ids) => !seen.has(`${ids.tenantId}/${ids.jobId}/${ids.runId}`));
      for (const ids of fresh) {
        if (options.stopBy?.()) break;
        seen.add(`${ids.tenantId}/${ids.jobId}/${ids.runId}`);
        looked++;
        try {
          await watchRun(deps, ids, () => {
            overdue++;
          });
        } catch (error) {
          failed++;
          deps.logger.error('watch failed; the next sweep tries again', { ...ids, error: String(error) });
        }
      }
      if (due.length < limit || fresh.length === 0) break;
    }
  }
  if (overdue > 0) deps.metrics?.overdue?.(overdue);
  return { looked, overdue, failed };
}

/**
 * A state-change event (ECS, Step Functions) named an attempt key: settles that attempt if
 * it is still the one in progress. Anything else (a duplicate, an older attempt's event,
 * one for a run already settled by a poll) changes nothing.
 */
export async function completeFromEvent(
  deps: LongRunDeps,
  key: string,
  outcome: LongOutcome,
): Promise<Result> {
  const pointer = await deps.runs.getAttemptPointer(key);
  if (!pointer) {
    deps.logger.warn('completion event for an attempt Sundial does not know', { key });
    return { result: 'done', detail: 'unknown attempt' };
  }
  const run = await deps.runs.get(pointer.tenantId, pointer.jobId, pointer.runId);
  if (run?.status === 'running' && run.attempt === pointer.attempt && !startedAttempt(run)) {
    // It ended before its start was recorded (a task that fails at once): reported, so the
    // worker recording the start settles it instead (or the sweep does).
    const written = await deps.runs.report(
      run.tenantId,
      run.jobId,
      run.id,
      run.attempt,
      outcome,
      deps.clock.now(),
    );
    if (written !== 'ok') return { result: 'done', detail: 'already settled' };
    // The worker settles it when its record of the start fails; if that record landed first,
    // nobody else will: look again and settle it here.
    const latest = await deps.runs.get(run.tenantId, run.jobId, run.id);
    if (latest?.status === 'running' && startedAttempt(latest) && latest.reported) {
      return settle(deps, await deps.jobs.get(run.tenantId, run.jobId), latest, latest.reported);
    }
    return { result: 'done', detail: 'reported before its start was recorded' };
  }
  if (run?.status !== 'running' || run.attempt !== pointer.attempt || run.long?.key !== key) {
    if (run?.long?.key === key && run.long.stop && run.status !== 'running') return watchRun(deps, pointer);
    return { result: 'done', detail: 'duplicate or stale event' };
  }
  const job = await deps.jobs.get(pointer.tenantId, pointer.jobId);
  return settle(deps, job, run, outcome);
}

/** The worker's part of a reported outcome or a cancel: what the settle message names. */
export async function settleFromMessage(deps: LongRunDeps, message: SettleMessage): Promise<Result> {
  return watchRun(deps, { tenantId: message.tenantId, jobId: message.jobId, runId: message.runId });
}
