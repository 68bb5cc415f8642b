/**
 * The in-memory ports keep the conditions of the adapters they stand for (quoted in
 * in-memory.ts): a fake that let through what DynamoDB refuses would make the use-case
 * tests pass for the wrong reason.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../functions/domain/errors.js';
import { watchShardKey, watchShardOf } from '../../functions/domain/long-run.js';
import type { DeadLetter, LongStartContext } from '../../functions/domain/ports.js';
import { type LongOutcome, newRun, type StoredRun } from '../../functions/domain/run.js';
import type { LongTarget } from '../../functions/domain/target.js';
import {
  endedAttemptOf,
  FakeLongTargets,
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

  it('records a queued run only when there is none, and says whether it wrote', async () => {
    const runs = new InMemoryRuns();
    expect(await runs.putQueued(run({ id: 'run_2', status: 'queued', attempt: 0 }), NOW)).toBe(true);
    expect(
      await runs.putQueued(run({ id: 'run_2', status: 'queued', attempt: 0, trigger: 'manual' }), NOW),
    ).toBe(false);
    expect(runs.peek(TENANT, 'job_A', 'run_2')!.trigger).toBe('schedule');
    await runs.claim(run(), NOW);
    expect(await runs.putQueued(run({ status: 'queued', attempt: 0 }), NOW)).toBe(false);
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
    expect(await runs.acquireLock(TENANT, 'job_A', 'run_1', lease, NOW, 'first')).toEqual({ previous: null });
    // Its holder again: taken, and told it held it already, until when and by whom.
    expect(await runs.acquireLock(TENANT, 'job_A', 'run_1', lease, NOW, 'second')).toEqual({
      previous: { leaseUntil: lease, token: 'first' },
    });
    // Given back as it was found, by the one that took it last only.
    await runs.returnLock(TENANT, 'job_A', 'run_1', 'first', null);
    expect(runs.lockOf(TENANT, 'job_A')).toMatchObject({ holder: 'run_1', lockToken: 'second' });
    await runs.returnLock(TENANT, 'job_A', 'run_1', 'second', { leaseUntil: lease, token: 'first' });
    expect(runs.lockOf(TENANT, 'job_A')).toMatchObject({ holder: 'run_1', lockToken: 'first' });
    expect(await runs.acquireLock(TENANT, 'job_A', 'run_2', lease, later(60_000))).toBe(false);
    expect(await runs.bufferBehindLock(TENANT, 'job_A', 'run_2', NOW)).toBe(true);
    expect(await runs.bufferBehindLock(TENANT, 'job_A', 'run_2', NOW)).toBe(true);
    expect(await runs.bufferBehindLock(TENANT, 'job_A', 'run_3', NOW)).toBe(false);

    await runs.releaseLock(TENANT, 'job_A', 'run_2'); // not the holder: nothing
    expect(runs.lockOf(TENANT, 'job_A')).toEqual({
      holder: 'run_1',
      lockToken: 'first',
      leaseUntil: lease,
      buffered: 'run_2',
    });
    await runs.releaseLock(TENANT, 'job_A', 'run_1');
    expect(runs.lockOf(TENANT, 'job_A')).toEqual({ buffered: 'run_2' });
    await runs.clearBuffered(TENANT, 'job_A', 'run_3');
    expect(runs.lockOf(TENANT, 'job_A')).toEqual({ buffered: 'run_2' });
    await runs.clearBuffered(TENANT, 'job_A', 'run_2');
    expect(runs.lockOf(TENANT, 'job_A')).toEqual({});

    // A lease run out frees the lock for another run.
    await runs.acquireLock(TENANT, 'job_A', 'run_1', lease, NOW);
    expect(await runs.acquireLock(TENANT, 'job_A', 'run_4', lease, later(60_001))).toEqual({
      previous: null,
    });
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

/** A long attempt in progress, as startLongAttempt records it. */
function longRun(overrides: Partial<StoredRun> = {}): StoredRun {
  return run({
    claimToken: 'tok',
    long: {
      kind: 'ecs',
      key: 'sundial-key-1',
      ref: 'arn:aws:ecs:eu-west-1:123456789012:task/batch/1',
      startedAt: NOW.toISOString(),
      polls: 0,
      heartbeatTimeoutSeconds: null,
    },
    deadlineAt: later(3_600_000).toISOString(),
    watchShard: watchShardOf('run_1'),
    watchAt: later(60_000).toISOString(),
    ...overrides,
  });
}

