/**
 * `npm run drill` at a small size (issue 16, item 6): on one pair of local regions, first a
 * planned failover and a failback with both regions alive, then the home region killed in the
 * middle of a minute — its firings of that minute ran, their records not yet replicated — a
 * forced failover and the standby's takeover. Every occurrence due is accounted for from the
 * surviving region's run records and the target's call log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checks,
  type DrillHarness,
  type FailbackReport,
  failbackDrill,
  formatReport,
  killDrill,
  RTO_LIMIT_SECONDS,
  startDrill,
  summaryLine,
} from '../../drill/drill.js';
import { account, type DrillJob } from '../../drill/ledger.js';
import type { StoredRun } from '../../functions/domain/run.js';
import { scheduledRunId } from '../../functions/domain/run.js';

let h: DrillHarness;
let failback: FailbackReport | undefined;

beforeAll(async () => {
  h = await startDrill({ logLevel: (process.env.DR_LOG as 'WARN') ?? 'SILENT' });
}, 120_000);

afterAll(async () => {
  await h?.stop();
});

describe('the region drill', () => {
  it('fails over and back with both regions alive: each occurrence once, only the active region calls', async () => {
    const r = await failbackDrill(h, { jobs: 4, minutes: 1 });
    failback = r;
    expect(r.failover.fencedDirectly).toBe(true);
    expect(r.failback.fencedDirectly).toBe(true);
    expect([...r.failover.changes, ...r.failback.changes].map((c) => c && `${c.role} ${c.state}`)).toEqual([
      'active done',
      'passive done',
      'active done',
      'passive done',
    ]);
    expect(r.ledger).toMatchObject({ lost: 0, duplicated: 0, unrecorded: 0, unfinished: 0, mismatches: 0 });
    expect(r.ledger.unexpected).toBe(0);
    expect(r.ledger.due).toBeGreaterThan(0);
    // The standby fired in its phase, the home region in its own; neither while passive.
    expect(r.phases.map((p) => Object.keys(p.calls))).toEqual([['us-east-1'], ['us-west-2'], ['us-east-1']]);
    expect(r.fenceViolations).toBe(0);
    expect(r.divergent).toBe(0);
  }, 90_000);

  it('loses the home region mid-minute: nothing lost, RTO under 15 minutes, RPO within the pump interval', async () => {
    const r = await killDrill(h, { jobs: 6, minutes: 4, detection: 3, afterMinutes: 2 });
    const l = r.ledger;
    expect(r.problems).toEqual([]);
    expect(l.lost).toBe(0);
    expect(l.unrecorded).toBe(0);
    expect(l.unfinished).toBe(0);
    expect(l.mismatches).toBe(0);
    expect(l.unexpected).toBe(0);
    // The kill came after the minute's runs and before their replication: those records are the RPO.
    expect(l.unreplicated).toBeGreaterThan(0);
    expect(r.lostWrites.runs).toBeGreaterThan(0);
    // Run twice only inside it: the lost region had called the target of an occurrence whose
    // record never arrived, and the takeover ran it again (catchUp all, within its window).
    expect(l.duplicatedInsideRpo).toBe(l.duplicated);
    expect(l.duplicated).toBe(l.rerunInsideRpo);
    expect(l.duplicated).toBeGreaterThan(0);
    // Replication is pumped once a simulated minute.
    expect(r.rpoSeconds).toBeGreaterThan(0);
    expect(r.rpoSeconds).toBeLessThanOrEqual(60);
    expect(r.detection.seconds).toBe(180);
    expect(r.rtoSeconds).not.toBeNull();
    expect(r.rtoSeconds!).toBeGreaterThanOrEqual(r.detection.seconds);
    expect(r.rtoSeconds!).toBeLessThan(RTO_LIMIT_SECONDS);
    // After the failback scenario's failover and failback, epochs 1 and 2.
    const epoch = failback ? 3 : 1;
    expect(r.failover).toMatchObject({ epoch, fencedDirectly: false });
    expect(r.takeover.change).toMatchObject({ role: 'active', state: 'done', epoch, schedules: 6 });
    expect(r.takeover.change!.caughtUp + r.takeover.change!.missed).toBeGreaterThan(0);
    expect(l.callsByRegion['us-west-2']).toBeGreaterThan(0);

    const failures = checks(r, failback);
    expect(failures).toEqual([]);
    const lines = formatReport({ kill: r, failback, failures });
    expect(lines.at(-1)).toBe(summaryLine(r));
    expect(lines.at(-1)).toMatch(/^RPO \d+ RTO \d+ lost 0 duplicated \d+$/);
    expect(lines.at(-1)).toBe(`RPO ${r.rpoSeconds} RTO ${r.rtoSeconds} lost 0 duplicated ${l.duplicated}`);
  }, 120_000);
});

describe('the region drill with a strongly consistent runs table (npm run drill -- --strong)', () => {
  let strong: DrillHarness;

  beforeAll(async () => {
    strong = await startDrill({ logLevel: 'SILENT', consistency: 'strong' });
  }, 120_000);

  afterAll(async () => {
    await strong?.stop();
  });

  it('loses the home region mid-minute: no run record lost with it, so nothing runs twice', async () => {
    const r = await killDrill(strong, { jobs: 4, minutes: 3, detection: 3, afterMinutes: 1 });
    const l = r.ledger;
    expect(r.consistency).toBe('strong');
    expect(r.problems).toEqual([]);
    // The same kill as above; the lost region's last runs are the survivor's all the same.
    expect(r.lostWrites.runs).toBe(0);
    expect(l.unreplicated).toBe(0);
    expect(l).toMatchObject({ lost: 0, duplicated: 0, unrecorded: 0, unfinished: 0, mismatches: 0 });
    expect(r.rpoSeconds).toBe(0);
    expect(r.takeover.change).toMatchObject({ role: 'active', state: 'done', schedules: 4 });
    expect(checks(r)).toEqual([]);
    expect(formatReport({ kill: r, failback: undefined, failures: [] }).at(-1)).toBe(
      `RPO 0 RTO ${r.rtoSeconds} lost 0 duplicated 0`,
    );
  }, 120_000);
});

describe('the drill’s accounting', () => {
  const job: DrillJob = {
    id: 'job_1',
    tenantId: 'dev',
    name: 'j',
    expression: 'rate(1 minute)',
    timezone: 'UTC',
    catchUp: 'all',
    catchUpWindowMinutes: 60,
    createdAt: '2026-12-01T10:00:10.000Z',
  };
  const run = (minute: number, extra: Partial<StoredRun> = {}): StoredRun => {
    const scheduledAt = new Date(Date.UTC(2026, 11, 1, 10, minute)).toISOString();
    return {
      id: scheduledRunId(new Date(scheduledAt)),
      jobId: job.id,
      tenantId: 'dev',
      scheduledAt,
      trigger: 'schedule',
      status: 'succeeded',
      attempt: 1,
      startedAt: scheduledAt,
      finishedAt: scheduledAt,
      durationMs: 1,
      result: null,
      error: null,
      skipReason: null,
      attempts: [],
      nextAttemptAt: null,
      ...extra,
    };
  };
  const call = (minute: number, region: string) => ({
    jobId: job.id,
    scheduledAt: new Date(Date.UTC(2026, 11, 1, 10, minute)).toISOString(),
    runId: '',
    region,
    at: '',
  });

  it('tells lost from unreplicated, and duplicates inside the RPO from those outside', () => {
    const { totals, problems } = account({
      jobs: [job],
      end: new Date('2026-12-01T10:05:30.000Z'),
      survivor: new Map([
        // 1 ran and replicated; 2 ran in the lost region, never replicated, caught up here (a
        // duplicate inside the RPO); 3 has no record and no call (lost); 4 ran twice with its
        // record replicated (a duplicate outside the RPO); 5 ran once, here.
        [job.id, [run(1), run(2, { trigger: 'catch_up' }), run(4), run(5)]],
      ]),
      calls: [call(1, 'a'), call(2, 'a'), call(2, 'b'), call(4, 'a'), call(4, 'b'), call(5, 'b')],
      unreplicated: new Set([`${job.id}@${new Date(Date.UTC(2026, 11, 1, 10, 2)).toISOString()}`]),
      takeovers: [new Date('2026-12-01T10:03:30.000Z')],
    });
    expect(totals).toMatchObject({
      due: 5,
      lost: 1,
      unreplicated: 1,
      duplicated: 2,
      duplicatedInsideRpo: 1,
      rerunInsideRpo: 1,
      mismatches: 0,
    });
    expect(problems.join('\n')).toContain('10:03:00.000Z: lost');
    expect(problems.join('\n')).toContain('called 2 times (a, b) outside the RPO');
  });

  it('checks each gap occurrence against its job’s catch-up policy', () => {
    const latest = { ...job, id: 'job_2', catchUp: 'latest' as const };
    const missed = { trigger: 'catch_up' as const, status: 'missed' as const, startedAt: null };
    const { totals, problems } = account({
      jobs: [latest],
      end: new Date('2026-12-01T10:03:30.000Z'),
      survivor: new Map([
        // The newest of the gap must run and the rest be missed: here it is the other way round.
        [
          latest.id,
          [
            run(1, { jobId: latest.id }),
            run(2, { jobId: latest.id, trigger: 'catch_up' }),
            run(3, { jobId: latest.id, ...missed }),
          ],
        ],
      ]),
      calls: [],
      takeovers: [new Date('2026-12-01T10:03:20.000Z')],
    });
    expect(totals.mismatches).toBe(2);
    expect(problems.some((p) => p.includes('should have recorded missed it, but it is succeeded'))).toBe(
      true,
    );
  });
});
