/**
 * Graceful degradation on the local runtime (DynamoDB Local, fauxqs, the manual clock): the
 * queue age the worker measures drives the level up through each step (low-priority firings
 * deferred, cheaper run history, dependents delayed, job creation refused), and with the
 * pressure gone it steps back down, one level every two minutes, each step reversing, until
 * the deferred firing finally runs. Messages sit on their queue while the clock moves: that is
 * the queue age, exactly as SentTimestamp gives it on AWS.
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import type { LocalRuntime } from '../../local/runtime.js';
import type { ApiClient, Job, Page, Problem, Run } from '../support/api.js';
import { MINUTE, SECOND, TestClock } from '../support/clock.js';
import { type ManualSuite, RecordingTarget, settleFile, settleTest, startManualSuite } from './support.js';

const clock = new TestClock();
const http = new RecordingTarget();
let suite: ManualSuite;
let runtime: LocalRuntime;
let api: ApiClient;

/** Small pages from level 2, so three runs are enough to see one. */
const CHEAP_PAGE = 2;

beforeAll(async () => {
  await http.start();
  suite = await startManualSuite(clock, { degradation: { cheapPageSize: CHEAP_PAGE } });
  ({ runtime, api } = suite);
});

beforeEach(() => {
  clock.fresh();
  http.reset();
});

afterEach(() => settleTest(suite));

afterAll(async () => {
  await settleFile(suite);
  await http.stop();
});

interface Degradation {
  level: number;
  steps: string[];
  stepDownInSeconds: number;
}

async function degradation(): Promise<Degradation> {
  const res = await api<{ degradation: Degradation }>('GET', '/v1/health');
  expect(res.status).toBe(200);
  return res.body.degradation;
}

