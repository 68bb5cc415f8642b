/**
 * The local runtime as `npm start` runs it: real clock, the emulator ticking and pollers
 * long-polling. A one-time job a few seconds ahead must fire once and show as succeeded.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.js';
import type { Job } from '../support/api.js';
import { apiClient, RecordingTarget, waitForRuns } from './support.js';

const target = new RecordingTarget();
let runtime: LocalRuntime;

beforeAll(async () => {
  await target.start();
  runtime = await startLocalRuntime({ port: 0, logLevel: 'SILENT' });
});

afterAll(async () => {
  await runtime?.stop();
  await target.stop();
});

it('fires an at() job a few seconds ahead exactly once and records the run', async () => {
  const api = apiClient(runtime.apiUrl, runtime.devApiKey);
  const fireAt = new Date(Math.ceil(Date.now() / 1000) * 1000 + 3000);
  const expression = `at(${fireAt.toISOString().slice(0, 19)})`;
  const created = await api<Job>('POST', '/v1/jobs', {
    name: 'soon',
    schedule: { expression, timezone: 'UTC' },
    target: { type: 'http', url: `${target.url}/soon`, method: 'GET' },
  });
  expect(created.status).toBe(201);
  expect(created.body.nextRunAt).toBe(fireAt.toISOString());

  const runs = await waitForRuns(
    api,
    created.body.id,
    (items) => items.some((r) => r.status === 'succeeded'),
    {
      timeoutMs: 30_000,
      what: 'the at() run to succeed',
    },
  );
  expect(runs).toHaveLength(1);
  expect(runs[0]).toMatchObject({
    status: 'succeeded',
    scheduledAt: fireAt.toISOString(),
    result: { statusCode: 200 },
  });
  expect(target.callsTo('/soon')).toHaveLength(1);
  expect(target.callsTo('/soon')[0]?.method).toBe('GET');
});
