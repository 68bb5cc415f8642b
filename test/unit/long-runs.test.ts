/**
 * Long runs over the in-memory ports (no Java, no network): an ECS task, a Step Functions
 * execution or an HTTP target that calls back is started by the worker and watched, not
 * waited for; its event, its callback, a poll, its heartbeat check or its deadline settles
 * it once. Time is a ManualClock moved by hand; the sweep is called as the Completion
 * function's schedule would call it.
 */
import { describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError, ValidationError } from '../../functions/domain/errors.js';
import { type FiringMessage, firing } from '../../functions/domain/firing.js';
import { firingMessageSchema } from '../../functions/domain/firing-schema.js';
import type { StoredJob } from '../../functions/domain/job.js';
import {
  attemptKey,
  callbackIdentity,
  formatCallbackToken,
  POLL_OFFSETS_SECONDS,
  parseCallbackToken,
  watchShardOf,
} from '../../functions/domain/long-run.js';
import { type LongOutcome, newRun, scheduledRunId } from '../../functions/domain/run.js';
import type { EcsTarget, HttpTarget, StepFunctionsTarget } from '../../functions/domain/target.js';
import { backfill, backfillBody } from '../../functions/usecases/backfill.js';
import { type CallbackDeps, recordHeartbeat, reportOutcome } from '../../functions/usecases/callbacks.js';
import { cancelRun } from '../../functions/usecases/cancel.js';
import { executeFiring } from '../../functions/usecases/execute-firing.js';
import { completeFromEvent, settle, sweepWatches, watchRun } from '../../functions/usecases/long-runs.js';
import { WATCH_SHARDS } from '../../lib/definitions.js';
import { InMemoryFiringSigner, outcomes } from '../fakes/in-memory.js';
import {
  aJob,
  CALLBACK_BASE_URL,
  MINUTE,
  SECOND,
  TENANT,
  type WorkerWorld,
  workerWorld,
} from '../fakes/world.js';

const HOUR = 60 * MINUTE;

/** An instant on the test day, e.g. at('10:05:00'). */
const at = (time: string) => `2027-03-01T${time}.000Z`;
const plus = (instant: string, ms: number) => new Date(Date.parse(instant) + ms).toISOString();

/** The message Scheduler puts on the queue for the occurrence at `time`. */
function fired(job: Pick<StoredJob, 'tenantId' | 'id'>, time: string): FiringMessage {
  return firingMessageSchema.parse({ ...firing.scheduleTemplate(job), scheduledTime: at(time) });
}

const runIdAt = (time: string) => scheduledRunId(new Date(at(time)));

const CLUSTER = 'arn:aws:ecs:eu-west-1:123456789012:cluster/batch';
const TASK_DEFINITION = 'arn:aws:ecs:eu-west-1:123456789012:task-definition/import:3';
const MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:pipeline';

function ecs(extra: Partial<EcsTarget> = {}): StoredJob['target'] {
  return {
    type: 'ecs',
    cluster: CLUSTER,
    taskDefinition: TASK_DEFINITION,
    launchType: 'FARGATE',
    network: null,
    containerOverrides: [{ name: 'app', command: ['python', 'import.py'], environment: {} }],
    timeoutSeconds: 30,
    runTimeoutSeconds: 3600,
    heartbeatTimeoutSeconds: null,
    ...extra,
  };
}

function callback(extra: Partial<HttpTarget> = {}): StoredJob['target'] {
  return {
    type: 'http',
    url: 'https://ingest.example.com/imports',
    method: 'POST',
    headers: {},
    body: null,
    secretHeaders: {},
    timeoutSeconds: 30,
    completion: 'callback',
    runTimeoutSeconds: 3600,
    heartbeatTimeoutSeconds: null,
    ...extra,
  };
}

function stepFunctions(extra: Partial<StepFunctionsTarget> = {}): StoredJob['target'] {
  return {
    type: 'stepfunctions',
    stateMachineArn: MACHINE,
    input: { day: 'today' },
    timeoutSeconds: 30,
    runTimeoutSeconds: 3600,
    ...extra,
  };
}

const retries = (maxAttempts: number) => ({
  maxAttempts,
  initialDelaySeconds: 30,
  multiplier: 2,
  maxDelaySeconds: 900,
});

const succeededOutcome = (result: LongOutcome['result'] = {}): LongOutcome => ({
  status: 'succeeded',
  error: null,
  result,
});
const exitOutcome = (code: number, ref: string): LongOutcome => ({
  status: 'failed',
  error: { type: 'exit_code', message: `exit code ${code} (Essential container in task exited)` },
  result: { exitCode: code, taskArn: ref },
});

const callbackDeps = (w: WorkerWorld): CallbackDeps => ({
  runs: w.runs,
  jobs: w.jobs,
  queue: w.queue,
  signer: w.long.signer,
  clock: w.clock,
  logger: w.logger,
});
const cancelDeps = (w: WorkerWorld) => ({ runs: w.runs, queue: w.queue, clock: w.clock });

/** One sweep of the Completion function over every shard of the watch index. */
const sweep = (w: WorkerWorld) => sweepWatches(w.deps, { shards: WATCH_SHARDS });

/** The attempt key of attempt `attempt` of the run. */
const keyOf = (job: StoredJob, runId: string, attempt = 1) =>
  attemptKey({ tenantId: job.tenantId, jobId: job.id, runId, attempt });

/** The callback token in the URL the `n`th start was handed. */
function tokenOf(w: WorkerWorld, n = -1): string {
  const url = w.long.targets.starts.at(n)!.context.callbackUrl;
  const token = url.split('/v1/callbacks/')[1];
  if (!token) throw new Error(`not a callback URL: ${url}`);
  return token;
}

/** Lets a worker started without `await` get as far as it can (no timers, only the event loop). */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve));
  if (!condition()) throw new Error('the worker never got there');
}

/** The error a promise rejects with (fails the test when it resolves). */
async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}

/** A world with the job `overrides` describe, its occurrence at 10:00:00 started at 10:00:02. */
async function started(overrides: Partial<StoredJob> = {}, options: Parameters<typeof workerWorld>[0] = {}) {
  const w = workerWorld(options);
  const job = w.jobs.seed(aJob({ target: ecs(), overlapPolicy: 'skip', ...overrides }));
  w.clock.set(at('10:00:02'));
  const outcome = await executeFiring(w.deps, fired(job, '10:00:00'));
  const runId = runIdAt('10:00:00');
  const key = keyOf(job, runId);
  const run = () => w.runs.peek(TENANT, job.id, runId)!;
  return { w, job, outcome, runId, key, run, ref: w.long.targets.refOf(key) ?? null };
}

