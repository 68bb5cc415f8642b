/**
 * What each degradation step does, over the in-memory ports with the level held fixed: level 1
 * puts low-priority firings back (never high or default, never a retry), level 3 sends
 * dependency runs with a delay, and in the API level 2 reads run history the cheaper way and
 * level 4 refuses job creation with a 503 problem. Nothing is lost at any level.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DEGRADATION, type DegradationLevel } from '../../functions/domain/degradation.js';
import { type FiringMessage, firing } from '../../functions/domain/firing.js';
import { firingMessageSchema } from '../../functions/domain/firing-schema.js';
import type { StoredJob } from '../../functions/domain/job.js';
import type { Degradation, DegradationStepName } from '../../functions/domain/ports.js';
import { type ApiDeps, createApiApp } from '../../functions/http/app.js';
import { executeFiring } from '../../functions/usecases/execute-firing.js';
import { aJob, TENANT, workerWorld } from '../fakes/world.js';

const at = (time: string) => `2027-03-01T${time}.000Z`;

/** A level that stays where the test puts it. */
function held(level: DegradationLevel): Degradation & { level: () => Promise<DegradationLevel> } {
  return {
    settings: DEFAULT_DEGRADATION,
    level: async () => level,
    status: async () => ({ level, stepDownInSeconds: 95 }),
    report: async () => level,
  };
}

function fired(job: Pick<StoredJob, 'tenantId' | 'id'>, time: string): FiringMessage {
  return firingMessageSchema.parse({ ...firing.scheduleTemplate(job), scheduledTime: at(time) });
}

function degradedWorld(level: DegradationLevel) {
  const w = workerWorld({ random: () => 1 });
  const steps: DegradationStepName[] = [];
  const metrics = Object.assign(w.metrics, { degraded: (step: DegradationStepName) => steps.push(step) });
  return { w, steps, deps: { ...w.deps, metrics, degradation: held(level) } };
}

describe('level 1: low-priority firings are deferred', () => {
  it('puts a low-priority firing back for up to a minute, recorded nowhere, and runs it when calm', async () => {
    const { w, steps, deps } = degradedWorld(1);
    const job = w.jobs.seed(aJob({ priority: 'low' }));
    w.clock.set(at('10:00:02'));

    const outcome = await executeFiring(deps, fired(job, '10:00:00'));

    expect(outcome).toMatchObject({ result: 'done', detail: 'deferred (degraded)' });
    expect(w.target.calls).toHaveLength(0);
    expect(w.runs.of(TENANT, job.id)).toEqual([]);
    const [back] = w.queue.peek();
    expect(back).toMatchObject({
      priority: 'low',
      message: { trigger: 'schedule', notBefore: at('10:01:02') },
    });
    expect(steps).toEqual(['low-priority-deferred']);

    // Calm again: the same firing runs, as the occurrence it always was.
    w.clock.set(at('10:01:02'));
    await executeFiring({ ...deps, degradation: held(0) }, w.queue.takeOne());
    expect(w.runs.of(TENANT, job.id)).toMatchObject([{ scheduledAt: at('10:00:00'), status: 'succeeded' }]);
  });

  it('leaves default and high priority firings, and a low-priority retry, to run', async () => {
    const { w, steps, deps } = degradedWorld(3);
    for (const priority of ['default', 'high'] as const) {
      const job = w.jobs.seed(aJob({ id: `job_${priority}`, priority }));
      w.clock.set(at('10:00:02'));
      expect(await executeFiring(deps, fired(job, '10:00:00'))).toMatchObject({ detail: 'succeeded' });
    }
    const low = w.jobs.seed(
      aJob({
        id: 'job_low',
        priority: 'low',
        retryPolicy: { maxAttempts: 2, initialDelaySeconds: 1, multiplier: 1, maxDelaySeconds: 1 },
      }),
    );
    w.target.answers({ kind: 'response', statusCode: 500, bodyExcerpt: 'no' });
    // The first attempt was made before the pressure came.
    await executeFiring({ ...deps, degradation: held(0) }, fired(low, '10:00:00'));
    const retry = w.queue.takeOne();
    expect(retry.trigger).toBe('retry');
    w.clock.set(at('10:00:10'));
    await executeFiring(deps, retry);
    expect(w.runs.of(TENANT, low.id)).toMatchObject([{ attempt: 2 }]);
    expect(steps).toEqual([]);
  });
});

