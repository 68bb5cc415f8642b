/**
 * What the worker does with a firing, over the in-memory ports: what runs, what is
 * recorded, what is sent back onto the queues, who is told. Time is a ManualClock; retry
 * and deferral jitter come from an injected `random`. A worker "in the middle of a call"
 * is a target call the test holds open.
 */
import { describe, expect, it } from 'vitest';
import { type FiringMessage, firing } from '../../functions/domain/firing.js';
import { firingMessageSchema } from '../../functions/domain/firing-schema.js';
import type { StoredJob } from '../../functions/domain/job.js';
import { scheduledRunId } from '../../functions/domain/run.js';
import { executeFiring } from '../../functions/usecases/execute-firing.js';
import { outcomes } from '../fakes/in-memory.js';
import { aJob, SECOND, TENANT, type WorkerWorld, workerWorld } from '../fakes/world.js';

/** An instant on the test day, e.g. at('10:05:00'). */
const at = (time: string) => `2027-03-01T${time}.000Z`;

/** The message Scheduler puts on the queue for the occurrence at `time`. */
function fired(job: Pick<StoredJob, 'tenantId' | 'id'>, time: string): FiringMessage {
  return firingMessageSchema.parse({ ...firing.scheduleTemplate(job), scheduledTime: at(time) });
}

const runIdAt = (time: string) => scheduledRunId(new Date(at(time)));

/** Lets a worker started without `await` get as far as it can (no timers, only the event loop). */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve));
  if (!condition()) throw new Error('the worker never got there');
}

/** Starts a firing whose target call the test holds open: a worker busy with it. */
async function startHeld(w: WorkerWorld, message: FiringMessage) {
  w.target.hold();
  const before = w.target.held.length;
  const pending = executeFiring(w.deps, message);
  await until(() => w.target.held.length > before);
  const held = w.target.held.at(-1)!;
  return { pending, answer: held.answer };
}

describe('reading the job', () => {
  it('reads the job eventually consistent when that copy is as new as the version the firing names', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob({ version: 3 }));
    w.clock.set(at('10:00:01'));

    const outcome = await executeFiring(w.deps, fired(job, '10:00:00'));

    expect(outcome).toMatchObject({ result: 'done', detail: 'succeeded' });
    expect(w.jobs.calls).toMatchObject({ 'get:eventual': 1 });
    expect(w.jobs.calls['get:strong']).toBeUndefined();
  });

  it('reads again, strongly, when the eventually consistent copy is older than the firing: the new target is called', async () => {
    const w = workerWorld();
    const v1 = w.jobs.seed(aJob({ version: 1 }));
    const replica = w.jobs.lag(TENANT, v1.id);
    if (v1.target.type !== 'http') throw new Error('an HTTP job');
    const v2 = w.jobs.seed({
      ...v1,
      version: 2,
      target: { ...v1.target, url: 'https://reports.example.com/v2' },
    });
    w.clock.set(at('10:00:01'));

    const outcome = await executeFiring(w.deps, fired(v2, '10:00:00'));

    expect(outcome).toMatchObject({ result: 'done', detail: 'succeeded' });
    expect(w.target.calls.map((c) => c.target)).toEqual([v2.target]);
    expect(w.jobs.calls).toMatchObject({ 'get:eventual': 1, 'get:strong': 1 });
    replica.caughtUp();
  });

  it('reads strongly when the eventually consistent read does not find a job just created', async () => {
    const w = workerWorld();
    w.jobs.lag(TENANT, 'job_A');
    const job = w.jobs.seed(aJob());
    w.clock.set(at('10:00:01'));

    const outcome = await executeFiring(w.deps, firing.manual(job, 'run_manual_1', new Date(at('10:00:00'))));

    expect(outcome).toMatchObject({ result: 'done', detail: 'succeeded' });
    expect(w.jobs.calls).toMatchObject({ 'get:eventual': 1, 'get:strong': 1 });
  });

  it('reads strongly a firing that names no version (a schedule written before versions were carried)', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob({ version: 4 }));
    w.clock.set(at('10:00:01'));
    const { jobVersion: _none, ...legacy } = fired(job, '10:00:00');

    const outcome = await executeFiring(w.deps, legacy as FiringMessage);

    expect(outcome).toMatchObject({ result: 'done', detail: 'succeeded' });
    expect(w.jobs.calls).toMatchObject({ 'get:strong': 1 });
    expect(w.jobs.calls['get:eventual']).toBeUndefined();
  });

  it('names the version of the job it ran in the retry it sends', async () => {
    const w = workerWorld();
    w.target.answers(outcomes.http(500));
    const job = w.jobs.seed(aJob({ version: 7, retryPolicy: { ...aJob().retryPolicy, maxAttempts: 2 } }));
    w.clock.set(at('10:00:01'));
    const { jobVersion: _none, ...legacy } = fired(job, '10:00:00');

    await executeFiring(w.deps, legacy as FiringMessage);

    expect(w.queue.peek().map((m) => [m.message.trigger, m.message.jobVersion])).toEqual([['retry', 7]]);
  });
});