describe('a long attempt started by the worker', () => {
  it('is recorded running and watched, holds the lock until its deadline, and no worker waits for it', async () => {
    const { w, job, outcome, runId, key, run, ref } = await started();

    expect(outcome).toMatchObject({ result: 'done', detail: 'started' });
    expect(w.long.targets.starts).toHaveLength(1);
    expect(w.long.targets.starts[0]!.target).toEqual(job.target);
    expect(w.long.targets.starts[0]!.context).toMatchObject({
      tenantId: TENANT,
      jobId: job.id,
      runId,
      scheduledAt: at('10:00:00'),
      attempt: 1,
      attemptKey: key,
      callbackUrl: expect.stringMatching(
        /^http:\/\/127\.0\.0\.1:3000\/v1\/callbacks\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/,
      ),
    });
    expect(ref).toEqual(expect.stringContaining(key));
    expect(run()).toMatchObject({
      status: 'running',
      attempt: 1,
      startedAt: at('10:00:02'),
      finishedAt: null,
      deadlineAt: at('11:00:02'),
      heartbeatAt: null,
      result: { statusCode: null, bodyExcerpt: '', taskArn: ref },
      error: null,
      long: {
        kind: 'ecs',
        key,
        ref,
        cluster: CLUSTER,
        startedAt: at('10:00:02'),
        polls: 0,
        heartbeatTimeoutSeconds: null,
      },
      // The first poll is due a minute after the start.
      watchShard: watchShardOf(runId),
      watchAt: at('10:01:02'),
    });
    // No worker holds it: its lease is gone (the claim token stays, for conditional writes).
    expect(run()).not.toHaveProperty('leaseUntil');
    expect(run().claimToken).toEqual(expect.any(String));
    // The job's lock is held until the deadline and a margin, not the worker's short lease.
    expect(w.runs.lockOf(TENANT, job.id)).toEqual({ holder: runId, leaseUntil: at('11:05:02') });
    // An event naming the attempt key finds its run.
    expect(await w.runs.getAttemptPointer(key)).toEqual({
      tenantId: TENANT,
      jobId: job.id,
      runId,
      attempt: 1,
    });
    // Nothing waited on, nothing ended yet.
    expect(w.long.targets.describes).toEqual([]);
    expect(w.long.targets.stops).toEqual([]);
    expect(w.target.calls).toEqual([]);
    expect(w.metrics.endedRuns).toEqual([]);
    expect(w.queue.size).toBe(0);
  });

  it('counts as in progress for the overlap policy until it ends, however long after its lease', async () => {
    const { w, job, runId } = await started();

    w.clock.set(at('10:05:01'));
    expect(await executeFiring(w.deps, fired(job, '10:05:00'))).toMatchObject({ detail: 'skipped' });
    expect(w.runs.peek(TENANT, job.id, runIdAt('10:05:00'))).toMatchObject({
      status: 'skipped',
      skipReason: `previous run ${runId} is still running`,
    });
    expect(w.long.targets.starts).toHaveLength(1);

    w.clock.set(at('10:07:00'));
    await completeFromEvent(w.deps, keyOf(job, runId), succeededOutcome());
    w.clock.set(at('10:10:01'));
    expect(await executeFiring(w.deps, fired(job, '10:10:00'))).toMatchObject({ detail: 'started' });
    expect(w.long.targets.tasks).toHaveLength(2);
  });

  it('is not freed by a redelivery of its firing: the lock stays with the run until it ends', async () => {
    const { w, job, runId } = await started();

    // SQS delivers the occurrence's message again while the task runs.
    w.clock.set(at('10:00:30'));
    expect(await executeFiring(w.deps, fired(job, '10:00:00'))).toMatchObject({
      result: 'done',
      detail: 'long run in progress',
    });
    expect(w.long.targets.starts).toHaveLength(1);
    expect(w.runs.lockOf(TENANT, job.id)).toEqual({ holder: runId, leaseUntil: at('11:05:02') });

    w.clock.set(at('10:05:01'));
    expect(await executeFiring(w.deps, fired(job, '10:05:00'))).toMatchObject({ detail: 'skipped' });
    expect(w.long.targets.tasks).toHaveLength(1);
  });

  it('of a Step Functions target is an execution named by the attempt, and of a callback target a call handed its URL', async () => {
    const sfn = await started({ target: stepFunctions() });
    expect(sfn.run()).toMatchObject({
      status: 'running',
      long: { kind: 'stepfunctions', key: sfn.key, ref: sfn.ref, polls: 0 },
      result: { executionArn: sfn.ref },
      watchAt: at('10:01:02'),
    });
    expect(sfn.run().long).not.toHaveProperty('cluster');

    const cb = await started({ target: callback({ heartbeatTimeoutSeconds: 300 }) });
    expect(cb.run()).toMatchObject({
      status: 'running',
      long: { kind: 'callback', key: cb.key, ref: null, heartbeatTimeoutSeconds: 300 },
      // No poll for a callback target: the heartbeat check is its first look.
      watchAt: at('10:05:02'),
    });
    // A callback target has no task: no pointer is needed for an event.
    expect(await cb.w.runs.getAttemptPointer(cb.key)).toBeUndefined();
    expect(parseCallbackToken(tokenOf(cb.w))?.ids).toEqual({
      tenantId: TENANT,
      jobId: cb.job.id,
      runId: cb.runId,
      attempt: 1,
    });
  });

  it('whose start fails is an attempt that failed: retried or ended as any failed call', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob({ target: ecs(), overlapPolicy: 'skip', retryPolicy: retries(2) }));
    w.long.targets.willStart(
      {
        kind: 'rejected',
        type: 'run_task_failed',
        message: 'ECS did not start the task: RESOURCE:MEMORY',
        statusCode: null,
        bodyExcerpt: null,
      },
      new Error('socket hang up'),
    );
    w.clock.set(at('10:00:02'));
    expect(await executeFiring(w.deps, fired(job, '10:00:00'))).toMatchObject({ detail: 'retry scheduled' });
    const runId = runIdAt('10:00:00');
    expect(w.runs.peek(TENANT, job.id, runId)).toMatchObject({
      status: 'queued',
      attempt: 1,
      error: { type: 'run_task_failed' },
    });
    expect(w.runs.peek(TENANT, job.id, runId)).not.toHaveProperty('watchAt');

    const retry = w.queue.takeOne();
    w.clock.set(retry.notBefore!);
    expect(await executeFiring(w.deps, retry)).toMatchObject({ detail: 'failed' });
    expect(w.runs.peek(TENANT, job.id, runId)).toMatchObject({
      status: 'failed',
      attempt: 2,
      error: { type: 'network', message: 'Error: socket hang up' },
      attempts: [{ status: 'failed' }, { status: 'failed' }],
    });
    expect(w.long.targets.tasks).toEqual([]);
    expect(w.notifier.failures).toHaveLength(1);
    expect(w.runs.lockOf(TENANT, job.id)).toEqual({});
  });

  it('fails, without a start, when the worker has no long-run parts', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob({ target: ecs() }));
    const { long: _none, ...deps } = w.deps;
    expect(await executeFiring(deps, fired(job, '10:00:00'))).toMatchObject({ detail: 'failed' });
    expect(w.runs.peek(TENANT, job.id, runIdAt('10:00:00'))!.error).toEqual({
      type: 'network',
      message: 'long-running targets are not configured for this worker',
    });
    expect(w.long.targets.starts).toEqual([]);
  });
});

