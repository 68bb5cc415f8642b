/**
 * Long runs on the local runtime under an injected clock (no waiting an hour): HTTP targets
 * that call back, container commands through the ECS stand-in, Step Functions executions
 * through its stand-in, their deadlines and heartbeats, cancel and backfill. Completion
 * events take the same path as on AWS (a state-change event → the completion function), and
 * the firing ledger checks after every test that each firing ended as exactly one run.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { ECSClient, RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { scheduledRunId } from '../../functions/domain/run.js';
import { createWorkerHandler } from '../../functions/handlers/worker.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/dynamodb-local.js';
import { LOCAL_ACCOUNT, type LocalRuntime } from '../../local/runtime.js';
import { pollOnce } from '../../local/sqs-poller.js';
import type { ApiClient, Job } from '../support/api.js';
import { HOUR, MINUTE, SECOND, TestClock } from '../support/clock.js';
import {
  eventually,
  type ManualSuite,
  RecordingTarget,
  runsOf,
  settleFile,
  settleTest,
  startManualSuite,
} from './support.js';

const clock = new TestClock();
const http = new RecordingTarget();
/** Every line the runtime's functions log, at every level: no callback token may be in one. */
const logged: string[] = [];
const record = (...args: unknown[]) => {
  logged.push(JSON.stringify(args));
};
const recordingLogger = { debug: record, info: record, warn: record, error: record } as unknown as Logger;
let suite: ManualSuite;
let runtime: LocalRuntime;
let api: ApiClient;

beforeAll(async () => {
  await http.start();
  suite = await startManualSuite(clock, { taskStopTimeoutMs: 2_000, logger: recordingLogger });
  ({ runtime, api } = suite);
});

beforeEach(() => {
  clock.fresh();
  http.reset();
  runtime.ecs.dropEvents = 0;
  runtime.ecs.duplicateEvents = false;
});

afterEach(() => settleTest(suite));

afterAll(async () => {
  await settleFile(suite);
  await http.stop();
});

type Run = Awaited<ReturnType<typeof runsOf>>[number] & {
  deadlineAt?: string | null;
  heartbeatAt?: string | null;
  progress?: number | null;
  progressMessage?: string | null;
  output?: unknown;
  cancelledBy?: string | null;
  result: {
    statusCode: number | null;
    bodyExcerpt: string;
    exitCode?: number | null;
    taskArn?: string;
  } | null;
};

