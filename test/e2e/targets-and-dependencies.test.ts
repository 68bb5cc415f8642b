/**
 * AWS targets and job dependencies on the local runtime, under an injected clock: the
 * worker's real Lambda, SQS and EventBridge clients against the local Lambda, fauxqs and
 * the local EventBridge; dependency runs through the real queues and tables.
 */

import { CreateQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LOCAL_ACCOUNT, type LocalRuntime } from '../../local/runtime.js';
import type { ApiClient, Job, Page, Problem } from '../support/api.js';
import { TestClock } from '../support/clock.js';
import {
  runsOf as listRuns,
  type ManualSuite,
  RecordingTarget,
  settleFile,
  settleTest,
  startManualSuite,
} from './support.js';

const clock = new TestClock();
const http = new RecordingTarget();
let suite: ManualSuite;
let runtime: LocalRuntime;
let api: ApiClient;

beforeAll(async () => {
  await http.start();
  suite = await startManualSuite(clock);
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

async function create(body: Record<string, unknown>): Promise<Job> {
  const res = await api<Job>('POST', '/v1/jobs', { name: 'job', ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

const runsOf = (jobId: string) => listRuns(api, jobId);

/** One minute on, with whatever fired worked off. */
async function nextMinute() {
  clock.advance(60_000);
  await runtime.tick();
}

/** Runs a job now and works it off; a second passes first, so each success is later than the last. */
async function runNow(jobId: string): Promise<void> {
  clock.advance(1000);
  expect((await api('POST', `/v1/jobs/${jobId}/runs`)).status).toBe(202);
  await runtime.drain();
}

const httpTarget = (path: string) => ({ type: 'http', url: `${http.url}${path}` });

describe('a Lambda target', () => {
  it('invokes the function with the payload and the run identity, and records its answer', async () => {
    const arn = runtime.lambda.register('daily-report', async (event) => ({ ok: true, got: event }));
    const job = await create({
      schedule: { expression: 'rate(1 minute)' },
      target: { type: 'lambda', functionArn: arn, payload: { report: 'daily' } },
    });
    await nextMinute();

    const [run] = await runsOf(job.id);
    expect(run).toMatchObject({ status: 'succeeded', result: { statusCode: 200 } });
    expect(JSON.parse(run?.result?.bodyExcerpt ?? '')).toEqual({ ok: true, got: { report: 'daily' } });
    const calls = runtime.lambda.invocations.filter((i) => i.functionName === 'daily-report');
    expect(calls).toHaveLength(1);
    expect(calls[0]?.payload).toEqual({ report: 'daily' });
    expect(calls[0]?.clientContext?.custom).toEqual({
      'sundial-job-id': job.id,
      'sundial-run-id': run?.id,
      'sundial-scheduled-time': run?.scheduledAt,
    });
  });

  it('records a function error as failed and retries it as the policy allows', async () => {
    const arn = runtime.lambda.register('broken', async () => {
      throw new TypeError('cannot read the ledger');
    });
    const job = await create({
      schedule: { expression: 'rate(1 hour)' },
      target: { type: 'lambda', functionArn: arn },
      retryPolicy: { maxAttempts: 2, initialDelaySeconds: 10, maxDelaySeconds: 10 },
    });
    clock.advance(60 * 60_000);
    await runtime.tick();
    clock.advance(20_000);
    await runtime.tick();

    const [run] = await runsOf(job.id);
    expect(run).toMatchObject({ status: 'failed', attempt: 2, error: { type: 'function_error' } });
    expect(run?.error?.message).toContain('TypeError: cannot read the ledger');
    expect(runtime.lambda.invocations.filter((i) => i.functionName === 'broken')).toHaveLength(2);
  });

  it('records a function that does not exist as failed with the AWS error', async () => {
    const job = await create({
      schedule: { expression: 'rate(1 minute)' },
      target: { type: 'lambda', functionArn: `arn:aws:lambda:us-east-1:${LOCAL_ACCOUNT}:function:nowhere` },
    });
    await nextMinute();
    const [run] = await runsOf(job.id);
    expect(run).toMatchObject({ status: 'failed', error: { type: 'aws_error' } });
    expect(run?.error?.message).toContain('ResourceNotFoundException');
  });

  it('refuses, at create, a function the deployment does not allow', async () => {
    const res = await api<Problem>('POST', '/v1/jobs', {
      name: 'elsewhere',
      schedule: { expression: 'rate(1 minute)' },
      target: { type: 'lambda', functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:payroll' },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0]?.field).toBe('target.functionArn');
    expect(res.body.errors?.[0]?.message).toContain('not among the target ARNs this deployment allows');
    expect((await api<Page<Job>>('GET', '/v1/jobs')).body.items).toHaveLength(0);
  });
});

describe('an SQS target', () => {
  it('sends the body with its attributes and the run identity to the queue', async () => {
    const { QueueUrl } = await runtime.clients.sqs.send(new CreateQueueCommand({ QueueName: 'team-inbox' }));
    const job = await create({
      schedule: { expression: 'rate(1 minute)' },
      target: {
        type: 'sqs',
        queueUrl: QueueUrl,
        body: '{"report":"daily"}',
        messageAttributes: { team: 'billing' },
      },
    });
    await nextMinute();

    const [run] = await runsOf(job.id);
    expect(run?.status).toBe('succeeded');
    const { Messages = [] } = await runtime.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] }),
    );
    expect(Messages).toHaveLength(1);
    expect(Messages[0]?.Body).toBe('{"report":"daily"}');
    expect(run?.result?.bodyExcerpt).toBe(JSON.stringify({ messageId: Messages[0]?.MessageId }));
    const attributes = Messages[0]?.MessageAttributes ?? {};
    expect(attributes.team?.StringValue).toBe('billing');
    expect(attributes['sundial-run-id']?.StringValue).toBe(run?.id);
    expect(attributes['sundial-job-id']?.StringValue).toBe(job.id);
  });
});

describe('an EventBridge target', () => {
  it('puts the event on the bus', async () => {
    const bus = runtime.eventBridge.createBus('orders');
    const job = await create({
      schedule: { expression: 'rate(1 minute)' },
      target: {
        type: 'eventbridge',
        eventBusArn: bus,
        source: 'com.example.billing',
        detailType: 'Invoice Due',
        detail: { batch: 7 },
      },
    });
    await nextMinute();

    const [run] = await runsOf(job.id);
    expect(run?.status).toBe('succeeded');
    const events = runtime.eventBridge.events('orders');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      source: 'com.example.billing',
      detailType: 'Invoice Due',
      detail: { batch: 7 },
    });
    expect(run?.result?.bodyExcerpt).toBe(JSON.stringify({ eventId: events[0]?.id }));
  });

  it('records a bus that does not exist as failed', async () => {
    const job = await create({
      schedule: { expression: 'rate(1 minute)' },
      target: {
        type: 'eventbridge',
        eventBusArn: runtime.eventBridge.busArn('missing'),
        source: 'com.example',
        detailType: 'Tick',
      },
    });
    await nextMinute();
    const [run] = await runsOf(job.id);
    expect(run).toMatchObject({ status: 'failed', error: { type: 'put_events_failed' } });
  });
});

describe('dependencies', () => {
  it('runs a job once every dependency has succeeded since its own last run', async () => {
    const extract = await create({ name: 'extract', target: httpTarget('/extract') });
    const load = await create({ name: 'load', target: httpTarget('/load') });
    const report = await create({
      name: 'report',
      target: httpTarget('/report'),
      dependsOn: [extract.id, load.id],
    });
    expect(report).toMatchObject({ schedule: null, nextRunAt: null, dependsOn: [extract.id, load.id] });

    await runNow(extract.id);
    expect(http.callsTo('/report')).toHaveLength(0); // load has not run yet
    await runNow(load.id);
    expect(http.callsTo('/report')).toHaveLength(1);
    let runs = await runsOf(report.id);
    expect(runs).toMatchObject([{ trigger: 'dependency', status: 'succeeded' }]);

    // Only extract again: load has not succeeded since report's last run.
    await runNow(extract.id);
    expect(http.callsTo('/report')).toHaveLength(1);
    await runNow(load.id);
    runs = await runsOf(report.id);
    expect(runs.map((r) => r.trigger)).toEqual(['dependency', 'dependency']);
    expect(http.callsTo('/report')).toHaveLength(2);
  });

  it('does not run after a dependency fails, and runs once when it succeeds on a retry', async () => {
    const upstream = await create({
      name: 'upstream',
      target: httpTarget('/flaky-1'),
      retryPolicy: { maxAttempts: 2, initialDelaySeconds: 5, maxDelaySeconds: 5 },
    });
    const downstream = await create({
      name: 'downstream',
      target: httpTarget('/downstream'),
      dependsOn: [upstream.id],
    });
    await runNow(upstream.id);
    expect(http.callsTo('/downstream')).toHaveLength(0); // the first attempt failed
    clock.advance(10_000);
    await runtime.drain();
    expect(http.callsTo('/downstream')).toHaveLength(1);
    expect(await runsOf(downstream.id)).toMatchObject([{ trigger: 'dependency', status: 'succeeded' }]);
  });

  it('runs a scheduled dependency chain once per firing when every message arrives three times', async () => {
    runtime.faults.firingCopies = 3;
    try {
      const hourly = await create({
        name: 'hourly',
        schedule: { expression: 'rate(1 minute)' },
        target: httpTarget('/a'),
      });
      const after = await create({ name: 'after', target: httpTarget('/b'), dependsOn: [hourly.id] });
      await nextMinute();
      await nextMinute();
      expect(http.callsTo('/a')).toHaveLength(2);
      expect(http.callsTo('/b')).toHaveLength(2);
      expect(
        (await runsOf(after.id)).every((r) => r.trigger === 'dependency' && r.status === 'succeeded'),
      ).toBe(true);
    } finally {
      runtime.faults.firingCopies = 1;
    }
  });

  it('refuses, and writes nothing, when a dependency is deleted between the check and the write', async () => {
    // The API checked the dependency; by the time the transaction lands it is gone.
    const a = await create({ name: 'a', target: httpTarget('/x') });
    const store = runtime.services.jobStore;
    const stored = (await store.get('dev', a.id))!;
    const gone = 'job_01GONEBEFORETHEWRITE';
    const orphan = {
      ...stored,
      state: 'enabled' as const,
      id: 'job_01NEWDEPENDENT',
      dependsOn: [gone],
      version: 1,
    };
    await expect(store.create(orphan)).rejects.toMatchObject({
      name: 'ValidationError',
      errors: [{ field: 'dependsOn', message: `job ${gone} does not exist` }],
    });
    expect(await store.get('dev', orphan.id)).toBeUndefined();
    expect(await store.listDependents('dev', gone)).toEqual([]);

    const edited = { ...stored, dependsOn: [gone], version: stored.version + 1 };
    await expect(store.replace(edited, stored.version, clock.now().toISOString(), [])).rejects.toMatchObject({
      errors: [{ field: 'dependsOn', message: `job ${gone} does not exist` }],
    });
    expect((await store.get('dev', a.id))?.version).toBe(stored.version);
  });

  it('rejects unknown ids, a job depending on itself and cycles, at create and update', async () => {
    const a = await create({ name: 'a', target: httpTarget('/x') });
    const b = await create({ name: 'b', target: httpTarget('/x'), dependsOn: [a.id] });
    const c = await create({ name: 'c', target: httpTarget('/x'), dependsOn: [b.id] });

    const unknown = await api<Problem>('POST', '/v1/jobs', {
      name: 'd',
      target: httpTarget('/x'),
      dependsOn: [a.id, 'job_01NOSUCHJOB'],
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors).toEqual([
      { field: 'dependsOn.1', message: 'job job_01NOSUCHJOB does not exist' },
    ]);

    const self = await api<Problem>('PATCH', `/v1/jobs/${a.id}`, { dependsOn: [a.id] });
    expect(self.status).toBe(400);
    expect(self.body.errors?.[0]?.field).toBe('dependsOn.0');

    const cycle = await api<Problem>('PATCH', `/v1/jobs/${a.id}`, { dependsOn: [c.id] });
    expect(cycle.status).toBe(400);
    expect(cycle.body.errors).toEqual([
      { field: 'dependsOn', message: `would create a cycle: ${a.id} -> ${c.id} -> ${b.id} -> ${a.id}` },
    ]);
    // Nothing changed.
    expect((await api<Job>('GET', `/v1/jobs/${a.id}`)).body).toMatchObject({
      version: a.version,
      dependsOn: [],
    });
  });

  it('keeps a job others depend on until they no longer do', async () => {
    const base = await create({ name: 'base', target: httpTarget('/x') });
    const user = await create({ name: 'user', target: httpTarget('/x'), dependsOn: [base.id] });
    const refused = await api<Problem>('DELETE', `/v1/jobs/${base.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toContain(user.id);

    expect((await api('PATCH', `/v1/jobs/${user.id}`, { dependsOn: [] })).status).toBe(200);
    expect((await api('DELETE', `/v1/jobs/${base.id}`)).status).toBe(204);
    // The dependent no longer reacts to anything: its edge went with the change.
    expect(await runtime.services.jobStore.listDependents('dev', base.id)).toEqual([]);
  });
});
