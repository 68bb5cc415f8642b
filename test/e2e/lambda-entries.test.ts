/**
 * The Lambda entry points as deployed: each module (functions/api.ts, worker.ts, sync.ts,
 * reconciler.ts, deadletters.ts) loaded in a fresh module context from the environment the
 * stack gives its function plus what Lambda itself sets (region, credentials) and the SDK's
 * standard endpoint variables pointed at the local runtime, then its middy `handler` invoked
 * with the event and context Lambda would hand it. Nothing is injected: the entry builds its
 * own SDK clients, configuration and wiring, exactly as at a cold start on Lambda.
 *
 * The entries run on the system clock (as on Lambda); the runtime's Scheduler emulator and
 * its own API run on a manual clock, which starts ten minutes behind and is moved up to the
 * system time for the worker's firing (each test starts it ten minutes behind again).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-scheduler';
import {
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { UNKNOWN_TENANT } from '../../functions/domain/ports.js';
import { scheduledRunId } from '../../functions/domain/run.js';
import { ENV, type EnvName, environmentNames, type FunctionId } from '../../lib/environment.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/dynamodb-local.js';
import { ManualClock } from '../../local/manual-clock.js';
import type { LocalQueue } from '../../local/resources.js';
import {
  DEV_TENANT,
  LOCAL_ACCOUNT,
  LOCAL_SCHEDULE_GROUP,
  type LocalRuntime,
  startLocalRuntime,
} from '../../local/runtime.js';
import { type ApiClient, apiClient, type Job, type Page, type Run } from '../support/api.js';
import { atExpression, MINUTE, SECOND } from '../support/clock.js';
import { apiGatewayEvent, sqsEventOf } from '../support/events.js';
import { deleteAllJobs, getSchedule, RecordingTarget } from './support.js';

/** Each function's entry module, imported afresh (after vi.resetModules) at every load. */
const ENTRIES = {
  Api: () => import('../../functions/api.js'),
  Worker: () => import('../../functions/worker.js'),
  Completion: () => import('../../functions/completion.js'),
  Sync: () => import('../../functions/sync.js'),
  Reconciler: () => import('../../functions/reconciler.js'),
  DeadLetters: () => import('../../functions/deadletters.js'),
} satisfies Record<FunctionId, () => Promise<{ handler: unknown }>>;
type Entry<F extends FunctionId> = Awaited<ReturnType<(typeof ENTRIES)[F]>>;
const ENTRY_IDS = Object.keys(ENTRIES) as FunctionId[];

/** Ten minutes behind the system clock, the entries' clock: where each test starts. */
const behind = () => new Date(Math.floor(Date.now() / SECOND) * SECOND - 10 * MINUTE);
const clock = new ManualClock(behind());
let runtime: LocalRuntime;
/** The runtime's own API (manual clock): sets up what an entry is then tested on. */
let api: ApiClient;
let target: RecordingTarget;

beforeAll(async () => {
  target = await new RecordingTarget().start();
  runtime = await startLocalRuntime({
    port: 0,
    clock,
    logLevel: 'SILENT',
    failedVisibilityTimeoutSeconds: 0,
  });
  api = apiClient(runtime.apiUrl, runtime.devApiKey);
});
// Every test leaves no job, so no schedule, behind: setting the clock back replays nothing.
beforeEach(() => clock.set(behind()));
afterEach(async () => {
  restoreEnvironment();
  vi.resetModules();
  await deleteAllJobs(api);
});
afterAll(async () => {
  await runtime?.stop();
  await target?.stop();
});

/** What Lambda sets on every function, and what the test process must not leak into one. */
const isLambdaScoped = (name: string) =>
  /^(AWS_|POWERTOOLS_|_X_AMZN_|LAMBDA_|_HANDLER$)/.test(name) ||
  (Object.values(ENV) as string[]).includes(name);