describe('a scheduled firing', () => {
  it('runs the target once and records a succeeded run', async () => {
    const w = workerWorld({ targetMs: 1500 });
    const job = w.jobs.seed(aJob());
    w.clock.set(at('10:00:02'));

    const outcome = await executeFiring(w.deps, fired(job, '10:00:00'));

    expect(outcome).toMatchObject({ result: 'done', detail: 'succeeded' });
    expect(w.target.calls).toHaveLength(1);
    expect(w.target.calls[0]!.context).toMatchObject({
      tenantId: TENANT,
      jobId: job.id,
      runId: runIdAt('10:00:00'),
      scheduledAt: at('10:00:00'),
    });
    expect(w.target.calls[0]!.target).toEqual(job.target);
    const runs = w.runs.of(TENANT, job.id);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({
      id: runIdAt('10:00:00'),
      trigger: 'schedule',
      status: 'succeeded',
      attempt: 1,
      scheduledAt: at('10:00:00'),
      startedAt: at('10:00:02'),
      finishedAt: '2027-03-01T10:00:03.500Z',
      durationMs: 1500,
      result: { statusCode: 200, bodyExcerpt: 'ok' },
      error: null,
      nextAttemptAt: null,
      attempts: [{ attempt: 1, status: 'succeeded', statusCode: 200, durationMs: 1500 }],
    });
    // Ended: no worker holds it any more.
    expect(runs[0]).not.toHaveProperty('leaseUntil');
    expect(w.metrics.starts).toEqual([{ priority: 'default', lagMs: 2000 }]);
    expect(w.metrics.endedRuns).toEqual([{ status: 'succeeded', priority: 'default', durationMs: 1500 }]);
    expect(w.notifier.failures).toEqual([]);
    expect(w.queue.size).toBe(0);
  });

  it('delivered twice makes one run: the second delivery is a duplicate', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob());
    const message = fired(job, '10:00:00');

    await executeFiring(w.deps, message);
    w.clock.advance(20 * SECOND);
    const again = await executeFiring(w.deps, message);

    expect(again).toEqual({ result: 'done', detail: 'duplicate' });
    expect(w.target.calls).toHaveLength(1);
    expect(w.runs.of(TENANT, job.id).map((r) => r.status)).toEqual(['succeeded']);
    expect(w.metrics.endedCounts).toEqual({ succeeded: 1 });
  });

  it('is dropped when its job has been deleted (or is being deleted): nothing runs, nothing is recorded', async () => {
    const w = workerWorld();
    const deleting = w.jobs.seed(aJob({ id: 'job_Deleting', state: 'deleting' }));

    const gone = await executeFiring(w.deps, fired({ tenantId: TENANT, id: 'job_Gone' }, '10:00:00'));
    const hidden = await executeFiring(w.deps, fired(deleting, '10:00:00'));

    expect(gone).toEqual({ result: 'done', detail: 'job deleted' });
    expect(hidden).toEqual({ result: 'done', detail: 'job deleted' });
    expect(w.target.calls).toEqual([]);
    expect(w.runs.of(TENANT, 'job_Gone')).toEqual([]);
    expect(w.runs.of(TENANT, deleting.id)).toEqual([]);
    expect(w.queue.size).toBe(0);
    expect(w.logger.messages('info')).toContain('message dropped: job no longer exists');
  });

  it('of a paused job is recorded as skipped, not run', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob({ state: 'paused' }));

    const outcome = await executeFiring(w.deps, fired(job, '10:00:00'));

    expect(outcome).toMatchObject({ result: 'done', detail: 'skipped' });
    expect(w.target.calls).toEqual([]);
    expect(w.runs.of(TENANT, job.id)).toMatchObject([
      { status: 'skipped', skipReason: 'job is paused', attempt: 0, finishedAt: at('10:00:00') },
    ]);
    expect(w.metrics.endedCounts).toEqual({ skipped: 1 });
    // A skip is not a failure: nobody is told.
    expect(w.notifier.failures).toEqual([]);
  });
});

