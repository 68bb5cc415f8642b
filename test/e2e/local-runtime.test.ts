/**
 * The whole local system under an injected clock: real DynamoDB Local, fauxqs, the Scheduler
 * emulator, the API over HTTP and the worker; time moves only when the test says so.
 */

import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ListSchedulesCommand,
  ResourceNotFoundException,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { callHttpTarget } from '../../functions/adapters/http-target.js';
import type { ScheduleWriter } from '../../functions/domain/ports.js';
import { scheduledRunId } from '../../functions/domain/run.js';
import { verifySignature } from '../../functions/domain/signature.js';
import { createWorkerHandler } from '../../functions/handlers/worker.js';
import { ACCESS } from '../../functions/http/app.js';
import { SYNC_GRACE_SECONDS } from '../../lib/definitions.js';
import { LOCAL_SCHEDULE_GROUP, type LocalRuntime } from '../../local/runtime.js';
import type {
  ApiClient,
  AuditEntry,
  DeadLetter,
  Health,
  Job,
  Page,
  Preview,
  RedriveResult,
  Run,
  ValidationProblem,
} from '../support/api.js';
import { atExpression, HOUR, MINUTE, TestClock } from '../support/clock.js';
import { sqsEventOf } from '../support/events.js';
import {
  deleteAllJobs,
  getSchedule,
  runsOf as listRuns,
  type ManualSuite,
  RecordingTarget,
  sendRaw,
  settleFile,
  settleTest,
  startManualSuite,
} from './support.js';

const clock = new TestClock();
const target = new RecordingTarget();
let suite: ManualSuite;
let runtime: LocalRuntime;
let api: ApiClient;

beforeAll(async () => {
  await target.start();
  suite = await startManualSuite(clock);
  ({ runtime, api } = suite);
});

// Each test from midnight UTC of a day no earlier test reached, with no target calls behind it.
beforeEach(() => {
  clock.fresh();
  target.reset();
});

afterEach(() => settleTest(suite));

afterAll(async () => {
  await settleFile(suite);
  await target.stop();
});

function jobBody(path: string, expression: string, extra: Record<string, unknown> = {}) {
  return {
    name: `job-${path.replace(/\W/g, '')}`,
    schedule: { expression },
    target: { type: 'http', url: `${target.url}${path}`, method: 'POST', body: '{"hello":"world"}' },
    ...extra,
  };
}