describe('settling a long attempt', () => {
  it('with success: final, the lock released, dependents queued, its duration counted', async () => {
    const w = workerWorld();
    const upstream = (await w.jobs.create(aJob({ id: 'job_Extract', target: ecs(), overlapPolicy: 'skip' })))
      .job;
    const downstream = (
      await w.jobs.create(
        aJob({ id: 'job_Load', schedule: null, dependsOn: ['job_Extract'], priority: 'low' }),
      )
    ).job;
    w.clock.set(at('10:00:02'));
    await executeFiring(w.deps, fired(upstream, '10:00:00'));
    const runId = runIdAt('10:00:00');
    const key = keyOf(upstream, runId);
    const ref = w.long.targets.refOf(key)!;

    w.clock.set(at('10:20:02'));
    const outcome = await completeFromEvent(w.deps, key, succeededOutcome({ exitCode: 0, taskArn: ref }));

    expect(outcome).toMatchObject({ result: 'done', detail: 'succeeded' });
    const run = w.runs.peek(TENANT, upstream.id, runId)!;
    expect(run).toMatchObject({
      status: 'succeeded',
      attempt: 1,
      startedAt: at('10:00:02'),
      finishedAt: at('10:20:02'),
      durationMs: 20 * MINUTE,
      result: { statusCode: null, bodyExcerpt: '', exitCode: 0, taskArn: ref },
      error: null,
      attempts: [
        {
          attempt: 1,
          status: 'succeeded',
          startedAt: at('10:00:02'),
          finishedAt: at('10:20:02'),
          durationMs: 20 * MINUTE,
          statusCode: null,
          error: null,
        },
      ],
    });
    expect(run).not.toHaveProperty('watchShard');
    expect(run).not.toHaveProperty('watchAt');
    expect(w.runs.lockOf(TENANT, upstream.id)).toEqual({});
    expect(w.metrics.endedRuns).toEqual([
      { status: 'succeeded', priority: 'default', durationMs: 20 * MINUTE },
    ]);
    expect(w.notifier.failures).toEqual([]);
    expect(w.queue.peek()).toEqual([
      { priority: 'low', message: firing.dependency(downstream, `${runIdAt('10:20:02')}_d`, at('10:20:02')) },
    ]);
    // Nothing was stopped or polled: the event settled it.
    expect(w.long.targets.stops).toEqual([]);
    expect(w.long.targets.describes).toEqual([]);
  });

  it('with a failure and attempts left: the retry queued first, the run queued for it, the lock kept', async () => {
    const { w, job, runId, key, run, ref } = await started({ retryPolicy: retries(3) });

    w.clock.set(at('10:10:02'));
    expect(await completeFromEvent(w.deps, key, exitOutcome(3, ref!))).toMatchObject({
      detail: 'retry scheduled',
    });

    // Equal jitter with random 0: half of the 30s initial delay.
    const retryAt = at('10:10:17');
    expect(run()).toMatchObject({
      status: 'queued',
      attempt: 1,
      nextAttemptAt: retryAt,
      finishedAt: at('10:10:02'),
      error: { type: 'exit_code' },
      result: { exitCode: 3, taskArn: ref },
      attempts: [{ attempt: 1, status: 'failed', durationMs: 10 * MINUTE, error: { type: 'exit_code' } }],
    });
    expect(run()).not.toHaveProperty('watchAt');
    expect(w.queue.peek()).toEqual([
      {
        priority: 'default',
        message: firing.retry(
          { tenantId: TENANT, jobId: job.id, scheduledTime: at('10:00:00'), jobVersion: job.version },
          runId,
          2,
          new Date(retryAt),
        ),
      },
    ]);
    expect(w.runs.lockOf(TENANT, job.id)).toEqual({ holder: runId, leaseUntil: plus(retryAt, 60 * SECOND) });
    expect(w.metrics.endedRuns).toEqual([]);
    expect(w.notifier.failures).toEqual([]);

    // The retry starts attempt 2 under its own key: a task of its own.
    w.clock.set(retryAt);
    expect(await executeFiring(w.deps, w.queue.takeOne())).toMatchObject({ detail: 'started' });
    const key2 = keyOf(job, runId, 2);
    expect(key2).not.toBe(key);
    expect(w.long.targets.tasks).toEqual([key, key2]);
    expect(run()).toMatchObject({
      status: 'running',
      attempt: 2,
      long: { key: key2, polls: 0 },
      deadlineAt: plus(retryAt, HOUR),
      watchAt: plus(retryAt, MINUTE),
    });
  });

  it('with a failure and no attempt left: failed, the lock released, the failure announced', async () => {
    const { w, job, runId, key, run, ref } = await started();

    w.clock.set(at('10:10:02'));
    expect(await completeFromEvent(w.deps, key, exitOutcome(1, ref!))).toMatchObject({ detail: 'failed' });

    expect(run()).toMatchObject({ status: 'failed', error: { type: 'exit_code' }, result: { exitCode: 1 } });
    expect(w.runs.lockOf(TENANT, job.id)).toEqual({});
    expect(w.queue.size).toBe(0);
    expect(w.metrics.endedRuns).toEqual([{ status: 'failed', priority: 'default', durationMs: 10 * MINUTE }]);
    expect(w.notifier.failures).toHaveLength(1);
    expect(w.notifier.failures[0]!.run).toMatchObject({
      id: runId,
      status: 'failed',
      error: { type: 'exit_code', message: expect.stringContaining('exit code 1') },
      result: { exitCode: 1 },
    });
  });

  it('once: a duplicate event, a second settle of the same attempt, an event of an older attempt change nothing', async () => {
    const { w, job, runId, key, run, ref } = await started({ retryPolicy: retries(2) });
    const snapshot = run();

    w.clock.set(at('10:10:02'));
    expect(await settle(w.deps, job, snapshot, exitOutcome(2, ref!))).toMatchObject({
      detail: 'retry scheduled',
    });
    const afterFirst = run();
    const sent = w.queue.size;
    // The same attempt settled again from what was read before (a poll racing the event).
    expect(await settle(w.deps, job, snapshot, succeededOutcome())).toMatchObject({
      detail: 'already settled',
    });
    expect(await completeFromEvent(w.deps, key, succeededOutcome())).toMatchObject({
      detail: 'duplicate or stale event',
    });
    expect(run()).toEqual(afterFirst);
    expect(w.metrics.endedRuns).toEqual([]);

    // Attempt 2 runs; attempt 1's late event (and a redelivery of it) change nothing.
    w.queue.take();
    w.clock.set(afterFirst.nextAttemptAt!);
    await executeFiring(
      w.deps,
      firing.retry(
        { tenantId: TENANT, jobId: job.id, scheduledTime: at('10:00:00') },
        runId,
        2,
        new Date(afterFirst.nextAttemptAt!),
      ),
    );
    const running = run();
    expect(running).toMatchObject({ status: 'running', attempt: 2 });
    for (let i = 0; i < 2; i++) {
      expect(await completeFromEvent(w.deps, key, exitOutcome(137, ref!))).toMatchObject({
        detail: 'duplicate or stale event',
      });
    }
    expect(run()).toEqual(running);

    // Attempt 2's event settles it, once.
    const key2 = keyOf(job, runId, 2);
    w.clock.set(at('10:30:00'));
    expect(await completeFromEvent(w.deps, key2, succeededOutcome())).toMatchObject({ detail: 'succeeded' });
    const ended = run();
    expect(await completeFromEvent(w.deps, key2, succeededOutcome())).toMatchObject({
      detail: 'duplicate or stale event',
    });
    expect(await settle(w.deps, job, running, exitOutcome(1, ref!))).toMatchObject({
      detail: 'already settled',
    });
    expect(run()).toEqual(ended);
    expect(w.metrics.endedRuns).toHaveLength(1);
    expect(w.notifier.failures).toEqual([]);
    expect(sent).toBe(1);
  });

  it('from an event Sundial does not know changes nothing', async () => {
    const { w, run } = await started();
    const before = run();
    expect(
      await completeFromEvent(w.deps, 'sundial-0000000000000000000000000000000000000000', succeededOutcome()),
    ).toMatchObject({
      detail: 'unknown attempt',
    });
    expect(run()).toEqual(before);
  });
});

