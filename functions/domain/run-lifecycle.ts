/**
 * The run lifecycle: every status a run can have, every move between them, and what each
 * move needs, written once. The worker's use case makes every change of a run's status
 * through `transition`, which refuses a move the table does not list, so a new status or
 * move (cancel, a long run's deadline) is one row here and its tests.
 *
 *   (new) ──claim──▶ running ──succeed/fail/time_out──▶ succeeded | failed | timed_out
 *     │                │   ▲                               │ (failed, timed_out with attempts left)
 *     │                │   └───────────claim_retry─── queued ◀──await_retry──┘
 *     │                ├──take_over──▶ running (next attempt; the lost one recorded failed)
 *     │                ├──give_up────▶ failed (lost attempt, none left)
 *     │                └──skip───────▶ skipped (paused before a retry)
 *     ├──skip──▶ skipped (job paused, or overlap)      ├──miss──▶ missed (misfire grace, backlog)
 *     ├──buffer──▶ queued (waits behind the running run; claim takes it)
 *     └──wait────▶ queued (its target's circuit is open; claim takes it when it is tried)
 *
 * Long runs (ECS, Step Functions, HTTP callbacks): running ──start_long──▶ running (no
 * worker waits: the attempt is watched until an event, a callback, a poll or its deadline
 * settles it with succeed/fail/time_out). queued | running (long) ──cancel──▶ cancelled.
 */
import type { TargetOutcome } from './ports.js';
import { type AttemptRecord, type RunStatus, type StoredRun, TERMINAL_STATUSES } from './run.js';

/** A run not yet recorded: the source of a run's first move. */
export const NEW = 'new' as const;
type From = RunStatus | typeof NEW;

export interface Move {
  from: readonly From[];
  to: readonly RunStatus[];
  /** What the move needs to be taken, for the reader and the tests. */
  needs: string;
}

export const LIFECYCLE = {
  claim: {
    from: [NEW, 'queued'],
    to: ['running'],
    needs:
      'a conditional write: no record yet, or one queued at attempt 0 (run now, a buffered firing); a lease',
  },
  skip: {
    from: [NEW, 'queued', 'running'],
    to: ['skipped'],
    needs: 'a reason: the job is paused, or its previous run still holds the overlap lock',
  },
  miss: {
    from: [NEW],
    to: ['missed'],
    needs: 'a reason: picked up past the misfire grace, or overtaken in a backlog by the catch-up rule',
  },
  buffer: {
    from: [NEW],
    to: ['queued'],
    needs: "the job's single waiting place behind its overlap lock (buffer_one)",
  },
  wait: {
    from: [NEW, 'queued'],
    to: ['queued'],
    needs:
      "its target's circuit is open: the reason, and when it will be tried (nextAttemptAt); the attempt number unchanged",
  },
  succeed: { from: ['running'], to: ['succeeded'], needs: 'the claim token of the attempt' },
  fail: { from: ['running'], to: ['failed'], needs: 'the claim token of the attempt' },
  time_out: { from: ['running'], to: ['timed_out'], needs: 'the claim token of the attempt' },
  await_retry: {
    from: ['failed', 'timed_out'],
    to: ['queued'],
    needs: 'attempts left under the retry policy; the retry message sent first; nextAttemptAt',
  },
  claim_retry: {
    from: ['queued'],
    to: ['running'],
    needs: 'a conditional write: queued at attempt k-1 (k ≥ 2); a lease',
  },
  take_over: {
    from: ['running'],
    to: ['running'],
    needs: 'the lease ran out (its worker stopped); attempts left; the lost attempt recorded as failed',
  },
  give_up: {
    from: ['running'],
    to: ['failed'],
    needs: 'the lease ran out and no attempt is left: the lost attempt is the last',
  },
  start_long: {
    from: ['running'],
    to: ['running'],
    needs:
      'the claim token; the target accepted the attempt (a task, an execution, a 2xx to a callback call): a deadline, the watch index, no lease',
  },
  cancel: {
    from: ['queued', 'running'],
    to: ['cancelled'],
    needs:
      'a request naming who cancels; a running run only when it is long (a synchronous call ends within its timeout); the run as read (optimistic)',
  },
} as const satisfies Record<string, Move>;

export type RunEvent = keyof typeof LIFECYCLE;