describe('a failing target', () => {
  const retrying = { maxAttempts: 3, initialDelaySeconds: 30, multiplier: 2, maxDelaySeconds: 900 };

  it('with retries left: the run waits queued for its next attempt, and the retry is sent', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob({ retryPolicy: retrying }));
    w.target.answers(outcomes.http(500, 'boom'), outcomes.ok());
    const message = fired(job, '10:00:00');

    const first = await executeFiring(w.deps, message);

    expect(first).toMatchObject({ result: 'done', detail: 'retry scheduled' });
    const waiting = w.runs.peek(TENANT, job.id, runIdAt('10:00:00'))!;
    // random() = 0: the shortest delay for attempt 1, half of 30 s.
    expect(waiting).toMatchObject({
      status: 'queued',
      attempt: 1,
      nextAttemptAt: at('10:00:15'),
      error: { type: 'http_status', message: 'target answered HTTP 500' },
      result: { statusCode: 500, bodyExcerpt: 'boom' },
      attempts: [{ attempt: 1, status: 'failed', statusCode: 500 }],
    });
    expect(waiting).not.toHaveProperty('leaseUntil');
    const sent = w.queue.peek();
    expect(sent).toEqual([
      {
        priority: 'default',
        message: firing.retry(
          { ...message, jobVersion: job.version },
          runIdAt('10:00:00'),
          2,
          new Date(at('10:00:15')),
        ),
      },
    ]);
    expect(sent[0]!.message).toEqual({
      v: 1,
      tenantId: TENANT,
      jobId: job.id,
      jobVersion: job.version,
      trigger: 'retry',
      scheduledTime: at('10:00:00'),
      runId: runIdAt('10:00:00'),
      attempt: 2,
      notBefore: at('10:00:15'),
    });
    // Not over yet: no final status counted, nobody told.
    expect(w.metrics.endedRuns).toEqual([]);
    expect(w.notifier.failures).toEqual([]);

    w.clock.set(at('10:00:15'));
    const second = await executeFiring(w.deps, w.queue.takeOne());

    expect(second).toMatchObject({ result: 'done', detail: 'succeeded' });
    expect(w.runs.of(TENANT, job.id)).toHaveLength(1);
    expect(w.runs.peek(TENANT, job.id, runIdAt('10:00:00'))).toMatchObject({
      status: 'succeeded',
      attempt: 2,
      nextAttemptAt: null,
      error: null,
      result: { statusCode: 200, bodyExcerpt: 'ok' },
      attempts: [
        { attempt: 1, status: 'failed' },
        { attempt: 2, status: 'succeeded', startedAt: at('10:00:15') },
      ],
    });
    expect(w.target.calls).toHaveLength(2);
    expect(w.metrics.endedCounts).toEqual({ succeeded: 1 });
  });

  it('waits longer before each retry (backoff), with the jitter it is given', async () => {
    const w = workerWorld({ random: () => 1 });
    const job = w.jobs.seed(aJob({ retryPolicy: retrying }));
    w.target.answers(outcomes.http(503), outcomes.http(503), outcomes.ok());

    await executeFiring(w.deps, fired(job, '10:00:00'));
    const retry2 = w.queue.takeOne();
    // random() = 1: the longest delay for attempt 1, the full 30 s.
    expect(retry2).toMatchObject({ attempt: 2, notBefore: at('10:00:30') });

    w.clock.set(at('10:00:30'));
    await executeFiring(w.deps, retry2);
    const retry3 = w.queue.takeOne();
    expect(retry3).toMatchObject({ attempt: 3, notBefore: at('10:01:30') });

    w.clock.set(at('10:01:30'));
    expect(await executeFiring(w.deps, retry3)).toMatchObject({ detail: 'succeeded' });
    expect(w.runs.peek(TENANT, job.id, runIdAt('10:00:00'))!.attempts.map((a) => a.status)).toEqual([
      'failed',
      'failed',
      'succeeded',
    ]);
  });

  it('with its retries used up: failed, the failure announced once and counted', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob({ retryPolicy: { ...retrying, maxAttempts: 2 } }));
    w.target.answers(outcomes.http(500, 'still broken'));

    await executeFiring(w.deps, fired(job, '10:00:00'));
    w.clock.set(at('10:00:15'));
    const last = await executeFiring(w.deps, w.queue.takeOne());

    expect(last).toMatchObject({ result: 'done', detail: 'failed' });
    const run = w.runs.peek(TENANT, job.id, runIdAt('10:00:00'))!;
    expect(run).toMatchObject({
      status: 'failed',
      attempt: 2,
      nextAttemptAt: null,
      error: { type: 'http_status' },
      attempts: [
        { attempt: 1, status: 'failed' },
        { attempt: 2, status: 'failed' },
      ],
    });
    expect(w.queue.size).toBe(0);
    expect(w.notifier.failures).toHaveLength(1);
    expect(w.notifier.failures[0]!.job.id).toBe(job.id);
    expect(w.notifier.failures[0]!.run).toMatchObject({ id: run.id, status: 'failed', attempt: 2 });
    expect(w.notifier.failures[0]!.run).not.toHaveProperty('claimToken');
    expect(w.metrics.endedCounts).toEqual({ failed: 1 });
    expect(w.target.calls).toHaveLength(2);
  });

  it('that does not answer in time: timed out, and announced', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob());
    w.target.answers(outcomes.timeout('no answer within 30s'));

    const outcome = await executeFiring(w.deps, fired(job, '10:00:00'));

    expect(outcome).toMatchObject({ detail: 'timed_out' });
    expect(w.runs.peek(TENANT, job.id, runIdAt('10:00:00'))).toMatchObject({
      status: 'timed_out',
      result: null,
      error: { type: 'timeout', message: 'no answer within 30s' },
    });
    expect(w.notifier.failures.map((f) => f.run.status)).toEqual(['timed_out']);
    expect(w.metrics.endedCounts).toEqual({ timed_out: 1 });
  });

  it('that times out with a retry left is retried like any failure', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob({ retryPolicy: { ...retrying, maxAttempts: 2 } }));
    w.target.answers(outcomes.timeout(), outcomes.ok());

    await executeFiring(w.deps, fired(job, '10:00:00'));
    expect(w.runs.peek(TENANT, job.id, runIdAt('10:00:00'))).toMatchObject({
      status: 'queued',
      attempts: [{ status: 'timed_out' }],
    });
    w.clock.set(at('10:00:15'));
    expect(await executeFiring(w.deps, w.queue.takeOne())).toMatchObject({ detail: 'succeeded' });
    expect(w.notifier.failures).toEqual([]);
  });

  it('that throws is that attempt failing, never a lost worker', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob());
    w.target.answers(() => {
      throw new TypeError('fetch failed');
    });

    expect(await executeFiring(w.deps, fired(job, '10:00:00'))).toMatchObject({ detail: 'failed' });
    expect(w.runs.peek(TENANT, job.id, runIdAt('10:00:00'))).toMatchObject({
      status: 'failed',
      error: { type: 'network', message: 'TypeError: fetch failed' },
    });
  });
});

