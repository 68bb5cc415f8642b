/**
 * What the worker does with one message: load the job, claim the run (for a firing: keyed
 * on job and scheduled time), call the target, then record the outcome or schedule the
 * next attempt. Each path ends in a run record, a queued retry, or a deliberate drop with
 * a log line (invariant 3).
 */
import { randomUUID } from 'node:crypto';
import { type FiringMessage, firing, type RunFiring, runIdOf } from '../domain/firing.js';
import type { StoredJob } from '../domain/job.js';
import { backlogMissReason, isLongTarget } from '../domain/job-rules.js';
import { startedAttempt } from '../domain/long-run.js';
import type {
  Clock,
  Degradation,
  FailureNotifier,
  FairShare,
  FiringQueue,
  JobRepository,
  Logger,
  RegionGate,
  RunMetrics,
  RunRepository,
  TargetCaller,
  TargetOutcome,
} from '../domain/ports.js';
import { passiveRunId } from '../domain/region.js';
import { hasAttemptsLeft, retryDelaySeconds } from '../domain/retry.js';
import { newRun, type StoredRun, TERMINAL_STATUSES } from '../domain/run.js';
import {
  attemptEvent,
  attemptOf,
  leaseExpired,
  lostAttempt,
  resultOf,
  transition,
} from '../domain/run-lifecycle.js';
import type { LongTarget } from '../domain/target.js';
import { admitAttempt, type CircuitDeps, type CircuitPass, recordAttempt, releaseProbe } from './circuit.js';
import { triggerDependents } from './dependencies.js';
import type { LongRunParts } from './long-runs.js';
import { afterEnded, continueBackfill, ended, wakeBuffered } from './run-ending.js';

export interface ExecuteDeps {
  jobs: JobRepository;
  runs: RunRepository;
  queue: FiringQueue;
  callTarget: TargetCaller;
  /** Told of every final failure (failed, timed out, missed). */
  notifier?: FailureNotifier;
  clock: Clock;
  logger: Logger;
  /** Runs by final status, schedule lag and duration. */
  metrics?: RunMetrics;
  /** Jitter source for retry delays. */
  random?: () => number;
  /** Places per tenant on each queue; no fair share without it. */
  fairShare?: FairShare;
  /** Starts and settles long runs (ECS, Step Functions, HTTP callbacks); they fail without it. */
  long?: LongRunParts;
  /** Which region is active; a passive region records what it receives as skipped (issue 16). */
  region?: RegionGate;
  /** The degradation level (issue 17): low-priority firings wait from 1, dependents from 3. */
  degradation?: Degradation;
  /** The circuit breakers per tenant and target (issue 17); no breaker without it. */
  circuit?: CircuitDeps;
}

/** The breaker's pass for this message's attempt, and whether its outcome was recorded. */
interface CircuitTurn {
  pass: CircuitPass | undefined;
  recorded: boolean;
}

/**
 * - `done`: handled (run recorded, retry queued, duplicate, or deliberately dropped);
 * - `retry`: another worker holds a live claim; let SQS redeliver later.
 */
export type FiringOutcome =
  | { result: 'done'; detail: string; run?: StoredRun }
  | { result: 'retry'; detail: string };

/**
 * Seconds a claim outlives the target timeout, covering the bookkeeping around the call.
 * With target timeouts capped below the worker Lambda's timeout, a lease always outlasts
 * the invocation holding it, so a redelivered message can never start a second copy of a
 * run still in progress.
 */
const LEASE_MARGIN_SECONDS = 30;

/** Starting and settling long runs: loaded at the first ECS, Step Functions or callback job. */
const longRuns = () => import('./long-runs.js');