/** The process environment of function `fn` on Lambda, for the local runtime's resources. */
function lambdaEnvironment(fn: FunctionId): Record<string, string> {
  const { endpoints } = runtime;
  const name = functionName(fn);
  return {
    // What the stack sets (lib/environment.ts), exactly as the runtime derived it.
    ...runtime.environments[fn],
    // The SDK's standard endpoint variables: the entries' clients find the emulators by these.
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_ENDPOINT_URL_SQS: endpoints.sqs,
    // fauxqs serves SNS beside SQS: the failure topic lives there.
    AWS_ENDPOINT_URL_SNS: endpoints.sqs,
    AWS_ENDPOINT_URL_SCHEDULER: endpoints.scheduler,
    AWS_ENDPOINT_URL_KMS: endpoints.kms,
    AWS_ENDPOINT_URL_LAMBDA: endpoints.lambda,
    AWS_ENDPOINT_URL_EVENTBRIDGE: endpoints.eventBridge,
    AWS_ENDPOINT_URL_ECS: endpoints.ecs,
    AWS_ENDPOINT_URL_SFN: endpoints.stepFunctions,
    // What Lambda itself sets.
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_LAMBDA_FUNCTION_NAME: name,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
    // No X-Ray daemon here; no EMF on stdout; quiet logs.
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_SERVICE_NAME: 'sundial',
  };
}

let saved: NodeJS.ProcessEnv | undefined;

/** Replaces the Lambda-scoped part of process.env with `env` until restoreEnvironment(). */
function useEnvironment(env: Record<string, string>): void {
  saved ??= { ...process.env };
  for (const name of Object.keys(process.env)) if (isLambdaScoped(name)) delete process.env[name];
  Object.assign(process.env, env);
}

function restoreEnvironment(): void {
  if (!saved) return;
  for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
  Object.assign(process.env, saved);
  saved = undefined;
}

/** A cold start of function `fn`: a fresh module context, its environment, its entry module. */
async function coldStart<F extends FunctionId>(fn: F, env = lambdaEnvironment(fn)): Promise<Entry<F>> {
  vi.resetModules();
  useEnvironment(env);
  return (await ENTRIES[fn]()) as Entry<F>;
}

const functionName = (fn: FunctionId) => `sundial-local-${fn}`;