describe('watching a long attempt', () => {
  it('ends it timed out at its deadline and stops its task', async () => {
    const { w, job, key, run, ref } = await started({ target: ecs({ runTimeoutSeconds: 600 }) });

    w.clock.set(at('10:10:02'));
    expect(await sweep(w)).toEqual({ looked: 1, overdue: 0, failed: 0 });

    const reason = 'no outcome within the run timeout (600s)';
    expect(run()).toMatchObject({
      status: 'timed_out',
      finishedAt: at('10:10:02'),
      durationMs: 10 * MINUTE,
      error: { type: 'timeout', message: reason },
      attempts: [{ status: 'timed_out', error: { type: 'timeout', message: reason } }],
    });
    expect(run()).not.toHaveProperty('watchAt');
    expect(w.long.targets.stops).toEqual([
      { handle: { kind: 'ecs', key, ref, cluster: CLUSTER }, reason: `Sundial: ${reason}` },
    ]);
    expect(w.long.targets.describes).toEqual([]);
    expect(w.runs.lockOf(TENANT, job.id)).toEqual({});
    expect(w.metrics.endedRuns).toEqual([
      { status: 'timed_out', priority: 'default', durationMs: 10 * MINUTE },
    ]);
    expect(w.notifier.failures).toHaveLength(1);
    // Nothing is due any more.
    w.clock.set(at('12:00:00'));
    expect(await sweep(w)).toEqual({ looked: 0, overdue: 0, failed: 0 });
  });

  it('whose stop fails stays watched with long.stop, and the next look stops it', async () => {
    const { w, key, run, ref } = await started({ target: ecs({ runTimeoutSeconds: 600 }) });
    w.long.targets.failStops(1);

    w.clock.set(at('10:10:02'));
    await sweep(w);

    expect(run()).toMatchObject({
      status: 'timed_out',
      long: { key, ref, stop: true },
      watchShard: watchShardOf(run().id),
      watchAt: at('10:11:02'),
    });
    expect(w.long.targets.stops).toHaveLength(1);
    expect(w.metrics.endedRuns).toHaveLength(1);

    w.clock.set(at('10:10:50'));
    expect(await sweep(w)).toMatchObject({ looked: 0 });
    w.clock.set(at('10:11:02'));
    expect(await sweep(w)).toMatchObject({ looked: 1, failed: 0 });
    expect(w.long.targets.stops).toHaveLength(2);
    expect(w.long.targets.stops[1]!.handle).toEqual({ kind: 'ecs', key, ref, cluster: CLUSTER });
    expect(run()).toMatchObject({ status: 'timed_out', long: { stop: false } });
    expect(run()).not.toHaveProperty('watchAt');
    // Counted and announced once.
    expect(w.metrics.endedRuns).toHaveLength(1);
    expect(w.notifier.failures).toHaveLength(1);
    w.clock.set(at('10:30:00'));
    expect(await sweep(w)).toMatchObject({ looked: 0 });
    expect(w.long.targets.stops).toHaveLength(2);
  });

  it('retries an attempt that timed out, per the policy', async () => {
    const { w, job, runId, run, ref } = await started({
      target: ecs({ runTimeoutSeconds: 600 }),
      retryPolicy: retries(2),
    });

    w.clock.set(at('10:10:02'));
    await sweep(w);

    expect(run()).toMatchObject({
      status: 'queued',
      attempt: 1,
      nextAttemptAt: at('10:10:17'),
      attempts: [{ attempt: 1, status: 'timed_out', error: { type: 'timeout' } }],
    });
    expect(w.long.targets.stops.map((s) => s.handle.ref)).toEqual([ref]);
    expect(w.queue.takeOne()).toMatchObject({
      trigger: 'retry',
      runId,
      attempt: 2,
      notBefore: at('10:10:17'),
    });
    expect(w.notifier.failures).toEqual([]);
    expect(w.runs.lockOf(TENANT, job.id).holder).toBe(runId);
  });

  it('whose stop failed at the deadline still stops that task when the retry starts before the next look', async () => {
    const { w, run, ref } = await started({
      target: ecs({ runTimeoutSeconds: 600 }),
      retryPolicy: retries(2),
    });
    w.long.targets.failStops(1);
    w.clock.set(at('10:10:02'));
    await sweep(w);
    expect(run()).toMatchObject({ status: 'queued', long: { ref, stop: true }, watchAt: at('10:11:02') });

    // The retry (15s later) comes before the sweep's next try at the stop (60s later).
    const retry = w.queue.takeOne();
    w.clock.set(retry.notBefore!);
    expect(await executeFiring(w.deps, retry)).toMatchObject({ detail: 'started' });
    for (let minute = 1; minute <= 5; minute++) {
      w.clock.set(plus(retry.notBefore!, minute * MINUTE));
      await sweep(w);
    }

    expect(run()).toMatchObject({ status: 'running', attempt: 2 });
    // Attempt 1's task, which outlived its deadline, is stopped in the end: tried, then tried again.
    expect(w.long.targets.stops.map((s) => s.handle.ref)).toEqual([ref, ref]);
  });

  it('ends it timed out when its heartbeats stop, and not while they come', async () => {
    const { w, run } = await started({ target: callback({ heartbeatTimeoutSeconds: 120 }) });
    const token = tokenOf(w);
    expect(run().watchAt).toBe(at('10:02:02'));

    w.clock.set(at('10:01:00'));
    await recordHeartbeat(callbackDeps(w), token, { progress: 0.25, message: 'rows 1000' });
    w.clock.set(at('10:02:02'));
    await sweep(w);
    // Not late: the last heartbeat moved the check.
    expect(run()).toMatchObject({ status: 'running', watchAt: at('10:03:00'), heartbeatAt: at('10:01:00') });

    w.clock.set(at('10:03:00'));
    await sweep(w);
    expect(run()).toMatchObject({
      status: 'timed_out',
      error: { type: 'timeout', message: 'no heartbeat for 120s' },
      progress: 0.25,
      progressMessage: 'rows 1000',
    });
    // A callback target has no task to stop.
    expect(w.long.targets.stops).toEqual([]);
    expect(w.notifier.failures).toHaveLength(1);
  });

  it('of an ECS task heartbeating through its callback URL: the heartbeats keep it alive', async () => {
    const { w, run } = await started({ target: ecs({ heartbeatTimeoutSeconds: 90 }) });
    const token = tokenOf(w);
    // The heartbeat check comes before the first poll.
    expect(run().watchAt).toBe(at('10:01:02'));
    for (const time of ['10:01:00', '10:02:00', '10:03:00', '10:04:00']) {
      w.clock.set(at(time));
      await recordHeartbeat(callbackDeps(w), token, { message: `at ${time}` });
      await sweep(w);
      expect(run().status, time).toBe('running');
    }
    w.clock.set(at('10:05:30'));
    await sweep(w);
    expect(run()).toMatchObject({ status: 'timed_out', error: { message: 'no heartbeat for 90s' } });
    expect(w.long.targets.stops).toHaveLength(1);
  });

  it('settles it when a poll finds its task ended (the event was lost)', async () => {
    const { w, key, run, ref } = await started();
    w.long.targets.end(ref!, exitOutcome(3, ref!));

    w.clock.set(at('10:00:30'));
    expect(await sweep(w)).toMatchObject({ looked: 0 });
    w.clock.set(at('10:01:02'));
    expect(await sweep(w)).toMatchObject({ looked: 1 });

    expect(w.long.targets.describes).toEqual([{ kind: 'ecs', key, ref, cluster: CLUSTER }]);
    expect(run()).toMatchObject({
      status: 'failed',
      result: { exitCode: 3, taskArn: ref },
      error: { type: 'exit_code' },
    });
    expect(run()).not.toHaveProperty('watchAt');
  });

  it('polls a task still running a few times, backing off, whatever the run length, then ends it at its deadline', async () => {
    const { w, run, ref } = await started({ target: ecs({ runTimeoutSeconds: 86_400 }) });

    // The sweep runs every minute for a day and a bit.
    const looks: string[] = [];
    for (let minute = 1; minute <= 25 * 60; minute++) {
      w.clock.set(plus(at('10:00:00'), minute * MINUTE));
      const { looked } = await sweep(w);
      if (looked > 0) looks.push(w.clock.now().toISOString());
      if (run().status !== 'running') break;
    }

    expect(w.long.targets.describes).toHaveLength(POLL_OFFSETS_SECONDS.length);
    expect(w.long.targets.describes.every((h) => h.ref === ref)).toBe(true);
    expect(run()).toMatchObject({
      status: 'timed_out',
      long: { polls: POLL_OFFSETS_SECONDS.length },
      // The sweep after the deadline, a day after the start.
      finishedAt: '2027-03-02T10:01:00.000Z',
    });
    // One look per poll, and the deadline: the sweep's cost per attempt is bounded.
    expect(looks).toHaveLength(POLL_OFFSETS_SECONDS.length + 1);
    expect(w.long.targets.stops).toHaveLength(1);
    expect(w.long.targets.starts).toHaveLength(1);
  });

  it('looks at every due run in one sweep, page after page, when more are due than a page holds', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob({ target: ecs(), overlapPolicy: 'allow' }));
    w.clock.set(at('10:00:02'));
    for (let i = 0; i < 25; i++) {
      await executeFiring(w.deps, firing.manual(job, `run_20270301T100000000Z_m${i}`, w.clock.now()));
    }
    // Every first poll falls due at once; a page holds 2 here (each shard has several due).
    w.clock.set(at('10:01:30'));
    const result = await sweepWatches(w.deps, { shards: WATCH_SHARDS, limit: 2 });
    expect(result).toMatchObject({ looked: 25, failed: 0 });
    expect(w.long.targets.describes).toHaveLength(25);
    // Each moved on to its next poll: the next minute's sweep has nothing to do.
    w.clock.set(at('10:02:30'));
    expect(await sweepWatches(w.deps, { shards: WATCH_SHARDS, limit: 2 })).toMatchObject({ looked: 0 });
  });

  it('counts the runs a late sweep finds past their deadline as overdue', async () => {
    const { w, run } = await started({ target: ecs({ runTimeoutSeconds: 600 }) });

    w.clock.set(at('10:15:00'));
    expect(await sweep(w)).toEqual({ looked: 1, overdue: 1, failed: 0 });
    expect(w.metrics.overdueCounts).toEqual([1]);
    expect(run().status).toBe('timed_out');
  });

  it('settles a reported outcome when the settle message is lost', async () => {
    const { w, job, runId, run } = await started({ target: callback() });

    w.clock.set(at('10:30:00'));
    await reportOutcome(callbackDeps(w), tokenOf(w), { status: 'succeeded', output: { rows: 3 } });
    expect(run()).toMatchObject({
      status: 'running',
      reported: { status: 'succeeded', output: { rows: 3 } },
      watchAt: at('10:30:00'),
    });
    const settleMessage = w.queue.takeOne();
    expect(settleMessage).toEqual(
      firing.settle({ tenantId: TENANT, jobId: job.id, id: runId, scheduledAt: at('10:00:00'), attempt: 1 }),
    );

    // The message is lost; the next sweep finds the report due.
    w.clock.set(at('10:31:00'));
    expect(await sweep(w)).toMatchObject({ looked: 1, failed: 0 });
    expect(run()).toMatchObject({
      status: 'succeeded',
      output: { rows: 3 },
      finishedAt: at('10:31:00'),
      durationMs: 30 * MINUTE + 58 * SECOND,
    });
    expect(run()).not.toHaveProperty('reported');
    expect(run()).not.toHaveProperty('watchAt');
    expect(w.runs.lockOf(TENANT, job.id)).toEqual({});

    // The message turns up after all: nothing more.
    expect(await executeFiring(w.deps, settleMessage)).toMatchObject({ detail: 'not watched' });
    expect(w.metrics.endedRuns).toHaveLength(1);
  });

  it('settles a reported failure through the settle message, with a retry when attempts are left', async () => {
    const { w, job, runId, run } = await started({ target: callback(), retryPolicy: retries(2) });

    w.clock.set(at('10:30:00'));
    await reportOutcome(callbackDeps(w), tokenOf(w), { status: 'failed', error: { message: 'bad rows' } });
    expect(await executeFiring(w.deps, w.queue.takeOne())).toMatchObject({ detail: 'retry scheduled' });
    expect(run()).toMatchObject({
      status: 'queued',
      error: { type: 'callback', message: 'bad rows' },
      attempts: [{ status: 'failed', error: { type: 'callback', message: 'bad rows' } }],
    });
    const retry = w.queue.takeOne();
    expect(retry).toMatchObject({ trigger: 'retry', runId, attempt: 2 });
    w.clock.set(retry.notBefore!);
    expect(await executeFiring(w.deps, retry)).toMatchObject({ detail: 'started' });
    expect(w.long.targets.starts.at(-1)!.context).toMatchObject({
      attempt: 2,
      attemptKey: keyOf(job, runId, 2),
    });
    expect(tokenOf(w, -1)).not.toBe(tokenOf(w, 0));
  });

  it('settles a callback that came before the start was recorded', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob({ target: callback(), overlapPolicy: 'skip' }));
    // The target answers its call only after it has called back (a fast import).
    w.long.targets.willStart(async ({ context }) => {
      const token = context.callbackUrl.split('/v1/callbacks/')[1]!;
      await reportOutcome(callbackDeps(w), token, { status: 'succeeded', output: ['fast'] });
      return { kind: 'started', ref: null, result: { statusCode: 202, bodyExcerpt: 'accepted' } };
    });
    w.clock.set(at('10:00:02'));

    expect(await executeFiring(w.deps, fired(job, '10:00:00'))).toMatchObject({ detail: 'succeeded' });
    const runId = runIdAt('10:00:00');
    expect(w.runs.peek(TENANT, job.id, runId)).toMatchObject({ status: 'succeeded', output: ['fast'] });
    expect(w.runs.peek(TENANT, job.id, runId)).not.toHaveProperty('watchAt');
    expect(w.runs.lockOf(TENANT, job.id)).toEqual({});
    // The settle message the callback sent finds it settled.
    expect(await executeFiring(w.deps, w.queue.takeOne())).toMatchObject({ detail: 'not watched' });
    expect(w.metrics.endedRuns).toHaveLength(1);
  });
});

