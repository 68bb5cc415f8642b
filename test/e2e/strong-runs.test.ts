/**
 * Two local regions whose runs table is strongly consistent across them (the stand-in for
 * DynamoDB multi-Region strong consistency: one runs table both regions use), beside the same
 * two regions with the default, eventually consistent runs tables (a replicator between two).
 *
 * Inside the replication lag of the active-region item both regions can believe they are active
 * and fire the same occurrence. With eventual consistency each claims the run in its own table
 * and the target is called twice (the README says so); with strong consistency the claim is one
 * conditional write on one table, so one region wins and the target is called once.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { failover } from '../../functions/usecases/regions.js';
import { DEV_TENANT, type LocalRuntime } from '../../local/runtime.js';
import { type LocalConsistency, startTwoRegions, type TwoRegions } from '../../local/two-regions.js';
import { type ApiClient, apiClient, type Job, type Run } from '../support/api.js';
import { MINUTE, TestClock } from '../support/clock.js';
import { deleteAllJobs, RecordingTarget } from './support.js';

const DAY = 24 * 60 * MINUTE;

describe.each<[LocalConsistency, number]>([
  ['strong', 1],
  ['eventual', 2],
])('two regions with a %s runs table', (consistency, callsInsideTheLag) => {
  const clock = new TestClock();
  const target = new RecordingTarget();
  let two: TwoRegions;
  let home: LocalRuntime;
  let standby: LocalRuntime;
  let homeApi: ApiClient;
  let standbyApi: ApiClient;

  beforeAll(async () => {
    await target.start();
    two = await startTwoRegions({
      clock,
      consistency,
      logLevel: 'SILENT',
      failedVisibilityTimeoutSeconds: 0,
    });
    ({ home, standby } = two);
    homeApi = apiClient(home.apiUrl, home.devApiKey);
    standbyApi = apiClient(standby.apiUrl, standby.devApiKey);
  });

  afterAll(async () => {
    await two?.stop();
    await target.stop();
  });

  beforeEach(() => {
    clock.fresh();
    target.reset();
  });

  afterEach(async () => {
    await deleteAllJobs(homeApi);
    await settle();
  });

  const settle = () => two.settle();

  async function minute(): Promise<void> {
    clock.advance(MINUTE);
    for (const rt of [home, standby]) {
      await rt.sweep();
      await rt.tick();
    }
    await settle();
  }

  async function createJob(path: string): Promise<Job> {
    const res = await homeApi<Job>('POST', '/v1/jobs', {
      name: `strong-${path.slice(1)}`,
      schedule: { expression: 'rate(1 minute)' },
      target: { type: 'http', url: `${target.url}${path}`, method: 'POST' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  }

  it('gives each runtime the run expiry its runs table needs', () => {
    const expected = consistency === 'strong' ? 'sweep' : undefined;
    for (const rt of [home, standby]) {
      for (const fn of ['Api', 'Worker', 'Completion', 'DeadLetters', 'Sync'] as const) {
        expect(rt.environments[fn].RUN_EXPIRY).toBe(expected);
      }
    }
    expect(home.endpoints.runsTable === standby.endpoints.runsTable).toBe(consistency === 'strong');
  });

  it(`calls the target ${callsInsideTheLag === 1 ? 'once' : 'twice'} for an occurrence both regions fire inside the lag`, async () => {
    const job = await createJob('/split');
    await settle();
    await minute();
    expect(target.callsTo('/split')).toHaveLength(1);

    // A failover the home region does not hear of yet: the active-region item is written to
    // the standby's table only, and replication does not bring it home before the next minute.
    const unreachable = async (): Promise<never> => {
      throw new Error('connect ETIMEDOUT');
    };
    await failover(
      {
        ...two.dr,
        tables: {
          ...two.dr.tables,
          'us-east-1': { state: unreachable, write: unreachable, heartbeats: unreachable },
        },
      },
      { to: 'us-west-2', by: 'test', force: true },
    );
    await standby.pollStreams();
    await standby.drain();
    expect((await standbyApi<{ active: boolean }>('GET', '/v1/region')).body.active).toBe(true);
    expect((await homeApi<{ active: boolean }>('GET', '/v1/region')).body.active).toBe(true);

    // Both regions fire the next minute's occurrence and work their queues.
    clock.advance(MINUTE);
    await home.fire();
    await standby.fire();
    await home.drain();
    await standby.drain();
    expect(target.callsTo('/split')).toHaveLength(1 + callsInsideTheLag);

    // Replication catches up: the home region stands down, and one run is recorded per occurrence.
    await settle();
    expect((await homeApi<{ active: boolean }>('GET', '/v1/region')).body.active).toBe(false);
    const runs = (await standbyApi<{ items: Run[] }>('GET', `/v1/jobs/${job.id}/runs?limit=100`)).body.items;
    const scheduled = runs.filter((r) => r.trigger === 'schedule');
    expect(new Set(scheduled.map((r) => r.scheduledAt)).size).toBe(scheduled.length);
    expect(scheduled.every((r) => r.status === 'succeeded')).toBe(true);

    // Fail back, so the next test starts from the home region.
    await failover(two.dr, { to: 'us-east-1', by: 'test', failback: true, force: true });
    await settle();
    await minute();
  });

  if (consistency !== 'strong') return;

  it('deletes runs once their retention ends, by the active region’s completion sweep (no TTL)', async () => {
    const old = await createJob('/old');
    await settle();
    await minute();
    expect(target.callsTo('/old')).toHaveLength(1);
    expect((await homeApi('DELETE', `/v1/jobs/${old.id}`)).status).toBe(204);
    await settle();
    const runsOf = async (jobId: string) =>
      (await standby.services.runStore.list(DEV_TENANT, jobId, { limit: 100 })).items;
    expect(await runsOf(old.id)).toHaveLength(1);

    // 29 days on, a newer job runs; a day later the old run's 30 days are over, the new one's not.
    clock.advance(29 * DAY);
    const young = await createJob('/young');
    await settle();
    await minute();
    expect((await homeApi('DELETE', `/v1/jobs/${young.id}`)).status).toBe(204);
    await settle();
    clock.advance(DAY + MINUTE);

    // The passive region deletes nothing: the records are the active region's to sweep.
    expect((await standby.sweepLongRuns()).detail).toBe('swept 0 (passive region)');
    expect(await runsOf(old.id)).toHaveLength(1);
    // This test's old run, and what earlier tests left: every record whose 30 days are over.
    expect((await home.sweepLongRuns()).detail).toMatch(/^swept 0, expired [1-9]\d*$/);
    expect(await runsOf(old.id)).toEqual([]);
    expect(await runsOf(young.id)).toHaveLength(1);
  });
});