describe('a firing picked up late', () => {
  it('past its misfire grace is recorded missed, not run, and announced', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob({ misfireGraceSeconds: 60 }));
    w.clock.set(at('10:02:00'));

    const outcome = await executeFiring(w.deps, fired(job, '10:00:00'));

    expect(outcome).toMatchObject({ result: 'done', detail: 'missed' });
    expect(w.target.calls).toEqual([]);
    expect(w.runs.of(TENANT, job.id)).toMatchObject([
      {
        status: 'missed',
        attempt: 0,
        startedAt: null,
        finishedAt: at('10:02:00'),
        skipReason: 'picked up 120s after its scheduled time, past the misfire grace of 60s',
      },
    ]);
    expect(w.notifier.failures.map((f) => f.run.status)).toEqual(['missed']);
    expect(w.metrics.endedCounts).toEqual({ missed: 1 });
  });

  it('within its misfire grace still runs', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob({ misfireGraceSeconds: 60 }));
    w.clock.set(at('10:01:00'));

    expect(await executeFiring(w.deps, fired(job, '10:00:00'))).toMatchObject({ detail: 'succeeded' });
  });

  it.each(['none', 'latest'] as const)(
    'behind a backlog with catchUp %s: only the latest occurrence runs, the overtaken ones are missed',
    async (catchUp) => {
      const w = workerWorld();
      const job = w.jobs.seed(aJob({ catchUp }));
      w.clock.set(at('10:12:00'));

      for (const time of ['10:00:00', '10:05:00', '10:10:00']) await executeFiring(w.deps, fired(job, time));

      expect(w.runs.of(TENANT, job.id).map((r) => [r.scheduledAt, r.status, r.skipReason])).toEqual([
        [
          at('10:00:00'),
          'missed',
          `overtaken by the occurrence at ${at('10:05:00')}: with catchUp "${catchUp}" only the latest of a backlog runs`,
        ],
        [
          at('10:05:00'),
          'missed',
          `overtaken by the occurrence at ${at('10:10:00')}: with catchUp "${catchUp}" only the latest of a backlog runs`,
        ],
        [at('10:10:00'), 'succeeded', null],
      ]);
      expect(w.target.calls).toHaveLength(1);
    },
  );

  it('behind a backlog with catchUp all: every occurrence within the window runs', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob({ catchUp: 'all', catchUpWindowMinutes: 10 }));
    w.clock.set(at('10:12:00'));

    for (const time of ['10:00:00', '10:05:00', '10:10:00']) await executeFiring(w.deps, fired(job, time));

    expect(w.runs.of(TENANT, job.id).map((r) => r.status)).toEqual(['missed', 'succeeded', 'succeeded']);
    expect(w.runs.peek(TENANT, job.id, runIdAt('10:00:00'))!.skipReason).toContain(
      'outside the catch-up window',
    );
  });
});

