/**
 * The run lifecycle as a table: which moves a run may make from which status, and what
 * each move leaves on the run. The expected table is written out here, independently of
 * LIFECYCLE, so a changed row in the domain shows up as a failing cell.
 */
import { describe, expect, it } from 'vitest';
import type { TargetOutcome } from '../../functions/domain/ports.js';
import { RUN_STATUSES, type RunStatus, type StoredRun } from '../../functions/domain/run.js';
import {
  attemptEvent,
  attemptOf,
  canTake,
  InvalidTransitionError,
  LIFECYCLE,
  leaseExpired,
  lostAttempt,
  NEW,
  type RunEvent,
  resultOf,
  transition,
} from '../../functions/domain/run-lifecycle.js';

type From = RunStatus | typeof NEW;
const FROMS: readonly From[] = [NEW, ...RUN_STATUSES];

/** The documented lifecycle: for each event, the statuses it may start from and where it leads. */
const EXPECTED: Record<RunEvent, { from: From[]; to: RunStatus }> = {
  claim: { from: ['new', 'queued'], to: 'running' },
  skip: { from: ['new', 'queued', 'running'], to: 'skipped' },
  miss: { from: ['new'], to: 'missed' },
  buffer: { from: ['new'], to: 'queued' },
  wait: { from: ['new', 'queued'], to: 'queued' },
  succeed: { from: ['running'], to: 'succeeded' },
  fail: { from: ['running'], to: 'failed' },
  time_out: { from: ['running'], to: 'timed_out' },
  await_retry: { from: ['failed', 'timed_out'], to: 'queued' },
  claim_retry: { from: ['queued'], to: 'running' },
  take_over: { from: ['running'], to: 'running' },
  give_up: { from: ['running'], to: 'failed' },
  start_long: { from: ['running'], to: 'running' },
  cancel: { from: ['queued', 'running'], to: 'cancelled' },
};
const EVENTS = Object.keys(EXPECTED) as RunEvent[];
const ENDED: readonly RunStatus[] = ['succeeded', 'failed', 'timed_out', 'skipped', 'missed', 'cancelled'];
/** Moves after which no worker holds the run though it goes on: a long attempt is watched instead. */
const UNLEASED_MOVES: readonly RunEvent[] = ['start_long'];

const LEASE = '2027-03-01T10:01:00.000Z';
const TOKEN = 'claim-token-1';

/** A run in `status`, held by a worker (lease and claim token), as the table stores one mid-flight. */
function runIn(status: RunStatus): StoredRun {
  return {
    id: 'run_20270301T100000000Z',
    jobId: 'job_A',
    tenantId: 'acme',
    scheduledAt: '2027-03-01T10:00:00.000Z',
    trigger: 'schedule',
    status,
    attempt: 1,
    startedAt: '2027-03-01T10:00:01.000Z',
    finishedAt: null,
    durationMs: null,
    result: null,
    error: null,
    skipReason: null,
    attempts: [],
    nextAttemptAt: null,
    leaseUntil: LEASE,
    claimToken: TOKEN,
  };
}

function move(event: RunEvent, from: From, changes: Partial<StoredRun> = {}): StoredRun {
  return from === NEW
    ? transition(runIn('queued'), event, changes, { isNew: true })
    : transition(runIn(from), event, changes);
}