async function createJob(
  path: string,
  expression: string,
  extra: Record<string, unknown> = {},
): Promise<Job> {
  const res = await api<Job>('POST', '/v1/jobs', jobBody(path, expression, extra));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

/** Who the development key is, as audit and redrive records name it. */
function devKeySubject(): string {
  return `key:${runtime.devApiKey.split('_')[1]}`;
}

const runsOf = (jobId: string) => listRuns(api, jobId);
const schedule = (jobId: string) => getSchedule(runtime, jobId);
/** An instant `ms` after the test's start, as the API writes it. */
const iso = (ms: number) => clock.after(ms).toISOString();

async function advanceMinutes(n: number) {
  for (let i = 0; i < n; i++) {
    clock.advance(MINUTE);
    await runtime.tick();
  }
}

describe('firing schedules end to end', () => {
  it('runs a rate(1 minute) job once per firing and records each run as succeeded', async () => {
    const job = await createJob('/rate-ok', 'rate(1 minute)');
    await advanceMinutes(5);

    const calls = target.callsTo('/rate-ok');
    expect(calls).toHaveLength(5);
    const runs = await runsOf(job.id);
    expect(runs).toHaveLength(5);
    expect(runs.every((r) => r.status === 'succeeded' && r.trigger === 'schedule')).toBe(true);
    expect(runs.map((r) => r.result?.statusCode)).toEqual([200, 200, 200, 200, 200]);
    // Newest first, one per scheduled minute, and the target saw the same run ids.
    expect(new Set(runs.map((r) => r.scheduledAt)).size).toBe(5);
    expect(new Set(calls.map((c) => c.headers['x-sundial-run-id']))).toEqual(new Set(runs.map((r) => r.id)));
    expect(calls[0]?.body).toBe('{"hello":"world"}');

    // Each run record expires by TTL after the retention period (30 days).
    const { Item } = await runtime.clients.dynamodb.send(
      new GetItemCommand({
        TableName: runtime.config.runsTableName,
        Key: { pk: { S: `TENANT#dev#JOB#${job.id}` }, sk: { S: `RUN#${runs[0]!.id}` } },
      }),
    );
    expect(Number(Item?.expiresAt?.N)).toBe(Math.floor(clock.now().getTime() / 1000) + 30 * 86_400);

    const after = await api<Job>('GET', `/v1/jobs/${job.id}`);
    expect(after.body.lastRun?.status).toBe('succeeded');
    expect(after.body.nextRunAt).toBe(iso(6 * MINUTE));
    expect(after.body.version).toBe(1);
    await api('DELETE', `/v1/jobs/${job.id}`);
  });

  it('claims each (job, scheduled time) once: a duplicated firing does not call the target twice', async () => {
    const job = await createJob('/dup', 'rate(1 minute)');
    clock.advance(MINUTE);
    await runtime.fire();
    // Scheduler delivers at least once: send the very same firing again.
    const scheduledTime = iso(MINUTE).replace('.000Z', 'Z');
    const body = JSON.stringify(
      await runtime.services.firingSigner.sign({
        v: 1,
        tenantId: 'dev',
        jobId: job.id,
        scheduledTime,
        trigger: 'schedule',
      }),
    );
    await sendRaw(runtime, runtime.queues.default.url, body);
    await sendRaw(runtime, runtime.queues.default.url, body);
    // Copies processed side by side find the claim held and come back; none calls again.
    expect(await runtime.drain()).toBeGreaterThanOrEqual(3);
    expect(target.callsTo('/dup')).toHaveLength(1);
    const runs = await runsOf(job.id);
    expect(runs).toHaveLength(1);
    expect(runs[0]?.status).toBe('succeeded');
  });

  it('turns firings delivered three times each into exactly one run per firing', async () => {
    const job = await createJob('/triple', 'rate(1 minute)');
    runtime.faults.firingCopies = 3;
    try {
      await advanceMinutes(4);
    } finally {
      runtime.faults.firingCopies = 1;
    }
    const runs = await runsOf(job.id);
    expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    expect(new Set(runs.map((r) => r.scheduledAt)).size).toBe(4);
    expect(target.callsTo('/triple')).toHaveLength(4);
  });

  it('dead-letters a malformed message after maxReceiveCount, never calling a target', async () => {
    const callsBefore = target.calls.length;
    const body = '{"v":1,"jobId":42}';
    await sendRaw(runtime, runtime.queues.low.url, body);
    // Failed receives come back at once in this runtime; SQS moves it after the 5th, and the
    // dead-letter archiver takes it from the DLQ.
    expect(await runtime.drain()).toBe(runtime.queues.low.definition.maxReceiveCount + 1);
    const archived = await runtime.services.deadLetterStore.list('_unknown', { limit: 10 });
    expect(archived.items.map((l) => [l.body, l.priority, l.reason])).toContainEqual([
      body,
      'low',
      'the message is not a Sundial firing (malformed body)',
    ]);
    expect(target.calls.length).toBe(callsBefore);
  });

  it('records a failed run with the status code and body when the target answers 500', async () => {
    const job = await createJob('/fail-500', 'rate(1 minute)');
    await advanceMinutes(1);
    const [run] = await runsOf(job.id);
    expect(run?.status).toBe('failed');
    expect(run?.result).toEqual({ statusCode: 500, bodyExcerpt: 'boom: database down' });
    expect(run?.error?.type).toBe('http_status');
    expect(target.callsTo('/fail-500')).toHaveLength(1);
    await api('DELETE', `/v1/jobs/${job.id}`);
  });

  it('fires a cron job at the wall-clock time of its time zone', async () => {
    // 01:00 in Berlin on 2026-11-24 is 00:00 UTC (CET, UTC+1): on a date with that calendar.
    const t = clock.freshLike('2026-11-23T22:00:00.000Z');
    const job = await createJob('/cron-berlin', 'cron(0 1 * * ? *)', {
      schedule: { expression: 'cron(0 1 * * ? *)', timezone: 'Europe/Berlin' },
    });
    expect(job.nextRunAt).toBe(t('2026-11-24T00:00:00.000Z'));
    await advanceMinutes(119);
    expect(target.callsTo('/cron-berlin')).toHaveLength(0);
    await advanceMinutes(1);
    expect(target.callsTo('/cron-berlin')).toHaveLength(1);
    const [run] = await runsOf(job.id);
    expect(run?.scheduledAt).toBe(t('2026-11-24T00:00:00.000Z'));
    await api('DELETE', `/v1/jobs/${job.id}`);
  });

  it('records a firing of a paused job as skipped without calling the target', async () => {
    const job = await createJob('/paused', 'rate(1 minute)');
    clock.advance(MINUTE);
    await runtime.fire(); // the firing is on the queue...
    const paused = await api<Job>('POST', `/v1/jobs/${job.id}/pause`);
    expect(paused.body.state).toBe('paused');
    expect(paused.body.nextRunAt).toBeNull();
    await runtime.drain(); // ...and reaches the worker after the pause
    const [run] = await runsOf(job.id);
    expect(run?.status).toBe('skipped');
    expect(run?.skipReason).toBe('job is paused');
    expect(target.callsTo('/paused')).toHaveLength(0);

    expect((await schedule(job.id)).State).toBe('DISABLED');
    await advanceMinutes(3);
    expect(await runsOf(job.id)).toHaveLength(1);

    const resumed = await api<Job>('POST', `/v1/jobs/${job.id}/resume`);
    expect(resumed.body.state).toBe('enabled');
    expect((await schedule(job.id)).State).toBe('ENABLED');
    await advanceMinutes(1);
    expect(target.callsTo('/paused')).toHaveLength(1);
    await api('DELETE', `/v1/jobs/${job.id}`);
  });

  it('drops a firing of a deleted job and removes its schedule', async () => {
    const job = await createJob('/deleted', 'rate(1 minute)');
    clock.advance(MINUTE);
    await runtime.fire();
    expect((await api('DELETE', `/v1/jobs/${job.id}`)).status).toBe(204);
    await runtime.drain();
    expect(target.callsTo('/deleted')).toHaveLength(0);
    expect((await api('GET', `/v1/jobs/${job.id}`)).status).toBe(404);
    await expect(schedule(job.id)).rejects.toBeInstanceOf(ResourceNotFoundException);
  });
});

describe('retries', () => {
  const retryPolicy = { maxAttempts: 3, initialDelaySeconds: 60, multiplier: 2, maxDelaySeconds: 900 };
  const seconds = (from: string, to: string) => (Date.parse(to) - Date.parse(from)) / 1000;

  it('retries a failing target with growing delays, then records the run as failed', async () => {
    const job = await createJob('/fail-retry', atExpression(clock.after(MINUTE)), { retryPolicy });
    await advanceMinutes(1);
    let [run] = await runsOf(job.id);
    expect(run).toMatchObject({ status: 'queued', attempt: 1, result: { statusCode: 500 } });
    const firstDelay = seconds(run!.attempts[0]!.finishedAt, run!.nextAttemptAt!);
    expect(firstDelay).toBeGreaterThanOrEqual(30);
    expect(firstDelay).toBeLessThanOrEqual(60);

    await advanceMinutes(1);
    [run] = await runsOf(job.id);
    expect(run).toMatchObject({ status: 'queued', attempt: 2 });
    const secondDelay = seconds(run!.attempts[1]!.finishedAt, run!.nextAttemptAt!);
    expect(secondDelay).toBeGreaterThanOrEqual(60);
    expect(secondDelay).toBeLessThanOrEqual(120);

    await advanceMinutes(2);
    [run] = await runsOf(job.id);
    expect(run).toMatchObject({
      status: 'failed',
      attempt: 3,
      nextAttemptAt: null,
      error: { type: 'http_status' },
    });
    expect(run!.attempts.map((a) => [a.attempt, a.status, a.statusCode])).toEqual([
      [1, 'failed', 500],
      [2, 'failed', 500],
      [3, 'failed', 500],
    ]);
    expect(await runsOf(job.id)).toHaveLength(1);
    expect(target.callsTo('/fail-retry')).toHaveLength(3);
    // Every attempt carries the same run id, so the receiver can tell retries apart from firings.
    expect(new Set(target.callsTo('/fail-retry').map((c) => c.headers['x-sundial-run-id']))).toEqual(
      new Set([run!.id]),
    );
    await advanceMinutes(30);
    expect(target.callsTo('/fail-retry')).toHaveLength(3);
    expect((await api<Job>('GET', `/v1/jobs/${job.id}`)).body.lastRun?.status).toBe('failed');
  });

  it('stops retrying once an attempt succeeds', async () => {
    const job = await createJob('/flaky-1', atExpression(clock.after(MINUTE)), { retryPolicy });
    await advanceMinutes(3);
    const [run] = await runsOf(job.id);
    expect(run).toMatchObject({ status: 'succeeded', attempt: 2, result: { statusCode: 200 } });
    expect(run!.attempts.map((a) => a.status)).toEqual(['failed', 'succeeded']);
    expect(target.callsTo('/flaky-1')).toHaveLength(2);
  });

  it('times out a hanging target and retries it', async () => {
    const job = await createJob('/hang', atExpression(clock.after(MINUTE)), {
      retryPolicy: { ...retryPolicy, maxAttempts: 2 },
      target: { type: 'http', url: `${target.url}/hang`, timeoutSeconds: 1 },
    });
    await advanceMinutes(3);
    const [run] = await runsOf(job.id);
    expect(run).toMatchObject({ status: 'timed_out', attempt: 2, error: { type: 'timeout' } });
    expect(run!.attempts.map((a) => a.status)).toEqual(['timed_out', 'timed_out']);
    expect(target.callsTo('/hang')).toHaveLength(2);
  });

  it('waits out delays longer than SQS allows, and puts back a retry that arrives early', async () => {
    const long = { maxAttempts: 2, initialDelaySeconds: 3600, multiplier: 1, maxDelaySeconds: 3600 };
    const job = await createJob('/fail-long', atExpression(clock.after(MINUTE)), { retryPolicy: long });
    await advanceMinutes(1);
    const [queued] = await runsOf(job.id);
    // An early copy of the retry (as SQS would deliver after its 15-minute maximum delay).
    const early = await runtime.services.firingSigner.sign({
      v: 1 as const,
      tenantId: 'dev',
      jobId: job.id,
      trigger: 'retry',
      scheduledTime: iso(MINUTE).replace('.000Z', 'Z'),
      runId: queued!.id,
      attempt: 2,
      notBefore: queued!.nextAttemptAt,
    });
    await sendRaw(runtime, runtime.queues.default.url, early);
    await advanceMinutes(15);
    expect(target.callsTo('/fail-long')).toHaveLength(1);
    await advanceMinutes(50);
    const [run] = await runsOf(job.id);
    expect(run).toMatchObject({ status: 'failed', attempt: 2 });
    expect(target.callsTo('/fail-long')).toHaveLength(2);
  });
});

describe('a worker killed mid-run', () => {
  /**
   * Hands the queued firing to a worker that calls the target and then dies before
   * recording: its invocation never ends (an error from the call would be recorded as
   * the attempt's error, so a thrown error is no way to kill it).
   */
  async function deliverToDyingWorker() {
    let called: () => void = () => undefined;
    const calledTarget = new Promise<void>((resolve) => {
      called = resolve;
    });
    const dying = createWorkerHandler(
      runtime.servicesWith({
        callHttpTarget: async (t, c) => {
          if (t.type === 'http') await callHttpTarget(t, c);
          called();
          return new Promise<never>(() => undefined);
        },
      }).worker,
    );
    const { Messages = [] } = await runtime.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: runtime.queues.default.url,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 0,
      }),
    );
    expect(Messages).toHaveLength(1);
    void dying(sqsEventOf(Messages, runtime.queues.default.arn));
    await calledTarget;
  }

  it('leaves a redelivered firing alone while the attempt may still be in progress', async () => {
    const job = await createJob('/killed', atExpression(clock.after(MINUTE)), {
      retryPolicy: { maxAttempts: 2, initialDelaySeconds: 30, multiplier: 2, maxDelaySeconds: 900 },
    });
    clock.set(clock.after(MINUTE));
    await runtime.fire();
    await deliverToDyingWorker();
    expect((await runsOf(job.id))[0]).toMatchObject({ status: 'running', attempt: 1 });

    // Redelivered before the lease ran out: the attempt may still be in progress, so it waits.
    await runtime.drain();
    expect((await runsOf(job.id))[0]).toMatchObject({ status: 'running', attempt: 1 });
    expect(target.callsTo('/killed')).toHaveLength(1);
  });

  it('takes the run over once the lease has run out, as the retry policy allows', async () => {
    const twice = await createJob('/killed-twice', atExpression(clock.after(MINUTE)), {
      retryPolicy: { maxAttempts: 2, initialDelaySeconds: 30, multiplier: 2, maxDelaySeconds: 900 },
    });
    clock.set(clock.after(MINUTE));
    await runtime.fire();
    await deliverToDyingWorker();
    clock.advance(2 * MINUTE); // past the lease (timeout 30 s + 30 s)
    await runtime.drain();
    const [run] = await runsOf(twice.id);
    expect(run).toMatchObject({ status: 'succeeded', attempt: 2 });
    expect(run!.attempts.map((a) => a.status)).toEqual(['failed', 'succeeded']);
    expect(target.callsTo('/killed-twice')).toHaveLength(2);

    const once = await createJob('/killed-once', atExpression(clock.after(HOUR)));
    clock.set(clock.after(HOUR));
    await runtime.fire();
    await deliverToDyingWorker();
    clock.advance(2 * MINUTE);
    await runtime.drain();
    const [failed] = await runsOf(once.id);
    expect(failed).toMatchObject({ status: 'failed', attempt: 1, error: { type: 'worker_lost' } });
    expect(target.callsTo('/killed-once')).toHaveLength(1);
  });
});

