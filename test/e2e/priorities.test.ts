/**
 * Priorities under load, on the running local runtime: each queue is worked by at most its
 * maximum concurrency of worker invocations, so under a backlog high drains first and low
 * last. The target holds every call until the test releases it, so the test moves in
 * waves it controls instead of racing a clock.
 */
import { createServer, type ServerResponse } from 'node:http';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PRIORITIES, type Priority } from '../../lib/definitions.js';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.js';
import type { Job } from '../support/api.js';
import { apiClient, eventually, listenForTargets, waitForRuns } from './support.js';

const CONCURRENCY: Record<Priority, number> = { high: 4, default: 2, low: 1 };
const BATCH = 10;
const BACKLOG = 40;

/** An endpoint that answers nothing until released, counting what it answered per priority. */
const held: { priority: Priority; res: ServerResponse }[] = [];
const answered: Record<Priority, number> = { high: 0, default: 0, low: 0 };
const gate = createServer((req, res) => {
  req.resume();
  req.on('end', () => held.push({ priority: req.url?.slice(1) as Priority, res }));
});
let gateUrl = '';
let runtime: LocalRuntime;

beforeAll(async () => {
  gateUrl = `http://127.0.0.1:${await listenForTargets(gate)}`;
  // One tenant's backlog, as a single-team deployment would have it: no fair share, so
  // every invocation a queue may run is busy with it.
  runtime = await startLocalRuntime({
    port: 0,
    logLevel: 'SILENT',
    maxConcurrency: CONCURRENCY,
    limits: { runsInProgress: 0 },
  });
});

afterAll(async () => {
  for (const h of held.splice(0)) h.res.writeHead(200).end();
  await runtime?.stop();
  gate.closeAllConnections();
  await new Promise<void>((resolve) => gate.close(() => resolve()));
});

function release(): void {
  for (const h of held.splice(0)) {
    answered[h.priority]++;
    h.res.writeHead(200).end('ok');
  }
}

/** What the pollers take next, were every queue's remaining backlog worked at its concurrency. */
function nextWave(): Record<Priority, number> {
  return Object.fromEntries(
    PRIORITIES.map((p) => [p, Math.min(BACKLOG - answered[p], CONCURRENCY[p] * BATCH)]),
  ) as Record<Priority, number>;
}

function heldNow(): Record<Priority, number> {
  const counts: Record<Priority, number> = { high: 0, default: 0, low: 0 };
  for (const h of held) counts[h.priority]++;
  return counts;
}

it('drains a backlog high first and low last, each queue at its own maximum concurrency', async () => {
  const api = apiClient(runtime.apiUrl, runtime.devApiKey);
  const jobs: string[] = [];
  for (const priority of PRIORITIES) {
    const job = await api<Job>('POST', '/v1/jobs', {
      name: `backlog-${priority}`,
      priority,
      target: { type: 'http', url: `${gateUrl}/${priority}`, timeoutSeconds: 50 },
    });
    expect(job.status).toBe(201);
    jobs.push(job.body.id);
    // The same backlog on every queue: manual runs, ten to a batch, as a burst would leave them.
    for (let b = 0; b < BACKLOG / BATCH; b++) {
      await runtime.clients.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: runtime.queues[priority].url,
          // Signed as Sundial signs what it queues: an unsigned message is never run.
          Entries: await Promise.all(
            Array.from({ length: BATCH }, async (_, i) => ({
              Id: String(i),
              MessageBody: JSON.stringify(
                await runtime.services.firingSigner.sign({
                  v: 1,
                  tenantId: 'dev',
                  jobId: job.body.id,
                  trigger: 'manual',
                  scheduledTime: new Date().toISOString(),
                  runId: `run_backlog_${priority}_${b}_${i}`,
                }),
              ),
            })),
          ),
        }),
      );
    }
  }

  const remainingAfterEachWave: Record<Priority, number>[] = [];
  while (PRIORITIES.some((p) => answered[p] < BACKLOG)) {
    const expected = nextWave();
    // Every worker invocation a queue may run is busy, and no more than that.
    await eventually(
      async () => (JSON.stringify(heldNow()) === JSON.stringify(expected) ? true : undefined),
      { timeoutMs: 20_000, what: `calls in flight to be ${JSON.stringify(expected)}` },
    );
    release();
    remainingAfterEachWave.push(
      Object.fromEntries(PRIORITIES.map((p) => [p, BACKLOG - answered[p]])) as Record<Priority, number>,
    );
  }

  // 4 invocations x 10 clear high in one wave, 2 x 10 clear default in two, 1 x 10 needs four.
  expect(remainingAfterEachWave).toEqual([
    { high: 0, default: 20, low: 30 },
    { high: 0, default: 0, low: 20 },
    { high: 0, default: 0, low: 10 },
    { high: 0, default: 0, low: 0 },
  ]);
  // And every run was recorded as succeeded.
  for (const id of jobs) {
    await waitForRuns(api, id, (runs) => runs.filter((r) => r.status === 'succeeded').length === BACKLOG, {
      what: 'every backlog run to be recorded as succeeded',
    });
  }
});
