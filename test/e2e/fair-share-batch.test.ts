/**
 * Fair share at its default, end to end. While one team is all a deployment has run, there
 * is nobody to be fair to: a batch's runs all go at once and no place is written. From the
 * first run of a second tenant, a tenant's jobs firing in the same minute at the default share
 * (5 on the default queue) run five at once: the batch hands each finished run's place to one
 * of the other five, in the same invocation. None is put back on the queue, and never more
 * than five are in progress: the cap of fair share, without its deferrals' SQS round trips.
 */
import { createServer, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type CallCounter, countCalls } from '../../bench/counter.js';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.js';
import type { ApiClient, Job, Page, Run } from '../support/api.js';
import { MINUTE, TestClock } from '../support/clock.js';
import { apiClient, deleteAllJobs, eventually, listenForTargets, tenantClient } from './support.js';

const JOBS = 10;
const DEFAULT_SHARE = 5;

/** A target that answers only when the test says: what is open is what is in progress. */
const open: ServerResponse[] = [];
let calls = 0;
let mostOpen = 0;
const gate = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    calls++;
    open.push(res);
    mostOpen = Math.max(mostOpen, open.length);
  });
});
const clock = new TestClock();
const counter: CallCounter = countCalls();
let gateUrl = '';
let runtime: LocalRuntime;

beforeAll(async () => {
  gateUrl = `http://127.0.0.1:${await listenForTargets(gate)}`;
  runtime = await startLocalRuntime({
    port: 0,
    clock,
    logLevel: 'SILENT',
    batchSize: 10,
    instrument: counter.instrument,
  });
});

afterAll(async () => {
  for (const res of open.splice(0)) res.writeHead(200).end('ok');
  await runtime?.stop();
  gate.closeAllConnections();
  await new Promise<void>((resolve) => gate.close(() => resolve()));
});

/** One run now of a new job at the gate, answered, and the job deleted. */
async function runOnce(api: ApiClient, name: string) {
  const job = await api<Job>('POST', '/v1/jobs', {
    name,
    target: { type: 'http', url: `${gateUrl}/${name}`, method: 'POST' },
  });
  expect(job.status).toBe(201);
  expect((await api('POST', `/v1/jobs/${job.body.id}/runs`)).status).toBe(202);
  const drained = runtime.drain();
  await eventually(async () => (open.length === 1 ? true : undefined), { what: `the run of ${name}` });
  open.shift()?.writeHead(200).end('ok');
  await drained;
  expect((await api('DELETE', `/v1/jobs/${job.body.id}`)).status).toBe(204);
}

/** JOBS rate(1 minute) jobs at the gate, their first firings fired and being worked on. */
async function burst(api: ApiClient) {
  const ids: string[] = [];
  for (let i = 0; i < JOBS; i++) {
    const res = await api<Job>('POST', '/v1/jobs', {
      name: `burst-${i}`,
      schedule: { expression: 'rate(1 minute)' },
      target: { type: 'http', url: `${gateUrl}/work`, method: 'POST', timeoutSeconds: 30 },
    });
    expect(res.status).toBe(201);
    ids.push(res.body.id);
  }
  calls = 0;
  mostOpen = 0;
  clock.advance(MINUTE);
  await runtime.fire();
  counter.reset();
  return { ids, drained: runtime.drain() };
}

it('runs all ten firings of a one-team deployment at once, and writes no fair-share places', async () => {
  const api = apiClient(runtime.apiUrl, runtime.devApiKey);
  // What the deployment's first run makes once (the tenant's signing secret, the record of
  // its first tenant), made outside the count.
  await runOnce(api, 'warm-up');
  const { ids, drained } = await burst(api);

  await eventually(async () => (open.length === JOBS ? true : undefined), { what: 'ten calls at once' });
  for (const res of open.splice(0)) res.writeHead(200).end('ok');
  await drained;

  const perRun = counter.snapshot(JOBS);
  expect(calls).toBe(JOBS);
  expect(mostOpen).toBe(JOBS);
  // The claim and the outcome, nothing else: no places taken or given back.
  expect(perRun.byCommand['DynamoDBClient.PutItemCommand']).toBe(2);
  expect(perRun.byCommand['DynamoDBClient.UpdateItemCommand'] ?? 0).toBe(0);
  expect(perRun.dynamoWcu).toBe(2);
  for (const id of ids) {
    const runs = await api<Page<Run>>('GET', `/v1/jobs/${id}/runs`);
    expect(runs.body.items.map((r) => r.status)).toEqual(['succeeded']);
  }
  await deleteAllJobs(api);
});

it("runs a tenant's ten firings of one minute in their batch at the default share once a second tenant has run: five at once, none put back", async () => {
  // A second team's first run: from now on the queues are shared.
  await runOnce(await tenantClient(runtime, 'second-team', clock.now()), 'first');

  const api = apiClient(runtime.apiUrl, runtime.devApiKey);
  const { ids, drained } = await burst(api);

  // Answered one at a time, each answer lets one more in: five in progress until the last five.
  await eventually(async () => (open.length === DEFAULT_SHARE ? true : undefined), { what: 'five calls' });
  for (let answered = 0; answered < JOBS; answered++) {
    const expected = Math.min(JOBS, answered + DEFAULT_SHARE + 1);
    open.shift()?.writeHead(200).end('ok');
    await eventually(
      async () => (calls === expected || answered >= JOBS - DEFAULT_SHARE ? true : undefined),
      {
        what: `call ${expected}`,
      },
    );
  }
  await drained;

  expect(calls).toBe(JOBS);
  expect(mostOpen).toBe(DEFAULT_SHARE);
  // Nothing sent back to the queue: no deferral. The places taken in one write and given back
  // in one, and the tenant's places item made, the first time it takes any.
  const perRun = counter.snapshot(JOBS);
  expect(perRun.byCommand['SQSClient.SendMessageCommand'] ?? 0).toBe(0);
  expect(perRun.byCommand['DynamoDBClient.UpdateItemCommand']).toBeCloseTo(0.3, 5);
  for (const id of ids) {
    const runs = await api<Page<Run>>('GET', `/v1/jobs/${id}/runs`);
    expect(runs.body.items.map((r) => r.status)).toEqual(['succeeded']);
  }
});