describe('dead letters', () => {
  it('lists what the queue gave up on and redrives it, recording who and when', async () => {
    const job = await createJob('/redriven', atExpression(clock.after(MINUTE)), {
      retryPolicy: { maxAttempts: 2, initialDelaySeconds: 30, multiplier: 2, maxDelaySeconds: 900 },
    });
    // A worker holds the run with a long lease and never finishes: every delivery backs off.
    const stuck = {
      id: scheduledRunId(clock.after(MINUTE)),
      jobId: job.id,
      tenantId: 'dev',
      scheduledAt: iso(MINUTE),
      trigger: 'schedule' as const,
      status: 'running' as const,
      attempt: 1,
      startedAt: iso(MINUTE),
      finishedAt: null,
      durationMs: null,
      result: null,
      error: null,
      skipReason: null,
      attempts: [],
      nextAttemptAt: null,
      claimToken: 'stuck',
      leaseUntil: iso(HOUR),
    };
    expect((await runtime.services.runStore.claim(stuck, clock.now())).claimed).toBe(true);
    await advanceMinutes(1);

    const listed = await api<Page<DeadLetter>>('GET', '/v1/dead-letters');
    const letter = listed.body.items.find((l) => l.jobId === job.id)!;
    expect(letter).toMatchObject({
      runId: stuck.id,
      status: 'dead',
      reason: 'not processed after 5 receives; its run was running',
    });
    expect(target.callsTo('/redriven')).toHaveLength(0);

    clock.set(clock.after(2 * HOUR)); // the stuck worker's lease is long gone
    const redrive = await api<RedriveResult>('POST', '/v1/dead-letters/redrive', { ids: [letter.id] });
    expect(redrive.body).toEqual({ redriven: [letter.id], alreadyRedriven: [] });
    await runtime.drain();
    const [run] = await runsOf(job.id);
    expect(run).toMatchObject({ status: 'succeeded', attempt: 2 });
    expect(target.callsTo('/redriven')).toHaveLength(1);

    const after = await api<Page<DeadLetter>>('GET', '/v1/dead-letters?status=redriven');
    expect(after.body.items.find((l) => l.id === letter.id)).toMatchObject({
      status: 'redriven',
      redrivenBy: devKeySubject(),
      redrivenAt: iso(2 * HOUR),
    });
    // Administrative actions land in the audit log, with who, what and when.
    const audit = await api<Page<AuditEntry>>('GET', '/v1/audit');
    expect(audit.body.items[0]).toMatchObject({
      action: 'dead-letters.redrive',
      actor: devKeySubject(),
      target: letter.id,
      at: iso(2 * HOUR),
    });
    expect((await api('POST', '/v1/dead-letters/redrive', { ids: [letter.id] })).body).toEqual({
      redriven: [],
      alreadyRedriven: [letter.id],
    });
    expect((await api('POST', '/v1/dead-letters/redrive', { ids: ['nope'] })).status).toBe(404);
    expect((await api('POST', '/v1/dead-letters/redrive', { ids: [] })).status).toBe(400);
  });
});

