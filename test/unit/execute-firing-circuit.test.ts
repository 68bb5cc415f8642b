/**
 * The circuit breaker in the worker's use case (issue 17), over the in-memory ports: a target
 * that keeps failing is called no more during its cool-down, the runs that arrive meanwhile
 * wait queued with the reason, one probe goes after it, and recovery closes it.
 */
import { describe, expect, it } from 'vitest';
import { type BreakerSettings, breakerTargetOf } from '../../functions/domain/breaker.js';
import { type FiringMessage, firing } from '../../functions/domain/firing.js';
import { firingMessageSchema } from '../../functions/domain/firing-schema.js';
import type { StoredJob } from '../../functions/domain/job.js';
import { scheduledRunId } from '../../functions/domain/run.js';
import { executeFiring } from '../../functions/usecases/execute-firing.js';
import { outcomes } from '../fakes/in-memory.js';
import { aJob, TENANT, type WorkerWorld, workerWorld } from '../fakes/world.js';

const at = (time: string) => `2027-03-01T${time}.000Z`;
const fired = (job: Pick<StoredJob, 'tenantId' | 'id'>, time: string): FiringMessage =>
  firingMessageSchema.parse({ ...firing.scheduleTemplate(job), scheduledTime: at(time) });
const runIdAt = (time: string) => scheduledRunId(new Date(at(time)));
const settings: BreakerSettings = { failureThreshold: 3, coolDownSeconds: 60, maxCoolDownSeconds: 900 };
const HOST = 'reports.example.com';

/** Works every message on the queue that is due now, as SQS would deliver them. */
async function drainDue(w: WorkerWorld): Promise<void> {
  for (const message of w.queue.take()) {
    if (message.notBefore && Date.parse(message.notBefore) > w.clock.now().getTime()) {
      await w.queue.send('default', message);
      continue;
    }
    await executeFiring(w.deps, message);
  }
}

/** A job every 5 minutes at a target that answers 500 until told otherwise. */
function failingWorld(overrides: Partial<StoredJob> = {}) {
  const w = workerWorld({ breaker: settings });
  const job = w.jobs.seed(aJob({ ...overrides }));
  w.target.answers(outcomes.http(500));
  return { w, job };
}

describe('a target that keeps failing', () => {
  it('is called N times, then not at all during the cool-down: the firing waits queued with the reason', async () => {
    const { w, job } = failingWorld();
    for (const time of ['10:00:00', '10:05:00', '10:10:00']) {
      w.clock.set(at(time));
      await executeFiring(w.deps, fired(job, time));
    }
    expect(w.target.calls).toHaveLength(3);
    const breaker = await w.breakers.get(TENANT, HOST);
    expect(breaker).toMatchObject({
      state: 'open',
      failures: 3,
      retryAt: at('10:11:00'),
      lastError: 'HTTP 500',
    });
    expect(w.metrics.circuitOpenings).toBe(1);

    w.clock.set(at('10:10:30'));
    const outcome = await executeFiring(w.deps, firing.occurrence(job, 'schedule', new Date(at('10:10:30'))));
    expect(outcome).toMatchObject({ result: 'done', detail: 'circuit open' });
    expect(w.target.calls).toHaveLength(3);
    const waiting = w.runs.of(TENANT, job.id).find((r) => r.id === runIdAt('10:10:30'))!;
    expect(waiting).toMatchObject({
      status: 'queued',
      attempt: 0,
      nextAttemptAt: at('10:11:00'),
      waitReason: `circuit open for ${HOST} after 3 consecutive failures; next try at ${at('10:11:00')}`,
    });
    const [back] = w.queue.take();
    expect(back).toMatchObject({ notBefore: at('10:11:00'), circuitWaits: 1, trigger: 'schedule' });
    expect(w.metrics.circuitDeferrals).toEqual(['default']);
  });

  it('lets one probe through after the cool-down; its success closes the breaker and the run succeeds', async () => {
    const { w, job } = failingWorld({ catchUp: 'all' });
    for (const time of ['10:00:00', '10:05:00', '10:10:00']) {
      w.clock.set(at(time));
      await executeFiring(w.deps, fired(job, time));
    }
    w.clock.set(at('10:10:40'));
    await executeFiring(w.deps, firing.occurrence(job, 'schedule', new Date(at('10:10:40'))));
    w.target.answers(outcomes.ok());
    w.clock.set(at('10:11:00'));
    await drainDue(w);
    expect(w.target.calls).toHaveLength(4);
    const run = w.runs.of(TENANT, job.id).find((r) => r.id === runIdAt('10:10:40'))!;
    expect(run).toMatchObject({ status: 'succeeded', attempt: 1 });
    expect(run.waitReason).toBeUndefined();
    expect(await w.breakers.get(TENANT, HOST)).toMatchObject({
      state: 'closed',
      failures: 0,
      closedAt: at('10:11:00'),
    });
  });

  it('opens again for twice as long when the probe fails', async () => {
    const { w, job } = failingWorld();
    for (const time of ['10:00:00', '10:05:00', '10:10:00']) {
      w.clock.set(at(time));
      await executeFiring(w.deps, fired(job, time));
    }
    w.clock.set(at('10:11:00'));
    await executeFiring(w.deps, firing.occurrence(job, 'schedule', new Date(at('10:11:00'))));
    expect(w.target.calls).toHaveLength(4);
    expect(await w.breakers.get(TENANT, HOST)).toMatchObject({ state: 'open', retryAt: at('10:13:00') });
    expect(w.metrics.circuitOpenings).toBe(2);
  });

  it('keeps a retry’s attempt while it waits on the open circuit', async () => {
    const w = workerWorld({ breaker: { ...settings, failureThreshold: 1 } });
    const job = w.jobs.seed(
      aJob({ retryPolicy: { maxAttempts: 2, initialDelaySeconds: 30, multiplier: 2, maxDelaySeconds: 900 } }),
    );
    w.target.answers(outcomes.http(503), outcomes.ok());
    w.clock.set(at('10:00:00'));
    await executeFiring(w.deps, fired(job, '10:00:00'));
    // Attempt 1 failed and opened the breaker until 10:01; its retry is due at 10:00:30.
    w.clock.set(at('10:00:30'));
    await drainDue(w);
    expect(w.target.calls).toHaveLength(1);
    const waiting = w.runs.of(TENANT, job.id)[0]!;
    expect(waiting).toMatchObject({ status: 'queued', attempt: 1, nextAttemptAt: at('10:01:00') });
    expect(waiting.waitReason).toMatch(/^circuit open for reports\.example\.com/);
    w.clock.set(at('10:01:00'));
    await drainDue(w);
    const run = w.runs.of(TENANT, job.id)[0]!;
    // Attempt 2 of 2 ran: the wait used up no attempt.
    expect(run).toMatchObject({ status: 'succeeded', attempt: 2 });
    expect(run.attempts.map((a) => a.status)).toEqual(['failed', 'succeeded']);
  });

  it('lets the job’s catch-up rule decide what runs after the outage: with "none", the overtaken firing is missed', async () => {
    const { w, job } = failingWorld({ catchUp: 'none' });
    for (const time of ['10:00:00', '10:05:00', '10:10:00']) {
      w.clock.set(at(time));
      await executeFiring(w.deps, fired(job, time));
    }
    // The breaker opened at 10:10 with a long cool-down; the 10:10:30 firing waits past 10:15.
    await w.breakers.save(
      { ...(await w.breakers.get(TENANT, HOST))!, retryAt: at('10:16:00'), version: 99 },
      3,
    );
    w.clock.set(at('10:10:30'));
    const late = { ...fired(job, '10:10:00'), scheduledTime: at('10:10:30') };
    await executeFiring(w.deps, late);
    w.clock.set(at('10:16:00'));
    await drainDue(w);
    const run = w.runs.of(TENANT, job.id).find((r) => r.id === runIdAt('10:10:30'))!;
    expect(run.status).toBe('missed');
    expect(run.skipReason).toMatch(/overtaken by the occurrence at 2027-03-01T10:15:00.000Z/);
    expect(w.target.calls).toHaveLength(3);
  });

  it('records a firing deferred past its misfire grace as missed', async () => {
    const { w, job } = failingWorld({ misfireGraceSeconds: 20, catchUp: 'all' });
    for (const time of ['10:00:00', '10:05:00', '10:10:00']) {
      w.clock.set(at(time));
      await executeFiring(w.deps, fired(job, time));
    }
    w.clock.set(at('10:10:30'));
    await executeFiring(w.deps, { ...fired(job, '10:10:00'), scheduledTime: at('10:10:30') });
    w.clock.set(at('10:11:00'));
    await drainDue(w);
    const run = w.runs.of(TENANT, job.id).find((r) => r.id === runIdAt('10:10:30'))!;
    expect(run.status).toBe('missed');
    expect(run.skipReason).toMatch(/past the misfire grace of 20s/);
  });
});

