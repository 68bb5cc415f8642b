/**
 * HTTP target headers and body over the local runtime's API: a header Node's http would
 * refuse at call time is refused at save instead, naming the header, and nothing is
 * written; and a job stored before that check fails its run with the real cause recorded,
 * not as a lost worker.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../local/manual-clock.js';
import type { LocalRuntime } from '../../local/runtime.js';
import { type apiClient, type ManualSuite, settleFile, settleTest, startManualSuite } from './support.js';

type Problem = { status: number; detail: string; errors: { field: string; message: string }[] };
type Job = { id: string; version: number; target: Record<string, unknown> };
type Run = {
  id: string;
  status: string;
  attempt: number;
  error: { type: string; message: string } | null;
  attempts: { status: string; error?: { message: string } | null }[];
};

const clock = new ManualClock('2026-11-23T00:00:00.000Z');
// A receiver that counts the calls reaching it, on a port local HTTP targets may use (8000-8999).
let calls = 0;
const receiver: Server = createServer((_req, res) => {
  calls++;
  res.writeHead(200).end('ok');
});
let receiverUrl = '';
let suite: ManualSuite;
let runtime: LocalRuntime;
let api: ReturnType<typeof apiClient>;

beforeAll(async () => {
  for (let port = 8000 + Math.floor(Math.random() * 900); !receiverUrl; port++) {
    receiverUrl = await new Promise<string>((resolve) => {
      receiver.once('error', () => resolve(''));
      receiver.listen(port, '127.0.0.1', () => resolve(`http://127.0.0.1:${port}`));
    });
  }
  suite = await startManualSuite(clock);
  ({ runtime, api } = suite);
});

afterEach(() => settleTest(suite));

afterAll(async () => {
  await settleFile(suite);
  receiver.closeAllConnections();
  await new Promise((resolve) => receiver.close(resolve));
});

const job = (target: Record<string, unknown>) => ({
  name: 'headers',
  target: { type: 'http', url: `${receiverUrl}/hook`, ...target },
});

async function jobCount(): Promise<number> {
  return (await api<{ items: unknown[] }>('GET', '/v1/jobs?limit=100')).body.items.length;
}

describe('HTTP target headers', () => {
  it('refuses a CRLF in a header value with a 400 naming the header, and creates nothing', async () => {
    const res = await api<Problem>(
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
    const plain = await api<Problem>('POST', '/v1/jobs', job({ headers: { authorization: 'Bearer t0ken' } }));
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
    const get = await api<Problem>('POST', '/v1/jobs', job({ method: 'GET', body: 'hello' }));
    expect(get.status).toBe(400);
    expect(get.body.errors).toEqual([{ field: 'target.body', message: 'a GET request has no body' }]);

    const created = await api<Job>('POST', '/v1/jobs', job({ method: 'POST', body: 'hello' }));
    expect(created.status).toBe(201);
    const patched = await api<Problem>('PATCH', `/v1/jobs/${created.body.id}`, { target: { method: 'GET' } });
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
    expect(calls).toBe(0);
  });
});