describe('overlapping runs of one job', () => {
  // 50 s target timeout: a run holds the job's lock for 80 s (its lease).
  const longRunning = {
    type: 'http',
    url: 'https://etl.example.com/',
    method: 'POST',
    headers: {},
    body: null,
    timeoutSeconds: 50,
  } as StoredJob['target'];
  const everyMinute = {
    expression: 'cron(* * * * ? *)',
    timezone: 'UTC',
    startAt: null,
    endAt: null,
    flexibleWindowMinutes: 0,
  };

  it('with overlapPolicy skip: a firing while the previous run is in progress is skipped', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob({ overlapPolicy: 'skip', target: longRunning, schedule: everyMinute }));
    const first = await startHeld(w, fired(job, '10:00:00'));

    w.clock.set(at('10:01:00'));
    const overlapping = await executeFiring(w.deps, fired(job, '10:01:00'));

    expect(overlapping).toMatchObject({ result: 'done', detail: 'skipped' });
    expect(w.runs.peek(TENANT, job.id, runIdAt('10:01:00'))).toMatchObject({
      status: 'skipped',
      skipReason: `previous run ${runIdAt('10:00:00')} is still running`,
    });
    expect(w.target.calls).toHaveLength(1);

    w.clock.set(at('10:01:10'));
    first.answer(outcomes.ok());
    expect(await first.pending).toMatchObject({ detail: 'succeeded' });
    // The lock is free again: the next firing runs.
    w.clock.set(at('10:02:00'));
    expect(await executeFiring(w.deps, fired(job, '10:02:00'))).toMatchObject({ detail: 'succeeded' });
    expect(w.runs.of(TENANT, job.id).map((r) => r.status)).toEqual(['succeeded', 'skipped', 'succeeded']);
  });

  it('with overlapPolicy buffer_one: one firing waits its turn (queued), a further one is skipped, the waiting one runs after', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(
      aJob({ overlapPolicy: 'buffer_one', target: longRunning, schedule: everyMinute }),
    );
    const first = await startHeld(w, fired(job, '10:00:00'));

    // The next occurrence arrives while the first still runs: it takes the one waiting place.
    w.clock.set(at('10:01:00'));
    const waiting = await executeFiring(w.deps, fired(job, '10:01:00'));
    expect(waiting).toEqual({ result: 'done', detail: 'buffered' });
    expect(w.queue.peek()).toEqual([
      {
        priority: 'default',
        message: { ...fired(job, '10:01:00'), notBefore: at('10:01:10'), deferrals: 1 },
      },
    ]);
    expect(w.runs.peek(TENANT, job.id, runIdAt('10:01:00'))).toMatchObject({
      status: 'queued',
      attempt: 0,
      trigger: 'schedule',
      nextAttemptAt: at('10:01:10'),
    });

    // A manual run meanwhile finds the place taken: skipped.
    w.clock.set(at('10:01:05'));
    const manual = firing.manual(job, 'run_manual_1', w.clock.now());
    expect(await executeFiring(w.deps, manual)).toMatchObject({ detail: 'skipped' });
    expect(w.runs.peek(TENANT, job.id, 'run_manual_1')).toMatchObject({
      status: 'skipped',
      skipReason: `another firing is already waiting behind run ${runIdAt('10:00:00')}`,
    });

    // The waiting firing comes back while the first still runs: it waits again, twice as
    // long (a long run may hold the lock for hours), still one record.
    w.clock.set(at('10:01:10'));
    expect(await executeFiring(w.deps, w.queue.takeOne())).toEqual({ result: 'done', detail: 'buffered' });
    expect(w.queue.peek().map((m) => [m.message.notBefore, m.message.deferrals])).toEqual([
      [at('10:01:30'), 2],
    ]);
    expect(w.runs.peek(TENANT, job.id, runIdAt('10:01:00'))!.status).toBe('queued');

    // The first ends and wakes the waiting firing at once; it runs as the occurrence it is,
    // and its copy still waiting finds it run.
    w.clock.set(at('10:01:15'));
    first.answer(outcomes.ok());
    expect(await first.pending).toMatchObject({ detail: 'succeeded' });
    const [waitingCopy, woken] = w.queue.take() as [FiringMessage, FiringMessage];
    expect(woken).toMatchObject({
      trigger: 'schedule',
      scheduledTime: at('10:01:00'),
      notBefore: at('10:01:15'),
    });
    w.clock.set(at('10:01:20'));
    expect(await executeFiring(w.deps, woken)).toMatchObject({ detail: 'succeeded' });
    w.clock.set(at('10:01:30'));
    expect(await executeFiring(w.deps, waitingCopy)).toMatchObject({ detail: 'duplicate' });

    expect(w.runs.peek(TENANT, job.id, runIdAt('10:01:00'))).toMatchObject({
      status: 'succeeded',
      trigger: 'schedule',
      scheduledAt: at('10:01:00'),
      startedAt: at('10:01:20'),
      attempt: 1,
    });
    expect(w.target.calls.map((c) => c.context.runId)).toEqual([runIdAt('10:00:00'), runIdAt('10:01:00')]);
    // The waiting place is free for the next firing.
    expect(w.runs.lockOf(TENANT, job.id)).toEqual({});
  });
});