export async function executeFiring(deps: ExecuteDeps, received: FiringMessage): Promise<FiringOutcome> {
  if (deps.region?.multiRegion) {
    const { active, activeRegion } = await deps.region.current();
    if (!active) return passive(deps, received, deps.region.region, activeRegion);
  }
  if (received.trigger === 'settle') {
    if (!deps.long) {
      deps.logger.error('settle message dropped: long runs are not wired here', { runId: received.runId });
      return { result: 'done', detail: 'no long runs' };
    }
    return (await longRuns()).settleFromMessage({ ...deps, long: deps.long }, received);
  }
  const message: RunFiring = received;
  const { tenantId, jobId } = message;
  const runId = runIdOf(message);
  const log = {
    tenantId,
    jobId,
    runId,
    correlationId: message.correlationId ?? runId,
    trigger: message.trigger,
    scheduledTime: message.scheduledTime,
  };

  const job = await readJob(deps, message);
  if (!job || job.state === 'deleting') {
    deps.logger.info('message dropped: job no longer exists', log);
    return { result: 'done', detail: 'job deleted' };
  }
  const now = deps.clock.now();
  if (message.notBefore && Date.parse(message.notBefore) > now.getTime()) {
    // Longer than SQS can delay: put it back until it is due.
    await deps.queue.send(job.priority, message);
    return { result: 'done', detail: 're-delayed' };
  }

  if (message.trigger === 'catch_up' && message.missReason) {
    return missed(deps, job, message, runId, now, message.missReason, log);
  }
  if (message.trigger === 'schedule') {
    const scheduledAt = new Date(message.scheduledTime);
    const lateSeconds = Math.round((now.getTime() - scheduledAt.getTime()) / 1000);
    const grace = job.misfireGraceSeconds;
    if (grace && lateSeconds > grace) {
      const reason = `picked up ${lateSeconds}s after its scheduled time, past the misfire grace of ${grace}s`;
      return missed(deps, job, message, runId, now, reason, log);
    }
    // A firing that waited its turn behind a running one (buffer_one) is not a backlog; one
    // that waited on an open circuit is, so a circuit's recovery runs what the catch-up rule
    // says (the latest only, or all within the window), not every firing of the outage at once.
    const backlog =
      message.notBefore && !message.circuitWaits ? null : backlogMissReason(job, scheduledAt, now);
    if (backlog) return missed(deps, job, message, runId, now, backlog, log);
  }

  // Degradation's first step: low-priority work waits. A retry's run is already in progress
  // (and may hold the job's lock), and a paused job's firing only records a skip: neither waits.
  if (
    job.priority === 'low' &&
    message.trigger !== 'retry' &&
    !(job.state === 'paused' && message.trigger === 'schedule') &&
    deps.degradation &&
    (await deps.degradation.level()) >= 1
  ) {
    return deferredForPressure(deps, deps.degradation, job, message, now, log);
  }

  const claimToken = randomUUID();
  const leaseUntil = new Date(now.getTime() + (job.target.timeoutSeconds + LEASE_MARGIN_SECONDS) * 1000);
  // Fair share: a tenant over its places on this queue waits, and others go first. A
  // paused job's firing only records a skip, so it needs no place.
  const share = job.state === 'paused' && message.trigger === 'schedule' ? undefined : deps.fairShare;
  // The circuit: a firing or retry of a paused job is recorded, not run, so it needs no pass.
  const calls = !(job.state === 'paused' && (message.trigger === 'schedule' || message.trigger === 'retry'));
  const turn: CircuitTurn = { pass: undefined, recorded: false };
  if (calls && deps.circuit) {
    const admission = await admitAttempt(deps.circuit, tenantId, job.target, claimToken, leaseUntil, now);
    if (admission.kind === 'wait') return circuitWait(deps, job, message, runId, admission, now, log);
    if (admission.kind === 'pass') turn.pass = admission.pass;
  }
  if (share && !(await share.take(tenantId, job.priority, claimToken, leaseUntil, now))) {
    if (turn.pass && deps.circuit) await releaseProbe(deps.circuit, turn.pass, now);
    return deferred(deps, job, message, now, log);
  }
  try {
    return await claimAndRun(deps, job, message, runId, claimToken, leaseUntil, now, log, turn);
  } finally {
    if (turn.pass && !turn.recorded && deps.circuit) {
      // Let through as the probe, but no attempt was made (a duplicate, a run elsewhere).
      await releaseProbe(deps.circuit, turn.pass, deps.clock.now()).catch((error: unknown) => {
        deps.logger.warn('circuit probe not released; its lease frees it', { ...log, error: String(error) });
      });
    }
    await share?.give(tenantId, job.priority, claimToken).catch((error: unknown) => {
      // The place's lease frees it anyway.
      deps.logger.warn('fair-share place not given back', { ...log, error: String(error) });
    });
  }
}

