/** The HTTP target caller against a real local server: outcomes, headers, timeout, excerpt. */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALLBACK_URL_HEADER, callHttpTarget, type HttpCall } from '../../functions/adapters/http-target.js';
import { BODY_EXCERPT_CHARS } from '../../functions/domain/run.js';
import { freePort } from '../../local/ports.js';

let server: Server;
let base = '';
const seen: { method: string; headers: Record<string, unknown>; body: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', headers: req.headers, body });
      if (req.url === '/hang') return; // never answers
      if (req.url === '/big') return void res.writeHead(200).end('x'.repeat(100_000));
      if (req.url === '/redirect') return void res.writeHead(302, { location: '/elsewhere' }).end();
      res.writeHead(req.url === '/503' ? 503 : 200).end('hello');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const target = (path: string, extra: Partial<HttpCall> = {}): HttpCall => ({
  url: `${base}${path}`,
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: 'Bearer t' },
  body: '{"a":1}',
  timeoutSeconds: 5,
  ...extra,
});
const context = { jobId: 'job_1', runId: 'run_20261123T010000000Z', scheduledAt: '2026-11-23T01:00:00.000Z' };

describe('callHttpTarget', () => {
  it('sends method, headers, body and Sundial identity headers', async () => {
    const outcome = await callHttpTarget(target('/ok'), context);
    expect(outcome).toEqual({ kind: 'response', statusCode: 200, bodyExcerpt: 'hello' });
    const request = seen.at(-1)!;
    expect(request.method).toBe('POST');
    expect(request.body).toBe('{"a":1}');
    expect(request.headers).toMatchObject({
      authorization: 'Bearer t',
      'x-sundial-job-id': 'job_1',
      'x-sundial-run-id': 'run_20261123T010000000Z',
      'x-sundial-scheduled-time': '2026-11-23T01:00:00.000Z',
    });
  });

  it('sends neither the attempt nor a callback URL when the context carries none', async () => {
    await callHttpTarget(target('/ok'), context);
    const request = seen.at(-1)!;
    expect(request.headers).not.toHaveProperty('x-sundial-attempt');
    expect(request.headers).not.toHaveProperty(CALLBACK_URL_HEADER);
  });

  it('sends the attempt, and a callback target its Sundial-Callback-Url', async () => {
    const callbackUrl = 'http://127.0.0.1:3000/v1/callbacks/eyJ0.abc';
    await callHttpTarget(target('/ok'), { ...context, attempt: 2, callbackUrl });
    const request = seen.at(-1)!;
    expect(CALLBACK_URL_HEADER).toBe('sundial-callback-url');
    expect(request.headers).toMatchObject({
      'x-sundial-attempt': '2',
      'sundial-callback-url': callbackUrl,
      'idempotency-key': 'run_20261123T010000000Z',
    });
  });

  it('sends attempt 1 too (a first attempt is still numbered)', async () => {
    await callHttpTarget(target('/ok'), { ...context, attempt: 1 });
    expect(seen.at(-1)!.headers).toMatchObject({ 'x-sundial-attempt': '1' });
    expect(seen.at(-1)!.headers).not.toHaveProperty(CALLBACK_URL_HEADER);
  });

  it('lets no configured header pose as the callback URL or the attempt', async () => {
    const callbackUrl = 'http://127.0.0.1:3000/v1/callbacks/real.token';
    await callHttpTarget(
      target('/ok', {
        headers: { 'Sundial-Callback-Url': 'https://evil.example/', 'X-Sundial-Attempt': '9' },
      }),
      { ...context, attempt: 3, callbackUrl },
    );
    expect(seen.at(-1)!.headers).toMatchObject({
      'sundial-callback-url': callbackUrl,
      'x-sundial-attempt': '3',
    });
  });

  it('reports the status of a non-2xx answer', async () => {
    expect(await callHttpTarget(target('/503'), context)).toMatchObject({
      kind: 'response',
      statusCode: 503,
    });
  });

  it('does not send a body with GET', async () => {
    await callHttpTarget(target('/ok', { method: 'GET' }), context);
    expect(seen.at(-1)).toMatchObject({ method: 'GET', body: '' });
  });

  it('times out after timeoutSeconds', async () => {
    const outcome = await callHttpTarget(target('/hang', { timeoutSeconds: 1 }), context);
    expect(outcome).toEqual({ kind: 'timeout', message: 'no response within 1s' });
  });

  it('keeps only an excerpt of a large body', async () => {
    const outcome = await callHttpTarget(target('/big'), context);
    expect(outcome.kind === 'response' && outcome.bodyExcerpt.length).toBe(BODY_EXCERPT_CHARS);
  });

  it('does not follow redirects', async () => {
    expect(await callHttpTarget(target('/redirect'), context)).toMatchObject({
      kind: 'response',
      statusCode: 302,
    });
  });

  it('reports a refused connection as an error', async () => {
    const closedPort = await freePort();
    const outcome = await callHttpTarget(target('/', { url: `http://127.0.0.1:${closedPort}/` }), context);
    expect(outcome).toEqual({ kind: 'error', message: 'ECONNREFUSED' });
  });

  // A job stored before header values were checked: http.request throws synchronously.
  it("reports a header value Node refuses as the attempt's error, quickly and without the value", async () => {
    const before = seen.length;
    const started = Date.now();
    const outcome = await callHttpTarget(
      target('/ok', { headers: { 'x-foo': 'secret-ish\r\nx-injected: 1' }, timeoutSeconds: 30 }),
      context,
    );
    expect(Date.now() - started).toBeLessThan(1000);
    expect(outcome).toEqual({
      kind: 'error',
      message: 'ERR_INVALID_CHAR: Invalid character in header content ["x-foo"]',
    });
    const secret = await callHttpTarget(target('/ok'), context, undefined, {
      secretHeaders: { 'x-token': 'tök€n-value' },
    });
    expect(secret.kind).toBe('error');
    expect(secret.kind === 'error' && secret.message).not.toContain('tök€n-value');
    expect(seen.length).toBe(before);
  });

  it("reports a URL Node cannot parse as the attempt's error", async () => {
    expect(await callHttpTarget(target('/', { url: 'not a url' }), context)).toEqual({
      kind: 'error',
      message: 'ERR_INVALID_URL: Invalid URL',
    });
  });
});
