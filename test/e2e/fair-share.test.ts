/**
 * One tenant cannot starve the others (issue: 60 run-nows of a slow target on `low`
 * delayed another tenant's instant job by 58 s). With a fair share, a tenant's runs in
 * progress on a queue are capped; the rest of its messages wait, delayed, while other
 * tenants' runs go ahead, and every one of them still runs in the end.
 */
import { createServer, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.js';
import type { Job } from '../support/api.js';
import {
  apiClient,
  eventually,
  listenForTargets,
  RecordingTarget,
  tenantClient,
  waitForRuns,
} from './support.js';

const BURST = 40;
const SHARE = 2;

/** The noisy tenant's slow endpoint: holds every call until released. */
const held: ServerResponse[] = [];
let released = false;
const gate = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (released) res.writeHead(200).end('ok');
    else held.push(res);
  });
});
const target = new RecordingTarget();
let gateUrl = '';
let runtime: LocalRuntime;

beforeAll(async () => {
  gateUrl = `http://127.0.0.1:${await listenForTargets(gate)}`;
  await target.start();
  runtime = await startLocalRuntime({
    port: 0,
    logLevel: 'SILENT',
    // Three worker invocations on `low`, ten messages each: a burst of 40 fills them all.
    maxConcurrency: { low: 3 },
    limits: { runsInProgress: SHARE },
  });
});

afterAll(async () => {
  released = true;
  for (const res of held.splice(0)) res.writeHead(200).end('ok');
  await runtime?.stop();
  gate.closeAllConnections();
  await new Promise<void>((resolve) => gate.close(() => resolve()));
  await target.stop();
});

it("runs another tenant's job while a noisy tenant's backlog waits its turn, and loses none of the backlog", async () => {
  const noisy = apiClient(runtime.apiUrl, runtime.devApiKey);
  const quiet = await tenantClient(runtime, 'quiet', new Date());
  const slow = await noisy<Job>('POST', '/v1/jobs', {
    name: 'slow-import',
    priority: 'low',
    target: { type: 'http', url: `${gateUrl}/import`, timeoutSeconds: 50 },
  });
  const instant = await quiet<Job>('POST', '/v1/jobs', {
    name: 'instant',
    priority: 'low',
    target: { type: 'http', url: `${target.url}/instant` },
  });
  expect([slow.status, instant.status]).toEqual([201, 201]);

  for (let i = 0; i < BURST; i++) {
    expect((await noisy('POST', `/v1/jobs/${slow.body.id}/runs`)).status).toBe(202);
  }
  await eventually(async () => (held.length === SHARE ? true : undefined), {
    what: `the noisy tenant's share (${SHARE}) of calls in progress`,
  });
  expect((await quiet('POST', `/v1/jobs/${instant.body.id}/runs`)).status).toBe(202);

  // Without a fair share every invocation of `low` would be holding a noisy run, and the
  // quiet tenant's message would wait behind the whole burst.
  await eventually(async () => (target.callsTo('/instant').length === 1 ? true : undefined), {
    what: "the quiet tenant's run while the noisy tenant's calls are still held",
  });
  expect(held.length).toBeLessThanOrEqual(SHARE);
  expect(runtime.metrics.counts['RunsDeferred/low']).toBeGreaterThan(0);

  released = true;
  for (const res of held.splice(0)) res.writeHead(200).end('ok');
  const succeeded = await waitForRuns(noisy, slow.body.id, (runs) => runs.length === BURST, {
    query: '&status=succeeded',
    timeoutMs: 150_000,
    intervalMs: 500,
    what: `all ${BURST} deferred runs to succeed`,
  });
  expect(succeeded).toHaveLength(BURST);
}, 240_000);