describe('a fast outcome racing the record of the start', () => {
  it('frees the lock when the run was settled before its start was recorded (the settle message won)', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob({ target: callback(), overlapPolicy: 'skip' }));
    // The target calls back before it answers, and the settle message is worked first.
    w.long.targets.willStart(async ({ context }) => {
      const token = context.callbackUrl.split('/v1/callbacks/')[1]!;
      await reportOutcome(callbackDeps(w), token, { status: 'succeeded' });
      expect(await executeFiring(w.deps, w.queue.takeOne())).toMatchObject({ detail: 'succeeded' });
      return { kind: 'started', ref: null, result: { statusCode: 202, bodyExcerpt: 'accepted' } };
    });
    w.clock.set(at('10:00:02'));
    expect(await executeFiring(w.deps, fired(job, '10:00:00'))).toMatchObject({ detail: 'claim lost' });
    expect(w.runs.peek(TENANT, job.id, runIdAt('10:00:00'))).toMatchObject({ status: 'succeeded' });
    // Not held to the deadline by a run that has ended: the next firing runs.
    expect(w.runs.lockOf(TENANT, job.id)).toEqual({});
  });

  it('settles at once an event that came as the start was being recorded', async () => {
    const { w, job, runId, key, run, ref } = await started();
    const recorded = run();
    // The completion function read the run just before the worker recorded the start.
    const stale = { ...recorded };
    delete stale.long;
    let reads = 0;
    const runs = Object.assign(Object.create(w.runs), {
      get: async (...args: Parameters<typeof w.runs.get>) => (reads++ === 0 ? stale : w.runs.get(...args)),
    });
    const deps = { ...w.deps, runs };
    expect(
      await completeFromEvent(deps, key, succeededOutcome({ exitCode: 0, taskArn: ref! })),
    ).toMatchObject({
      detail: 'succeeded',
    });
    expect(w.runs.peek(TENANT, job.id, runId)).toMatchObject({
      status: 'succeeded',
      result: { exitCode: 0 },
    });
    expect(w.runs.peek(TENANT, job.id, runId)).not.toHaveProperty('watchAt');
  });
});