describe('the lifecycle table', () => {
  it('lists exactly the documented events and moves', () => {
    expect(Object.keys(LIFECYCLE).sort()).toEqual([...EVENTS].sort());
    for (const event of EVENTS) {
      expect([...LIFECYCLE[event].from].sort(), event).toEqual([...EXPECTED[event].from].sort());
      expect(LIFECYCLE[event].to, event).toEqual([EXPECTED[event].to]);
      expect(LIFECYCLE[event].needs.length, `${event} says what it needs`).toBeGreaterThan(0);
    }
  });

  const cells = EVENTS.flatMap((event) => FROMS.map((from) => ({ event, from })));

  it.each(cells)('$event from $from: canTake says what the table says', ({ event, from }) => {
    expect(canTake(event, from)).toBe(EXPECTED[event].from.includes(from));
  });

  const allowed = cells.filter(({ event, from }) => EXPECTED[event].from.includes(from));
  const refused = cells.filter(({ event, from }) => !EXPECTED[event].from.includes(from));

  it.each(refused)('$event from $from is refused, and the run is left as it was', ({ event, from }) => {
    const before = runIn(from === NEW ? 'queued' : from);
    const copy = structuredClone(before);
    let thrown: unknown;
    try {
      if (from === NEW) transition(before, event, {}, { isNew: true });
      else transition(before, event, { skipReason: 'should not stick' });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidTransitionError);
    expect(thrown).toMatchObject({ event, from, message: `a run cannot ${event} from ${from}` });
    expect(before).toEqual(copy);
  });

  it.each(allowed)(
    '$event from $from is made: the status is set and the changes applied',
    ({ event, from }) => {
      const to = EXPECTED[event].to;
      const after = move(event, from, { skipReason: 'why', attempt: 2 });
      expect(after.status).toBe(to);
      expect(after.skipReason).toBe('why');
      expect(after.attempt).toBe(2);
      // The claim token stays, so a stale worker's conditional write still fails against it.
      expect(after.claimToken).toBe(TOKEN);
      if (ENDED.includes(to) || to === 'queued' || UNLEASED_MOVES.includes(event)) {
        // Ended, waiting for its next attempt, or a long attempt watched: no worker holds it.
        expect(after).not.toHaveProperty('leaseUntil');
      } else {
        expect(after.leaseUntil).toBe(LEASE);
      }
    },
  );

  it('no move leaves an ended status but await_retry (a failed attempt with attempts left)', () => {
    for (const status of ENDED) {
      const leaving = EVENTS.filter((event) => canTake(event, status) && event !== 'await_retry');
      expect(leaving, status).toEqual([]);
    }
    expect(EVENTS.filter((event) => canTake(event, 'cancelled'))).toEqual([]);
  });

  it('start_long leaves the run running with its claim token, but no lease: the watch follows it', () => {
    const watched = transition(runIn('running'), 'start_long', {
      deadlineAt: '2027-03-01T11:00:01.000Z',
      watchShard: 'W#3',
      watchAt: '2027-03-01T10:01:01.000Z',
    });
    expect(watched).toMatchObject({
      status: 'running',
      claimToken: TOKEN,
      deadlineAt: '2027-03-01T11:00:01.000Z',
      watchShard: 'W#3',
    });
    expect(watched).not.toHaveProperty('leaseUntil');
  });

  it('cancel ends a queued run and a running (long) one, and nothing that has ended', () => {
    for (const status of ['queued', 'running'] as const) {
      const cancelled = transition(runIn(status), 'cancel', { cancelledBy: 'key_1' });
      expect(cancelled).toMatchObject({ status: 'cancelled', cancelledBy: 'key_1' });
      expect(cancelled).not.toHaveProperty('leaseUntil');
    }
    for (const status of ENDED) {
      expect(() => transition(runIn(status), 'cancel'), status).toThrow(InvalidTransitionError);
    }
    // A firing not yet recorded has nothing to cancel.
    expect(() => transition(runIn('queued'), 'cancel', {}, { isNew: true })).toThrow(InvalidTransitionError);
  });

  it('a new lease given with a claim is the one the run keeps', () => {
    const claimed = transition(
      runIn('queued'),
      'claim',
      { leaseUntil: '2027-03-01T11:00:00.000Z' },
      { isNew: true },
    );
    expect(claimed).toMatchObject({ status: 'running', leaseUntil: '2027-03-01T11:00:00.000Z' });
  });

  it('does not change the run it is given', () => {
    const run = runIn('running');
    transition(run, 'succeed', { finishedAt: '2027-03-01T10:00:05.000Z' });
    expect(run.status).toBe('running');
    expect(run.leaseUntil).toBe(LEASE);
    expect(run.finishedAt).toBeNull();
  });

  it('refuses a destination the move does not lead to', () => {
    expect(() => transition(runIn('running'), 'succeed', {}, { to: 'failed' })).toThrow(
      InvalidTransitionError,
    );
    expect(() => transition(runIn('running'), 'give_up', {}, { to: 'running' })).toThrow(
      InvalidTransitionError,
    );
  });

  it('judges a recorded queued run by its status, and an unrecorded one as new', () => {
    // Missing and buffering are only for a firing not yet recorded.
    expect(() => transition(runIn('queued'), 'miss')).toThrow(InvalidTransitionError);
    expect(transition(runIn('queued'), 'miss', {}, { isNew: true }).status).toBe('missed');
    // A retry's claim is of a recorded run only.
    expect(() => transition(runIn('queued'), 'claim_retry', {}, { isNew: true })).toThrow(
      InvalidTransitionError,
    );
  });
});