describe('overlap policies', () => {
  it('skip: a firing while the previous run is still running is recorded as skipped with the reason', async () => {
    clock.set(clock.after(9 * HOUR + 59 * MINUTE));
    // catchUp "all": both firings of the backlog run, so they overlap (none/latest would miss the first).
    const job = await createJob('/slow-skip', 'cron(0,1 10 * * ? *)', {
      overlapPolicy: 'skip',
      catchUp: 'all',
    });
    clock.set(clock.after(10 * HOUR + MINUTE));
    await runtime.tick(); // both firings arrive in one batch and are handled side by side
    const runs = await runsOf(job.id);
    expect(runs.map((r) => r.status).sort()).toEqual(['skipped', 'succeeded']);
    const ran = runs.find((r) => r.status === 'succeeded')!;
    expect(runs.find((r) => r.status === 'skipped')!.skipReason).toBe(
      `previous run ${ran.id} is still running`,
    );
    expect(target.callsTo('/slow-skip')).toHaveLength(1);
  });

  it('buffer_one: one firing waits behind the running one, a further one is skipped', async () => {
    clock.set(clock.after(9 * HOUR + 59 * MINUTE));
    const job = await createJob('/slow-buffer', 'cron(0,1,2 10 * * ? *)', {
      overlapPolicy: 'buffer_one',
      catchUp: 'all',
    });
    clock.set(clock.after(10 * HOUR + 2 * MINUTE));
    await runtime.tick();
    // The first run's end woke the waiting firing: it ran right after, the third was skipped.
    let runs = await runsOf(job.id);
    expect(runs.map((r) => r.status).sort()).toEqual(['skipped', 'succeeded', 'succeeded']);
    expect(runs.find((r) => r.status === 'skipped')!.skipReason).toMatch(
      /^another firing is already waiting behind run/,
    );
    expect(target.callsTo('/slow-buffer')).toHaveLength(2);

    // Its copy still waiting comes back later and finds it run: nothing more happens.
    clock.advance(10_000);
    await runtime.tick();
    runs = await runsOf(job.id);
    expect(runs.map((r) => r.status).sort()).toEqual(['skipped', 'succeeded', 'succeeded']);
    expect(target.callsTo('/slow-buffer')).toHaveLength(2);
  });

  it('a crashed run cannot block the job: its lock is a lease that expires', async () => {
    const job = await createJob('/after-crash', 'rate(1 minute)', { overlapPolicy: 'skip' });
    // A worker took the lock for a run and died without releasing it.
    const lease = new Date(clock.now().getTime() + 90_000).toISOString();
    expect(
      await runtime.services.runStore.acquireLock('dev', job.id, 'run_crashed', lease, clock.now()),
    ).toEqual({ previous: null });
    await advanceMinutes(1);
    expect((await runsOf(job.id))[0]).toMatchObject({
      status: 'skipped',
      skipReason: 'previous run run_crashed is still running',
    });
    await advanceMinutes(1);
    expect((await runsOf(job.id))[0]).toMatchObject({ status: 'succeeded' });
    expect(target.callsTo('/after-crash')).toHaveLength(1);
  });
});