const succeeded: LongOutcome = { status: 'succeeded', error: null, result: { exitCode: 0 } };

describe('InMemoryRuns: long attempts', () => {
  it('replaces a run only while it is as expected: status, attempt, key, claim, no report, watched', async () => {
    const runs = new InMemoryRuns();
    const next = (n: number) => longRun({ progressMessage: `write ${n}` });
    // No run: a Put with a condition on its attributes fails.
    expect(await runs.replaceIf(next(0), { status: 'running', attempt: 1 }, NOW)).toBe(false);
    expect(runs.peek(TENANT, 'job_A', 'run_1')).toBeUndefined();

    runs.seed(longRun());
    expect(await runs.replaceIf(next(1), { status: 'queued', attempt: 1 }, NOW)).toBe(false);
    expect(await runs.replaceIf(next(1), { status: 'running', attempt: 2 }, NOW)).toBe(false);
    expect(await runs.replaceIf(next(1), { status: 'running', attempt: 1, key: 'sundial-other' }, NOW)).toBe(
      false,
    );
    expect(await runs.replaceIf(next(1), { status: 'running', attempt: 1, claimToken: 'theirs' }, NOW)).toBe(
      false,
    );
    expect(runs.peek(TENANT, 'job_A', 'run_1')!.progressMessage).toBeUndefined();
    expect(
      await runs.replaceIf(
        next(2),
        {
          status: 'running',
          attempt: 1,
          key: 'sundial-key-1',
          claimToken: 'tok',
          unreported: true,
          watched: true,
        },
        NOW,
      ),
    ).toBe(true);
    expect(runs.peek(TENANT, 'job_A', 'run_1')!.progressMessage).toBe('write 2');

    // A key is expected of a run that has no long attempt: refused (the attribute is absent).
    runs.seed(run({ id: 'run_2' }));
    expect(await runs.replaceIf(run({ id: 'run_2' }), { status: 'running', attempt: 1, key: 'k' }, NOW)).toBe(
      false,
    );

    // Reported, or no longer watched: refused when the expectation says so, taken otherwise.
    await runs.report(TENANT, 'job_A', 'run_1', 1, succeeded, NOW);
    expect(await runs.replaceIf(next(3), { status: 'running', attempt: 1, unreported: true }, NOW)).toBe(
      false,
    );
    const { watchAt: _a, watchShard: _s, ...unwatched } = longRun();
    expect(await runs.replaceIf(unwatched, { status: 'running', attempt: 1 }, NOW)).toBe(true);
    expect(await runs.replaceIf(next(4), { status: 'running', attempt: 1, watched: true }, NOW)).toBe(false);
    // The Put replaces the whole item: what the new run lacks is gone.
    expect(runs.peek(TENANT, 'job_A', 'run_1')).not.toHaveProperty('reported');
    expect(runs.peek(TENANT, 'job_A', 'run_1')).not.toHaveProperty('watchAt');
  });

  it('records a heartbeat of the attempt in progress, keeping what the beat leaves out', async () => {
    const runs = new InMemoryRuns();
    runs.seed(longRun());
    const at = later(1000).toISOString();
    expect(await runs.heartbeat(TENANT, 'job_A', 'run_1', 1, { at, progress: 0.5, message: 'half' })).toBe(
      'ok',
    );
    const second = later(2000).toISOString();
    expect(await runs.heartbeat(TENANT, 'job_A', 'run_1', 1, { at: second })).toBe('ok');
    expect(runs.peek(TENANT, 'job_A', 'run_1')).toMatchObject({
      heartbeatAt: second,
      progress: 0.5,
      progressMessage: 'half',
    });
  });

  it('reports an outcome once, making the run due to the sweep at once', async () => {
    const runs = new InMemoryRuns();
    runs.seed(longRun({ watchAt: later(3_600_000).toISOString() }));
    expect(await runs.report(TENANT, 'job_A', 'run_1', 1, succeeded, later(5000))).toBe('ok');
    expect(runs.peek(TENANT, 'job_A', 'run_1')).toMatchObject({
      status: 'running',
      reported: succeeded,
      watchShard: watchShardOf('run_1'),
      watchAt: later(5000).toISOString(),
    });
    const failed: LongOutcome = { status: 'failed', error: { type: 'callback', message: 'no' }, result: {} };
    expect(await runs.report(TENANT, 'job_A', 'run_1', 1, failed, later(6000))).toBe('ended');
    expect(runs.peek(TENANT, 'job_A', 'run_1')!.reported).toEqual(succeeded);
    // A reported attempt takes no more heartbeats either.
    expect(await runs.heartbeat(TENANT, 'job_A', 'run_1', 1, { at: later(7000).toISOString() })).toBe(
      'ended',
    );
  });

  it('says why a write to an attempt was refused: ended (409) or not in progress (404)', async () => {
    const runs = new InMemoryRuns();
    const beat = { at: NOW.toISOString() };
    expect(await runs.heartbeat(TENANT, 'job_A', 'run_1', 1, beat)).toBe('stale'); // no such run
    runs.seed(longRun({ attempt: 2 }));
    expect(await runs.heartbeat(TENANT, 'job_A', 'run_1', 1, beat)).toBe('stale'); // an older attempt
    expect(await runs.report(TENANT, 'job_A', 'run_1', 3, succeeded, NOW)).toBe('stale'); // a later one
    for (const status of [
      'succeeded',
      'failed',
      'timed_out',
      'cancelled',
      'skipped',
      'missed',
      'queued',
    ] as const) {
      runs.seed(longRun({ status }));
      expect(await runs.heartbeat(TENANT, 'job_A', 'run_1', 1, beat), status).toBe('ended');
      expect(await runs.report(TENANT, 'job_A', 'run_1', 1, succeeded, NOW), status).toBe('ended');
      expect(runs.peek(TENANT, 'job_A', 'run_1')).not.toHaveProperty('reported');
    }
    expect(endedAttemptOf(undefined, 1)).toBe('stale');
  });

  it('moves the next look only while the run still waits on that attempt, unreported', async () => {
    const runs = new InMemoryRuns();
    const next = { watchAt: later(300_000).toISOString(), polls: 1 };
    expect(await runs.rewatch(TENANT, 'job_A', 'run_1', { attempt: 1, key: 'sundial-key-1' }, next)).toBe(
      false,
    );
    runs.seed(longRun());
    expect(await runs.rewatch(TENANT, 'job_A', 'run_1', { attempt: 2, key: 'sundial-key-1' }, next)).toBe(
      false,
    );
    expect(await runs.rewatch(TENANT, 'job_A', 'run_1', { attempt: 1, key: 'sundial-other' }, next)).toBe(
      false,
    );
    expect(await runs.rewatch(TENANT, 'job_A', 'run_1', { attempt: 1, key: 'sundial-key-1' }, next)).toBe(
      true,
    );
    expect(runs.peek(TENANT, 'job_A', 'run_1')).toMatchObject({
      watchAt: next.watchAt,
      long: { key: 'sundial-key-1', polls: 1, ref: 'arn:aws:ecs:eu-west-1:123456789012:task/batch/1' },
    });
    await runs.report(TENANT, 'job_A', 'run_1', 1, succeeded, NOW);
    expect(await runs.rewatch(TENANT, 'job_A', 'run_1', { attempt: 1, key: 'sundial-key-1' }, next)).toBe(
      false,
    );
    runs.seed(longRun({ status: 'cancelled' }));
    expect(await runs.rewatch(TENANT, 'job_A', 'run_1', { attempt: 1, key: 'sundial-key-1' }, next)).toBe(
      false,
    );
  });

  it("lists a shard's due watches, oldest first, up to the limit, and none without both keys", async () => {
    const runs = new InMemoryRuns();
    // Run ids that fall into the same shard, and one into another.
    const ids = Array.from({ length: 40 }, (_, i) => `run_${String(i).padStart(2, '0')}`);
    const shard0 = ids.filter((id) => watchShardOf(id) === watchShardKey(0));
    const other = ids.find((id) => watchShardOf(id) !== watchShardKey(0))!;
    expect(shard0.length).toBeGreaterThanOrEqual(4);
    const [a, b, c, d] = shard0 as [string, string, string, string];
    runs.seed(longRun({ id: a, watchShard: watchShardOf(a), watchAt: later(3000).toISOString() }));
    runs.seed(longRun({ id: b, watchShard: watchShardOf(b), watchAt: later(1000).toISOString() }));
    runs.seed(
      longRun({ id: c, jobId: 'job_B', watchShard: watchShardOf(c), watchAt: later(2000).toISOString() }),
    );
    runs.seed(longRun({ id: d, watchShard: watchShardOf(d), watchAt: later(9000).toISOString() })); // not due
    runs.seed(longRun({ id: other, watchShard: watchShardOf(other), watchAt: NOW.toISOString() })); // other shard
    const { watchAt: _w, ...noWatchAt } = longRun({ id: `${a}x` });
    runs.seed({ ...noWatchAt, watchShard: watchShardKey(0) }); // sparse: not indexed

    const before = later(3000).toISOString();
    expect(await runs.dueWatches(0, before, 10)).toEqual([
      { tenantId: TENANT, jobId: 'job_A', runId: b },
      { tenantId: TENANT, jobId: 'job_B', runId: c },
      { tenantId: TENANT, jobId: 'job_A', runId: a },
    ]);
    expect(await runs.dueWatches(0, before, 2)).toHaveLength(2);
    expect(await runs.dueWatches(0, later(999).toISOString(), 10)).toEqual([]);
    const otherShard = Number(watchShardOf(other).slice(2));
    expect(await runs.dueWatches(otherShard, before, 10)).toEqual([
      { tenantId: TENANT, jobId: 'job_A', runId: other },
    ]);
  });

  it("keeps a job's backfill line: each occurrence in turn, moved on only by the one in progress", async () => {
    const runs = new InMemoryRuns();
    const [t1, t2, t3] = ['2027-03-01T01:00:00.000Z', '2027-03-01T02:00:00.000Z', '2027-03-01T03:00:00.000Z'];
    // An empty line does not start.
    expect(await runs.advanceBackfill(TENANT, 'job_A', null)).toBeUndefined();
    await runs.enqueueBackfill(TENANT, 'job_A', []);
    await runs.enqueueBackfill(TENANT, 'job_A', [t1, t2]);
    expect(runs.backfillOf(TENANT, 'job_A')).toEqual({ pending: [t1, t2] });

    expect(await runs.advanceBackfill(TENANT, 'job_A', t1)).toBeUndefined(); // t1 is not in progress yet
    expect(await runs.advanceBackfill(TENANT, 'job_A', null)).toBe(t1);
    expect(await runs.advanceBackfill(TENANT, 'job_A', null)).toBeUndefined(); // busy: only an idle line starts
    await runs.enqueueBackfill(TENANT, 'job_A', [t3]); // a second backfill joins the line
    expect(runs.backfillOf(TENANT, 'job_A')).toEqual({ current: t1, pending: [t2, t3] });
    expect(await runs.advanceBackfill(TENANT, 'job_A', t2)).toBeUndefined(); // not the one in progress
    expect(await runs.advanceBackfill(TENANT, 'job_A', t1)).toBe(t2);
    expect(await runs.advanceBackfill(TENANT, 'job_A', t1)).toBeUndefined(); // twice: moves once
    expect(await runs.advanceBackfill(TENANT, 'job_A', t2)).toBe(t3);
    expect(await runs.advanceBackfill(TENANT, 'job_A', t3)).toBeUndefined();
    expect(runs.backfillOf(TENANT, 'job_A')).toEqual({ pending: [] });
    // Idle again: a new line starts with null.
    await runs.enqueueBackfill(TENANT, 'job_A', [t1]);
    expect(await runs.advanceBackfill(TENANT, 'job_A', null)).toBe(t1);
    // Each job has its own line.
    expect(runs.backfillOf(TENANT, 'job_B')).toEqual({});
    expect(await runs.advanceBackfill(TENANT, 'job_B', null)).toBeUndefined();
  });

  it('remembers which attempt an attempt key stands for', async () => {
    const runs = new InMemoryRuns();
    const pointer = { tenantId: TENANT, jobId: 'job_A', runId: 'run_1', attempt: 2 };
    expect(await runs.getAttemptPointer('sundial-key-1')).toBeUndefined();
    await runs.putAttemptPointer('sundial-key-1', pointer, NOW);
    expect(await runs.getAttemptPointer('sundial-key-1')).toEqual(pointer);
    await runs.putAttemptPointer('sundial-key-1', { ...pointer, attempt: 3 }, NOW); // unconditional Put
    expect(await runs.getAttemptPointer('sundial-key-1')).toEqual({ ...pointer, attempt: 3 });
    expect(runs.pointerKeys()).toEqual(['sundial-key-1']);
  });
});