/**
 * The job a firing is for. A message that names the job's version it was made from reads
 * the job eventually consistent, half a strong read's price; a copy older than that version
 * (or none, for a job just created) is stale, so the job is read again, strongly. A firing
 * therefore never runs an older definition than the one it was sent for; a pause or delete
 * made in the second before its read may not be seen yet, as the firing was sent before it.
 * A message without a version (a schedule written before versions were carried) reads strongly.
 */
async function readJob(deps: ExecuteDeps, message: RunFiring): Promise<StoredJob | undefined> {
  const { tenantId, jobId, jobVersion } = message;
  if (jobVersion === undefined) return deps.jobs.get(tenantId, jobId);
  const seen = await deps.jobs.get(tenantId, jobId, { consistent: false });
  if (seen && seen.version >= jobVersion) return seen;
  return deps.jobs.get(tenantId, jobId);
}

/** Claims the run (taking over a lost one), calls the target, and records what happened. */
async function claimAndRun(
  deps: ExecuteDeps,
  job: StoredJob,
  message: RunFiring,
  runId: string,
  claimToken: string,
  leaseUntil: Date,
  now: Date,
  log: Record<string, unknown>,
  turn: CircuitTurn,
): Promise<FiringOutcome> {
  const { tenantId, jobId } = message;
  const exclusive =
    job.overlapPolicy !== 'allow' && !(job.state === 'paused' && message.trigger === 'schedule');
  let previous: { leaseUntil: string; token: string | null } | null = null;
  if (exclusive) {
    const lock = await deps.runs.acquireLock(
      tenantId,
      jobId,
      runId,
      leaseUntil.toISOString(),
      now,
      claimToken,
    );
    if (!lock) return overlapped(deps, job, message, runId, now, log);
    previous = lock.previous;
    await deps.runs.clearBuffered(tenantId, jobId, runId);
  }
  const release = () => (exclusive ? deps.runs.releaseLock(tenantId, jobId, runId) : Promise.resolve());
  /**
   * Not our run to work on after all (a duplicate, a run in progress elsewhere): the lock
   * goes back as this message found it (held by the run's own worker, or free), unless
   * someone wrote it since.
   */
  const giveBack = () =>
    exclusive ? deps.runs.returnLock(tenantId, jobId, runId, claimToken, previous) : Promise.resolve();
  let run: StoredRun;
  // Taken over from a worker that stopped mid-attempt: a long start looks for its task first.
  let resuming = false;
  if (message.trigger === 'retry') {
    const claimed = await deps.runs.claimAttempt(
      tenantId,
      jobId,
      runId,
      message.attempt,
      { claimToken, leaseUntil: leaseUntil.toISOString(), startedAt: now.toISOString() },
      now,
    );
    if (claimed) run = claimed;
    else {
      const taken = await takeOver(
        deps,
        job,
        await deps.runs.get(tenantId, jobId, runId),
        claimToken,
        leaseUntil,
        now,
        log,
      );
      if (!('id' in taken)) {
        await giveBack();
        return taken;
      }
      run = taken;
      resuming = true;
    }
    if (job.state === 'paused') {
      const result = await finish(
        deps,
        job,
        transition(run, 'skip', { skipReason: 'job was paused before this retry' }),
        claimToken,
        now,
      );
      await release();
      return result;
    }
  } else {
    const identity = unrecorded(job, message, runId);
    if (job.state === 'paused' && message.trigger === 'schedule') {
      // A firing that raced a pause: recorded, not run.
      const skipped = transition(
        identity,
        'skip',
        { finishedAt: now.toISOString(), skipReason: 'job is paused' },
        { isNew: true },
      );
      const claim = await deps.runs.claim(skipped, now);
      if (!claim.claimed) return unclaimed(deps, claim.existing, log);
      await ended(deps, job, skipped);
      deps.logger.info('firing skipped: job is paused', log);
      return { result: 'done', detail: 'skipped', run: skipped };
    }
    const fresh = transition(
      identity,
      'claim',
      { attempt: 1, startedAt: now.toISOString(), claimToken, leaseUntil: leaseUntil.toISOString() },
      { isNew: true },
    );
    const claim = await deps.runs.claim(fresh, now);
    if (claim.claimed) {
      run = fresh;
      if (message.trigger === 'schedule') {
        deps.metrics?.started(job.priority, now.getTime() - Date.parse(message.scheduledTime));
      }
    } else {
      const taken = await takeOver(deps, job, claim.existing, claimToken, leaseUntil, now, log);
      if (!('id' in taken)) {
        await giveBack();
        return taken;
      }
      run = taken;
      resuming = true;
    }
  }

  const started = deps.clock.now();
  let outcome: TargetOutcome;
  if (isLongTarget(job.target)) {
    if (!deps.long) {
      outcome = { kind: 'error', message: 'long-running targets are not configured for this worker' };
    } else {
      const long = await (await longRuns()).startLongAttempt(
        { ...deps, long: deps.long },
        job as StoredJob & { target: LongTarget },
        run,
        claimToken,
        log,
        resuming,
      );
      // Started: no worker waits; the run holds the lock until it is settled. To the
      // circuit, a start the target accepted is a success (how the task ends is the job's).
      if ('started' in long) {
        await noteOutcome(deps, turn, { kind: 'delivered', statusCode: null, bodyExcerpt: '' }, log);
        return long.started;
      }
      outcome = long.failed;
    }
  } else {
    outcome = await deps
      .callTarget(job.target, {
        jobId,
        runId,
        scheduledAt: run.scheduledAt,
        tenantId,
        sealedHeaders: job.secretHeaders?.ciphertext ?? null,
        attempt: run.attempt,
      })
      // Whatever goes wrong calling the target is this attempt's error, never a lost worker.
      .catch(
        (error: Error): TargetOutcome => ({
          kind: 'error',
          message: `${error.name}: ${error.message}`.slice(0, 500),
        }),
      );
  }
  const finished = deps.clock.now();
  await noteOutcome(deps, turn, outcome, log);
  const attempt = attemptOf(run.attempt, outcome, started, finished);
  const attempted = transition(run, attemptEvent(attempt.status), {
    startedAt: started.toISOString(),
    finishedAt: attempt.finishedAt,
    durationMs: attempt.durationMs,
    result: resultOf(outcome),
    error: attempt.error,
    attempts: [...(run.attempts ?? []), attempt],
  });

  if (attempt.status !== 'succeeded' && hasAttemptsLeft(job.retryPolicy, run.attempt)) {
    const delay = retryDelaySeconds(job.retryPolicy, run.attempt, deps.random);
    const retryAt = new Date(finished.getTime() + delay * 1000);
    const notBefore = retryAt.toISOString();
    const retry = firing.retry({ ...message, jobVersion: job.version }, runId, run.attempt + 1, retryAt);
    // The message goes first: if we crash after it, the retry still happens; if we crash
    // before it, this attempt's message is redelivered and the lease lets it run again.
    await deps.queue.send(job.priority, retry);
    const waiting = transition(attempted, 'await_retry', { nextAttemptAt: notBefore });
    if (!(await deps.runs.finish(waiting, claimToken, finished))) {
      // Another worker took the run over meanwhile: the lock and the run are its now.
      deps.logger.warn('retry state not recorded: claim was taken over', log);
      return { result: 'done', detail: 'claim lost' };
    }
    if (exclusive) {
      // The run is still in progress while it waits for its retry: keep the job's lock.
      const lockUntil = Date.parse(notBefore) + (job.target.timeoutSeconds + LEASE_MARGIN_SECONDS) * 1000;
      await deps.runs.acquireLock(tenantId, jobId, runId, new Date(lockUntil).toISOString(), finished);
    }
    deps.logger.info('attempt failed; retry scheduled', {
      ...log,
      attempt: run.attempt,
      status: attempt.status,
      delay,
    });
    return { result: 'done', detail: 'retry scheduled', run: waiting };
  }
  const result = await finish(deps, job, attempted, claimToken, finished);
  await release();
  if (exclusive) await wakeBuffered(deps, job);
  return result;
}