describe('a worker that stopped between starting an attempt and recording it', () => {
  it('is resumed on the same attempt: the start is made with the same key and finds its task', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob({ target: ecs(), overlapPolicy: 'skip', retryPolicy: retries(3) }));
    const runId = runIdAt('10:00:00');
    const key = keyOf(job, runId);
    w.long.targets.holdStart();
    w.clock.set(at('10:00:02'));
    void executeFiring(w.deps, fired(job, '10:00:00'));
    await until(() => w.long.targets.held.length === 1);
    // RunTask went through; the worker never recorded it (its Lambda timed out).
    expect(w.long.targets.tasks).toEqual([key]);
    expect(w.runs.peek(TENANT, job.id, runId)).toMatchObject({
      status: 'running',
      leaseUntil: at('10:01:02'),
    });
    expect(w.runs.peek(TENANT, job.id, runId)).not.toHaveProperty('long');

    // The message comes back once the lease has run out.
    w.clock.set(at('10:01:03'));
    expect(await executeFiring(w.deps, fired(job, '10:00:00'))).toMatchObject({ detail: 'started' });

    expect(w.long.targets.starts.map((s) => s.context.attemptKey)).toEqual([key, key]);
    expect(w.long.targets.tasks).toEqual([key]);
    expect(w.runs.peek(TENANT, job.id, runId)).toMatchObject({
      status: 'running',
      attempt: 1,
      attempts: [],
      long: { key, ref: w.long.targets.refOf(key) },
      watchAt: at('10:02:03'),
    });
    // Its event settles it.
    await completeFromEvent(w.deps, key, succeededOutcome());
    expect(w.runs.peek(TENANT, job.id, runId)!.status).toBe('succeeded');
  });

  it('is resumed on the same attempt for a retry too: one task for attempt 2, none for a third', async () => {
    const { w, job, runId, key, run, ref } = await started({ retryPolicy: retries(3) });
    w.clock.set(at('10:10:02'));
    await completeFromEvent(w.deps, key, exitOutcome(1, ref!));
    const retry = w.queue.takeOne();
    const key2 = keyOf(job, runId, 2);

    w.long.targets.holdStart();
    w.clock.set(retry.notBefore!);
    void executeFiring(w.deps, retry);
    await until(() => w.long.targets.held.length === 1);
    expect(w.long.targets.tasks).toEqual([key, key2]);

    // The retry's message comes back once the lease has run out.
    w.clock.set(plus(retry.notBefore!, 61 * SECOND));
    await executeFiring(w.deps, retry);

    expect(w.long.targets.starts.map((s) => s.context.attemptKey)).toEqual([key, key2, key2]);
    expect(w.long.targets.tasks).toEqual([key, key2]);
    expect(run()).toMatchObject({ status: 'running', attempt: 2, long: { key: key2 } });
    expect(run().attempts).toHaveLength(1);
  });
});

describe('cancel', () => {
  it('ends a queued run at once; it is counted once, and its firing then runs nothing', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob({ target: ecs() }));
    const runId = `${runIdAt('10:00:00')}_mabc`;
    await w.queue.send('default', firing.manual(job, runId, new Date(at('10:00:00'))));
    await w.runs.putQueued(
      newRun({
        id: runId,
        jobId: job.id,
        tenantId: TENANT,
        scheduledAt: at('10:00:00'),
        trigger: 'manual',
        status: 'queued',
        attempt: 0,
      }),
      new Date(at('10:00:00')),
    );
    w.clock.set(at('10:00:01'));

    const cancelled = await cancelRun(cancelDeps(w), job, runId, 'key_ops');

    expect(cancelled).toMatchObject({
      status: 'cancelled',
      cancelledBy: 'key_ops',
      finishedAt: at('10:00:01'),
      error: { type: 'cancelled', message: 'cancelled by key_ops' },
      attempts: [],
    });
    expect(w.runs.peek(TENANT, job.id, runId)).toMatchObject({ status: 'cancelled', cancelledBy: 'key_ops' });
    for (const message of w.queue.take()) await executeFiring(w.deps, message);
    expect(w.long.targets.starts).toEqual([]);
    expect(w.target.calls).toEqual([]);
    expect(w.metrics.endedCounts).toEqual({ cancelled: 1 });
    expect(w.notifier.failures).toEqual([]);
    expect(w.runs.peek(TENANT, job.id, runId)).not.toHaveProperty('watchAt');
    expect(await failure(cancelRun(cancelDeps(w), job, runId, 'key_ops'))).toBeInstanceOf(ConflictError);
  });

  it('ends a long run at once; its task is stopped after, it is counted once, and it is not retried', async () => {
    const { w, job, key, runId, run, ref } = await started({ retryPolicy: retries(3) });

    w.clock.set(at('10:10:02'));
    const cancelled = await cancelRun(cancelDeps(w), job, runId, 'user_ann');

    expect(cancelled).toMatchObject({
      status: 'cancelled',
      cancelledBy: 'user_ann',
      attempt: 1,
      attempts: [{ attempt: 1, status: 'cancelled', durationMs: 10 * MINUTE, error: { type: 'cancelled' } }],
      long: { key, ref, stop: true },
    });
    // The next run need not wait for it.
    expect(w.runs.lockOf(TENANT, job.id)).toEqual({});
    // Stopping the task follows the answer.
    expect(w.long.targets.stops).toEqual([]);

    const settleMessage = w.queue.takeOne();
    expect(settleMessage).toMatchObject({ trigger: 'settle', runId, attempt: 1 });
    expect(await executeFiring(w.deps, settleMessage)).toMatchObject({ detail: 'cancelled: watch closed' });
    expect(w.long.targets.stops).toEqual([
      { handle: { kind: 'ecs', key, ref, cluster: CLUSTER }, reason: 'Sundial: run cancelled' },
    ]);
    // The stopped task's event, the message again, the sweep: nothing more.
    expect(await completeFromEvent(w.deps, key, exitOutcome(137, ref!))).toMatchObject({
      detail: 'duplicate or stale event',
    });
    expect(await executeFiring(w.deps, settleMessage)).toMatchObject({ detail: 'not watched' });
    w.clock.set(at('12:00:00'));
    expect(await sweep(w)).toMatchObject({ looked: 0 });
    expect(run()).toMatchObject({ status: 'cancelled', long: { stop: false } });
    expect(w.metrics.endedCounts).toEqual({ cancelled: 1 });
    expect(w.notifier.failures).toEqual([]);
    expect(w.queue.size).toBe(0);
    expect(w.long.targets.stops).toHaveLength(1);
  });

  it("of a long run finished by its task's event when that comes before the settle message, counted once", async () => {
    const { w, job, key, runId, ref } = await started();
    w.clock.set(at('10:10:02'));
    await cancelRun(cancelDeps(w), job, runId, 'user_ann');

    expect(await completeFromEvent(w.deps, key, exitOutcome(137, ref!))).toMatchObject({
      detail: 'cancelled: watch closed',
    });
    expect(await executeFiring(w.deps, w.queue.takeOne())).toMatchObject({ detail: 'not watched' });
    expect(w.long.targets.stops).toHaveLength(1);
    expect(w.metrics.endedCounts).toEqual({ cancelled: 1 });
  });

  it('of a callback run answers a later callback and heartbeat with 409', async () => {
    const { w, job, runId } = await started({ target: callback() });
    const token = tokenOf(w);
    await cancelRun(cancelDeps(w), job, runId, 'user_ann');

    expect(await failure(reportOutcome(callbackDeps(w), token, { status: 'succeeded' }))).toBeInstanceOf(
      ConflictError,
    );
    expect(await failure(recordHeartbeat(callbackDeps(w), token, { progress: 0.9 }))).toBeInstanceOf(
      ConflictError,
    );
    await executeFiring(w.deps, w.queue.takeOne());
    expect(await failure(reportOutcome(callbackDeps(w), token, { status: 'succeeded' }))).toBeInstanceOf(
      ConflictError,
    );
    // No task to stop.
    expect(w.long.targets.stops).toEqual([]);
    expect(w.metrics.endedCounts).toEqual({ cancelled: 1 });
  });

  it('of a long run waiting for its retry ends it; the retry then runs nothing', async () => {
    const { w, job, key, runId, run, ref } = await started({ retryPolicy: retries(3) });
    w.clock.set(at('10:10:02'));
    await completeFromEvent(w.deps, key, exitOutcome(1, ref!));
    const retry = w.queue.takeOne();

    w.clock.set(at('10:10:05'));
    expect(await cancelRun(cancelDeps(w), job, runId, 'user_ann')).toMatchObject({
      status: 'cancelled',
      nextAttemptAt: null,
      attempts: [{ status: 'failed' }],
    });
    expect(w.runs.lockOf(TENANT, job.id)).toEqual({});
    await executeFiring(w.deps, w.queue.takeOne());
    w.clock.set(retry.notBefore!);
    expect(await executeFiring(w.deps, retry)).toMatchObject({ detail: 'duplicate' });
    expect(w.long.targets.tasks).toEqual([key]);
    // Its task had ended: nothing to stop.
    expect(w.long.targets.stops).toEqual([]);
    expect(run()).toMatchObject({ status: 'cancelled', attempt: 1 });
    expect(w.runs.lockOf(TENANT, job.id)).toEqual({});
    expect(w.metrics.endedCounts).toEqual({ cancelled: 1 });
  });

  it("while an attempt's start is in flight is refused, or stops that attempt's task: never an orphan", async () => {
    // The first attempt: refused (the start is in flight, its outcome not yet recorded).
    const w1 = workerWorld();
    const job1 = w1.jobs.seed(aJob({ target: ecs(), overlapPolicy: 'skip' }));
    w1.long.targets.holdStart();
    void executeFiring(w1.deps, fired(job1, '10:00:00'));
    await until(() => w1.long.targets.held.length === 1);
    expect(await failure(cancelRun(cancelDeps(w1), job1, runIdAt('10:00:00'), 'user_ann'))).toBeInstanceOf(
      ConflictError,
    );

    // A retry's attempt, in the same place.
    const { w, job, runId, key, ref } = await started({ retryPolicy: retries(3) });
    w.clock.set(at('10:10:02'));
    await completeFromEvent(w.deps, key, exitOutcome(1, ref!));
    const retry = w.queue.takeOne();
    const key2 = keyOf(job, runId, 2);
    w.long.targets.holdStart();
    w.clock.set(retry.notBefore!);
    void executeFiring(w.deps, retry);
    await until(() => w.long.targets.held.length === 1);

    const refused = await cancelRun(cancelDeps(w), job, runId, 'user_ann').then(
      () => null,
      (error: Error) => error,
    );
    if (refused === null) {
      // Cancelled: the task of attempt 2 (started, not yet recorded) must be the one stopped.
      for (const message of w.queue.take()) await executeFiring(w.deps, message);
      expect(w.long.targets.stops.map((s) => s.handle.ref)).toContain(w.long.targets.refOf(key2));
    } else {
      expect(refused).toBeInstanceOf(ConflictError);
    }
  });

  it('refuses a synchronous run in flight: it ends within its timeout', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob());
    w.target.hold();
    w.clock.set(at('10:00:02'));
    const pending = executeFiring(w.deps, fired(job, '10:00:00'));
    await until(() => w.target.held.length === 1);
    const runId = runIdAt('10:00:00');

    const error = await failure(cancelRun(cancelDeps(w), job, runId, 'user_ann'));
    expect(error).toBeInstanceOf(ConflictError);
    expect(error.message).toMatch(/synchronous call in flight/);
    expect(w.runs.peek(TENANT, job.id, runId)!.status).toBe('running');

    w.target.held[0]!.answer(outcomes.ok());
    expect(await pending).toMatchObject({ detail: 'succeeded' });
  });

  it('of a run that does not exist is not found, and of an ended run a conflict', async () => {
    const { w, job, key, runId } = await started();
    expect(await failure(cancelRun(cancelDeps(w), job, 'run_missing', 'user_ann'))).toBeInstanceOf(
      NotFoundError,
    );
    await completeFromEvent(w.deps, key, succeededOutcome());
    expect(await failure(cancelRun(cancelDeps(w), job, runId, 'user_ann'))).toBeInstanceOf(ConflictError);
  });
});

