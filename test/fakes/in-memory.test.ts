/**
 * The in-memory ports keep the conditions of the adapters they stand for (quoted in
 * in-memory.ts): a fake that let through what DynamoDB refuses would make the use-case
 * tests pass for the wrong reason.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../functions/domain/errors.js';
import type { DeadLetter } from '../../functions/domain/ports.js';
import { newRun, type StoredRun } from '../../functions/domain/run.js';
import {
  InMemoryDeadLetters,
  InMemoryFairShare,
  InMemoryFiringSigner,
  InMemoryJobs,
  InMemoryRuns,
  InMemorySecretSealer,
  syncShardOf,
} from './in-memory.js';
import { aJob, TENANT } from './world.js';

const NOW = new Date('2027-03-01T10:00:00.000Z');
const later = (ms: number) => new Date(NOW.getTime() + ms);

function run(overrides: Partial<StoredRun> = {}): StoredRun {
  return newRun({
    id: 'run_1',
    jobId: 'job_A',
    tenantId: TENANT,
    scheduledAt: NOW.toISOString(),
    trigger: 'schedule',
    status: 'running',
    attempt: 1,
    ...overrides,
  });
}

describe('InMemoryJobs', () => {
  it('replaces only at the expected version, and never a job being deleted', async () => {
    const jobs = new InMemoryJobs();
    jobs.seed(aJob({ version: 2 }));

    expect(await jobs.replace(aJob({ version: 3, name: 'x' }), 1, NOW.toISOString())).toBe(false);
    expect(await jobs.replace(aJob({ version: 3, name: 'x' }), 2, NOW.toISOString())).toBe(true);
    expect(jobs.peek(TENANT, 'job_A')).toMatchObject({
      version: 3,
      name: 'x',
      syncPendingAt: NOW.toISOString(),
    });

    jobs.seed(aJob({ version: 4, state: 'deleting' }));
    expect(await jobs.replace(aJob({ version: 5 }), 4, NOW.toISOString())).toBe(false);
  });

  it("keeps the worker's bookkeeping across an edit", async () => {
    const jobs = new InMemoryJobs();
    jobs.seed(aJob({ lastSucceededAt: '2027-03-01T09:00:00.000Z', hasDependents: true }));

    await jobs.replace(aJob({ version: 2, hasDependents: false }), 1, NOW.toISOString());

    expect(jobs.peek(TENANT, 'job_A')).toMatchObject({
      version: 2,
      hasDependents: true,
      lastSucceededAt: '2027-03-01T09:00:00.000Z',
    });
  });

  it('refuses an edge to a job that is gone, and moves edges with the edit', async () => {
    const jobs = new InMemoryJobs();
    await jobs.create(aJob({ id: 'job_Up' }));
    await jobs.create(aJob({ id: 'job_Down', dependsOn: ['job_Up'] }));
    expect(jobs.peek(TENANT, 'job_Up')!.hasDependents).toBe(true);
    expect(await jobs.listDependents(TENANT, 'job_Up')).toEqual(['job_Down']);

    await expect(jobs.create(aJob({ id: 'job_X', dependsOn: ['job_Gone'] }))).rejects.toBeInstanceOf(
      ValidationError,
    );
    expect(jobs.peek(TENANT, 'job_X')).toBeUndefined();

    await jobs.replace(aJob({ id: 'job_Down', version: 2, dependsOn: [] }), 1, NOW.toISOString(), ['job_Up']);
    expect(await jobs.listDependents(TENANT, 'job_Up')).toEqual([]);
  });

  it('clears a sync marker and deletes only at the version given', async () => {
    const jobs = new InMemoryJobs();
    await jobs.create(aJob());

    expect(await jobs.clearSyncMarker(TENANT, 'job_A', 2)).toBe(false);
    expect(jobs.peek(TENANT, 'job_A')!.syncPendingAt).toBeDefined();
    expect(await jobs.clearSyncMarker(TENANT, 'job_A', 1, NOW.toISOString())).toBe(true);
    expect(jobs.peek(TENANT, 'job_A')).toMatchObject({ scheduleSyncedAt: NOW.toISOString() });
    expect(jobs.peek(TENANT, 'job_A')).not.toHaveProperty('syncPendingAt');

    expect(await jobs.deleteIfVersion({ tenantId: TENANT, id: 'job_A', version: 2, dependsOn: [] })).toBe(
      false,
    );
    expect(await jobs.deleteIfVersion({ tenantId: TENANT, id: 'job_A', version: 1, dependsOn: [] })).toBe(
      true,
    );
    expect(jobs.peek(TENANT, 'job_A')).toBeUndefined();
  });

  it('moves a dependency cursor and a success forward only', async () => {
    const jobs = new InMemoryJobs();
    jobs.seed(aJob());

    expect(await jobs.advanceDependencyCursor(TENANT, 'job_A', '2027-03-01T10:00:00.000Z')).toBe(true);
    expect(await jobs.advanceDependencyCursor(TENANT, 'job_A', '2027-03-01T10:00:00.000Z')).toBe(false);
    expect(await jobs.advanceDependencyCursor(TENANT, 'job_A', '2027-03-01T09:00:00.000Z')).toBe(false);
    expect(await jobs.advanceDependencyCursor(TENANT, 'job_Missing', '2027-03-01T11:00:00.000Z')).toBe(false);

    await jobs.recordSuccess(TENANT, 'job_A', '2027-03-01T10:00:00.000Z');
    await jobs.recordSuccess(TENANT, 'job_A', '2027-03-01T09:00:00.000Z');
    expect(jobs.peek(TENANT, 'job_A')!.lastSucceededAt).toBe('2027-03-01T10:00:00.000Z');
  });

  it('lists marked jobs by shard, older than the instant given, oldest first', async () => {
    const jobs = new InMemoryJobs();
    const ids = Array.from({ length: 40 }, (_, i) => `job_${i}`);
    ids.forEach((id, i) => {
      jobs.seed(aJob({ id, syncPendingAt: new Date(NOW.getTime() - i * 1000).toISOString() }));
    });
    const shard = syncShardOf('job_0');
    const inShard = ids.filter((id) => syncShardOf(id) === shard);

    const listed = await jobs.listSyncPending(shard, NOW.toISOString(), 100);

    // job_0's marker is at NOW itself: not older than NOW.
    expect(listed.map((j) => j.jobId)).toEqual(inShard.filter((id) => id !== 'job_0').reverse());
  });

  it('pages a list with cursors, hides jobs being deleted, and refuses a cursor it did not make', async () => {
    const jobs = new InMemoryJobs();
    for (const id of ['job_a', 'job_b', 'job_c', 'job_d']) jobs.seed(aJob({ id }));
    jobs.seed(aJob({ id: 'job_bb', state: 'deleting' }));

    const first = await jobs.list(TENANT, { limit: 2 });
    const second = await jobs.list(TENANT, { limit: 2, cursor: first.nextCursor! });
    const rest = second.nextCursor ? await jobs.list(TENANT, { limit: 2, cursor: second.nextCursor }) : null;

    expect([...first.items, ...second.items, ...(rest?.items ?? [])].map((j) => j.id)).toEqual([
      'job_a',
      'job_b',
      'job_c',
      'job_d',
    ]);
    await expect(jobs.list(TENANT, { limit: 2, cursor: 'bm9wZQ' })).rejects.toBeInstanceOf(ValidationError);
  });

  it('replays a create with its idempotency key, and counts jobs against a quota', async () => {
    const jobs = new InMemoryJobs();
    const record = { key: 'k', requestHash: 'h', expiresAt: Math.floor(NOW.getTime() / 1000) + 3600 };
    await jobs.create(aJob({ id: 'job_1' }), record, 2);

    expect(await jobs.create(aJob({ id: 'job_2' }), record, 2)).toMatchObject({
      replayed: true,
      job: { id: 'job_1' },
    });
    await expect(
      jobs.create(aJob({ id: 'job_3' }), { ...record, requestHash: 'other' }, 2),
    ).rejects.toMatchObject({
      name: 'IdempotencyConflictError',
    });
    await jobs.create(aJob({ id: 'job_4' }), undefined, 2);
    await expect(jobs.create(aJob({ id: 'job_5' }), undefined, 2)).rejects.toMatchObject({
      name: 'QuotaExceededError',
    });
  });
});

describe('InMemoryRuns', () => {
  it('claims a new run, or a queued one at attempt 0, and nothing else', async () => {
    const runs = new InMemoryRuns();
    expect((await runs.claim(run(), NOW)).claimed).toBe(true);
    expect(await runs.claim(run({ status: 'skipped' }), NOW)).toMatchObject({
      claimed: false,
      existing: { status: 'running' },
    });

    runs.seed(run({ id: 'run_manual', status: 'queued', attempt: 0 }));
    expect((await runs.claim(run({ id: 'run_manual' }), NOW)).claimed).toBe(true);
    runs.seed(run({ id: 'run_retry', status: 'queued', attempt: 1 }));
    expect((await runs.claim(run({ id: 'run_retry' }), NOW)).claimed).toBe(false);
  });

  it('records a queued run only when there is none', async () => {
    const runs = new InMemoryRuns();
    await runs.claim(run(), NOW);
    await runs.putQueued(run({ status: 'queued', attempt: 0 }), NOW);
    expect(runs.peek(TENANT, 'job_A', 'run_1')!.status).toBe('running');
  });

  it('claims a retry from the attempt before it, and a lost run only once its lease ran out', async () => {
    const runs = new InMemoryRuns();
    const claim = { claimToken: 't2', leaseUntil: later(60_000).toISOString(), startedAt: NOW.toISOString() };
    runs.seed(run({ status: 'queued', attempt: 1, nextAttemptAt: NOW.toISOString() }));

    expect(await runs.claimAttempt(TENANT, 'job_A', 'run_1', 3, claim, NOW)).toBeUndefined();
    expect(await runs.claimAttempt(TENANT, 'job_A', 'run_1', 2, claim, NOW)).toMatchObject({
      status: 'running',
      attempt: 2,
      claimToken: 't2',
      nextAttemptAt: null,
    });
    expect(await runs.claimAttempt(TENANT, 'job_A', 'run_1', 2, claim, NOW)).toBeUndefined();

    const lost = { status: 'running', attempt: 2 } as const;
    const takeover = { ...claim, claimToken: 't3' };
    expect(
      await runs.claimAttempt(TENANT, 'job_A', 'run_1', 3, takeover, later(60_000), lost),
    ).toBeUndefined();
    expect(await runs.claimAttempt(TENANT, 'job_A', 'run_1', 3, takeover, later(60_001), lost)).toMatchObject(
      {
        attempt: 3,
        claimToken: 't3',
      },
    );
  });

  it('finishes only with the claim token that holds the run', async () => {
    const runs = new InMemoryRuns();
    await runs.claim(run({ claimToken: 'mine' }), NOW);

    expect(await runs.finish(run({ status: 'succeeded', claimToken: 'mine' }), 'theirs', NOW)).toBe(false);
    expect(runs.peek(TENANT, 'job_A', 'run_1')!.status).toBe('running');
    expect(await runs.finish(run({ status: 'succeeded', claimToken: 'mine' }), 'mine', NOW)).toBe(true);
    expect(runs.peek(TENANT, 'job_A', 'run_1')!.status).toBe('succeeded');
  });

  it('keeps one holder of the overlap lock until its lease, and one buffered place behind a live lock', async () => {
    const runs = new InMemoryRuns();
    const lease = later(60_000).toISOString();

    expect(await runs.bufferBehindLock(TENANT, 'job_A', 'run_2', NOW)).toBe(false); // no lock: nothing to wait behind
    expect(await runs.acquireLock(TENANT, 'job_A', 'run_1', lease, NOW)).toBe(true);
    expect(await runs.acquireLock(TENANT, 'job_A', 'run_1', lease, NOW)).toBe(true); // its holder again
    expect(await runs.acquireLock(TENANT, 'job_A', 'run_2', lease, later(60_000))).toBe(false);
    expect(await runs.bufferBehindLock(TENANT, 'job_A', 'run_2', NOW)).toBe(true);
    expect(await runs.bufferBehindLock(TENANT, 'job_A', 'run_2', NOW)).toBe(true);
    expect(await runs.bufferBehindLock(TENANT, 'job_A', 'run_3', NOW)).toBe(false);

    await runs.releaseLock(TENANT, 'job_A', 'run_2'); // not the holder: nothing
    expect(runs.lockOf(TENANT, 'job_A')).toEqual({ holder: 'run_1', leaseUntil: lease, buffered: 'run_2' });
    await runs.releaseLock(TENANT, 'job_A', 'run_1');
    expect(runs.lockOf(TENANT, 'job_A')).toEqual({ buffered: 'run_2' });
    await runs.clearBuffered(TENANT, 'job_A', 'run_3');
    expect(runs.lockOf(TENANT, 'job_A')).toEqual({ buffered: 'run_2' });
    await runs.clearBuffered(TENANT, 'job_A', 'run_2');
    expect(runs.lockOf(TENANT, 'job_A')).toEqual({});

    // A lease run out frees the lock for another run.
    await runs.acquireLock(TENANT, 'job_A', 'run_1', lease, NOW);
    expect(await runs.acquireLock(TENANT, 'job_A', 'run_4', lease, later(60_001))).toBe(true);
  });

  it('lists newest first, filtered by status, and names the newest as the latest', async () => {
    const runs = new InMemoryRuns();
    for (const [id, status] of [
      ['run_1', 'succeeded'],
      ['run_2', 'failed'],
      ['run_3', 'succeeded'],
    ] as const) {
      runs.seed(run({ id, status }));
    }

    expect((await runs.list(TENANT, 'job_A', { limit: 10 })).items.map((r) => r.id)).toEqual([
      'run_3',
      'run_2',
      'run_1',
    ]);
    expect(
      (await runs.list(TENANT, 'job_A', { limit: 10, status: 'succeeded' })).items.map((r) => r.id),
    ).toEqual(['run_3', 'run_1']);
    expect(await runs.latest(TENANT, 'job_A')).toMatchObject({ id: 'run_3', status: 'succeeded' });
    expect(await runs.latest(TENANT, 'job_B')).toBeNull();
  });
});

describe('InMemoryFairShare', () => {
  it('gives a tenant its places on a queue, frees a place whose lease ran out, and never limits with 0', async () => {
    const share = new InMemoryFairShare((p) => (p === 'low' ? 0 : 2));
    const lease = later(60_000);

    expect(await share.take(TENANT, 'default', 'a', lease, NOW)).toBe(true);
    expect(await share.take(TENANT, 'default', 'b', lease, NOW)).toBe(true);
    expect(await share.take(TENANT, 'default', 'c', lease, NOW)).toBe(false);
    expect(await share.take('globex', 'default', 'd', lease, NOW)).toBe(true);
    expect(await share.take(TENANT, 'high', 'e', lease, NOW)).toBe(true);
    expect(await share.take(TENANT, 'default', 'c', lease, later(60_001))).toBe(true);
    expect(share.holders(TENANT, 'default')).toEqual(['c']);

    await share.give(TENANT, 'default', 'c');
    expect(share.holders(TENANT, 'default')).toEqual([]);
    for (const h of ['x', 'y', 'z']) expect(await share.take(TENANT, 'low', h, lease, NOW)).toBe(true);
  });
});

describe('InMemoryDeadLetters', () => {
  const letter: DeadLetter = {
    id: 'm-1',
    tenantId: TENANT,
    jobId: 'job_A',
    runId: 'run_1',
    priority: 'default',
    body: '{}',
    reason: 'not processed after 5 receives',
    receiveCount: 6,
    deadLetteredAt: NOW.toISOString(),
    status: 'dead',
    redrivenAt: null,
    redrivenBy: null,
  };

  it('archives a message once, and marks it redriven once', async () => {
    const letters = new InMemoryDeadLetters();
    await letters.archive(letter, NOW);
    await letters.archive({ ...letter, reason: 'again' }, NOW);
    expect(letters.all()).toEqual([letter]);

    expect(await letters.markRedriven(TENANT, 'm-1', 'key_ops', NOW)).toBe(true);
    expect(await letters.markRedriven(TENANT, 'm-1', 'key_ops', NOW)).toBe(false);
    expect(await letters.get(TENANT, 'm-1')).toMatchObject({ status: 'redriven', redrivenBy: 'key_ops' });
    expect(await letters.get('globex', 'm-1')).toBeUndefined();
    expect((await letters.list(TENANT, { limit: 10, status: 'dead' })).items).toEqual([]);
  });
});

describe('signing and sealing', () => {
  it('a MAC covers who and what a message runs', async () => {
    const signer = new InMemoryFiringSigner();
    const signed = await signer.sign({
      v: 1,
      tenantId: TENANT,
      jobId: 'job_A',
      trigger: 'manual',
      runId: 'run_1',
    });

    expect(await signer.verify(signed)).toBe(true);
    expect(await signer.verify({ ...signed, tenantId: 'globex' })).toBe(false);
    expect(await signer.verify({ ...signed, runId: 'run_2' })).toBe(false);
    expect(await new InMemoryFiringSigner('another key').verify(signed)).toBe(false);
  });

  it('a sealed secret opens only under the context it was sealed with', async () => {
    const box = new InMemorySecretSealer();
    const sealed = await box.seal('s3cret', { tenantId: TENANT, jobId: 'job_A' });

    expect(sealed).not.toContain('s3cret');
    expect(await box.open(sealed, { jobId: 'job_A', tenantId: TENANT })).toBe('s3cret');
    await expect(box.open(sealed, { tenantId: 'globex', jobId: 'job_A' })).rejects.toThrow();
  });
});