/** The context object Lambda passes each invocation, as the Node.js runtime builds it. */
function lambdaContext(fn: FunctionId, timeoutMs: number): Context {
  const name = functionName(fn);
  const deadline = Date.now() + timeoutMs;
  const day = new Date().toISOString().slice(0, 10).replace(/-/g, '/');
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${name}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: `${day}/[$LATEST]${randomBytes(16).toString('hex')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Receives what is on a queue, as the event source mapping would before invoking. */
async function receive(url: string): Promise<Message[]> {
  const { Messages = [] } = await runtime.clients.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: url,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 0,
      MessageSystemAttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    }),
  );
  return Messages;
}

/** What the event source mapping does after the invocation: deletes what did not fail. */
async function deleteSucceeded(url: string, messages: Message[], response: SQSBatchResponse): Promise<void> {
  const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
  for (const m of messages) {
    if (!failed.has(m.MessageId!)) {
      await runtime.clients.sqs.send(
        new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle! }),
      );
    }
  }
}

const bearer = () => ({ Authorization: `Bearer ${runtime.devApiKey}`, 'Content-Type': 'application/json' });

async function createJob(body: Record<string, unknown>): Promise<Job> {
  const res = await api<Job>('POST', '/v1/jobs', body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

describe('the api entry', () => {
  it('creates a job from an API Gateway event and reads it back', async () => {
    const { handler } = await coldStart('Api');
    const created = await handler(
      apiGatewayEvent({
        method: 'POST',
        path: '/v1/jobs',
        headers: bearer(),
        body: JSON.stringify({
          name: 'from-the-api-entry',
          schedule: { expression: 'rate(1 hour)' },
          target: { type: 'http', url: `${target.url}/api-entry` },
        }),
        sourceIp: '203.0.113.7',
      }),
      lambdaContext('Api', 29_000),
    );
    expect(created.statusCode, created.body).toBe(201);
    const job = JSON.parse(created.body) as Job;
    expect(job).toMatchObject({ name: 'from-the-api-entry', state: 'enabled', version: 1 });
    expect(created.headers?.location).toBe(`/v1/jobs/${job.id}`);

    const read = await handler(
      apiGatewayEvent({ method: 'GET', path: `/v1/jobs/${job.id}`, headers: bearer() }),
      lambdaContext('Api', 29_000),
    );
    expect(read.statusCode, read.body).toBe(200);
    expect(JSON.parse(read.body)).toMatchObject({ id: job.id, name: 'from-the-api-entry' });

    // Written where the deployment's other functions read: the table, and the Scheduler.
    expect((await runtime.services.jobStore.get(DEV_TENANT, job.id))?.syncPendingAt).toBeUndefined();
    expect((await getSchedule(runtime, job.id)).ScheduleExpression).toBe('rate(1 hour)');
    expect((await api<Job>('GET', `/v1/jobs/${job.id}`)).body.name).toBe('from-the-api-entry');
  });

  it('refuses a request without a credential', async () => {
    const { handler } = await coldStart('Api');
    const res = await handler(
      apiGatewayEvent({ method: 'GET', path: '/v1/jobs', headers: { 'Content-Type': 'application/json' } }),
      lambdaContext('Api', 29_000),
    );
    expect(res.statusCode).toBe(401);
  });
});

describe('the worker entry', () => {
  it('runs the firing the Scheduler delivered, calling the target once and recording the run', async () => {
    // Due a second ago by the system clock, the worker's: picked up as on Lambda, just late.
    const due = new Date(Math.floor(Date.now() / SECOND) * SECOND - SECOND);
    const job = await createJob({
      name: 'worker-entry',
      schedule: { expression: atExpression(due) },
      target: { type: 'http', url: `${target.url}/worker-entry`, method: 'POST', body: '{"from":"entry"}' },
    });
    clock.set(due);
    await runtime.fire();

    const queue = runtime.queues.default;
    const messages = await receive(queue.url);
    expect(messages).toHaveLength(1);
    const firing = JSON.parse(messages[0]!.Body!);
    expect(firing).toMatchObject({ tenantId: DEV_TENANT, jobId: job.id, trigger: 'schedule' });
    expect(Date.parse(firing.scheduledTime)).toBe(due.getTime());

    const { handler } = await coldStart('Worker');
    const response = await handler(sqsEventOf(messages, queue.arn), lambdaContext('Worker', 60_000));
    expect(response).toEqual({ batchItemFailures: [] });
    await deleteSucceeded(queue.url, messages, response);

    expect(target.callsTo('/worker-entry')).toHaveLength(1);
    expect(target.callsTo('/worker-entry')[0]).toMatchObject({ method: 'POST', body: '{"from":"entry"}' });
    const run = await runtime.services.runStore.get(DEV_TENANT, job.id, scheduledRunId(due));
    expect(run).toMatchObject({ status: 'succeeded', trigger: 'schedule' });
    const runs = await api<Page<Run>>('GET', `/v1/jobs/${job.id}/runs`);
    expect(runs.body.items.map((r) => [r.id, r.status, r.result?.statusCode])).toEqual([
      [scheduledRunId(due), 'succeeded', 200],
    ]);
    // Nothing left over: no retry, no second copy.
    expect(await receive(queue.url)).toEqual([]);
  });

  it('drops a firing Sundial did not sign, without calling its target', async () => {
    const job = await createJob({
      name: 'worker-entry-forged',
      schedule: { expression: 'rate(1 hour)' },
      target: { type: 'http', url: `${target.url}/worker-forged` },
    });
    const queue = runtime.queues.default;
    await runtime.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: queue.url,
        MessageBody: JSON.stringify({
          v: 1,
          tenantId: DEV_TENANT,
          jobId: job.id,
          trigger: 'schedule',
          scheduledTime: new Date().toISOString(),
          mac: 'forged',
        }),
      }),
    );
    const messages = await receive(queue.url);
    const { handler } = await coldStart('Worker');
    const response = await handler(sqsEventOf(messages, queue.arn), lambdaContext('Worker', 60_000));
    expect(response).toEqual({ batchItemFailures: [] });
    await deleteSucceeded(queue.url, messages, response);
    expect(target.callsTo('/worker-forged')).toEqual([]);
    expect((await api<Page<Run>>('GET', `/v1/jobs/${job.id}/runs`)).body.items).toEqual([]);
  });
});

describe('the completion entry', () => {
  it('settles a container run whose completion event was lost, found by its sweep', async () => {
    const cluster = `arn:aws:ecs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:cluster/entries`;
    const job = await createJob({
      name: 'completion-entry',
      target: {
        type: 'ecs',
        cluster,
        taskDefinition: `arn:aws:ecs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:task-definition/entries:1`,
        containerOverrides: [{ name: 'main', command: [process.execPath, '-e', 'process.exit(0)'] }],
      },
    });
    // Both of its events are lost: only the sweep's poll can find how it ended.
    runtime.ecs.dropEvents = 2;
    const started = await api<Run>('POST', `/v1/jobs/${job.id}/runs`);
    await runtime.drain();
    const runId = started.body.id;
    const running = (
      await api<Run & { result: { taskArn?: string } }>('GET', `/v1/jobs/${job.id}/runs/${runId}`)
    ).body;
    expect(running.status).toBe('running');
    for (;;) {
      const task = runtime.ecs.tasks().find((t) => t.taskArn === running.result.taskArn);
      if (task?.lastStatus === 'STOPPED') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // The entry's clock is the system's: ten minutes after the run started, its poll is due.
    const { handler } = await coldStart('Completion');
    const sweep = { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} };
    expect(await handler(sweep as never, lambdaContext('Completion', 60_000))).toEqual({ detail: 'swept 1' });
    expect((await api<Run>('GET', `/v1/jobs/${job.id}/runs/${runId}`)).body).toMatchObject({
      status: 'succeeded',
      result: { exitCode: 0, taskArn: running.result.taskArn },
    });
  });
});

describe('the sync entry', () => {
  it('repairs the schedule of a job whose sync a crash cut short', async () => {
    // A create that died after the table write, before the Scheduler call.
    const crashed = runtime.servicesWith({
      scheduleGateway: {
        apply: async () => {
          throw new Error('simulated crash before the Scheduler call');
        },
        remove: async () => {
          throw new Error('simulated crash before the Scheduler call');
        },
      },
    }).jobService;
    // Stamped by the manual clock, minutes behind the entry's: past the sweeper's grace.
    const { job } = await crashed.create(DEV_TENANT, {
      name: 'sync-entry',
      schedule: { expression: 'rate(5 minutes)' },
      target: { type: 'http', url: `${target.url}/sync-entry` },
    });
    await expect(getSchedule(runtime, job.id)).rejects.toBeInstanceOf(ResourceNotFoundException);

    const { handler } = await coldStart('Sync');
    // EventBridge's scheduled event; the sweeper reads nothing of it.
    expect(await handler({}, lambdaContext('Sync', 60_000))).toEqual({ repaired: 1, failed: 0 });

    expect((await getSchedule(runtime, job.id)).ScheduleExpression).toBe('rate(5 minutes)');
    expect((await runtime.services.jobStore.get(DEV_TENANT, job.id))?.syncPendingAt).toBeUndefined();
    expect(await handler({}, lambdaContext('Sync', 60_000))).toEqual({ repaired: 0, failed: 0 });
  });
});

describe('the reconciler entry', () => {
  it('re-creates a schedule deleted by hand and deletes one with no job, and says it completed', async () => {
    const job = await createJob({
      name: 'reconciler-entry',
      schedule: { expression: 'rate(1 hour)' },
      target: { type: 'http', url: `${target.url}/reconciler-entry` },
    });
    const scheduler = runtime.clients.scheduler;
    await scheduler.send(new DeleteScheduleCommand({ Name: job.id, GroupName: LOCAL_SCHEDULE_GROUP }));
    const orphan = `orphan-${randomUUID()}`;
    await scheduler.send(
      new CreateScheduleCommand({
        Name: orphan,
        GroupName: LOCAL_SCHEDULE_GROUP,
        ScheduleExpression: 'rate(1 hour)',
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: {
          Arn: runtime.queues.default.arn,
          RoleArn: runtime.config.schedulerRoleArn,
          Input: '{}',
        },
      }),
    );

    const { handler } = await coldStart('Reconciler');
    const report = await handler({}, lambdaContext('Reconciler', 600_000));
    expect(report).toMatchObject({
      completed: true,
      jobs: 1,
      schedules: 1,
      missing: 1,
      orphaned: 1,
      drifted: 0,
      failed: 0,
    });
    expect(report).not.toHaveProperty('stoppedIn');

    expect((await getSchedule(runtime, job.id)).ScheduleExpression).toBe('rate(1 hour)');
    await expect(getSchedule(runtime, orphan)).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it('stops cleanly, and says so, when Lambda has too little time left', async () => {
    await createJob({
      name: 'reconciler-entry-late',
      schedule: { expression: 'rate(1 hour)' },
      target: { type: 'http', url: `${target.url}/reconciler-late` },
    });
    const { handler } = await coldStart('Reconciler');
    // Less than the 30 s the reconciler keeps in reserve.
    const report = await handler({}, lambdaContext('Reconciler', 10_000));
    expect(report).toMatchObject({ completed: false, stoppedIn: 'listing', listCalls: 0 });
  });
});

describe('the dead-letter entry', () => {
  async function deadLetter(queue: LocalQueue, body: string) {
    await runtime.clients.sqs.send(new SendMessageCommand({ QueueUrl: queue.dlqUrl, MessageBody: body }));
    const messages = await receive(queue.dlqUrl);
    expect(messages).toHaveLength(1);
    const { handler } = await coldStart('DeadLetters');
    const response = await handler(sqsEventOf(messages, queue.dlqArn), lambdaContext('DeadLetters', 60_000));
    expect(response).toEqual({ batchItemFailures: [] });
    await deleteSucceeded(queue.dlqUrl, messages, response);
    return messages[0]!.MessageId!;
  }

  it('archives an unsigned message naming a job under the _unknown tenant, not the one it names', async () => {
    const job = await createJob({
      name: 'dead-letter-entry',
      schedule: { expression: 'rate(1 hour)' },
      target: { type: 'http', url: `${target.url}/dead-letter-entry` },
    });
    const body = JSON.stringify({
      v: 1,
      tenantId: DEV_TENANT,
      jobId: job.id,
      trigger: 'schedule',
      scheduledTime: new Date().toISOString(),
    });
    const id = await deadLetter(runtime.queues.low, body);

    const letter = await runtime.services.deadLetterStore.get(UNKNOWN_TENANT, id);
    expect(letter).toMatchObject({
      id,
      tenantId: UNKNOWN_TENANT,
      jobId: null,
      runId: null,
      // From the DLQ the event came from (its eventSourceARN).
      priority: 'low',
      body,
      status: 'dead',
      reason: 'rejected: the message names a job but was not signed by Sundial',
    });
    expect(await runtime.services.deadLetterStore.get(DEV_TENANT, id)).toBeUndefined();
    expect(
      (await api<Page<{ id: string }>>('GET', '/v1/dead-letters')).body.items.map((l) => l.id),
    ).not.toContain(id);
  });

  it('archives a body that is not a firing at all', async () => {
    const id = await deadLetter(runtime.queues.high, 'not json at all');
    expect(await runtime.services.deadLetterStore.get(UNKNOWN_TENANT, id)).toMatchObject({
      priority: 'high',
      reason: 'the message is not a Sundial firing (malformed body)',
    });
  });
});

describe('a cold start with a required variable missing', () => {
  const cases = ENTRY_IDS.flatMap((fn) => environmentNames(fn).required.map((name) => ({ fn, name })));

  it.each(cases)('$fn fails to load without $name, naming it', async ({ fn, name }) => {
    const { [name]: _removed, ...env } = lambdaEnvironment(fn);
    const load = coldStart(fn, env);
    await expect(load).rejects.toThrow(`${fn}: missing environment variables: ${name}`);
    // Thrown by this load's own module instance: compared by name, not by class.
    await expect(load).rejects.toMatchObject({ name: 'ConfigurationError' });
  });

  it('loads each entry with nothing missing', async () => {
    for (const fn of ENTRY_IDS) {
      const entry = await coldStart(fn);
      expect(typeof entry.handler).toBe('function');
    }
  });

  it('loads the api and the worker with the allowlists empty, as a default deployment sets them', async () => {
    for (const fn of ['Api', 'Worker'] as const) {
      const env = { ...lambdaEnvironment(fn), [ENV.allowedHttpHosts]: '', [ENV.allowedTargetArns]: '' };
      const entry = await coldStart(fn, env);
      expect(typeof entry.handler, fn).toBe('function');
    }
  });

  it('gives each entry every variable the cases above take away', () => {
    for (const fn of ENTRY_IDS) {
      const env = lambdaEnvironment(fn);
      for (const name of environmentNames(fn).required as EnvName[])
        expect(env[name], `${fn} ${name}`).toBeTruthy();
    }
  });
});