async function create(body: Record<string, unknown>): Promise<Job> {
  const res = await api<Job>('POST', '/v1/jobs', {
    target: { type: 'http', url: `${http.url}/${String(body.name)}`, timeoutSeconds: 10 },
    ...body,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

/** Queues a run of each job now (run now); returns the runs' ids. */
async function queue(...jobs: Job[]): Promise<string[]> {
  const ids: string[] = [];
  for (const job of jobs) {
    const res = await api<Run>('POST', `/v1/jobs/${job.id}/runs`);
    expect(res.status).toBe(202);
    ids.push(res.body.id);
  }
  return ids;
}

/** The queued messages wait `ms` on their queues before the worker takes them. */
async function waitThenWork(ms: number): Promise<void> {
  clock.advance(ms);
  await runtime.drain();
}

const runOf = async (job: Job, runId: string) =>
  (await api<Run>('GET', `/v1/jobs/${job.id}/runs/${runId}`)).body;
const runsOf = async (job: Job) =>
  (await api<Page<Run>>('GET', `/v1/jobs/${job.id}/runs?limit=100`)).body.items;
const count = (name: string) => runtime.metrics.counts[name] ?? 0;

it('degrades step by step as the queues age, and reverses each step by itself as the pressure goes', async () => {
  const normal = await create({ name: 'normal' });
  const low = await create({ name: 'low', priority: 'low' });
  const up = await create({ name: 'up' });
  const down = await create({ name: 'down', dependsOn: [up.id] });
  expect(await degradation()).toEqual({ level: 0, steps: [], stepDownInSeconds: 0 });

  // Level 1 (queue age over 60 s): the low-priority run is put back; the default one runs.
  const [lowRun] = await queue(low, normal);
  await waitThenWork(90 * SECOND);
  expect(await degradation()).toMatchObject({ level: 1, steps: ['low-priority-deferred'] });
  expect((await runsOf(normal)).map((r) => r.status)).toEqual(['succeeded']);
  expect((await runOf(low, lowRun!)).status).toBe('queued');
  expect(http.callsTo('/low')).toHaveLength(0);
  expect(count('LowPriorityDeferred')).toBeGreaterThanOrEqual(1);
  let history = await api<Page<Run>>('GET', `/v1/jobs/${normal.id}/runs?limit=10`);
  expect(history.headers.get('sundial-degraded')).toBeNull();

  // Level 2 (over 180 s): run history comes in small pages, eventually consistent, and says so.
  await queue(normal, normal);
  await waitThenWork(200 * SECOND);
  expect((await degradation()).level).toBe(2);
  history = await api<Page<Run>>('GET', `/v1/jobs/${normal.id}/runs?limit=10`);
  expect(history.status).toBe(200);
  expect(history.headers.get('sundial-degraded')).toBe('run-history');
  expect(history.body.items).toHaveLength(CHEAP_PAGE);
  expect(history.body.nextCursor).not.toBeNull();
  // Nothing is lost: the cursor pages on through the rest.
  const rest = await api<Page<Run>>(
    'GET',
    `/v1/jobs/${normal.id}/runs?limit=10&cursor=${history.body.nextCursor}`,
  );
  expect(rest.body.items).toHaveLength(1);
  expect(count('RunHistoryCheap')).toBeGreaterThanOrEqual(1);
  expect((await runOf(low, lowRun!)).status).toBe('queued');

  // Level 3 (over 300 s): the upstream succeeds, and its dependent is triggered a minute late.
  await queue(up);
  await waitThenWork(320 * SECOND);
  expect((await degradation()).level).toBe(3);
  expect((await runsOf(up)).map((r) => r.status)).toEqual(['succeeded']);
  expect(await runsOf(down)).toEqual([]);
  expect(count('DependentsDelayed')).toBe(1);
  await waitThenWork(61 * SECOND);
  expect((await runsOf(down)).map((r) => [r.trigger, r.status])).toEqual([['dependency', 'succeeded']]);

  // Level 4 (over 600 s): no new jobs, with Retry-After; everything else goes on.
  await queue(normal);
  await waitThenWork(620 * SECOND);
  const peak = clock.now().getTime();
  const state = await degradation();
  expect(state).toEqual({
    level: 4,
    steps: ['low-priority-deferred', 'run-history-cheap', 'dependents-delayed', 'creates-refused'],
    stepDownInSeconds: 120,
  });
  const refused = await api<Problem>('POST', '/v1/jobs', {
    name: 'refused',
    target: { type: 'http', url: `${http.url}/refused` },
  });
  expect(refused.status).toBe(503);
  expect(refused.headers.get('content-type')).toBe('application/problem+json');
  expect(refused.headers.get('retry-after')).toBe('120');
  expect(refused.body.type).toMatch(/degraded$/);
  expect(count('CreatesRefused')).toBe(1);
  expect((await api('GET', `/v1/jobs/${normal.id}`)).status).toBe(200);
  expect((await api('PATCH', `/v1/jobs/${normal.id}`, { description: 'still editable' })).status).toBe(200);
  expect((await api('POST', `/v1/jobs/${normal.id}/runs`)).status).toBe(202);
  await runtime.drain();

  /** The pressure gone: `steps` step-down periods after the peak, with the minute sweep run. */
  const calmFor = async (steps: number) => {
    clock.set(new Date(peak + steps * 2 * MINUTE + SECOND));
    await runtime.tick();
  };

  // Back to 3: jobs can be made again.
  await calmFor(1);
  expect((await degradation()).level).toBe(3);
  const made = await api<Job>('POST', '/v1/jobs', {
    name: 'made',
    target: { type: 'http', url: `${http.url}/made` },
  });
  expect(made.status).toBe(201);

  // Back to 2: a dependent is triggered at once again.
  await calmFor(2);
  expect((await degradation()).level).toBe(2);
  await queue(up);
  await runtime.drain();
  expect((await runsOf(down)).map((r) => r.status)).toEqual(['succeeded', 'succeeded']);

  // Back to 1: full pages, read the usual way.
  await calmFor(3);
  expect((await degradation()).level).toBe(1);
  history = await api<Page<Run>>('GET', `/v1/jobs/${normal.id}/runs?limit=10`);
  expect(history.headers.get('sundial-degraded')).toBeNull();
  expect(history.body.items.length).toBeGreaterThan(CHEAP_PAGE);
  expect((await runOf(low, lowRun!)).status).toBe('queued');

  // Back to 0: the deferred low-priority run was never lost, and runs now, once.
  await calmFor(4);
  clock.advance(MINUTE); // past the longest put-back delay
  await runtime.tick();
  expect(await degradation()).toEqual({ level: 0, steps: [], stepDownInSeconds: 0 });
  expect((await runOf(low, lowRun!)).status).toBe('succeeded');
  expect(http.callsTo('/low')).toHaveLength(1);
  // The minute sweep published each level on the way down, for the alarms.
  expect(runtime.metrics.degradationLevels.slice(-5)).toEqual([3, 2, 1, 0, 0]);
});