describe('misfires', () => {
  it('records a firing picked up after the misfire grace as missed, without calling the target', async () => {
    const job = await createJob('/misfire', atExpression(clock.after(MINUTE)), { misfireGraceSeconds: 120 });
    clock.set(clock.after(MINUTE));
    await runtime.fire();
    clock.set(clock.after(4 * MINUTE)); // the workers were down for three minutes
    await runtime.drain();
    const [run] = await runsOf(job.id);
    expect(run).toMatchObject({
      status: 'missed',
      scheduledAt: iso(MINUTE),
      skipReason: 'picked up 180s after its scheduled time, past the misfire grace of 120s',
    });
    expect(target.callsTo('/misfire')).toHaveLength(0);
  });

  it('runs a late firing that is still within the grace', async () => {
    const job = await createJob('/late-ok', atExpression(clock.after(MINUTE)), { misfireGraceSeconds: 300 });
    clock.set(clock.after(MINUTE));
    await runtime.fire();
    clock.set(clock.after(4 * MINUTE));
    await runtime.drain();
    expect((await runsOf(job.id))[0]?.status).toBe('succeeded');
  });
});

describe('failure alerts', () => {
  it('calls the job webhook once, signed, and tells the failure topic, when a run finally fails', async () => {
    const secret = 'whsec_test_0123456789';
    const watch = await runtime.clients.sqs.send(new CreateQueueCommand({ QueueName: 'failure-watch' }));
    const { Attributes } = await runtime.clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: watch.QueueUrl!, AttributeNames: ['QueueArn'] }),
    );
    await runtime.clients.sns.send(
      new SubscribeCommand({
        TopicArn: runtime.config.failureTopicArn!,
        Protocol: 'sqs',
        Endpoint: Attributes!.QueueArn!,
        Attributes: { RawMessageDelivery: 'true' },
      }),
    );
    const job = await createJob('/fail-notify', atExpression(clock.after(MINUTE)), {
      retryPolicy: { maxAttempts: 2, initialDelaySeconds: 30, multiplier: 2, maxDelaySeconds: 900 },
      notify: { onFailure: [{ url: `${target.url}/hook` }], secret },
    });
    expect(job.notify).toEqual({
      onFailure: [{ url: `${target.url}/hook` }],
      secretSet: true,
    });
    await advanceMinutes(1);
    expect(target.callsTo('/hook')).toHaveLength(0); // a retry is still to come
    await advanceMinutes(1);

    const hooks = target.callsTo('/hook');
    expect(hooks).toHaveLength(1);
    const header = String(hooks[0]!.headers['sundial-signature']);
    expect(verifySignature(secret, header, hooks[0]!.body, Math.floor(clock.now().getTime() / 1000))).toBe(
      true,
    );
    const event = JSON.parse(hooks[0]!.body) as { type: string; job: { id: string }; run: Run };
    expect(event).toMatchObject({
      type: 'run.failed',
      job: { id: job.id },
      run: { status: 'failed', attempt: 2 },
    });

    const { Messages = [] } = await runtime.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: watch.QueueUrl!, MaxNumberOfMessages: 10 }),
    );
    const published = Messages.map((m) => JSON.parse(m.Body!) as { job: { id: string }; run: Run });
    expect(published.filter((p) => p.job.id === job.id).map((p) => p.run.status)).toEqual(['failed']);
  });
});

describe('catch-up on resume', () => {
  /** One scenario from a fresh start of its own; its job is gone at the end. */
  async function pauseAndResume(catchUp: string, catchUpWindowMinutes: number, path: string) {
    clock.fresh();
    const job = await createJob(path, 'rate(10 minutes)', { catchUp, catchUpWindowMinutes });
    clock.set(clock.after(5 * MINUTE));
    await api('POST', `/v1/jobs/${job.id}/pause`);
    await advanceMinutes(40); // 00:10, 00:20, 00:30 and 00:40 pass while paused
    expect(target.callsTo(path)).toHaveLength(0);
    await api('POST', `/v1/jobs/${job.id}/resume`);
    await runtime.drain();
    const runs = (await runsOf(job.id)).map((r) => `${r.trigger} ${r.scheduledAt.slice(11, 16)} ${r.status}`);
    await api('DELETE', `/v1/jobs/${job.id}`);
    return runs;
  }

  it('all: runs every occurrence missed while paused', async () => {
    expect(await pauseAndResume('all', 60, '/catch-all')).toEqual([
      'catch_up 00:40 succeeded',
      'catch_up 00:30 succeeded',
      'catch_up 00:20 succeeded',
      'catch_up 00:10 succeeded',
    ]);
    expect(target.callsTo('/catch-all')).toHaveLength(4);
  });

  it('latest: runs only the most recent missed occurrence', async () => {
    expect(await pauseAndResume('latest', 60, '/catch-latest')).toEqual(['catch_up 00:40 succeeded']);
  });

  it('respects the window and "none"', async () => {
    expect(await pauseAndResume('all', 15, '/catch-window')).toEqual(['catch_up 00:40 succeeded']);
    expect(await pauseAndResume('none', 60, '/catch-none')).toEqual([]);
  });
});