describe('a worker that stops mid-attempt', () => {
  // An hourly job: SQS hands the message out again after its visibility timeout (6 min),
  // long after the run's lease (30 s timeout + 30 s) ran out, before the next occurrence.
  const hourly = {
    expression: 'cron(0 * * * ? *)',
    timezone: 'UTC',
    startAt: null,
    endAt: null,
    flexibleWindowMinutes: 0,
  };
  const twoAttempts = { maxAttempts: 2, initialDelaySeconds: 30, multiplier: 2, maxDelaySeconds: 900 };

  it('is taken over once its lease runs out: the lost attempt is recorded failed (worker_lost) and the next one runs', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob({ schedule: hourly, retryPolicy: twoAttempts }));
    const message = fired(job, '10:00:00');
    const lost = await startHeld(w, message);

    w.clock.set(at('10:06:00'));
    const takeover = await executeFiring(w.deps, message);

    expect(takeover).toMatchObject({ result: 'done', detail: 'succeeded' });
    const run = w.runs.peek(TENANT, job.id, runIdAt('10:00:00'))!;
    expect(run).toMatchObject({ status: 'succeeded', attempt: 2 });
    expect(run.attempts).toEqual([
      {
        attempt: 1,
        status: 'failed',
        startedAt: at('10:00:00'),
        finishedAt: at('10:06:00'),
        durationMs: 360_000,
        statusCode: null,
        error: {
          type: 'worker_lost',
          message: 'the worker stopped during attempt 1; its outcome is unknown',
        },
      },
      expect.objectContaining({ attempt: 2, status: 'succeeded', startedAt: at('10:06:00') }),
    ]);
    expect(w.target.calls).toHaveLength(2);

    // The lost worker wakes up after all: its claim is gone, and it overwrites nothing.
    lost.answer(outcomes.ok());
    expect(await lost.pending).toEqual({ result: 'done', detail: 'claim lost' });
    expect(w.runs.peek(TENANT, job.id, runIdAt('10:00:00'))).toEqual(run);
    expect(w.metrics.endedCounts).toEqual({ succeeded: 1 });
  });

  it('that wakes up failing after the take-over records nothing, and the retry it sent runs nothing', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob({ schedule: hourly, retryPolicy: twoAttempts }));
    const message = fired(job, '10:00:00');
    const lost = await startHeld(w, message);
    w.clock.set(at('10:06:00'));
    await executeFiring(w.deps, message);
    const run = w.runs.peek(TENANT, job.id, runIdAt('10:00:00'))!;

    lost.answer(outcomes.http(500));
    await lost.pending;
    expect(w.runs.peek(TENANT, job.id, runIdAt('10:00:00'))).toEqual(run);
    expect(w.logger.messages('warn')).toContain('retry state not recorded: claim was taken over');

    // The retry message goes out before the record (so a crash cannot lose it); it finds the run over.
    w.clock.set(at('10:06:15'));
    expect(await executeFiring(w.deps, w.queue.takeOne())).toEqual({ result: 'done', detail: 'duplicate' });
    expect(w.target.calls).toHaveLength(2);
    expect(w.runs.peek(TENANT, job.id, runIdAt('10:00:00'))).toEqual(run);
  });

  it('with no attempt left: the run gives up as failed (worker_lost) without calling the target again', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob({ schedule: hourly }));
    const message = fired(job, '10:00:00');
    await startHeld(w, message);

    w.clock.set(at('10:06:00'));
    const outcome = await executeFiring(w.deps, message);

    expect(outcome).toMatchObject({ result: 'done', detail: 'failed' });
    expect(w.runs.peek(TENANT, job.id, runIdAt('10:00:00'))).toMatchObject({
      status: 'failed',
      attempt: 1,
      error: { type: 'worker_lost' },
      result: null,
      finishedAt: at('10:06:00'),
      attempts: [{ attempt: 1, status: 'failed', error: { type: 'worker_lost' } }],
    });
    expect(w.target.calls).toHaveLength(1);
    expect(w.notifier.failures.map((f) => f.run.status)).toEqual(['failed']);
  });

  it('still within its lease is left alone: the message is handed back for later (retry)', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob({ schedule: hourly }));
    const message = fired(job, '10:00:00');
    const busy = await startHeld(w, message);

    w.clock.set(at('10:00:30'));
    const outcome = await executeFiring(w.deps, message);

    expect(outcome).toEqual({ result: 'retry', detail: 'run in progress elsewhere' });
    expect(w.target.calls).toHaveLength(1);
    expect(w.runs.peek(TENANT, job.id, runIdAt('10:00:00'))!.status).toBe('running');
    busy.answer(outcomes.ok());
    expect(await busy.pending).toMatchObject({ detail: 'succeeded' });
  });
});

