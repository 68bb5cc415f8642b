/**
 * HTTP target headers and body over the local runtime's API: a header Node's http would
 * refuse at call time is refused at save instead, naming the header, and nothing is
 * written; and a job stored before that check fails its run with the real cause recorded,
 * not as a lost worker.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../local/runtime.js';
import type { ApiClient, Job, Page, Run, ValidationProblem } from '../support/api.js';
import { TestClock } from '../support/clock.js';
import { type ManualSuite, RecordingTarget, settleFile, settleTest, startManualSuite } from './support.js';

const clock = new TestClock();
// Counts the calls reaching it, on a port local HTTP targets may use (8000-8999).
const receiver = new RecordingTarget();
let suite: ManualSuite;
let runtime: LocalRuntime;
let api: ApiClient;

beforeAll(async () => {
  await receiver.start();
  suite = await startManualSuite(clock);
  ({ runtime, api } = suite);
});

beforeEach(() => {
  clock.fresh();
  receiver.reset();
});

afterEach(() => settleTest(suite));

afterAll(async () => {
  await settleFile(suite);
  await receiver.stop();
});

const job = (target: Record<string, unknown>) => ({
  name: 'headers',
  target: { type: 'http', url: `${receiver.url}/hook`, ...target },
});

async function jobCount(): Promise<number> {
  return (await api<Page<Job>>('GET', '/v1/jobs?limit=100')).body.items.length;
}

describe('HTTP target headers', () => {
  it('refuses a CRLF in a header value with a 400 naming the header, and creates nothing', async () => {
    const res = await api<ValidationProblem>(
      'POST',
      '/v1/jobs',
      job({ headers: { 'content-type': 'text/plain', 'x-foo': 'a\r\nx-injected: 1' } }),
    );
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.body.errors[0]?.field).toBe('target.headers.x-foo');
    expect(res.body.errors[0]?.message).toMatch(/CR, LF/);
    expect(JSON.stringify(res.body)).not.toContain('x-injected');
    expect(await jobCount()).toBe(0);
  });

  it('refuses authorization in plain headers, pointing at secretHeaders, and accepts it there', async () => {
    const plain = await api<ValidationProblem>(
      'POST',
      '/v1/jobs',
      job({ headers: { authorization: 'Bearer t0ken' } }),
    );
    expect(plain.status).toBe(400);
    expect(plain.body.errors[0]?.field).toBe('target.headers.authorization');
    expect(plain.body.errors[0]?.message).toContain('secretHeaders');
    expect(await jobCount()).toBe(0);

    const secret = await api<Job>(
      'POST',
      '/v1/jobs',
      job({ secretHeaders: { authorization: 'Bearer t0ken' } }),
    );
    expect(secret.status, JSON.stringify(secret.body)).toBe(201);
    expect(secret.body.target).toMatchObject({ secretHeaderNames: ['authorization'] });
  });

  it('refuses a body on GET, also when a PATCH switches a job with a body to GET', async () => {
    const get = await api<ValidationProblem>('POST', '/v1/jobs', job({ method: 'GET', body: 'hello' }));
    expect(get.status).toBe(400);
    expect(get.body.errors).toEqual([{ field: 'target.body', message: 'a GET request has no body' }]);

    const created = await api<Job>('POST', '/v1/jobs', job({ method: 'POST', body: 'hello' }));
    expect(created.status).toBe(201);
    const patched = await api<ValidationProblem>('PATCH', `/v1/jobs/${created.body.id}`, {
      target: { method: 'GET' },
    });
    expect(patched.status).toBe(400);
    expect(patched.body.errors).toEqual([{ field: 'target.body', message: 'a GET request has no body' }]);
    const cleared = await api<Job>('PATCH', `/v1/jobs/${created.body.id}`, {
      target: { method: 'GET', body: null },
    });
    expect(cleared.status, JSON.stringify(cleared.body)).toBe(200);
  });

  it('records the cause of a run of a job stored with a CRLF header before the check, not a lost worker', async () => {
    const created = await api<Job>('POST', '/v1/jobs', job({ headers: { 'x-foo': 'fine' } }));
    expect(created.status).toBe(201);
    // As a job saved before values were checked: written to the store past the API.
    const store = runtime.services.jobStore;
    const stored = (await store.get('dev', created.body.id))!;
    const legacy = {
      ...stored,
      target: { ...stored.target, headers: { 'x-foo': 'a\r\nx-injected: 1' } },
      version: stored.version + 1,
    } as typeof stored;
    await store.replace(legacy, stored.version, clock.now().toISOString());

    const queued = await api<Run>('POST', `/v1/jobs/${created.body.id}/runs`);
    expect(queued.status).toBe(202);
    await runtime.drain();
    const run = (await api<Run>('GET', `/v1/jobs/${created.body.id}/runs/${queued.body.id}`)).body;
    expect(run.status).toBe('failed');
    expect(run.error?.message).toContain('ERR_INVALID_CHAR');
    expect(JSON.stringify(run)).not.toContain('x-injected');
    expect(receiver.calls).toHaveLength(0);
  });
});