async function create(body: Record<string, unknown>): Promise<Job> {
  const res = await api<Job>('POST', '/v1/jobs', { name: 'long job', ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

async function runOf(jobId: string, runId: string): Promise<Run> {
  const res = await api<Run>('GET', `/v1/jobs/${jobId}/runs/${runId}`);
  expect(res.status).toBe(200);
  return res.body;
}

/** The clock moves on by `ms`, and whatever is due (firings, sweeps) is worked off. */
async function advance(ms: number): Promise<void> {
  clock.advance(ms);
  await runtime.tick();
}

/** Posts to a callback URL as a target would: no credentials, the URL is the credential. */
async function post(url: string, body?: unknown): Promise<number> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  await res.arrayBuffer();
  return res.status;
}

const callbackUrlOf = (path: string, n = 0) => {
  const header = http.callsTo(path)[n]?.headers['sundial-callback-url'];
  expect(typeof header, `call ${n} to ${path} carries Sundial-Callback-Url`).toBe('string');
  return header as string;
};

const hourly = { expression: 'cron(0 * * * ? *)' };
const cluster = `arn:aws:ecs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:cluster/batch`;
const taskDefinition = `arn:aws:ecs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:task-definition/adhoc:1`;
const node = (script: string) => [process.execPath, '-e', script];
const ecsTarget = (script: string, extra: Record<string, unknown> = {}) => ({
  type: 'ecs',
  cluster,
  taskDefinition,
  containerOverrides: [{ name: 'main', command: node(script) }],
  ...extra,
});

/** The next hour's firing, with the task it starts run to its end and its event handled. */
async function fireAndComplete(): Promise<void> {
  const completed = runtime.nextCompletion();
  await advance(HOUR);
  await completed;
  await runtime.drain();
}

describe('an HTTP target that calls back', () => {
  it('runs for 70 simulated minutes with heartbeats, then succeeds with its output', async () => {
    const job = await create({
      schedule: hourly,
      target: {
        type: 'http',
        url: `${http.url}/import`,
        completion: 'callback',
        runTimeoutSeconds: 2 * 3600,
        heartbeatTimeoutSeconds: 900,
      },
    });
    await advance(HOUR);
    const runId = scheduledRunId(clock.after(HOUR));
    const url = callbackUrlOf('/import');
    expect(url).toMatch(new RegExp(`^${runtime.apiUrl}/v1/callbacks/[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{43}$`));
    const started = await runOf(job.id, runId);
    expect(started).toMatchObject({ status: 'running', attempt: 1 });
    expect(Date.parse(started.deadlineAt ?? '')).toBe(clock.after(HOUR).getTime() + 2 * HOUR);

    // A heartbeat every 10 minutes keeps it alive past the 15-minute heartbeat timeout.
    for (let minute = 10; minute <= 70; minute += 10) {
      clock.advance(10 * MINUTE);
      expect(
        await post(`${url}/heartbeat`, { progress: minute / 80, message: `${minute} of 80 files` }),
      ).toBe(204);
      await runtime.tick();
    }
    const midway = await runOf(job.id, runId);
    expect(midway).toMatchObject({ status: 'running', progress: 70 / 80, progressMessage: '70 of 80 files' });
    expect(midway.heartbeatAt).toBe(clock.now().toISOString());

    expect(await post(url, { status: 'succeeded', output: { rows: 42_000 } })).toBe(204);
    await runtime.drain();
    const done = await runOf(job.id, runId);
    expect(done).toMatchObject({ status: 'succeeded', output: { rows: 42_000 }, durationMs: 70 * MINUTE });
    expect(done.attempts).toHaveLength(1);
    // The run has ended: the same URL now answers 409, a URL Sundial never made 404.
    expect(await post(url, { status: 'failed' })).toBe(409);
    expect(await post(`${url}/heartbeat`, {})).toBe(409);
    expect(await post(url.replace(/.{4}$/, 'AAAA'), { status: 'succeeded' })).toBe(404);
    expect(runtime.metrics.durationsMs).toContainEqual({ status: 'succeeded', durationMs: 70 * MINUTE });
  });

  it('times out when no callback comes, and is retried with a new callback URL', async () => {
    const job = await create({
      schedule: hourly,
      target: {
        type: 'http',
        url: `${http.url}/never-calls-back`,
        completion: 'callback',
        runTimeoutSeconds: 60,
      },
      retryPolicy: { maxAttempts: 2, initialDelaySeconds: 1 },
    });
    await advance(HOUR);
    const runId = scheduledRunId(clock.after(HOUR));
    const first = callbackUrlOf('/never-calls-back', 0);
    await advance(61 * SECOND);
    const waiting = await runOf(job.id, runId);
    expect(waiting).toMatchObject({ status: 'queued', attempt: 1 });
    expect(waiting.attempts[0]).toMatchObject({ status: 'timed_out', error: { type: 'timeout' } });

    await advance(2 * SECOND);
    expect(await runOf(job.id, runId)).toMatchObject({ status: 'running', attempt: 2 });
    const second = callbackUrlOf('/never-calls-back', 1);
    expect(second).not.toBe(first);
    // The first attempt's URL expired with it.
    expect(await post(first, { status: 'succeeded' })).toBe(404);
    await advance(61 * SECOND);
    const ended = await runOf(job.id, runId);
    expect(ended).toMatchObject({ status: 'timed_out', attempt: 2, error: { type: 'timeout' } });
    expect(await post(second, { status: 'succeeded' })).toBe(409);
  });

  it('times out when its heartbeats stop', async () => {
    const job = await create({
      schedule: hourly,
      target: {
        type: 'http',
        url: `${http.url}/goes-quiet`,
        completion: 'callback',
        heartbeatTimeoutSeconds: 30,
      },
    });
    await advance(HOUR);
    const runId = scheduledRunId(clock.after(HOUR));
    const url = callbackUrlOf('/goes-quiet');
    clock.advance(20 * SECOND);
    expect(await post(`${url}/heartbeat`, { progress: 0.1 })).toBe(204);
    await advance(25 * SECOND);
    expect(await runOf(job.id, runId)).toMatchObject({ status: 'running' });
    await advance(10 * SECOND);
    expect(await runOf(job.id, runId)).toMatchObject({
      status: 'timed_out',
      error: { type: 'timeout', message: 'no heartbeat for 30s' },
    });
  });

  it('refuses a malformed callback body with the field named, and an unknown token with 404', async () => {
    await create({
      schedule: hourly,
      target: { type: 'http', url: `${http.url}/bad-body`, completion: 'callback' },
    });
    await advance(HOUR);
    const url = callbackUrlOf('/bad-body');
    const res = await fetch(url, { method: 'POST', body: JSON.stringify({ status: 'done' }) });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toContain('status');
    expect(await post(`${runtime.apiUrl}/v1/callbacks/not-a-token`, { status: 'succeeded' })).toBe(404);
    expect(await post(url, { status: 'succeeded' })).toBe(204);
  });
});

describe('a callback URL', () => {
  it('is never written to a log line, whatever is done with it', async () => {
    const job = await create({
      schedule: hourly,
      target: { type: 'http', url: `${http.url}/secret-callback`, completion: 'callback' },
      retryPolicy: { maxAttempts: 1 },
    });
    logged.length = 0;
    await advance(HOUR);
    const url = callbackUrlOf('/secret-callback');
    const token = url.split('/v1/callbacks/')[1]!;
    expect(await post(`${url}/heartbeat`, { progress: 0.5 })).toBe(204);
    expect(await post(`${url}/nowhere`, {})).toBe(404);
    const malformed = await fetch(url, { method: 'POST', body: '{"status":' });
    expect(malformed.status).toBe(400);
    expect(await post(url, { status: 'failed', error: { message: 'no disk' } })).toBe(204);
    await runtime.drain();
    expect(await post(url, { status: 'succeeded' })).toBe(409);
    expect(await runOf(job.id, scheduledRunId(clock.after(HOUR)))).toMatchObject({ status: 'failed' });
    // The functions did log (the start, the report, the failure), just never the token.
    expect(logged.length).toBeGreaterThan(2);
    expect(logged.filter((line) => line.includes(token.slice(-43)) || line.includes(token))).toEqual([]);
  });
});

describe('a container command (ECS)', () => {
  it('succeeds when the command exits 0, with the task on the run', async () => {
    const job = await create({ schedule: hourly, target: ecsTarget('process.exit(0)') });
    await fireAndComplete();
    const run = await runOf(job.id, scheduledRunId(clock.after(HOUR)));
    expect(run).toMatchObject({ status: 'succeeded', result: { exitCode: 0 } });
    expect(run.result?.taskArn).toMatch(/^arn:aws:ecs:us-east-1:000000000000:task\/batch\/[0-9a-f]{32}$/);
  });

  it('fails when the command exits 3, with the exit code and the stop reason', async () => {
    const job = await create({ schedule: hourly, target: ecsTarget('process.exit(3)') });
    await fireAndComplete();
    const run = await runOf(job.id, scheduledRunId(clock.after(HOUR)));
    expect(run).toMatchObject({ status: 'failed', result: { exitCode: 3 }, error: { type: 'exit_code' } });
    expect(run.error?.message).toContain('exited with code 3');
  });

  it('gives the container its environment and the run it is', async () => {
    const job = await create({
      schedule: hourly,
      target: ecsTarget(
        'process.exit(process.env.GREETING === "hello" && process.env.SUNDIAL_RUN_ID.startsWith("run_") && process.env.SUNDIAL_CALLBACK_URL.includes("/v1/callbacks/") ? 0 : 4)',
        {},
      ),
    });
    await api('PATCH', `/v1/jobs/${job.id}`, {
      target: {
        containerOverrides: [
          {
            name: 'main',
            command: node(
              'process.exit(process.env.GREETING === "hello" && process.env.SUNDIAL_RUN_ID.startsWith("run_") && process.env.SUNDIAL_CALLBACK_URL.includes("/v1/callbacks/") ? 0 : 4)',
            ),
            environment: { GREETING: 'hello' },
          },
        ],
      },
    });
    await fireAndComplete();
    expect(await runOf(job.id, scheduledRunId(clock.after(HOUR)))).toMatchObject({ status: 'succeeded' });
  });

  it('runs a task definition registered locally, and shows where its awslogs output goes', async () => {
    const ecs = new ECSClient({
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      endpoint: runtime.endpoints.ecs,
    });
    const registered = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'report',
        containerDefinitions: [
          {
            name: 'app',
            image: 'report:latest',
            command: node('process.exit(0)'),
            logConfiguration: {
              logDriver: 'awslogs',
              options: {
                'awslogs-group': '/ecs/report',
                'awslogs-region': LOCAL_REGION,
                'awslogs-stream-prefix': 'report',
              },
            },
          },
        ],
      }),
    );
    ecs.destroy();
    // No overrides: the command is the task definition's own.
    const job = await create({
      schedule: hourly,
      target: { type: 'ecs', cluster, taskDefinition: registered.taskDefinition!.taskDefinitionArn! },
    });
    await fireAndComplete();
    const run = await runOf(job.id, scheduledRunId(clock.after(HOUR)));
    const taskId = run.result?.taskArn?.split('/').pop();
    expect(run).toMatchObject({
      status: 'succeeded',
      result: {
        exitCode: 0,
        logs: { group: '/ecs/report', region: LOCAL_REGION, stream: `report/app/${taskId}` },
      },
    });
  });

  it('is stopped and timed out at its deadline, and retried with a new task', async () => {
    const job = await create({
      schedule: hourly,
      target: ecsTarget('setInterval(() => {}, 1000)', { runTimeoutSeconds: 60 }),
      retryPolicy: { maxAttempts: 2, initialDelaySeconds: 1 },
    });
    await advance(HOUR);
    const runId = scheduledRunId(clock.after(HOUR));
    const first = (await runOf(job.id, runId)).result?.taskArn;
    const stopped = runtime.nextCompletion();
    await advance(61 * SECOND);
    await stopped;
    const waiting = await runOf(job.id, runId);
    expect(waiting).toMatchObject({ status: 'queued', attempt: 1 });
    expect(waiting.attempts[0]).toMatchObject({ status: 'timed_out', error: { type: 'timeout' } });
    expect(runtime.ecs.tasks().find((t) => t.taskArn === first)?.lastStatus).toBe('STOPPED');

    await advance(2 * SECOND);
    const retried = await runOf(job.id, runId);
    expect(retried).toMatchObject({ status: 'running', attempt: 2 });
    expect(retried.result?.taskArn).not.toBe(first);
    const second = runtime.nextCompletion();
    expect((await api('POST', `/v1/jobs/${job.id}/runs/${runId}/cancel`)).status).toBe(202);
    await runtime.drain();
    await second;
  });

  it('is cancelled: the task is stopped and the run ends cancelled, not retried', async () => {
    const job = await create({
      schedule: hourly,
      target: ecsTarget('setInterval(() => {}, 1000)'),
      retryPolicy: { maxAttempts: 3, initialDelaySeconds: 1 },
    });
    await advance(HOUR);
    const runId = scheduledRunId(clock.after(HOUR));
    expect(await runOf(job.id, runId)).toMatchObject({ status: 'running' });
    const stopped = runtime.nextCompletion();
    const res = await api<Run>('POST', `/v1/jobs/${job.id}/runs/${runId}/cancel`);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'cancelled', cancelledBy: expect.any(String) });
    await runtime.drain();
    await stopped;
    await advance(MINUTE);
    const run = await runOf(job.id, runId);
    expect(run).toMatchObject({ status: 'cancelled', attempt: 1 });
    const task = runtime.ecs.tasks().find((t) => t.startedBy && run.result?.taskArn === t.taskArn);
    expect(task?.lastStatus).toBe('STOPPED');
    // Cancelling again, or cancelling an ended run, is a conflict.
    expect((await api('POST', `/v1/jobs/${job.id}/runs/${runId}/cancel`)).status).toBe(409);
  });

  it('is recovered by the poll when its completion event is lost', async () => {
    const job = await create({ schedule: hourly, target: ecsTarget('process.exit(0)') });
    runtime.ecs.dropEvents = 2; // RUNNING and STOPPED
    await advance(HOUR);
    const runId = scheduledRunId(clock.after(HOUR));
    const run = await runOf(job.id, runId);
    await eventually(
      async () =>
        runtime.ecs.tasks().find((t) => t.taskArn === run.result?.taskArn)?.lastStatus === 'STOPPED'
          ? true
          : undefined,
      { what: 'the task to stop' },
    );
    expect(await runOf(job.id, runId)).toMatchObject({ status: 'running' });
    await advance(MINUTE);
    expect(await runOf(job.id, runId)).toMatchObject({ status: 'succeeded', result: { exitCode: 0 } });
  });

  it('changes nothing on a duplicated event', async () => {
    const job = await create({ schedule: hourly, target: ecsTarget('process.exit(3)') });
    runtime.ecs.duplicateEvents = true;
    const before = runtime.metrics.counts['RunsFailed/default'] ?? 0;
    await fireAndComplete();
    await runtime.drain();
    const run = await runOf(job.id, scheduledRunId(clock.after(HOUR)));
    expect(run).toMatchObject({ status: 'failed' });
    expect(run.attempts).toHaveLength(1);
    expect(runtime.metrics.counts['RunsFailed/default']).toBe(before + 1);
  });

  it('starts one task only when the worker stops between RunTask and its record', async () => {
    const job = await create({
      schedule: hourly,
      target: ecsTarget('setTimeout(() => process.exit(0), 300)'),
    });
    clock.advance(HOUR);
    await runtime.fire();
    const runId = scheduledRunId(clock.now());
    // A worker that dies right after starting the task: its run record is never written.
    const services = runtime.services.worker;
    const crashing = createWorkerHandler({
      ...services,
      runs: Object.assign(Object.create(services.runs), {
        replaceIf: async () => {
          throw new Error('worker killed');
        },
      }),
    });
    const queue = runtime.queues.default;
    await pollOnce(runtime.clients.sqs, { url: queue.url, arn: queue.arn, batchSize: 10 }, crashing, {
      failedVisibilityTimeoutSeconds: 0,
    });
    const tasksOf = () =>
      runtime.ecs.tasks().filter((t) => t.clusterArn === cluster && t.startedBy?.startsWith('sundial-'));
    const started = tasksOf().length;
    expect(started).toBeGreaterThan(0);
    // Its lease runs out; the redelivered firing finds the task instead of starting another.
    const completed = runtime.nextCompletion();
    await advance(2 * MINUTE);
    await completed;
    await runtime.drain();
    await advance(MINUTE);
    expect(tasksOf()).toHaveLength(started);
    expect(await runOf(job.id, runId)).toMatchObject({ status: 'succeeded', attempt: 1 });
  });
});

