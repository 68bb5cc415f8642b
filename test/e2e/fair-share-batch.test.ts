/**
 * One tenant's jobs firing in the same minute at the default share (5 on the default queue):
 * a batch of ten runs five at once and hands each finished run's place to one of the other
 * five, in the same invocation. None is put back on the queue, and never more than five are
 * in progress: the cap of fair share, without its deferrals' SQS round trips.
 */
import { createServer, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type CallCounter, countCalls } from '../../bench/counter.js';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.js';
import type { Job, Page, Run } from '../support/api.js';
import { MINUTE, TestClock } from '../support/clock.js';
import { apiClient, eventually, listenForTargets } from './support.js';

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

it("runs a tenant's ten firings of one minute in their batch at the default share: five at once, none put back", async () => {
  const api = apiClient(runtime.apiUrl, runtime.devApiKey);
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
  clock.advance(MINUTE);
  await runtime.fire();
  counter.reset();
  const drained = runtime.drain();

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
  // Nothing sent back to the queue: no deferral.
  expect(counter.snapshot(1).byCommand['SQSClient.SendMessageCommand'] ?? 0).toBe(0);
  for (const id of ids) {
    const runs = await api<Page<Run>>('GET', `/v1/jobs/${id}/runs`);
    expect(runs.body.items.map((r) => r.status)).toEqual(['succeeded']);
  }
});