/** Tells the target's breaker what the attempt came to; a breaker that cannot be written never fails the run. */
async function noteOutcome(
  deps: ExecuteDeps,
  turn: CircuitTurn,
  outcome: TargetOutcome,
  log: Record<string, unknown>,
): Promise<void> {
  if (!turn.pass || !deps.circuit) return;
  turn.recorded = true;
  await recordAttempt(
    { ...deps.circuit, metrics: deps.metrics, logger: deps.logger },
    turn.pass,
    outcome,
    deps.clock.now(),
  ).catch((error: unknown) => {
    deps.logger.warn('circuit breaker not updated', { ...log, error: String(error) });
  });
}

/**
 * The target's circuit is open: the message goes back until the breaker's next try, and the
 * run is recorded `queued` with the reason and that time, so it is visible, not failed. The
 * attempt number does not move (a retry waiting here uses up nothing); when it is tried,
 * misfire grace and the job's catch-up rule apply to a scheduled firing.
 */
async function circuitWait(
  deps: ExecuteDeps,
  job: StoredJob,
  message: RunFiring,
  runId: string,
  wait: { until: Date; reason: string },
  now: Date,
  log: Record<string, unknown>,
): Promise<FiringOutcome> {
  const until = wait.until.getTime() > now.getTime() ? wait.until : now;
  const nextAttemptAt = until.toISOString();
  await deps.queue.send(job.priority, {
    ...firing.delayed(message, until),
    circuitWaits: (message.circuitWaits ?? 0) + 1,
  });
  const changes = { nextAttemptAt, waitReason: wait.reason };
  if (message.trigger === 'retry') {
    // The run waits for its next attempt already: only its wait changes.
    const run = await deps.runs.get(job.tenantId, job.id, runId);
    if (run?.status === 'queued') await deps.runs.markWaiting(transition(run, 'wait', changes), now);
    if (job.overlapPolicy !== 'allow') {
      // Still in progress while it waits: it keeps the job's overlap lock, as a retry does.
      const lockUntil = until.getTime() + (job.target.timeoutSeconds + LEASE_MARGIN_SECONDS) * 1000;
      await deps.runs.acquireLock(job.tenantId, job.id, runId, new Date(lockUntil).toISOString(), now);
    }
  } else {
    await deps.runs.markWaiting(
      transition(unrecorded(job, message, runId), 'wait', changes, { isNew: true }),
      now,
    );
  }
  deps.metrics?.deferredByCircuit?.(job.priority);
  deps.logger.info('run deferred: circuit open', { ...log, reason: wait.reason, nextAttemptAt });
  return { result: 'done', detail: 'circuit open' };
}

