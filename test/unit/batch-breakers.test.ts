/**
 * A worker batch reads each of its targets' breakers once on the calm path, and the breaker
 * still opens, and stays open, exactly as when every run read it for itself.
 */
import { describe, expect, it } from 'vitest';
import type { Breaker, BreakerSettings } from '../../functions/domain/breaker.js';
import { type FiringMessage, firing } from '../../functions/domain/firing.js';
import { firingMessageSchema } from '../../functions/domain/firing-schema.js';
import type { StoredJob } from '../../functions/domain/job.js';
import { BatchBreakerReads } from '../../functions/usecases/batch-breakers.js';
import { executeFiring } from '../../functions/usecases/execute-firing.js';
import { InMemoryBreakers, outcomes } from '../fakes/in-memory.js';
import { aJob, TENANT, type WorkerWorld, workerWorld } from '../fakes/world.js';

const settings: BreakerSettings = { failureThreshold: 3, coolDownSeconds: 60, maxCoolDownSeconds: 900 };
const fired = (job: Pick<StoredJob, 'tenantId' | 'id'>, time = '10:00:00'): FiringMessage =>
  firingMessageSchema.parse({ ...firing.scheduleTemplate(job), scheduledTime: `2027-03-01T${time}.000Z` });

/** One batch as the worker handler runs it: every firing at once, one breaker view. */
function batch(w: WorkerWorld, messages: FiringMessage[]) {
  const circuit = { store: new BatchBreakerReads(w.breakers), settings };
  return Promise.all(messages.map((m) => executeFiring({ ...w.deps, circuit }, m)));
}

describe("a batch's breaker reads", () => {
  it('reads a closed breaker once for the batch, once per tenant and target', async () => {
    const w = workerWorld({ breaker: settings });
    const same = Array.from({ length: 10 }, (_, i) => w.jobs.seed(aJob({ id: `job_${i}` })));
    const base = aJob();
    const elsewhere = w.jobs.seed(
      aJob({
        id: 'job_other',
        target: { ...base.target, url: 'https://other.example.com/run' } as typeof base.target,
      }),
    );
    const theirs = w.jobs.seed(aJob({ id: 'job_theirs', tenantId: 'globex' }));
    const ran = await batch(
      w,
      [...same, elsewhere, theirs].map((j) => fired(j)),
    );
    expect(ran.map((o) => o.detail)).toEqual(Array(12).fill('succeeded'));
    // Three breakers (this tenant's two targets, the other tenant's one), none written.
    expect(w.breakers.calls).toEqual({ get: 3 });
  });

  it('opens the breaker from one batch of failures, and the next batch waits', async () => {
    const w = workerWorld({ breaker: settings });
    w.target.answers(outcomes.http(500));
    // One attempt each (the default): five failures, past the threshold of three.
    const jobs = Array.from({ length: 5 }, (_, i) => w.jobs.seed(aJob({ id: `job_${i}` })));
    await batch(
      w,
      jobs.map((j) => fired(j)),
    );
    const [breaker] = (await w.breakers.list(TENANT, { limit: 10 })).items;
    expect(breaker?.state).toBe('open');
    const calls = w.target.calls.length;
    const next = await batch(
      w,
      jobs.map((j) => fired(j, '10:05:00')),
    );
    expect(next.map((o) => o.detail)).toEqual(Array(5).fill('circuit open'));
    expect(w.target.calls.length).toBe(calls);
  });

  it('reads again after a write, and always when asked for a consistent read', async () => {
    const store = new InMemoryBreakers();
    const reads = new BatchBreakerReads(store);
    await reads.get(TENANT, 'a.example.com');
    await reads.get(TENANT, 'a.example.com');
    expect(store.calls.get).toBe(1);
    await reads.get(TENANT, 'a.example.com', true);
    expect(store.calls.get).toBe(2);
    const breaker = { tenantId: TENANT, target: 'a.example.com', version: 1 } as unknown as Breaker;
    expect(await reads.save(breaker, 0)).toBe(true);
    expect((await reads.get(TENANT, 'a.example.com'))?.version).toBe(1);
    expect(store.calls.get).toBe(3);
  });

  it('does not keep a failed read', async () => {
    let fail = true;
    const store = new InMemoryBreakers();
    const flaky = Object.assign(Object.create(store) as InMemoryBreakers, {
      get: (t: string, k: string, c?: boolean) =>
        fail ? Promise.reject(new Error('throttled')) : store.get(t, k, c),
    });
    const reads = new BatchBreakerReads(flaky);
    await expect(reads.get(TENANT, 'a.example.com')).rejects.toThrow('throttled');
    fail = false;
    await expect(reads.get(TENANT, 'a.example.com')).resolves.toBeUndefined();
  });
});