describe('the breaker is the tenant’s own', () => {
  it('never opens for another tenant calling the same host', async () => {
    const { w, job } = failingWorld();
    const other = w.jobs.seed(aJob({ id: 'job_B', tenantId: 'globex' }));
    for (const time of ['10:00:00', '10:05:00', '10:10:00']) {
      w.clock.set(at(time));
      await executeFiring(w.deps, fired(job, time));
    }
    w.target.answers(outcomes.ok());
    w.clock.set(at('10:10:30'));
    const outcome = await executeFiring(w.deps, fired(other, '10:10:00'));
    expect(outcome).toMatchObject({ detail: 'succeeded' });
    expect(await w.breakers.get('globex', HOST)).toBeUndefined();
    expect(await w.breakers.get(TENANT, HOST)).toMatchObject({ state: 'open' });
  });
});

describe('the calm path', () => {
  it('reads the breaker once and writes nothing for a success on a target with no failures', async () => {
    const w = workerWorld({ breaker: settings });
    const job = w.jobs.seed(aJob());
    w.clock.set(at('10:00:00'));
    await executeFiring(w.deps, fired(job, '10:00:00'));
    expect(w.breakers.calls).toEqual({ get: 1 });
  });

  it('does not count a 4xx: the target answered, the request was wrong', async () => {
    const w = workerWorld({ breaker: { ...settings, failureThreshold: 1 } });
    const job = w.jobs.seed(aJob());
    w.target.answers(outcomes.http(404));
    w.clock.set(at('10:00:00'));
    await executeFiring(w.deps, fired(job, '10:00:00'));
    expect(w.runs.of(TENANT, job.id)[0]!.status).toBe('failed');
    expect(await w.breakers.get(TENANT, breakerTargetOf(job.target))).toBeUndefined();
  });

  it('is off with a threshold of 0', async () => {
    const w = workerWorld({ breaker: { ...settings, failureThreshold: 0 } });
    const job = w.jobs.seed(aJob());
    w.target.answers(outcomes.http(500));
    for (const time of ['10:00:00', '10:05:00', '10:10:00', '10:15:00']) {
      w.clock.set(at(time));
      await executeFiring(w.deps, fired(job, time));
    }
    expect(w.target.calls).toHaveLength(4);
    expect(w.breakers.calls).toEqual({});
  });
});
