/**
 * Defects the in-memory tests found in executeFiring (issue 13), each kept as the behaviour
 * a scheduler's user expects: a lost run ends, a retry is never dropped, the overlap lock is
 * given back.
 */
import { describe, expect, it } from 'vitest';
import { type FiringMessage, firing } from '../../functions/domain/firing.js';
import { firingMessageSchema } from '../../functions/domain/firing-schema.js';
import type { StoredJob } from '../../functions/domain/job.js';
import { scheduledRunId } from '../../functions/domain/run.js';
import { executeFiring } from '../../functions/usecases/execute-firing.js';
import { outcomes } from '../fakes/in-memory.js';
import { aJob, TENANT, type WorkerWorld, workerWorld } from '../fakes/world.js';

const at = (time: string) => `2027-03-01T${time}.000Z`;
const runIdAt = (time: string) => scheduledRunId(new Date(at(time)));
const fired = (job: StoredJob, time: string): FiringMessage =>
  firingMessageSchema.parse({ ...firing.scheduleTemplate(job), scheduledTime: at(time) });
async function until(condition: () => boolean) {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((r) => setImmediate(r));
}
async function startHeld(w: WorkerWorld, message: FiringMessage) {
  w.target.hold();
  const pending = executeFiring(w.deps, message);
  await until(() => w.target.held.length > 0);
  return { pending, answer: w.target.held.at(-1)!.answer };
}
const schedule = (expression: string) => ({
  expression,
  timezone: 'UTC',
  startAt: null,
  endAt: null,
  flexibleWindowMinutes: 0,
});
const twoAttempts = { maxAttempts: 2, initialDelaySeconds: 30, multiplier: 2, maxDelaySeconds: 900 };
const slow = {
  type: 'http',
  url: 'https://etl.example.com/',
  method: 'POST',
  headers: {},
  body: null,
  timeoutSeconds: 50,
} as StoredJob['target'];

describe('executeFiring: runs are never left in progress for ever', () => {
  it.each([
    {
      name: 'every 5 minutes (catchUp none): redelivered after the next occurrence',
      misfireGraceSeconds: null,
      expression: 'cron(0/5 * * * ? *)',
    },
    {
      name: 'hourly with a 5-minute misfire grace',
      misfireGraceSeconds: 300,
      expression: 'cron(0 * * * ? *)',
    },
  ])(
    '1. a run whose worker was lost is taken over when SQS redelivers it (after 6 min): $name',
    async ({ misfireGraceSeconds, expression }) => {
      const w = workerWorld();
      const job = w.jobs.seed(aJob({ schedule: schedule(expression), misfireGraceSeconds }));
      const message = fired(job, '10:00:00');
      await startHeld(w, message);

      w.clock.set(at('10:06:00'));
      await executeFiring(w.deps, message);

      // Before the fix: 'stale', and the run stayed `running` (its lease long expired) for ever.
      expect(w.runs.peek(TENANT, job.id, runIdAt('10:00:00'))!.status).toBe('failed');
    },
  );

  it('2. a worker that wakes up after its run was taken over does not re-take the overlap lock', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(
      aJob({
        overlapPolicy: 'skip',
        schedule: schedule('cron(0 * * * ? *)'),
        target: slow,
        retryPolicy: twoAttempts,
      }),
    );
    const message = fired(job, '10:00:00');
    const lost = await startHeld(w, message);
    w.clock.set(at('10:06:00'));
    expect(await executeFiring(w.deps, message)).toMatchObject({ detail: 'succeeded' });

    lost.answer(outcomes.http(500)); // its finish is refused, but first it sent a retry and took the lock
    await lost.pending;
    w.queue.take();

    w.clock.set(at('10:06:05'));
    const now = await executeFiring(w.deps, firing.manual(job, 'run_now_1', w.clock.now()));
    // Before the fix: skipped, "previous run … is still running" (it had succeeded at 10:06).
    expect(now).toMatchObject({ detail: 'succeeded' });
  });

  it('3. a retry that arrives after another run took the lock is not dropped, leaving its run queued for ever', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(
      aJob({
        overlapPolicy: 'skip',
        schedule: schedule('cron(* * * * ? *)'),
        target: slow,
        retryPolicy: twoAttempts,
      }),
    );
    w.target.answers(outcomes.http(500));
    await executeFiring(w.deps, fired(job, '10:00:00'));
    const retry = w.queue.takeOne(); // notBefore 10:00:15; the lock is kept until 10:01:35

    w.clock.set(at('10:02:00')); // the retry is late (a backlog, fair-share waits): the 10:02 firing takes the lock
    const next = await startHeld(w, fired(job, '10:02:00'));
    w.clock.set(at('10:02:10'));
    await executeFiring(w.deps, retry); // before the fix: 'stale', and the message deleted
    next.answer(outcomes.ok());
    await next.pending;

    const run = w.runs.peek(TENANT, job.id, runIdAt('10:00:00'))!;
    // Either it is still coming (a message on the queue) or it has ended.
    expect(run.status !== 'queued' || w.queue.size > 0).toBe(true);
  });

  it('4. a retry skipped because the job was paused gives the overlap lock back', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(
      aJob({
        overlapPolicy: 'skip',
        schedule: schedule('cron(* * * * ? *)'),
        target: slow,
        retryPolicy: twoAttempts,
      }),
    );
    w.target.answers(outcomes.http(500), outcomes.ok());
    await executeFiring(w.deps, fired(job, '10:00:00'));
    const retry = w.queue.takeOne();
    w.jobs.seed({ ...job, state: 'paused' });
    w.clock.set(at('10:00:15'));
    expect(await executeFiring(w.deps, retry)).toMatchObject({ detail: 'skipped' });

    w.jobs.seed({ ...job, state: 'enabled' }); // resumed
    w.clock.set(at('10:01:00'));
    // Before the fix: skipped, "previous run … is still running" (it had been skipped at 10:00:15).
    expect(await executeFiring(w.deps, fired(job, '10:01:00'))).toMatchObject({ detail: 'succeeded' });
  });
});