describe('a Step Functions execution', () => {
  it('succeeds with an excerpt of its output', async () => {
    const arn = runtime.stepFunctions.register('pipeline-ok', async (input) => ({ processed: input }));
    const job = await create({
      schedule: hourly,
      target: { type: 'stepfunctions', stateMachineArn: arn, input: { day: 1 } },
    });
    await fireAndComplete();
    const run = await runOf(job.id, scheduledRunId(clock.after(HOUR)));
    expect(run.status).toBe('succeeded');
    expect(JSON.parse(run.result?.bodyExcerpt ?? '')).toEqual({ processed: { day: 1 } });
  });

  it("fails with the failure's error and cause", async () => {
    const arn = runtime.stepFunctions.register('pipeline-fails', async () => {
      throw Object.assign(new Error('the warehouse is read-only'), { name: 'LoadError' });
    });
    const job = await create({ schedule: hourly, target: { type: 'stepfunctions', stateMachineArn: arn } });
    await fireAndComplete();
    expect(await runOf(job.id, scheduledRunId(clock.after(HOUR)))).toMatchObject({
      status: 'failed',
      error: { type: 'execution_failed', message: 'LoadError: the warehouse is read-only' },
    });
  });
});

describe('the rest of Sundial counts long runs right', () => {
  it('skips the next firing while a long run holds the overlap lock', async () => {
    const job = await create({
      schedule: hourly,
      overlapPolicy: 'skip',
      target: { type: 'http', url: `${http.url}/long`, completion: 'callback', runTimeoutSeconds: 3 * 3600 },
    });
    await advance(HOUR);
    const first = scheduledRunId(clock.after(HOUR));
    await advance(HOUR);
    const second = scheduledRunId(clock.after(2 * HOUR));
    expect(await runOf(job.id, second)).toMatchObject({ status: 'skipped' });
    expect((await runOf(job.id, second)).skipReason).toContain(first);
    expect(await post(callbackUrlOf('/long'), { status: 'succeeded' })).toBe(204);
    await runtime.drain();
    await advance(HOUR);
    expect(await runOf(job.id, scheduledRunId(clock.after(3 * HOUR)))).toMatchObject({ status: 'running' });
    expect(await post(callbackUrlOf('/long', 1), { status: 'succeeded' })).toBe(204);
  });

  it('with buffer_one, keeps one firing waiting for the whole hour and starts it when the run ends', async () => {
    const job = await create({
      schedule: { expression: 'cron(0/20 * * * ? *)' },
      overlapPolicy: 'buffer_one',
      target: {
        type: 'http',
        url: `${http.url}/buffered`,
        completion: 'callback',
        runTimeoutSeconds: 3 * 3600,
      },
    });
    for (let minutes = 20; minutes <= 60; minutes += 20) await advance(20 * MINUTE);
    const [first, second, third] = [20, 40, 60].map((m) => scheduledRunId(clock.after(m * MINUTE)));
    expect(await runOf(job.id, first!)).toMatchObject({ status: 'running' });
    expect(await runOf(job.id, second!)).toMatchObject({ status: 'queued' });
    expect(await runOf(job.id, third!)).toMatchObject({ status: 'skipped' });
    expect(http.callsTo('/buffered')).toHaveLength(1);
    // The first run ends 50 minutes in; the waiting firing starts then, not at its next look.
    clock.advance(10 * MINUTE);
    expect(await post(callbackUrlOf('/buffered'), { status: 'succeeded' })).toBe(204);
    await runtime.drain();
    expect(await runOf(job.id, second!)).toMatchObject({ status: 'running' });
    expect(http.callsTo('/buffered')).toHaveLength(2);
    expect(await post(callbackUrlOf('/buffered', 1), { status: 'succeeded' })).toBe(204);
  });

  it('keeps the lock when its firing is delivered twice', async () => {
    const job = await create({
      schedule: hourly,
      overlapPolicy: 'skip',
      target: { type: 'http', url: `${http.url}/twice`, completion: 'callback', runTimeoutSeconds: 3 * 3600 },
    });
    runtime.faults.firingCopies = 2;
    try {
      await advance(HOUR);
    } finally {
      runtime.faults.firingCopies = 1;
    }
    expect(http.callsTo('/twice')).toHaveLength(1);
    await advance(HOUR);
    expect(await runOf(job.id, scheduledRunId(clock.after(2 * HOUR)))).toMatchObject({ status: 'skipped' });
    expect(http.callsTo('/twice')).toHaveLength(1);
    expect(await post(callbackUrlOf('/twice'), { status: 'succeeded' })).toBe(204);
  });

  it('triggers a dependent when it succeeds', async () => {
    const upstream = await create({
      schedule: hourly,
      target: { type: 'http', url: `${http.url}/upstream`, completion: 'callback' },
    });
    const downstream = await create({
      dependsOn: [upstream.id],
      target: { type: 'http', url: `${http.url}/downstream` },
    });
    await advance(HOUR);
    expect(http.callsTo('/downstream')).toHaveLength(0);
    clock.advance(30 * MINUTE);
    expect(await post(callbackUrlOf('/upstream'), { status: 'succeeded' })).toBe(204);
    await runtime.drain();
    const [run] = await runsOf(api, downstream.id);
    expect(run).toMatchObject({ trigger: 'dependency', status: 'succeeded' });
    expect(http.callsTo('/downstream')).toHaveLength(1);
  });
});