describe('what an attempt comes to', () => {
  const started = new Date('2027-03-01T10:00:00.000Z');
  const finished = new Date('2027-03-01T10:00:02.500Z');

  const cases: {
    name: string;
    outcome: TargetOutcome;
    status: 'succeeded' | 'failed' | 'timed_out';
    statusCode: number | null;
    error: { type: string; message: string } | null;
    result: StoredRun['result'];
  }[] = [
    {
      name: 'an HTTP 200',
      outcome: { kind: 'response', statusCode: 200, bodyExcerpt: 'done' },
      status: 'succeeded',
      statusCode: 200,
      error: null,
      result: { statusCode: 200, bodyExcerpt: 'done' },
    },
    {
      name: 'an HTTP 299 (any 2xx)',
      outcome: { kind: 'response', statusCode: 299, bodyExcerpt: '' },
      status: 'succeeded',
      statusCode: 299,
      error: null,
      result: { statusCode: 299, bodyExcerpt: '' },
    },
    {
      name: 'an HTTP 302 (not followed: not a success)',
      outcome: { kind: 'response', statusCode: 302, bodyExcerpt: '' },
      status: 'failed',
      statusCode: 302,
      error: { type: 'http_status', message: 'target answered HTTP 302' },
      result: { statusCode: 302, bodyExcerpt: '' },
    },
    {
      name: 'an HTTP 500',
      outcome: { kind: 'response', statusCode: 500, bodyExcerpt: 'boom' },
      status: 'failed',
      statusCode: 500,
      error: { type: 'http_status', message: 'target answered HTTP 500' },
      result: { statusCode: 500, bodyExcerpt: 'boom' },
    },
    {
      name: 'an AWS target that accepted the call',
      outcome: { kind: 'delivered', statusCode: null, bodyExcerpt: '{"MessageId":"m-1"}' },
      status: 'succeeded',
      statusCode: null,
      error: null,
      result: { statusCode: null, bodyExcerpt: '{"MessageId":"m-1"}' },
    },
    {
      name: 'a function error with its payload',
      outcome: {
        kind: 'rejected',
        type: 'FunctionError',
        message: 'Unhandled',
        statusCode: 200,
        bodyExcerpt: '{"errorMessage":"x"}',
      },
      status: 'failed',
      statusCode: 200,
      error: { type: 'FunctionError', message: 'Unhandled' },
      result: { statusCode: 200, bodyExcerpt: '{"errorMessage":"x"}' },
    },
    {
      name: 'an AWS refusal with nothing to show',
      outcome: { kind: 'rejected', type: 'AccessDenied', message: 'no', statusCode: 403, bodyExcerpt: null },
      status: 'failed',
      statusCode: 403,
      error: { type: 'AccessDenied', message: 'no' },
      result: null,
    },
    {
      name: 'a timeout',
      outcome: { kind: 'timeout', message: 'no answer within 30s' },
      status: 'timed_out',
      statusCode: null,
      error: { type: 'timeout', message: 'no answer within 30s' },
      result: null,
    },
    {
      name: 'a network error',
      outcome: { kind: 'error', message: 'ECONNREFUSED' },
      status: 'failed',
      statusCode: null,
      error: { type: 'network', message: 'ECONNREFUSED' },
      result: null,
    },
  ];

  it.each(cases)('$name', ({ outcome, status, statusCode, error, result }) => {
    expect(attemptOf(3, outcome, started, finished)).toEqual({
      attempt: 3,
      status,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationMs: 2500,
      statusCode,
      error,
    });
    expect(resultOf(outcome)).toEqual(result);
    expect(attemptEvent(status)).toBe(
      status === 'succeeded' ? 'succeed' : status === 'timed_out' ? 'time_out' : 'fail',
    );
  });

  it('never records a negative duration when the clock stepped back', () => {
    expect(attemptOf(1, { kind: 'error', message: 'x' }, finished, started).durationMs).toBe(0);
  });
});

describe('a worker lost mid-attempt', () => {
  const now = new Date('2027-03-01T10:05:00.000Z');

  it('leaves its attempt failed, with an unknown outcome, timed from its start', () => {
    const run = { ...runIn('running'), attempt: 2, startedAt: '2027-03-01T10:04:00.000Z' };
    expect(lostAttempt(run, now)).toEqual({
      attempt: 2,
      status: 'failed',
      startedAt: '2027-03-01T10:04:00.000Z',
      finishedAt: now.toISOString(),
      durationMs: 60_000,
      statusCode: null,
      error: { type: 'worker_lost', message: 'the worker stopped during attempt 2; its outcome is unknown' },
    });
  });

  it('counts from now when the run never recorded its start', () => {
    const run = { ...runIn('running'), startedAt: null };
    expect(lostAttempt(run, now)).toMatchObject({ startedAt: now.toISOString(), durationMs: 0 });
  });

  it('may be taken over only once its lease has run out, and only while running', () => {
    const running = runIn('running');
    expect(leaseExpired(running, new Date('2027-03-01T10:00:59.999Z'))).toBe(false);
    expect(leaseExpired(running, new Date(LEASE))).toBe(false);
    expect(leaseExpired(running, new Date('2027-03-01T10:01:00.001Z'))).toBe(true);
    expect(leaseExpired({ ...running, status: 'queued' }, now)).toBe(false);
    const { leaseUntil: _none, ...unleased } = running;
    expect(leaseExpired(unleased, now)).toBe(false);
    expect(leaseExpired(undefined, now)).toBe(false);
  });
});
