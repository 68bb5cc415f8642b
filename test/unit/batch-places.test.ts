/**
 * Fair share a batch at a time: a tenant's runs in one worker batch take their places in one
 * write and give them back in one, and the cap on runs in progress is what it was.
 */
import { describe, expect, it } from 'vitest';
import { type FiringMessage, firing } from '../../functions/domain/firing.js';
import { firingMessageSchema } from '../../functions/domain/firing-schema.js';
import type { StoredJob } from '../../functions/domain/job.js';
import { BatchPlaces, type PlaceWaits } from '../../functions/usecases/batch-places.js';
import { executeFiring } from '../../functions/usecases/execute-firing.js';
import { outcomes } from '../fakes/in-memory.js';
import { aJob, TENANT, type WorkerWorld, workerWorld } from '../fakes/world.js';

const fired = (job: Pick<StoredJob, 'tenantId' | 'id'>): FiringMessage =>
  firingMessageSchema.parse({ ...firing.scheduleTemplate(job), scheduledTime: '2027-03-01T10:00:00.000Z' });

const POOL_LEASE_MS = 90_000;

/** A wait for a place that no timer ends: only a place handed on does. */
const NO_TIMEOUT: PlaceWaits = { maxWaitMs: 5_000, headroomMs: 10_000, sleep: () => new Promise(() => {}) };

/** One batch as the worker handler runs it: every firing at once, each settled when done. */
async function batch(w: WorkerWorld, messages: FiringMessage[], waits: PlaceWaits = NO_TIMEOUT) {
  const places = new BatchPlaces(
    w.fairShare,
    messages.map((m) => m.tenantId),
    'batch1',
    POOL_LEASE_MS,
    w.logger,
    waits,
  );
  const deps = { ...w.deps, fairShare: places };
  const results = Promise.all(
    messages.map(async (message) => {
      try {
        return await executeFiring(deps, message);
      } finally {
        await places.settled(message.tenantId);
      }
    }),
  );
  return results;
}

/** `count` jobs of the tenant, each of whose target calls hangs until the test answers it. */
function heldJobs(w: WorkerWorld, count: number) {
  const jobs = Array.from({ length: count }, (_, i) => w.jobs.seed(aJob({ id: `job_${i}` })));
  for (let i = 0; i < count; i++) w.target.hold();
  return jobs;
}

/** Lets started firings get as far as they can (no timers, only the event loop). */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve));
  if (!condition()) throw new Error('the worker never got there');
}