describe('level 3: dependency triggering is delayed', () => {
  it("sends the dependent's run a minute late, never lost, and at once below level 3", async () => {
    const { w, steps, deps } = degradedWorld(3);
    const upstream = (await w.jobs.create(aJob({ id: 'job_Extract' }))).job;
    await w.jobs.create(aJob({ id: 'job_Load', schedule: null, dependsOn: ['job_Extract'] }));
    w.clock.set(at('10:00:00'));

    await executeFiring(deps, fired(upstream, '10:00:00'));

    expect(w.queue.peek()).toMatchObject([
      { message: { trigger: 'dependency', jobId: 'job_Load', notBefore: at('10:01:00') } },
    ]);
    expect(steps).toEqual(['dependents-delayed']);

    const calm = degradedWorld(2);
    const up = (await calm.w.jobs.create(aJob({ id: 'job_Extract' }))).job;
    await calm.w.jobs.create(aJob({ id: 'job_Load', schedule: null, dependsOn: ['job_Extract'] }));
    calm.w.clock.set(at('10:00:00'));
    await executeFiring(calm.deps, fired(up, '10:00:00'));
    expect(calm.w.queue.peek()[0]!.message).not.toHaveProperty('notBefore');
    expect(calm.steps).toEqual([]);
  });
});

describe('the API', () => {
  /** The app over stubs: only what the routes under test touch. */
  function app(level: DegradationLevel) {
    const reads: { consistent: boolean | undefined; limit?: number; maxEvaluated?: number }[] = [];
    const steps: DegradationStepName[] = [];
    const created: string[] = [];
    const job = aJob();
    const deps = {
      jobs: {
        get: async (_t: string, _j: string, options?: { consistent?: boolean }) => {
          reads.push({ consistent: options?.consistent });
          return job;
        },
        create: async () => {
          created.push('job');
          return { job, replayed: false };
        },
      },
      runs: {
        list: async (_t: string, _j: string, query: { limit: number; maxEvaluated?: number }) => {
          reads.push({
            consistent: undefined,
            limit: query.limit,
            ...(query.maxEvaluated ? { maxEvaluated: query.maxEvaluated } : {}),
          });
          return { items: [], nextCursor: null };
        },
        latest: async () => null,
      },
      clock: { now: () => new Date(at('10:00:00')) },
      logger: { info() {}, warn() {}, error() {} },
      healthChecks: {},
      authenticate: async () => ({ tenantId: TENANT, subject: 'key:test', role: 'admin' }),
      rateLimiter: { take: async () => ({ allowed: true, retryAfterSeconds: 0 }) },
      limits: { maxJobs: 10, jobCreatesPerMinute: 10, requestsPerSecond: 10 },
      degradation: held(level),
      metrics: { degraded: (step: DegradationStepName) => steps.push(step) },
    } as unknown as ApiDeps;
    const handle = createApiApp(deps);
    const call = (method: string, path: string, body?: unknown) =>
      handle({
        httpMethod: method,
        path,
        headers: { authorization: 'Bearer sk_test' },
        queryStringParameters: path.includes('runs') ? { limit: '100' } : null,
        body: body === undefined ? null : JSON.stringify(body),
        isBase64Encoded: false,
        requestContext: { requestId: 'r1', identity: { sourceIp: '127.0.0.1' } },
      } as unknown as APIGatewayProxyEvent);
    return { call, reads, steps, created, job };
  }

  it('level 4 answers POST /v1/jobs 503 problem+json with Retry-After, before doing anything', async () => {
    const { call, steps, created } = app(4);
    const res = await call('POST', '/v1/jobs', {
      name: 'x',
      target: { type: 'http', url: 'https://example.com' },
    });
    expect(res.statusCode).toBe(503);
    expect(res.headers).toMatchObject({ 'content-type': 'application/problem+json', 'retry-after': '95' });
    expect(JSON.parse(res.body)).toMatchObject({ status: 503, retryAfterSeconds: 95 });
    expect(JSON.parse(res.body).type).toMatch(/degraded$/);
    expect(created).toEqual([]);
    expect(steps).toEqual(['creates-refused']);
    // Below 4 the same request is made.
    const calm = app(3);
    expect((await calm.call('POST', '/v1/jobs', { name: 'x' })).statusCode).toBe(201);
  });

  it('level 2 reads run history eventually consistent, in pages of 20, and says so', async () => {
    const { call, reads, steps, job } = app(2);
    const res = await call('GET', `/v1/jobs/${job.id}/runs`);
    expect(res.statusCode).toBe(200);
    expect(res.headers?.['sundial-degraded']).toBe('run-history');
    expect(reads).toEqual([{ consistent: false }, { consistent: undefined, limit: 20, maxEvaluated: 100 }]);
    expect(steps).toEqual(['run-history-cheap']);

    const calm = app(1);
    const full = await calm.call('GET', `/v1/jobs/${job.id}/runs`);
    expect(full.headers?.['sundial-degraded']).toBeUndefined();
    expect(calm.reads).toEqual([{ consistent: undefined }, { consistent: undefined, limit: 100 }]);
  });
});