/** The first wait of a message put back by fair share, and the longest. */
const DEFER_BASE_SECONDS = 1;
const DEFER_MAX_SECONDS = 30;

/**
 * The tenant already has its share of runs in progress on this queue: the message goes
 * back with a delay (growing, jittered), not failed and not lost, and nothing is recorded
 * until it runs. A delayed firing is exempt from the backlog rule, not from misfire grace.
 */
async function deferred(
  deps: ExecuteDeps,
  job: StoredJob,
  message: RunFiring,
  now: Date,
  log: Record<string, unknown>,
): Promise<FiringOutcome> {
  const deferrals = (message.deferrals ?? 0) + 1;
  const ceiling = Math.min(DEFER_MAX_SECONDS, DEFER_BASE_SECONDS * 2 ** Math.min(deferrals - 1, 10));
  const seconds = ceiling / 2 + (deps.random ?? Math.random)() * (ceiling / 2);
  const notBefore = new Date(now.getTime() + seconds * 1000).toISOString();
  await deps.queue.send(job.priority, firing.delayed(message, new Date(notBefore), deferrals));
  deps.metrics?.deferred?.(job.priority);
  deps.logger.info('run deferred: the tenant has its share of runs in progress on this queue', {
    ...log,
    deferrals,
    notBefore,
  });
  return { result: 'done', detail: 'deferred' };
}

/**
 * The system is under pressure (degradation level 1 or more): a low-priority firing goes back
 * for a while (jittered, up to the configured wait), recorded nowhere until it runs. Nothing
 * is lost: it runs once the level is 0 again, subject to its misfire grace like any late firing.
 */