describe('fair share', () => {
  it('a tenant with its places full waits (deferred, no run recorded) while another tenant runs', async () => {
    const w = workerWorld({ placesPerQueue: 1 });
    const busyJob = w.jobs.seed(aJob({ id: 'job_Busy' }));
    const waitingJob = w.jobs.seed(aJob({ id: 'job_Waiting' }));
    const otherTenant = w.jobs.seed(aJob({ id: 'job_Other', tenantId: 'globex' }));
    const busy = await startHeld(w, fired(busyJob, '10:00:00'));

    const message = fired(waitingJob, '10:00:00');
    const outcome = await executeFiring(w.deps, message);

    expect(outcome).toEqual({ result: 'done', detail: 'deferred' });
    // random() = 0: the first wait is half a second.
    expect(w.queue.take()).toEqual([{ ...message, notBefore: '2027-03-01T10:00:00.500Z', deferrals: 1 }]);
    expect(w.runs.of(TENANT, waitingJob.id)).toEqual([]);
    expect(w.metrics.deferrals).toEqual(['default']);
    // Another tenant is not held up.
    expect(await executeFiring(w.deps, fired(otherTenant, '10:00:00'))).toMatchObject({
      detail: 'succeeded',
    });

    // Still full when it comes back: it waits again, longer.
    w.clock.set('2027-03-01T10:00:00.500Z');
    await executeFiring(w.deps, { ...message, notBefore: '2027-03-01T10:00:00.500Z', deferrals: 1 });
    expect(w.queue.take()).toEqual([{ ...message, notBefore: '2027-03-01T10:00:01.500Z', deferrals: 2 }]);

    // The busy run ends and gives its place back: the waiting firing runs.
    busy.answer(outcomes.ok());
    await busy.pending;
    w.clock.set('2027-03-01T10:00:01.500Z');
    const ran = await executeFiring(w.deps, {
      ...message,
      notBefore: '2027-03-01T10:00:01.500Z',
      deferrals: 2,
    });
    expect(ran).toMatchObject({ detail: 'succeeded' });
    expect(w.fairShare.holders(TENANT, 'default')).toEqual([]);
  });

  it("a paused job's firing needs no place: it is recorded skipped even when the tenant's places are full", async () => {
    const w = workerWorld({ placesPerQueue: 1 });
    const busyJob = w.jobs.seed(aJob({ id: 'job_Busy' }));
    const paused = w.jobs.seed(aJob({ id: 'job_Paused', state: 'paused' }));
    await startHeld(w, fired(busyJob, '10:00:00'));

    expect(await executeFiring(w.deps, fired(paused, '10:00:00'))).toMatchObject({ detail: 'skipped' });
    expect(w.queue.size).toBe(0);
  });
});