export class InvalidTransitionError extends Error {
  constructor(
    readonly event: RunEvent,
    readonly from: From,
  ) {
    super(`a run cannot ${event} from ${from}`);
    this.name = 'InvalidTransitionError';
  }
}

/** Whether the table lets a run in `from` take `event`. */
export function canTake(event: RunEvent, from: From): boolean {
  return (LIFECYCLE[event].from as readonly From[]).includes(from);
}

/**
 * The run after `event`, with `changes` applied: the only way the worker changes a run's
 * status. A run not yet recorded is passed with status `new` implied by `isNew`.
 */
export function transition(
  run: StoredRun,
  event: RunEvent,
  changes: Partial<Omit<StoredRun, 'status'>> = {},
  options: { isNew?: boolean; to?: RunStatus } = {},
): StoredRun {
  const from: From = options.isNew ? NEW : run.status;
  if (!canTake(event, from)) throw new InvalidTransitionError(event, from);
  const targets = LIFECYCLE[event].to as readonly RunStatus[];
  const to = options.to ?? targets[0]!;
  if (!targets.includes(to)) throw new InvalidTransitionError(event, from);
  const next: StoredRun = { ...run, ...changes, status: to };
  // A run that has ended, or waits for its next attempt, or whose long attempt is watched,
  // has no worker holding it: no lease. (The claim token stays: a stale worker's
  // conditional write must still fail against it.)
  if (TERMINAL_STATUSES.has(to) || to === 'queued' || event === 'start_long') delete next.leaseUntil;
  return next;
}

/** The event an attempt's outcome is. */
export function attemptEvent(status: AttemptRecord['status']): 'succeed' | 'fail' | 'time_out' {
  return status === 'succeeded' ? 'succeed' : status === 'timed_out' ? 'time_out' : 'fail';
}

/** What one attempt came to, from what the target said. */
export function attemptOf(n: number, outcome: TargetOutcome, started: Date, finished: Date): AttemptRecord {
  const common = {
    attempt: n,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: Math.max(0, finished.getTime() - started.getTime()),
  };
  switch (outcome.kind) {
    case 'response': {
      const ok = outcome.statusCode >= 200 && outcome.statusCode < 300;
      return {
        ...common,
        status: ok ? 'succeeded' : 'failed',
        statusCode: outcome.statusCode,
        error: ok ? null : { type: 'http_status', message: `target answered HTTP ${outcome.statusCode}` },
      };
    }
    case 'delivered':
      return { ...common, status: 'succeeded', statusCode: outcome.statusCode, error: null };
    case 'rejected':
      return {
        ...common,
        status: 'failed',
        statusCode: outcome.statusCode,
        error: { type: outcome.type, message: outcome.message },
      };
    case 'timeout':
      return {
        ...common,
        status: 'timed_out',
        statusCode: null,
        error: { type: 'timeout', message: outcome.message },
      };
    default:
      return {
        ...common,
        status: 'failed',
        statusCode: null,
        error: { type: 'network', message: outcome.message },
      };
  }
}

/** The result a run shows for an outcome: what the target answered, when it answered. */
export function resultOf(outcome: TargetOutcome): StoredRun['result'] {
  if (outcome.kind === 'response' || outcome.kind === 'delivered') {
    return { statusCode: outcome.statusCode, bodyExcerpt: outcome.bodyExcerpt };
  }
  if (outcome.kind === 'rejected' && outcome.bodyExcerpt !== null) {
    return { statusCode: outcome.statusCode, bodyExcerpt: outcome.bodyExcerpt };
  }
  return null;
}

/** The attempt a worker that stopped mid-run leaves behind: failed, its outcome unknown. */
export function lostAttempt(run: StoredRun, now: Date): AttemptRecord {
  const k = run.attempt;
  const startedAt = run.startedAt ?? now.toISOString();
  return {
    attempt: k,
    status: 'failed',
    startedAt,
    finishedAt: now.toISOString(),
    durationMs: Math.max(0, now.getTime() - Date.parse(startedAt)),
    statusCode: null,
    error: { type: 'worker_lost', message: `the worker stopped during attempt ${k}; its outcome is unknown` },
  };
}

/** Whether a running run's claim has lapsed, so another worker may take it over. */
export function leaseExpired(run: StoredRun | undefined, now: Date): boolean {
  return (
    run?.status === 'running' && run.leaseUntil !== undefined && Date.parse(run.leaseUntil) < now.getTime()
  );
}