async function deferredForPressure(
  deps: ExecuteDeps,
  degradation: Degradation,
  job: StoredJob,
  message: RunFiring,
  now: Date,
  log: Record<string, unknown>,
): Promise<FiringOutcome> {
  const longest = degradation.settings.lowPriorityDeferSeconds;
  const seconds = longest / 2 + (deps.random ?? Math.random)() * (longest / 2);
  const notBefore = new Date(now.getTime() + seconds * 1000);
  await deps.queue.send(job.priority, firing.delayed(message, notBefore));
  deps.metrics?.degraded?.('low-priority-deferred');
  deps.logger.info('low-priority run deferred: the system is degraded', {
    ...log,
    notBefore: notBefore.toISOString(),
  });
  return { result: 'done', detail: 'deferred (degraded)' };
}

/** Picked up too late to be worth running (misfire grace, or a backlog's catch-up rule): recorded, not run. */
async function missed(
  deps: ExecuteDeps,
  job: StoredJob,
  message: RunFiring,
  runId: string,
  now: Date,
  reason: string,
  log: Record<string, unknown>,
): Promise<FiringOutcome> {
  const lateSeconds = Math.round((now.getTime() - Date.parse(message.scheduledTime)) / 1000);
  const run = transition(
    unrecorded(job, message, runId),
    'miss',
    { finishedAt: now.toISOString(), skipReason: reason },
    { isNew: true },
  );
  const claim = await deps.runs.claim(run, now);
  if (!claim.claimed) {
    // The occurrence had started, and its worker was lost: too late to try again, but not
    // to be left `running` for ever. Its lost attempt ends it, failed.
    if (leaseExpired(claim.existing, now)) {
      const token = randomUUID();
      const lease = new Date(now.getTime() + LEASE_MARGIN_SECONDS * 1000);
      const taken = await takeOver(deps, job, claim.existing, token, lease, now, log, { retry: false });
      return 'id' in taken ? { result: 'done', detail: taken.status, run: taken } : taken;
    }
    return unclaimed(deps, claim.existing, log);
  }
  await ended(deps, job, run);
  deps.logger.warn('firing missed', { ...log, lateSeconds });
  return { result: 'done', detail: 'missed', run };
}

/**
 * A firing that reached a passive region (its schedule enabled by hand, a message left on
 * its queues from before a failover, or the replication lag after one): its target is not
 * called. It is recorded as skipped under an id of its own, so the record can never replace
 * the active region's run of the same occurrence when the tables replicate.
 */
async function passive(
  deps: ExecuteDeps,
  message: FiringMessage,
  region: string,
  activeRegion: string,
): Promise<FiringOutcome> {
  const reason = `${region} is passive: ${activeRegion} is the active region, so the target was not called here`;
  const log = { tenantId: message.tenantId, jobId: message.jobId, trigger: message.trigger, region };
  deps.metrics?.passiveSkipped?.();
  if (message.trigger === 'settle') {
    // The active region's sweep settles the run; nothing is recorded for it here.
    deps.logger.warn('settle message dropped: this region is passive', { ...log, runId: message.runId });
    return { result: 'done', detail: 'passive' };
  }
  const job = await deps.jobs.get(message.tenantId, message.jobId);
  if (!job) {
    deps.logger.info('message dropped: job no longer exists', log);
    return { result: 'done', detail: 'job deleted' };
  }
  const now = deps.clock.now();
  const runId = passiveRunId(runIdOf(message), region);
  const run = transition(
    unrecorded(job, message, runId),
    'skip',
    { finishedAt: now.toISOString(), skipReason: reason },
    { isNew: true },
  );
  const claim = await deps.runs.claim(run, now);
  deps.logger.warn('firing skipped: this region is passive', { ...log, runId, activeRegion });
  if (claim.claimed)
    deps.metrics?.ended('skipped', job.priority, null, {
      tenantId: job.tenantId,
      jobId: job.id,
      jobName: job.name,
      runId,
    });
  return { result: 'done', detail: 'passive', ...(claim.claimed ? { run } : {}) };
}

/** How long a firing waiting for the lock first waits before it checks again, and at most. */
const BUFFER_POLL_SECONDS = 10;
const BUFFER_POLL_MAX_SECONDS = 300;