describe('a message not yet due', () => {
  it('is put back on its queue unchanged, and nothing runs until it is due', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob({ priority: 'high' }));
    const message = firing.delayed(firing.manual(job, 'run_later', w.clock.now()), new Date(at('10:20:00')));

    expect(await executeFiring(w.deps, message)).toEqual({ result: 'done', detail: 're-delayed' });
    expect(w.queue.peek()).toEqual([{ priority: 'high', message }]);
    expect(w.runs.of(TENANT, job.id)).toEqual([]);
    expect(w.target.calls).toEqual([]);

    w.clock.set(at('10:20:00'));
    expect(await executeFiring(w.deps, w.queue.takeOne())).toMatchObject({ detail: 'succeeded' });
    expect(w.runs.peek(TENANT, job.id, 'run_later')).toMatchObject({
      trigger: 'manual',
      status: 'succeeded',
    });
  });
});

describe('dependencies', () => {
  it("a dependency's success queues one run of the job that waits for it, however often it is delivered", async () => {
    const w = workerWorld();
    const upstream = (await w.jobs.create(aJob({ id: 'job_Extract' }))).job;
    const downstream = (
      await w.jobs.create(
        aJob({ id: 'job_Load', schedule: null, dependsOn: ['job_Extract'], priority: 'low' }),
      )
    ).job;
    const message = fired(upstream, '10:00:00');

    await executeFiring(w.deps, message);

    const expected = firing.dependency(downstream, 'run_20270301T100000000Z_d', at('10:00:00'));
    expect(w.queue.peek()).toEqual([{ priority: 'low', message: expected }]);
    expect(expected.trigger).toBe('dependency');

    // The upstream's message delivered again (its worker may have stopped before queuing): nothing more.
    await executeFiring(w.deps, message);
    expect(w.queue.peek()).toHaveLength(1);

    const outcome = await executeFiring(w.deps, w.queue.takeOne());
    expect(outcome).toMatchObject({ detail: 'succeeded' });
    expect(w.runs.of(TENANT, downstream.id)).toMatchObject([
      { id: 'run_20270301T100000000Z_d', trigger: 'dependency', status: 'succeeded' },
    ]);
    expect(w.queue.size).toBe(0);
  });

  it('a failed dependency run queues nothing', async () => {
    const w = workerWorld();
    const upstream = (await w.jobs.create(aJob({ id: 'job_Extract' }))).job;
    await w.jobs.create(aJob({ id: 'job_Load', schedule: null, dependsOn: ['job_Extract'] }));
    w.target.answers(outcomes.http(500));

    await executeFiring(w.deps, fired(upstream, '10:00:00'));

    expect(w.queue.size).toBe(0);
  });
});