describe('callbacks', () => {
  it('refuse a token Sundial never made, and a forged one, with 404', async () => {
    const { w, run } = await started({ target: callback() });
    const before = run();
    const real = parseCallbackToken(tokenOf(w))!;
    const otherKey = await new InMemoryFiringSigner('another deployment').sign(callbackIdentity(real.ids));
    const forged = [
      'not-a-token',
      '',
      `${tokenOf(w)}x`,
      // The same MAC over another tenant's (or run's, or attempt's) ids.
      formatCallbackToken({ ...real.ids, tenantId: 'globex' }, real.mac),
      formatCallbackToken({ ...real.ids, runId: 'run_other' }, real.mac),
      formatCallbackToken({ ...real.ids, attempt: 2 }, real.mac),
      formatCallbackToken(real.ids, otherKey.mac),
      formatCallbackToken(real.ids, 'A'.repeat(43)),
    ];
    for (const token of forged) {
      expect(
        await failure(reportOutcome(callbackDeps(w), token, { status: 'succeeded' })),
        token,
      ).toBeInstanceOf(NotFoundError);
      expect(await failure(recordHeartbeat(callbackDeps(w), token, {})), token).toBeInstanceOf(NotFoundError);
    }
    expect(run()).toEqual(before);
    expect(w.queue.size).toBe(0);
  });

  it("refuse an older attempt's token: 409 while its run waits for the retry, 404 once the next attempt runs", async () => {
    const { w, job, runId, run } = await started({ target: callback(), retryPolicy: retries(2) });
    const first = tokenOf(w);
    await reportOutcome(callbackDeps(w), first, { status: 'failed' });
    await executeFiring(w.deps, w.queue.takeOne());
    expect(run()).toMatchObject({ status: 'queued', attempt: 1 });
    expect(await failure(reportOutcome(callbackDeps(w), first, { status: 'succeeded' }))).toBeInstanceOf(
      ConflictError,
    );

    const retry = w.queue.takeOne();
    w.clock.set(retry.notBefore!);
    await executeFiring(w.deps, retry);
    expect(run()).toMatchObject({ status: 'running', attempt: 2 });
    const before = run();
    expect(await failure(reportOutcome(callbackDeps(w), first, { status: 'succeeded' }))).toBeInstanceOf(
      NotFoundError,
    );
    expect(await failure(recordHeartbeat(callbackDeps(w), first, { progress: 1 }))).toBeInstanceOf(
      NotFoundError,
    );
    expect(run()).toEqual(before);

    // The new attempt's token works.
    await reportOutcome(callbackDeps(w), tokenOf(w), { status: 'succeeded' });
    expect(await executeFiring(w.deps, w.queue.takeOne())).toMatchObject({ detail: 'succeeded' });
    expect(w.runs.peek(TENANT, job.id, runId)!.attempts.map((a) => a.status)).toEqual([
      'failed',
      'succeeded',
    ]);
  });

  it('answer 409 once the run has ended, or its outcome was reported', async () => {
    const { w, run } = await started({ target: callback() });
    const token = tokenOf(w);
    await reportOutcome(callbackDeps(w), token, { status: 'succeeded' });
    // Reported, not yet settled: a second report or a heartbeat is too late.
    expect(await failure(reportOutcome(callbackDeps(w), token, { status: 'failed' }))).toBeInstanceOf(
      ConflictError,
    );
    expect(await failure(recordHeartbeat(callbackDeps(w), token, {}))).toBeInstanceOf(ConflictError);
    await executeFiring(w.deps, w.queue.takeOne());
    expect(run().status).toBe('succeeded');
    const ended = run();
    expect(await failure(reportOutcome(callbackDeps(w), token, { status: 'failed' }))).toBeInstanceOf(
      ConflictError,
    );
    expect(await failure(recordHeartbeat(callbackDeps(w), token, { progress: 1 }))).toBeInstanceOf(
      ConflictError,
    );
    expect(run()).toEqual(ended);
    expect(w.queue.size).toBe(0);
  });

  it('record a heartbeat: when, how far, and what it said, keeping what a later beat leaves out', async () => {
    const { w, run } = await started({ target: callback() });
    const token = tokenOf(w);

    w.clock.set(at('10:05:00'));
    await recordHeartbeat(callbackDeps(w), token, { progress: 0.5, message: 'half way' });
    expect(run()).toMatchObject({ heartbeatAt: at('10:05:00'), progress: 0.5, progressMessage: 'half way' });
    w.clock.set(at('10:06:00'));
    await recordHeartbeat(callbackDeps(w), token, { progress: 0.75 });
    expect(run()).toMatchObject({
      status: 'running',
      heartbeatAt: at('10:06:00'),
      progress: 0.75,
      progressMessage: 'half way',
    });
    w.clock.set(at('10:07:00'));
    await recordHeartbeat(callbackDeps(w), token, {});
    expect(run()).toMatchObject({ heartbeatAt: at('10:07:00'), progress: 0.75 });
    // A heartbeat settles nothing.
    expect(w.queue.size).toBe(0);
  });

  it('refuse an outcome for an ECS task (its exit is its outcome), and take its heartbeats', async () => {
    const { w, run } = await started();
    const token = tokenOf(w);
    const error = await failure(reportOutcome(callbackDeps(w), token, { status: 'succeeded' }));
    expect(error).toBeInstanceOf(ConflictError);
    expect(error.message).toMatch(/ECS task stops/);
    expect(run()).not.toHaveProperty('reported');
    w.clock.set(at('10:03:00'));
    await recordHeartbeat(callbackDeps(w), token, { progress: 0.1 });
    expect(run()).toMatchObject({ status: 'running', heartbeatAt: at('10:03:00'), progress: 0.1 });
  });

  it('come from the base URL the worker was given', async () => {
    const { w } = await started({ target: callback() });
    expect(
      w.long.targets.starts[0]!.context.callbackUrl.startsWith(`${CALLBACK_BASE_URL}/v1/callbacks/`),
    ).toBe(true);
  });
});