describe('the reconciler', () => {
  it('repairs drift both ways: missing, hand-edited and orphaned schedules', async () => {
    const gone = await createJob('/rec-gone', 'rate(1 hour)');
    const edited = await createJob('/rec-edited', 'cron(0 9 * * ? *)');
    const paused = await createJob('/rec-paused', 'rate(1 hour)', { state: 'paused' });
    const unscheduled = await api<Job>('POST', '/v1/jobs', {
      name: 'no-schedule',
      target: { type: 'http', url: `${target.url}/rec-none` },
    });
    const { scheduler } = runtime.clients;
    const group = LOCAL_SCHEDULE_GROUP;
    // Hands in the console: one deleted, one edited, one enabled, and two that belong to no job.
    await scheduler.send(new DeleteScheduleCommand({ Name: gone.id, GroupName: group }));
    const current = await schedule(edited.id);
    await scheduler.send(
      new UpdateScheduleCommand({
        ...current,
        Name: edited.id,
        GroupName: group,
        ScheduleExpression: 'cron(0 3 * * ? *)',
        FlexibleTimeWindow: current.FlexibleTimeWindow!,
        Target: current.Target!,
      }),
    );
    const pausedSchedule = await schedule(paused.id);
    await scheduler.send(
      new UpdateScheduleCommand({
        ...pausedSchedule,
        Name: paused.id,
        GroupName: group,
        State: 'ENABLED',
        ScheduleExpression: pausedSchedule.ScheduleExpression!,
        FlexibleTimeWindow: pausedSchedule.FlexibleTimeWindow!,
        Target: pausedSchedule.Target!,
      }),
    );
    for (const name of ['job_01HANDMADE', unscheduled.body.id]) {
      await scheduler.send(
        new CreateScheduleCommand({
          Name: name,
          GroupName: group,
          ScheduleExpression: 'rate(5 minutes)',
          FlexibleTimeWindow: { Mode: 'OFF' },
          Target: current.Target!,
        }),
      );
    }

    expect(await runtime.reconcile()).toMatchObject({ missing: 1, drifted: 2, orphaned: 2, failed: 0 });
    expect((await schedule(gone.id)).ScheduleExpression).toBe('rate(1 hour)');
    expect((await schedule(edited.id)).ScheduleExpression).toBe('cron(0 9 * * ? *)');
    expect((await schedule(paused.id)).State).toBe('DISABLED');
    for (const name of ['job_01HANDMADE', unscheduled.body.id]) {
      await expect(schedule(name)).rejects.toBeInstanceOf(ResourceNotFoundException);
    }
    // Nothing left to repair.
    expect(await runtime.reconcile()).toMatchObject({ missing: 0, drifted: 0, orphaned: 0, failed: 0 });
  });
});

describe('run metrics', () => {
  it('counts runs by final status and priority, and measures schedule lag', async () => {
    const before = { ...runtime.metrics.counts };
    const lags = runtime.metrics.lagsMs.length;
    const delta = (key: string) => (runtime.metrics.counts[key] ?? 0) - (before[key] ?? 0);
    await createJob('/metrics-ok', 'rate(1 minute)', { priority: 'high' });
    await createJob('/fail-metrics', 'rate(1 minute)', { priority: 'low' });
    clock.advance(MINUTE);
    await runtime.fire();
    clock.advance(7000); // picked up seven seconds late
    await runtime.drain();
    expect(delta('RunsSucceeded/high')).toBe(1);
    expect(delta('RunsFailed/low')).toBe(1);
    expect(runtime.metrics.lagsMs.slice(lags)).toEqual([7000, 7000]);
  });
});

describe('catch-up after a backlog', () => {
  /** The worker is away for five minutes of a rate(1 minute) job: five firings pile up. */
  async function backlog(catchUp: string, catchUpWindowMinutes: number, path: string) {
    clock.fresh();
    const job = await createJob(path, 'rate(1 minute)', { catchUp, catchUpWindowMinutes });
    for (let i = 0; i < 5; i++) {
      clock.advance(MINUTE);
      await runtime.fire();
    }
    await runtime.drain();
    return runsOf(job.id);
  }

  it('none and latest: only the latest firing runs; the overtaken ones are missed, with the reason', async () => {
    for (const catchUp of ['none', 'latest']) {
      const runs = await backlog(catchUp, 60, `/backlog-${catchUp}`);
      expect(runs.map((r) => `${r.scheduledAt.slice(11, 16)} ${r.status}`)).toEqual([
        '00:05 succeeded',
        '00:04 missed',
        '00:03 missed',
        '00:02 missed',
        '00:01 missed',
      ]);
      expect(runs[1]?.skipReason).toBe(
        `overtaken by the occurrence at ${iso(5 * MINUTE)}: with catchUp "${catchUp}" only the latest of a backlog runs`,
      );
      expect(target.callsTo(`/backlog-${catchUp}`)).toHaveLength(1);
      await deleteAllJobs(api);
    }
  });

  it('all: every firing within the catch-up window runs, older ones are missed', async () => {
    const runs = await backlog('all', 3, '/backlog-all');
    expect(runs.map((r) => `${r.scheduledAt.slice(11, 16)} ${r.status}`)).toEqual([
      '00:05 succeeded',
      '00:04 succeeded',
      '00:03 succeeded',
      '00:02 succeeded',
      '00:01 missed',
    ]);
    expect(runs[4]?.skipReason).toBe(
      'picked up 4 min after its scheduled time, outside the catch-up window of 3 min',
    );
  });
});

describe('run now', () => {
  it('queues a manual run with its own identity that does not swallow the next scheduled one', async () => {
    const job = await createJob('/run-now', 'rate(1 hour)');
    const res = await api<Run & { jobId: string }>('POST', `/v1/jobs/${job.id}/runs`);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ jobId: job.id, trigger: 'manual', status: 'queued', attempt: 0 });
    expect(res.headers.get('location')).toBe(`/v1/jobs/${job.id}/runs/${res.body.id}`);

    await runtime.drain();
    const manual = await api<Run>('GET', `/v1/jobs/${job.id}/runs/${res.body.id}`);
    expect(manual.body).toMatchObject({ status: 'succeeded', trigger: 'manual', attempt: 1 });

    await advanceMinutes(60);
    const runs = await runsOf(job.id);
    expect(runs.map((r) => `${r.trigger}:${r.status}`).sort()).toEqual([
      'manual:succeeded',
      'schedule:succeeded',
    ]);
    expect(runs).toHaveLength(2);
    expect(target.callsTo('/run-now')).toHaveLength(2);
    expect((await api('POST', '/v1/jobs/job_nope/runs')).status).toBe(404);
  });
});

