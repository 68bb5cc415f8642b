/**
 * What the local runtime serves besides the API: the web console's files under /console/
 * (without credentials, locked down by its headers), and a report of each run as it ends,
 * which `npm start` prints as one line. The browser tests (test/browser) use the page itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunEndedReport } from '../../functions/adapters/run-metrics.js';
import { consoleCsp } from '../../functions/http/console.js';
import type { Job, Run } from '../support/api.js';
import { TestClock } from '../support/clock.js';
import { type ManualSuite, RecordingTarget, settleFile, settleTest, startManualSuite } from './support.js';

const clock = new TestClock();
const ended: RunEndedReport[] = [];
let suite: ManualSuite;
const target = new RecordingTarget();

beforeAll(async () => {
  await target.start();
  suite = await startManualSuite(clock, { onRunEnded: (run) => ended.push(run) });
});

afterAll(async () => {
  await settleFile(suite);
  await target.stop();
});

const get = (path: string, init: RequestInit = {}) =>
  fetch(new URL(path, suite.runtime.apiUrl), { redirect: 'manual', ...init });

describe('the console', () => {
  it('is served under /console/ without credentials, with a policy that loads nothing from elsewhere', async () => {
    const moved = await get('/console');
    expect(moved.status).toBe(301);
    // Relative, so a stage prefix (/prod/console → /prod/console/) is kept.
    expect(moved.headers.get('location')).toBe('console/');

    const page = await get('/console/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toBe(consoleCsp(null));
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) {
      expect(asset, 'relative to the page').not.toMatch(/^(\/|[a-z]+:)/i);
      const file = await get(`/console/${asset.replace(/^\.\//, '')}`);
      expect(file.status, asset).toBe(200);
      expect(file.headers.get('content-security-policy')).toBe(consoleCsp(null));
    }
    expect((await get('/console/index.html')).status).toBe(200);
  });

  it('tells the page how it may sign in: locally, with API keys only', async () => {
    const config = await get('/console/config.json');
    expect(config.status).toBe(200);
    expect(config.headers.get('cache-control')).toBe('no-store');
    expect(await config.json()).toEqual({ cognito: null });
  });

  it('answers 404 for a file it does not have and 405 for anything but GET and HEAD', async () => {
    const missing = await get('/console/nope.js');
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('nope.js');
    expect((await get('/console/../v1/jobs')).status).not.toBe(200);
    const post = await get('/console/', { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const head = await get('/console/', { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  it('leaves the API as it was: /v1 still needs credentials', async () => {
    expect((await get('/v1/jobs')).status).toBe(401);
  });
});

describe('runs as they end', () => {
  it('are reported once each with the job name, run id, status and duration', async () => {
    const job = await suite.api<Job>('POST', '/v1/jobs', {
      name: 'reported',
      target: { type: 'http', url: `${target.url}/ok`, method: 'GET' },
    });
    const run = await suite.api<Run>('POST', `/v1/jobs/${job.body.id}/runs`);
    await suite.runtime.drain();
    const failing = await suite.api<Job>('POST', '/v1/jobs', {
      name: 'reported-failing',
      target: { type: 'http', url: `${target.url}/fail`, method: 'GET' },
    });
    const failed = await suite.api<Run>('POST', `/v1/jobs/${failing.body.id}/runs`);
    await suite.runtime.drain();

    const ok = ended.filter((e) => e.runId === run.body.id);
    expect(ok).toHaveLength(1);
    expect(ok[0]).toMatchObject({
      tenantId: 'dev',
      jobId: job.body.id,
      jobName: 'reported',
      status: 'succeeded',
      durationMs: expect.any(Number),
    });
    expect(ended.filter((e) => e.runId === failed.body.id)).toEqual([
      expect.objectContaining({ jobName: 'reported-failing', status: 'failed' }),
    ]);
    await settleTest(suite);
  });
});