describe('backfill', () => {
  it('runs three occurrences once, one after another in order, however often it is asked', async () => {
    clock.advance(5 * HOUR);
    const job = await create({
      schedule: hourly,
      overlapPolicy: 'skip',
      target: { type: 'http', url: `${http.url}/backfill` },
    });
    const range = { from: clock.after(HOUR).toISOString(), to: clock.after(4 * HOUR).toISOString() };
    const res = await api<{ runs: number }>('POST', `/v1/jobs/${job.id}/backfill`, range);
    expect(res).toMatchObject({ status: 202, body: { runs: 3 } });
    await runtime.drain();
    const again = await api<{ runs: number }>('POST', `/v1/jobs/${job.id}/backfill`, range);
    expect(again).toMatchObject({ status: 202, body: { runs: 0 } });
    await runtime.drain();
    const runs = (await runsOf(api, job.id)).filter((r) => r.trigger === 'backfill');
    expect(runs.map((r) => r.id).sort()).toEqual([1, 2, 3].map((h) => scheduledRunId(clock.after(h * HOUR))));
    expect(runs.every((r) => r.status === 'succeeded')).toBe(true);
    expect(http.callsTo('/backfill').map((c) => c.headers['x-sundial-scheduled-time'])).toEqual(
      [1, 2, 3].map((h) => clock.after(h * HOUR).toISOString()),
    );
  });

  it('with overlap allowed, sends every occurrence at once', async () => {
    clock.advance(5 * HOUR);
    const job = await create({
      schedule: hourly,
      overlapPolicy: 'allow',
      target: { type: 'http', url: `${http.url}/backfill-all` },
    });
    const range = { from: clock.after(HOUR).toISOString(), to: clock.after(4 * HOUR).toISOString() };
    expect(await api('POST', `/v1/jobs/${job.id}/backfill`, range)).toMatchObject({
      status: 202,
      body: { runs: 3 },
    });
    await runtime.drain();
    expect(http.callsTo('/backfill-all')).toHaveLength(3);
    const paused = await api('POST', `/v1/jobs/${job.id}/pause`);
    expect(paused.status).toBe(200);
    expect((await api('POST', `/v1/jobs/${job.id}/backfill`, range)).status).toBe(409);
  });

  it('refuses a range with more occurrences than maxRuns, naming the count, and changes nothing', async () => {
    clock.advance(12 * HOUR);
    const job = await create({ schedule: hourly, target: { type: 'http', url: `${http.url}/backfill` } });
    const res = await api<{ errors: { field: string; message: string }[] }>(
      'POST',
      `/v1/jobs/${job.id}/backfill`,
      {
        from: clock.start.toISOString(),
        to: clock.now().toISOString(),
        maxRuns: 5,
      },
    );
    expect(res.status).toBe(400);
    expect(res.body.errors).toContainEqual({
      field: 'maxRuns',
      message: expect.stringContaining('12 occurrences'),
    });
    expect(await runsOf(api, job.id)).toHaveLength(0);
  });
});