/** The job's previous run is still in progress: skip this firing, or let it wait its turn. */
async function overlapped(
  deps: ExecuteDeps,
  job: StoredJob,
  message: RunFiring,
  runId: string,
  now: Date,
  log: Record<string, unknown>,
): Promise<FiringOutcome> {
  const lock = await deps.runs.readLock(job.tenantId, job.id);
  // Looks again later and later (a long run may hold the lock for hours); its end wakes the
  // firing waiting behind it at once (wakeBuffered), so the wait is not what makes it late.
  const waits = (message.deferrals ?? 0) + 1;
  const notBefore = new Date(
    now.getTime() +
      Math.min(BUFFER_POLL_MAX_SECONDS, BUFFER_POLL_SECONDS * 2 ** Math.min(waits - 1, 10)) * 1000,
  );
  // The lock came free since it was refused (its run just ended), or the waiting place is
  // this firing's own: it is never skipped for that, it tries again.
  const freed = !lock.holder || (lock.leaseUntil !== undefined && lock.leaseUntil < now.toISOString());
  if (freed || (job.overlapPolicy === 'buffer_one' && lock.buffered === runId && message.notBefore)) {
    await deps.queue.send(job.priority, firing.delayed(message, freed ? now : notBefore, waits));
    return { result: 'done', detail: freed ? 'lock freed meanwhile: tried again' : 'buffered' };
  }
  if (message.trigger === 'retry' || message.trigger === 'backfill') {
    // A retry's run is already in progress, waiting for this attempt; a backfill never skips
    // its own occurrences. Either waits for the lock, however late it comes.
    await deps.queue.send(job.priority, firing.delayed(message, notBefore, waits));
    deps.logger.info(`${message.trigger} waits for the running run`, { ...log, runningRun: lock.holder });
    return { result: 'done', detail: `${message.trigger} waits for the lock` };
  }
  const record = unrecorded(job, message, runId);
  if (
    job.overlapPolicy === 'buffer_one' &&
    (await deps.runs.bufferBehindLock(job.tenantId, job.id, runId, now))
  ) {
    await deps.queue.send(job.priority, firing.delayed(message, notBefore, waits));
    await deps.runs.putQueued(
      transition(record, 'buffer', { nextAttemptAt: notBefore.toISOString() }, { isNew: true }),
      now,
    );
    deps.logger.info('firing waits behind the running run', { ...log, runningRun: lock.holder });
    return { result: 'done', detail: 'buffered' };
  }
  const reason =
    job.overlapPolicy === 'buffer_one'
      ? `another firing is already waiting behind run ${lock.holder ?? 'in progress'}`
      : `previous run ${lock.holder ?? ''} is still running`.replace('  ', ' ');
  const skipped = transition(
    record,
    'skip',
    { finishedAt: now.toISOString(), skipReason: reason },
    { isNew: true },
  );
  const claim = await deps.runs.claim(skipped, now);
  if (!claim.claimed) return unclaimed(deps, claim.existing, log);
  await ended(deps, job, skipped);
  deps.logger.info('firing skipped: overlap', { ...log, reason });
  return { result: 'done', detail: 'skipped', run: skipped };
}

/**
 * A run not yet recorded, as a message names it: the source of its first move. A retry's
 * message that finds no run stands for the scheduled occurrence it retries.
 */
function unrecorded(job: StoredJob, message: RunFiring, runId: string): StoredRun {
  return newRun({
    id: runId,
    jobId: job.id,
    tenantId: job.tenantId,
    scheduledAt: new Date(message.scheduledTime).toISOString(),
    trigger: message.trigger === 'retry' ? 'schedule' : message.trigger,
    status: 'queued',
    attempt: 0,
  });
}

async function finish(
  deps: ExecuteDeps,
  job: StoredJob,
  run: StoredRun,
  claimToken: string,
  now: Date,
): Promise<FiringOutcome> {
  // An ended run: every caller made it so through transition(), which drops the lease.
  const finalRun = run;
  const log = { tenantId: run.tenantId, jobId: run.jobId, runId: run.id };
  if (!(await deps.runs.finish(finalRun, claimToken, now))) {
    deps.logger.warn('run outcome not recorded: claim was taken over', log);
    return { result: 'done', detail: 'claim lost' };
  }
  const finished = { ...log, status: run.status, attempt: run.attempt, durationMs: run.durationMs };
  // A success is in the run record and the metrics already; a log line per success would
  // be most of the log bill (about 550 bytes a run), so it is a debug line.
  if (run.status === 'succeeded') deps.logger.debug?.('run finished', finished);
  else deps.logger.info('run finished', finished);
  await afterEnded(deps, job, finalRun);
  return { result: 'done', detail: run.status, run: finalRun };
}