describe('job API against the local runtime', () => {
  it('creates a job with Location, ETag, defaults, nextRunAt and exactly one schedule', async () => {
    // A Tuesday in winter, so the next weekday 02:00 in Berlin is Wednesday's.
    const t = clock.freshLike('2026-12-01T10:00:30.000Z');
    const res = await api<Job>('POST', '/v1/jobs', {
      name: 'nightly-report',
      schedule: { expression: 'cron(0 2 ? * MON-FRI *)', timezone: 'Europe/Berlin' },
      target: { type: 'http', url: `${target.url}/report` },
      priority: 'high',
      tags: { team: 'billing' },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/v1/jobs/${res.body.id}`);
    expect(res.headers.get('etag')).toBe('"1"');
    expect(res.body).toMatchObject({
      name: 'nightly-report',
      state: 'enabled',
      priority: 'high',
      overlapPolicy: 'allow',
      version: 1,
      lastRun: null,
      // Wednesday 2026-12-02 02:00 CET
      nextRunAt: t('2026-12-02T01:00:00.000Z'),
      target: { method: 'POST', timeoutSeconds: 30, headers: {} },
      schedule: { timezone: 'Europe/Berlin', startAt: null, endAt: null, flexibleWindowMinutes: 0 },
    });
    expect(res.body).not.toHaveProperty('tenantId');

    const s = await schedule(res.body.id);
    expect(s.ScheduleExpression).toBe('cron(0 2 ? * MON-FRI *)');
    expect(s.ScheduleExpressionTimezone).toBe('Europe/Berlin');
    expect(s.State).toBe('ENABLED');
    expect(s.Target?.Arn).toBe(runtime.queues.high.arn);
    expect(JSON.parse(s.Target?.Input ?? '{}')).toEqual({
      v: 1,
      tenantId: 'dev',
      jobId: res.body.id,
      scheduledTime: '<aws.scheduler.scheduled-time>',
      trigger: 'schedule',
      // The job's version: the worker reads the job eventually consistent, strongly if older.
      jobVersion: 1,
      // Sundial's MAC over the tenant and job: a firing it did not sign never runs.
      mac: expect.stringMatching(/^[\w-]{43}$/),
    });
  });

  it('rejects invalid jobs with 400 problem+json naming the fields, and creates nothing', async () => {
    const before = await runtime.clients.scheduler.send(
      new ListSchedulesCommand({ GroupName: LOCAL_SCHEDULE_GROUP }),
    );
    const beforeJobs = await api<Page<Job>>('GET', '/v1/jobs?limit=100');
    const cases: [unknown, string][] = [
      [jobBody('/x', 'cron(0 2 * * *)'), 'schedule.expression'],
      [jobBody('/x', 'rate(5 minute)'), 'schedule.expression'],
      [jobBody('/x', 'at(2020-01-01T00:00:00)'), 'schedule.expression'],
      [
        {
          ...jobBody('/x', 'rate(1 hour)'),
          schedule: { expression: 'rate(1 hour)', timezone: 'Mars/Olympus' },
        },
        'schedule.timezone',
      ],
      [
        { ...jobBody('/x', 'rate(1 hour)'), target: { type: 'http', url: 'ftp://example.com' } },
        'target.url',
      ],
      [{ ...jobBody('/x', 'rate(1 hour)'), priority: 'urgent' }, 'priority'],
      [{ ...jobBody('/x', 'rate(1 hour)'), colour: 'blue' }, 'colour'],
      [
        { schedule: { expression: 'rate(1 hour)' }, target: { type: 'http', url: 'https://example.com' } },
        'name',
      ],
      [
        {
          ...jobBody('/x', 'rate(1 hour)'),
          target: { type: 'http', url: 'https://e.com', timeoutSeconds: 900 },
        },
        'target.timeoutSeconds',
      ],
      ['{not json', '(body)'],
    ];
    for (const [body, field] of cases) {
      const res = await api<ValidationProblem>('POST', '/v1/jobs', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(res.body.status).toBe(400);
      expect(res.body.errors.map((e) => e.field)).toContain(field);
      expect(res.body.errors.every((e) => e.message.length > 0)).toBe(true);
    }
    const after = await runtime.clients.scheduler.send(
      new ListSchedulesCommand({ GroupName: LOCAL_SCHEDULE_GROUP }),
    );
    expect(after.Schedules?.length).toBe(before.Schedules?.length);
    expect((await api<Page<Job>>('GET', '/v1/jobs?limit=100')).body.items.length).toBe(
      beforeJobs.body.items.length,
    );
  });

  it('honours Idempotency-Key: a replay returns the same job, a different body is refused', async () => {
    const body = jobBody('/idem', 'rate(1 hour)');
    const headers = { 'idempotency-key': 'create-idem-1' };
    const first = await api<Job>('POST', '/v1/jobs', body, headers);
    const again = await api<Job>('POST', '/v1/jobs', body, headers);
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body.id).toBe(first.body.id);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const different = await api('POST', '/v1/jobs', { ...body, name: 'other' }, headers);
    expect(different.status).toBe(422);
    const all = await api<Page<Job>>('GET', '/v1/jobs?limit=100');
    expect(all.body.items.filter((j) => j.name === body.name)).toHaveLength(1);
  });

  it('pages through jobs with a cursor and filters by state and tag', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await createJob(`/page${i}`, 'rate(1 hour)', { tags: { suite: 'paging' } })).id);
    }
    await api('POST', `/v1/jobs/${ids[1]}/pause`);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `/v1/jobs?limit=2&tag=suite:paging${cursor ? `&cursor=${cursor}` : ''}`;
      const page: { body: Page<Job> } = await api<Page<Job>>('GET', query);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((j) => j.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual([...ids].sort());
    const paused = await api<Page<Job>>('GET', '/v1/jobs?tag=suite:paging&state=paused');
    expect(paused.body.items.map((j) => j.id)).toEqual([ids[1]]);
    expect((await api('GET', '/v1/jobs?cursor=bm9wZQ')).status).toBe(400);
    expect((await api('GET', '/v1/jobs?limit=1000')).status).toBe(400);
  });

  it('updates with If-Match: the schedule follows, and a stale version gets 412 and changes nothing', async () => {
    const job = await createJob('/patch', 'rate(1 hour)');
    const updated = await api<Job>(
      'PATCH',
      `/v1/jobs/${job.id}`,
      { schedule: { expression: 'rate(15 minutes)' } },
      { 'if-match': '"1"' },
    );
    expect(updated.status).toBe(200);
    expect(updated.body.version).toBe(2);
    expect(updated.headers.get('etag')).toBe('"2"');
    const followed = await schedule(job.id);
    expect(followed.ScheduleExpression).toBe('rate(15 minutes)');
    expect(JSON.parse(followed.Target?.Input ?? '{}')).toMatchObject({ jobId: job.id, jobVersion: 2 });

    const stale = await api('PATCH', `/v1/jobs/${job.id}`, { name: 'renamed' }, { 'if-match': '"1"' });
    expect(stale.status).toBe(412);
    const staleBody = await api('PATCH', `/v1/jobs/${job.id}`, { name: 'renamed', version: 1 });
    expect(staleBody.status).toBe(412);
    const bad = await api('PATCH', `/v1/jobs/${job.id}`, { schedule: { expression: 'rate(0 minutes)' } });
    expect(bad.status).toBe(400);
    const current = await api<Job>('GET', `/v1/jobs/${job.id}`);
    expect(current.body.version).toBe(2);
    expect(current.body.name).toBe('job-patch');
  });

  it('previews fire times, answers health and serves the OpenAPI document', async () => {
    const t = clock.freshLike('2026-12-01T10:00:00.000Z');
    const preview = await api<Preview>('POST', '/v1/schedules/preview', {
      expression: 'cron(30 9 ? * MON#1 *)',
      timezone: 'America/New_York',
      count: 2,
    });
    expect(preview.status).toBe(200);
    // First Mondays after 1 Dec 2026: 7 Dec and 4 Jan, 09:30 EST (UTC-5).
    expect(preview.body.fireTimes).toEqual([t('2026-12-07T14:30:00.000Z'), t('2027-01-04T14:30:00.000Z')]);
    const badPreview = await api<ValidationProblem>('POST', '/v1/schedules/preview', {
      expression: 'nope',
    });
    expect(badPreview.status).toBe(400);
    expect(badPreview.body.errors[0]?.field).toBe('expression');

    const health = await api<Health>('GET', '/v1/health');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({
      status: 'ok',
      checks: { jobsTable: 'ok' },
      degradation: { level: 0, steps: [], stepDownInSeconds: 0 },
    });

    const doc = await api<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(
      'GET',
      '/v1/openapi.json',
    );
    expect(doc.body.openapi).toBe('3.1.0');
    // Every operation the API serves is in the document.
    for (const operation of Object.keys(ACCESS)) {
      const [method, path] = operation.split(' ') as [string, string];
      expect(doc.body.paths[path]?.[method.toLowerCase()], operation).toBeDefined();
    }
    expect((await api('GET', '/v1/nothing-here')).status).toBe(404);
    expect((await api('PUT', '/v1/jobs')).status).toBe(405);
  });
});

describe('schedule consistency after a crash (invariant 1)', () => {
  /** Stands in for a process that dies after the table write, before the Scheduler call. */
  const crashing: ScheduleWriter = {
    apply: async () => {
      throw new Error('simulated crash before the Scheduler call');
    },
    remove: async () => {
      throw new Error('simulated crash before the Scheduler call');
    },
  };

  it('repairs a job created, paused or deleted without its schedule change, and the job then fires', async () => {
    const crashed = runtime.servicesWith({ scheduleGateway: crashing }).jobService;

    const { job } = await crashed.create('dev', jobBody('/repaired', 'rate(1 minute)'));
    await expect(schedule(job.id)).rejects.toBeInstanceOf(ResourceNotFoundException);

    // Not repaired while a request could still be finishing its own sync...
    expect((await runtime.sweep()).repaired).toBe(0);
    clock.advance((SYNC_GRACE_SECONDS + 1) * 1000);
    expect(await runtime.sweep()).toEqual({ repaired: 1, failed: 0 });
    expect((await schedule(job.id)).State).toBe('ENABLED');
    expect(await runtime.sweep()).toEqual({ repaired: 0, failed: 0 });
    await advanceMinutes(1);
    expect(target.callsTo('/repaired')).toHaveLength(1);

    await crashed.setState('dev', job.id, 'paused');
    expect((await schedule(job.id)).State).toBe('ENABLED');
    clock.advance((SYNC_GRACE_SECONDS + 1) * 1000);
    expect((await runtime.sweep()).repaired).toBe(1);
    expect((await schedule(job.id)).State).toBe('DISABLED');

    await crashed.delete('dev', job.id);
    expect((await api('GET', `/v1/jobs/${job.id}`)).status).toBe(404);
    clock.advance((SYNC_GRACE_SECONDS + 1) * 1000);
    expect((await runtime.sweep()).repaired).toBe(1);
    await expect(schedule(job.id)).rejects.toBeInstanceOf(ResourceNotFoundException);
    expect(await runtime.services.jobStore.get('dev', job.id)).toBeUndefined();
  });

  it('applies the newest version when the job changes while its schedule is being written', async () => {
    const real = runtime.services.schedules;
    let interfered = false;
    const racing: ScheduleWriter = {
      apply: async (job) => {
        await real.apply(job);
        if (!interfered) {
          interfered = true;
          // Another request lands between our Scheduler call and clearing the marker.
          await runtime.services.jobService.update('dev', job.id, {
            schedule: { expression: 'rate(7 minutes)' },
          });
        }
      },
      remove: (id) => real.remove(id),
    };
    const { job } = await runtime
      .servicesWith({ scheduleGateway: racing })
      .jobService.create('dev', jobBody('/race', 'rate(1 minute)'));
    expect((await schedule(job.id)).ScheduleExpression).toBe('rate(7 minutes)');
    const stored = await runtime.services.jobStore.get('dev', job.id);
    expect(stored?.syncPendingAt).toBeUndefined();
    expect(stored?.version).toBe(2);
  });
});