describe('FakeLongTargets', () => {
  const ecsTarget: LongTarget = {
    type: 'ecs',
    cluster: 'arn:aws:ecs:eu-west-1:123456789012:cluster/batch',
    taskDefinition: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/import:3',
    launchType: 'FARGATE',
    network: null,
    containerOverrides: [],
    timeoutSeconds: 30,
    runTimeoutSeconds: 3600,
    heartbeatTimeoutSeconds: null,
  };
  const context = (attemptKey: string): LongStartContext => ({
    tenantId: TENANT,
    jobId: 'job_A',
    runId: 'run_1',
    scheduledAt: NOW.toISOString(),
    attempt: 1,
    attemptKey,
    callbackUrl: 'http://127.0.0.1:3000/v1/callbacks/x.y',
  });

  it('starts an attempt once per key, as startedBy and an execution name make it', async () => {
    const targets = new FakeLongTargets();
    const first = await targets.start(ecsTarget, context('sundial-a'));
    expect(first).toMatchObject({ kind: 'started', ref: expect.stringContaining('sundial-a') });
    expect(await targets.start(ecsTarget, context('sundial-a'))).toEqual(first);
    await targets.start(ecsTarget, context('sundial-b'));
    expect(targets.starts).toHaveLength(3);
    expect(targets.tasks).toEqual(['sundial-a', 'sundial-b']);
  });

  it('says what a test planned: a failure, a thrown error, then starts again', async () => {
    const targets = new FakeLongTargets().willStart(
      {
        kind: 'rejected',
        type: 'run_task_failed',
        message: 'no capacity',
        statusCode: null,
        bodyExcerpt: null,
      },
      new Error('socket hang up'),
    );
    expect(await targets.start(ecsTarget, context('sundial-a'))).toMatchObject({ kind: 'rejected' });
    await expect(targets.start(ecsTarget, context('sundial-a'))).rejects.toThrow('socket hang up');
    expect(targets.tasks).toEqual([]);
    expect(await targets.start(ecsTarget, context('sundial-a'))).toMatchObject({ kind: 'started' });
  });

  it('describes a running task as null and an ended one by its outcome, and fails stops on demand', async () => {
    const targets = new FakeLongTargets();
    const started = await targets.start(ecsTarget, context('sundial-a'));
    const ref = started.kind === 'started' ? started.ref : null;
    const handle = { kind: 'ecs' as const, key: 'sundial-a', ref, cluster: ecsTarget.cluster };
    expect(await targets.describe(handle)).toBeNull();
    targets.end(ref!, succeeded);
    expect(await targets.describe(handle)).toEqual(succeeded);
    expect(await targets.describe({ kind: 'callback', key: 'k', ref: null })).toBeNull();

    targets.failStops(1);
    await expect(targets.stop(handle, 'why')).rejects.toThrow();
    await targets.stop(handle, 'why');
    expect(targets.stops).toHaveLength(2);
    expect(targets.describes).toHaveLength(3);
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
