/**
 * The circuit breaker per tenant and target (issue 17) end to end: DynamoDB Local, fauxqs and
 * the Scheduler emulator under a TestClock, a RecordingTarget for the failing endpoint. A
 * target that keeps failing is called N times and then not during its cool-down; the firings
 * meanwhile wait `queued` with the reason and the next try; one probe after the cool-down;
 * its success closes the breaker; a retry waiting on it keeps its attempt; another tenant
 * calling the same host is never held back.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { breakerId } from '../../functions/domain/breaker.js';
import type { LocalRuntime } from '../../local/runtime.js';
import type { ApiClient, Job, Page, Run } from '../support/api.js';
import { MINUTE, SECOND, TestClock } from '../support/clock.js';
import {
  apiClient,
  type ManualSuite,
  RecordingTarget,
  runsOf,
  settleFile,
  settleTest,
  startManualSuite,
  tenantClient,
} from './support.js';

interface Breaker {
  id: string;
  target: string;
  state: 'closed' | 'open' | 'half_open';
  failures: number;
  openedAt: string | null;
  retryAt: string | null;
  lastError: string | null;
}

const COOL_DOWN_SECONDS = 120;
const clock = new TestClock();
const target = new RecordingTarget();
let suite: ManualSuite;
let runtime: LocalRuntime;
let api: ApiClient;
let other: ApiClient;

beforeAll(async () => {
  await target.start();
  suite = await startManualSuite(clock, {
    circuitBreaker: { failures: 2, coolDownSeconds: COOL_DOWN_SECONDS },
  });
  ({ runtime, api } = suite);
  other = await tenantClient(runtime, 'other', clock.now());
}, 120_000);

beforeEach(() => {
  clock.fresh();
  target.reset();
});

afterEach(async () => {
  await settleTest(suite);
  // The other tenant's jobs go too, so no later clock jump replays them.
  const { body } = await other<Page<Job>>('GET', '/v1/jobs?limit=100');
  for (const job of body.items) await other('DELETE', `/v1/jobs/${job.id}`);
});

afterAll(async () => {
  await settleFile(suite);
  await target.stop();
});

const host = () => new URL(target.url).host;
const iso = (ms: number) => clock.after(ms).toISOString();

async function createJob(client: ApiClient, path: string, extra: Record<string, unknown> = {}): Promise<Job> {
  const res = await client<Job>('POST', '/v1/jobs', {
    name: `job-${path.replace(/\W/g, '')}`,
    target: { type: 'http', url: `${target.url}${path}`, method: 'GET' },
    ...extra,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

async function minute() {
  clock.advance(MINUTE);
  await runtime.tick();
}

async function breakers(client: ApiClient): Promise<Breaker[]> {
  const res = await client<Page<Breaker>>('GET', '/v1/breakers');
  expect(res.status).toBe(200);
  return res.body.items;
}

describe('a target that keeps failing', () => {
  it('is called N times, then not in the cool-down while firings wait queued; one probe after it closes the breaker', async () => {
    // Fails its first two calls, then answers 200.
    const job = await createJob(api, '/flaky-2', { schedule: { expression: 'rate(1 minute)' } });
    const neighbour = await createJob(other, '/neighbour', { schedule: { expression: 'rate(1 minute)' } });

    await minute();
    await minute();
    expect(target.callsTo('/flaky-2')).toHaveLength(2);
    const [open] = await breakers(api);
    expect(open).toMatchObject({
      id: breakerId(host()),
      target: host(),
      state: 'open',
      failures: 2,
      openedAt: iso(2 * MINUTE),
      retryAt: iso(2 * MINUTE + COOL_DOWN_SECONDS * SECOND),
      lastError: 'HTTP 500',
    });

    // In the cool-down: not called; the firing is visible, queued, with why and when.
    await minute();
    expect(target.callsTo('/flaky-2')).toHaveLength(2);
    const [waiting] = await runsOf(api, job.id);
    expect(waiting).toMatchObject({
      scheduledAt: iso(3 * MINUTE),
      status: 'queued',
      attempt: 0,
      nextAttemptAt: iso(4 * MINUTE),
      waitReason: `circuit open for ${host()} after 2 consecutive failures; next try at ${iso(4 * MINUTE)}`,
    });
    expect(runtime.metrics.counts.CircuitOpened).toBe(1);
    expect(runtime.metrics.counts['RunsDeferredByCircuit/default']).toBe(1);

    // The other tenant's job at the same host ran every minute: its breaker is its own.
    expect(target.callsTo('/neighbour')).toHaveLength(3);
    expect(await breakers(other)).toEqual([]);
    expect((await runsOf(other, neighbour.id)).every((r) => r.status === 'succeeded')).toBe(true);

    // After the cool-down one attempt probes (the 4-minute firing); with catchUp "none" the
    // firing that waited was overtaken by it, so it is recorded missed, not run in a burst.
    await minute();
    expect(target.callsTo('/flaky-2')).toHaveLength(3);
    const runs = await runsOf(api, job.id);
    expect(runs.slice(0, 2).map((r) => [r.scheduledAt, r.status])).toEqual([
      [iso(4 * MINUTE), 'succeeded'],
      [iso(3 * MINUTE), 'missed'],
    ]);
    expect(runs[1]!.skipReason).toMatch(/overtaken by the occurrence at/);
    expect((await breakers(api))[0]).toMatchObject({ state: 'closed', failures: 0, retryAt: null });

    await minute();
    expect(target.callsTo('/flaky-2')).toHaveLength(4);
  });

  it('keeps a retry’s attempt while it waits on the open circuit', async () => {
    const broken = await createJob(api, '/fail');
    const retried = await createJob(api, '/flaky-1', {
      retryPolicy: { maxAttempts: 2, initialDelaySeconds: 10, maxDelaySeconds: 10 },
    });
    expect((await api('POST', `/v1/jobs/${broken.id}/runs`)).status).toBe(202);
    await runtime.drain();
    // Its first attempt is the second failure at the host: the breaker opens.
    const started = await api<Run>('POST', `/v1/jobs/${retried.id}/runs`);
    await runtime.drain();
    expect((await breakers(api))[0]).toMatchObject({ state: 'open', failures: 2 });

    clock.advance(30 * SECOND);
    await runtime.tick();
    expect(target.callsTo('/flaky-1')).toHaveLength(1);
    const waiting = (await api<Run>('GET', `/v1/jobs/${retried.id}/runs/${started.body.id}`)).body;
    expect(waiting).toMatchObject({ status: 'queued', attempt: 1 });
    expect(waiting.waitReason).toMatch(/^circuit open for /);

    clock.advance(COOL_DOWN_SECONDS * SECOND);
    await runtime.tick();
    const run = (await api<Run>('GET', `/v1/jobs/${retried.id}/runs/${started.body.id}`)).body;
    expect(run).toMatchObject({ status: 'succeeded', attempt: 2, waitReason: null });
    expect(run.attempts.map((a) => a.status)).toEqual(['failed', 'succeeded']);
  });
});

describe('GET /v1/breakers and reset', () => {
  it('shows and resets only the tenant’s own breakers; a viewer may look, not reset', async () => {
    const broken = await createJob(api, '/fail');
    for (let i = 0; i < 2; i++) {
      expect((await api('POST', `/v1/jobs/${broken.id}/runs`)).status).toBe(202);
      await runtime.drain();
    }
    const id = breakerId(host());
    expect((await api<Breaker>('GET', `/v1/breakers/${id}`)).body).toMatchObject({ state: 'open' });

    // Another tenant knows the id: for it there is no such breaker.
    expect((await other('GET', `/v1/breakers/${id}`)).status).toBe(404);
    const stranger = await other('POST', `/v1/breakers/${id}/reset`);
    expect(stranger.status).toBe(404);
    expect(stranger.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect((await api<Breaker>('GET', `/v1/breakers/${id}`)).body.state).toBe('open');

    const key = await api<{ key: string }>('POST', '/v1/keys', { name: 'watcher', role: 'viewer' });
    const viewer = apiClient(runtime.apiUrl, key.body.key);
    expect((await viewer<Page<Breaker>>('GET', '/v1/breakers')).body.items).toHaveLength(1);
    expect((await viewer('POST', `/v1/breakers/${id}/reset`)).status).toBe(403);

    const reset = await api<Breaker>('POST', `/v1/breakers/${id}/reset`);
    expect(reset.status).toBe(200);
    expect(reset.body).toMatchObject({ state: 'closed', failures: 0 });
    // Closed: the next run calls the target again.
    expect((await api('POST', `/v1/jobs/${broken.id}/runs`)).status).toBe(202);
    await runtime.drain();
    expect(target.callsTo('/fail')).toHaveLength(3);

    expect((await api('GET', '/v1/breakers/brk_!!')).status).toBe(404);
    expect((await api('GET', '/v1/breakers?limit=0')).status).toBe(400);
  });
});

describe('sundial breakers', () => {
  /** The CLI as a user runs it, against this runtime with the development key. */
  async function sundial(...args: string[]): Promise<string> {
    const { stdout } = await promisify(execFile)(process.execPath, [resolve('cli/sundial.mjs'), ...args], {
      env: {
        PATH: process.env.PATH,
        SUNDIAL_URL: runtime.apiUrl,
        SUNDIAL_API_KEY: runtime.devApiKey,
        NO_COLOR: '1',
      },
    });
    return stdout;
  }

  it('lists the open breaker with its failures and resets it by the host it guards', async () => {
    const broken = await createJob(api, '/fail');
    for (let i = 0; i < 2; i++) {
      expect((await api('POST', `/v1/jobs/${broken.id}/runs`)).status).toBe(202);
      await runtime.drain();
    }
    const listed = await sundial('breakers', 'list');
    expect(listed).toMatch(/TARGET\s+STATE\s+FAILURES/);
    expect(listed).toMatch(new RegExp(`${host().replace('.', '\\.')}\\s+open\\s+2\\s`));
    const json = JSON.parse(await sundial('breakers', 'list', '--json')) as Page<Breaker>;
    expect(json.items).toMatchObject([{ target: host(), state: 'open', lastError: 'HTTP 500' }]);
    expect(await sundial('breakers', 'reset', host())).toContain(`Breaker for ${host()} is closed.`);
    expect((await breakers(api))[0]).toMatchObject({ state: 'closed', failures: 0 });
  });
});