describe('fair-share places for a batch', () => {
  it("takes one tenant's ten places in one write and gives them back in one, holding each while its run is in progress", async () => {
    const w = workerWorld({ placesPerQueue: 20 });
    const jobs = heldJobs(w, 10);
    const done = batch(w, jobs.map(fired));
    await until(() => w.target.held.length === 10);
    // All ten calls in progress, each holding a place.
    expect(w.fairShare.holders(TENANT, 'default')).toHaveLength(10);
    for (const call of w.target.held) call.answer(outcomes.ok());
    const ran = await done;
    expect(ran.map((o) => o.detail)).toEqual(Array(10).fill('succeeded'));
    expect(w.fairShare.holders(TENANT, 'default')).toEqual([]);
    // Per run: a fifth of a write, where taking and giving back one by one was two.
    expect(w.fairShare.writes).toBe(2);
  });

  it("a batch holding more of a tenant's runs than its share takes the whole share in one write; the rest wait in the batch for a place handed on", async () => {
    const w = workerWorld({ placesPerQueue: 3 });
    const jobs = heldJobs(w, 10);
    const done = batch(w, jobs.map(fired));
    await until(() => w.target.held.length === 3);
    // Answered one at a time: each answer hands its place to the next run, never more than three.
    for (let answered = 0; answered < 10; answered++) {
      expect(w.target.held.length - answered).toBe(Math.min(3, 10 - answered));
      expect(w.fairShare.holders(TENANT, 'default')).toHaveLength(3);
      w.target.held[answered]?.answer(outcomes.ok());
      await until(() => w.target.held.length === Math.min(10, answered + 4));
    }
    const ran = await done;
    expect(ran.map((o) => o.detail)).toEqual(Array(10).fill('succeeded'));
    // None put back on the queue, and one write to take the three places, one to give them back.
    expect(w.queue.peek()).toEqual([]);
    expect(w.fairShare.holders(TENANT, 'default')).toEqual([]);
    expect(w.fairShare.writes).toBe(2);
  });

  it('the runs beyond the share are deferred, without a write, when no place is handed on within the wait', async () => {
    const w = workerWorld({ placesPerQueue: 3 });
    const jobs = heldJobs(w, 10);
    const slept: number[] = [];
    const timedOut: PlaceWaits = { ...NO_TIMEOUT, sleep: async (ms) => void slept.push(ms) };
    const done = batch(w, jobs.map(fired), timedOut);
    await until(() => w.target.held.length === 3 && w.queue.peek().length === 7);
    expect(slept).toEqual(Array(7).fill(5_000));
    expect(w.fairShare.holders(TENANT, 'default')).toHaveLength(3);
    for (const call of w.target.held) call.answer(outcomes.ok());
    const ran = await done;
    expect(ran.filter((o) => o.detail === 'succeeded')).toHaveLength(3);
    // The other seven are put back with a delay, not lost.
    expect(w.queue.take().map((m) => m.jobId)).toHaveLength(7);
    expect(ran.filter((o) => o.detail === 'deferred')).toHaveLength(7);
    expect(w.fairShare.holders(TENANT, 'default')).toEqual([]);
    expect(w.fairShare.writes).toBe(2);
  });

  it("a run whose timeout would, started late, end past the worker's headroom does not wait", async () => {
    const w = workerWorld({ placesPerQueue: 1 });
    const slow = (id: string) => {
      const job = aJob({ id });
      return w.jobs.seed({ ...job, target: { ...job.target, timeoutSeconds: 50 } as StoredJob['target'] });
    };
    w.target.hold();
    w.target.hold();
    const slept: number[] = [];
    const done = batch(w, [slow('job_1'), slow('job_2')].map(fired), {
      ...NO_TIMEOUT,
      sleep: async (ms) => void slept.push(ms),
    });
    await until(() => w.target.held.length === 1 && w.queue.peek().length === 1);
    expect(slept).toEqual([]);
    w.target.held[0]?.answer(outcomes.ok());
    expect((await done).map((o) => o.detail).sort()).toEqual(['deferred', 'succeeded']);
  });

  it('a tenant near its share (a place held elsewhere) is admitted run by run and never over it', async () => {
    const w = workerWorld({ placesPerQueue: 3 });
    const now = w.clock.now();
    expect(
      await w.fairShare.take(TENANT, 'default', 'elsewhere', new Date(now.getTime() + 60_000), now),
    ).toBe(true);
    const jobs = heldJobs(w, 10);
    const done = batch(w, jobs.map(fired));
    await until(() => w.target.held.length === 2 && w.queue.peek().length === 8);
    expect(w.fairShare.holders(TENANT, 'default')).toHaveLength(3);
    for (const call of w.target.held) call.answer(outcomes.ok());
    const ran = await done;
    expect(ran.filter((o) => o.detail === 'succeeded')).toHaveLength(2);
    expect(ran.filter((o) => o.detail === 'deferred')).toHaveLength(8);
    expect(w.fairShare.holders(TENANT, 'default')).toEqual(['elsewhere']);
  });

  it('each tenant in a mixed batch takes its own places, one write each way', async () => {
    const w = workerWorld({ placesPerQueue: 10 });
    const mine = Array.from({ length: 5 }, (_, i) => w.jobs.seed(aJob({ id: `job_a${i}` })));
    const theirs = Array.from({ length: 5 }, (_, i) =>
      w.jobs.seed(aJob({ id: `job_b${i}`, tenantId: 'globex' })),
    );
    const ran = await batch(w, [...mine, ...theirs].map(fired));
    expect(ran.map((o) => o.detail)).toEqual(Array(10).fill('succeeded'));
    expect(w.fairShare.writes).toBe(4);
    expect(w.fairShare.holders(TENANT, 'default')).toEqual([]);
    expect(w.fairShare.holders('globex', 'default')).toEqual([]);
  });

  it('a lone message of a tenant takes and gives its place as before', async () => {
    const w = workerWorld({ placesPerQueue: 10 });
    const job = w.jobs.seed(aJob());
    expect((await batch(w, [fired(job)]))[0]).toMatchObject({ detail: 'succeeded' });
    expect(w.fairShare.writes).toBe(2);
    expect(w.fairShare.holders(TENANT, 'default')).toEqual([]);
  });

  it('pooled places last as long as a worker invocation can, so a worker that dies frees them then', async () => {
    const w = workerWorld({ placesPerQueue: 2 });
    const jobs = Array.from({ length: 2 }, (_, i) => w.jobs.seed(aJob({ id: `job_${i}` })));
    w.target.hold();
    w.target.hold();
    // The worker dies mid-call: nothing is given back.
    void batch(w, jobs.map(fired));
    await until(() => w.target.held.length === 2);
    expect(w.fairShare.holders(TENANT, 'default')).toHaveLength(2);
    // Within the pool's lease the tenant's places are taken: its next run waits.
    w.clock.advance(POOL_LEASE_MS - 1000);
    const waiting = w.jobs.seed(aJob({ id: 'job_waiting' }));
    expect((await batch(w, [fired(waiting)]))[0]).toMatchObject({ detail: 'deferred' });
    // After it, the next taker clears the dead worker's places and runs.
    w.clock.advance(2000);
    const next = w.jobs.seed(aJob({ id: 'job_next' }));
    expect((await batch(w, [fired(next)]))[0]).toMatchObject({ detail: 'succeeded' });
  });
});