/**
 * The run exists: a duplicate delivery, or a run whose worker stopped mid-attempt (its lease
 * ran out). The lost attempt counts: the run continues with the next attempt if the retry
 * policy allows one, and is recorded as failed if not.
 */
async function takeOver(
  deps: ExecuteDeps,
  job: StoredJob,
  existing: StoredRun | undefined,
  claimToken: string,
  leaseUntil: Date,
  now: Date,
  log: Record<string, unknown>,
  options: { retry: boolean } = { retry: true },
): Promise<StoredRun | FiringOutcome> {
  if (!existing || !leaseExpired(existing, now)) return unclaimed(deps, existing, log, job);
  const k = existing.attempt;
  if (options.retry && isLongTarget(job.target) && !startedAttempt(existing)) {
    // The worker stopped while starting a long attempt: resume the same attempt, whose start
    // is idempotent (its task or execution, if it was started, is found, not started again).
    const resumed = await deps.runs.claimAttempt(
      existing.tenantId,
      existing.jobId,
      existing.id,
      k,
      {
        claimToken,
        leaseUntil: leaseUntil.toISOString(),
        startedAt: existing.startedAt ?? now.toISOString(),
      },
      now,
      { status: 'running', attempt: k },
    );
    if (!resumed)
      return unclaimed(deps, await deps.runs.get(existing.tenantId, existing.jobId, existing.id), log, job);
    deps.logger.warn('resuming a long attempt whose worker stopped while starting it', {
      ...log,
      attempt: k,
    });
    return transition(resumed, 'take_over');
  }
  const lost = lostAttempt(existing, now);
  const next = options.retry && hasAttemptsLeft(job.retryPolicy, k) ? k + 1 : k;
  const claimed = await deps.runs.claimAttempt(
    existing.tenantId,
    existing.jobId,
    existing.id,
    next,
    { claimToken, leaseUntil: leaseUntil.toISOString(), startedAt: now.toISOString() },
    now,
    { status: 'running', attempt: k },
  );
  if (!claimed)
    return unclaimed(deps, await deps.runs.get(existing.tenantId, existing.jobId, existing.id), log, job);
  const attempts = [...(claimed.attempts ?? []), lost];
  deps.logger.warn('took over a run whose worker stopped', { ...log, lostAttempt: k });
  if (next > k) return transition(claimed, 'take_over', { attempts });
  const failed = transition(claimed, 'give_up', {
    attempts,
    error: lost.error,
    result: null,
    finishedAt: lost.finishedAt,
    durationMs: lost.durationMs,
  });
  return finish(deps, job, failed, claimToken, now);
}

async function unclaimed(
  deps: ExecuteDeps,
  existing: StoredRun | undefined,
  log: Record<string, unknown>,
  job?: StoredJob,
): Promise<FiringOutcome> {
  if (
    existing?.status === 'running' &&
    existing.leaseUntil &&
    Date.parse(existing.leaseUntil) > deps.clock.now().getTime()
  ) {
    return { result: 'retry', detail: 'run in progress elsewhere' };
  }
  deps.logger.info('duplicate or stale message ignored', { ...log, status: existing?.status });
  // The worker that ran it may have stopped before telling the dependents: tell them again.
  if (existing?.status === 'succeeded' && existing.finishedAt) {
    await triggerDependents(deps, existing.tenantId, existing.jobId, existing.finishedAt);
  }
  // Nor, for a backfill, to send its next occurrence (a cancelled one's turn passes too).
  if (job && existing?.trigger === 'backfill' && TERMINAL_STATUSES.has(existing.status)) {
    await continueBackfill(deps, job, existing);
  }
  if (existing?.status === 'running' && startedAttempt(existing)) {
    // A long attempt in progress: its watch settles it; this message is done.
    return { result: 'done', detail: 'long run in progress' };
  }
  return {
    result: 'done',
    detail: existing && TERMINAL_STATUSES.has(existing.status) ? 'duplicate' : 'stale',
  };
}