describe('backfill', () => {
  const range = (from: string, to: string, extra: { maxRuns?: number } = {}) =>
    backfillBody.parse({ from: at(from), to: at(to), ...extra });
  const deps = (w: WorkerWorld) => ({ runs: w.runs, queue: w.queue, clock: w.clock });
  const times = ['09:00:00', '09:05:00', '09:10:00'];

  it('runs every occurrence in [from, to) with its own identity, once however often it is asked', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob({ createdAt: at('08:00:00') }));

    expect(await backfill(deps(w), job, range('09:00:00', '09:15:00'), 'req-1')).toEqual({
      runs: 3,
      occurrences: 3,
    });

    expect(w.runs.of(TENANT, job.id)).toMatchObject(
      times.map((t) => ({
        id: runIdAt(t),
        scheduledAt: at(t),
        trigger: 'backfill',
        status: 'queued',
        attempt: 0,
      })),
    );
    // overlapPolicy allow: all at once.
    expect(w.queue.peek()).toEqual(
      times.map((t) => ({
        priority: 'default',
        message: firing.backfill(job, new Date(at(t)), { correlationId: 'req-1' }),
      })),
    );
    expect(await backfill(deps(w), job, range('09:00:00', '09:15:00'))).toEqual({ runs: 0, occurrences: 3 });
    expect(w.queue.size).toBe(3);

    // They run as their occurrences, even far past any misfire grace.
    for (const message of w.queue.take()) {
      expect(await executeFiring(w.deps, message)).toMatchObject({ detail: 'succeeded' });
    }
    expect(w.runs.of(TENANT, job.id).map((r) => [r.id, r.trigger, r.status])).toEqual(
      times.map((t) => [runIdAt(t), 'backfill', 'succeeded']),
    );
    expect(w.target.calls.map((c) => c.context.scheduledAt)).toEqual(times.map(at));
    // An occurrence that ran is not run twice.
    expect(await backfill(deps(w), job, range('09:00:00', '09:20:00'))).toEqual({ runs: 1, occurrences: 4 });
  });

  it('is exempt from the misfire grace and the catch-up rule', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob({ createdAt: at('08:00:00'), misfireGraceSeconds: 60, catchUp: 'none' }));
    await backfill(deps(w), job, range('09:00:00', '09:10:00'));
    for (const message of w.queue.take()) {
      expect(await executeFiring(w.deps, message)).toMatchObject({ detail: 'succeeded' });
    }
    expect(w.metrics.endedCounts).toEqual({ succeeded: 2 });
  });

  it('of a job whose runs may not overlap runs them one after another: the next is sent when one ends', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob({ createdAt: at('08:00:00'), target: ecs(), overlapPolicy: 'skip' }));

    expect(await backfill(deps(w), job, range('09:00:00', '09:15:00'))).toEqual({ runs: 3, occurrences: 3 });
    expect(w.runs.of(TENANT, job.id).map((r) => [r.trigger, r.status])).toEqual(
      times.map(() => ['backfill', 'queued']),
    );

    for (const [i, time] of times.entries()) {
      // Only the occurrence whose turn it is was sent.
      const message = w.queue.takeOne();
      expect(message).toEqual(firing.backfill(job, new Date(at(time))));
      expect(await executeFiring(w.deps, message)).toMatchObject({ detail: 'started' });
      expect(w.queue.size, `nothing else is sent while ${time} runs`).toBe(0);
      // A second identical backfill meanwhile sends nothing either.
      expect(await backfill(deps(w), job, range('09:00:00', '09:15:00'))).toEqual({
        runs: 0,
        occurrences: 3,
      });
      expect(w.queue.size).toBe(0);

      w.clock.advance(10 * MINUTE);
      const key = keyOf(job, runIdAt(time));
      expect(await completeFromEvent(w.deps, key, succeededOutcome())).toMatchObject({ detail: 'succeeded' });
      expect(w.queue.size).toBe(i < times.length - 1 ? 1 : 0);
    }
    expect(w.runs.of(TENANT, job.id).map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(w.long.targets.tasks).toHaveLength(3);
  });

  it('of a job whose runs may not overlap passes a cancelled occurrence on to the next', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob({ createdAt: at('08:00:00'), overlapPolicy: 'skip' }));
    await backfill(deps(w), job, range('09:00:00', '09:15:00'));
    const first = w.queue.takeOne();

    // The first is cancelled before it runs; its settle sends the second.
    await cancelRun(cancelDeps(w), job, runIdAt('09:00:00'), 'user_ann');
    await executeFiring(w.deps, w.queue.takeOne());
    expect(w.queue.peek().map((m) => m.message)).toEqual([firing.backfill(job, new Date(at('09:05:00')))]);
    // The first's message, delivered late, runs nothing and sends nothing more.
    expect(await executeFiring(w.deps, first)).toMatchObject({ detail: 'duplicate' });
    expect(w.queue.size).toBe(1);
    expect(await executeFiring(w.deps, w.queue.takeOne())).toMatchObject({ detail: 'succeeded' });
    expect(await executeFiring(w.deps, w.queue.takeOne())).toMatchObject({ detail: 'succeeded' });
    expect(w.queue.size).toBe(0);
    expect(w.runs.of(TENANT, job.id).map((r) => r.status)).toEqual(['cancelled', 'succeeded', 'succeeded']);
  });

  it('refuses a range holding more occurrences than maxRuns, naming maxRuns, and writes nothing', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob({ createdAt: at('08:00:00') }));
    const error = await failure(backfill(deps(w), job, range('09:00:00', '09:15:00', { maxRuns: 2 })));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).errors).toEqual([
      { field: 'maxRuns', message: expect.stringContaining('3 occurrences, more than maxRuns (2)') },
    ]);
    expect(w.runs.of(TENANT, job.id)).toEqual([]);
    expect(w.queue.size).toBe(0);
    expect(await backfill(deps(w), job, range('09:00:00', '09:15:00', { maxRuns: 3 }))).toMatchObject({
      runs: 3,
    });
  });

  it("refuses a paused job's backfill with a conflict, and writes nothing", async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob({ createdAt: at('08:00:00'), state: 'paused', overlapPolicy: 'skip' }));
    expect(await failure(backfill(deps(w), job, range('09:00:00', '09:15:00')))).toBeInstanceOf(
      ConflictError,
    );
    expect(w.runs.of(TENANT, job.id)).toEqual([]);
    expect(w.runs.backfillOf(TENANT, job.id)).toEqual({});
    expect(w.queue.size).toBe(0);
  });
});

describe('watchRun', () => {
  it('leaves a run that is not watched alone', async () => {
    const w = workerWorld();
    const job = w.jobs.seed(aJob());
    await executeFiring(w.deps, fired(job, '10:00:00'));
    const ids = { tenantId: TENANT, jobId: job.id, runId: runIdAt('10:00:00') };
    expect(await watchRun(w.deps, ids)).toMatchObject({ detail: 'not watched' });
    expect(await watchRun(w.deps, { ...ids, runId: 'run_missing' })).toMatchObject({ detail: 'not watched' });
  });
});
