/**
 * The reconciler on the local runtime under a manual clock: real DynamoDB Local and the
 * Scheduler emulator, whose ListSchedules gives each schedule's LastModificationDate as
 * AWS does. Hand edits are made through the Scheduler API, as an operator would.
 */
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createReconcileHandler } from '../../functions/handlers/reconcile.js';
import { LOCAL_SCHEDULE_GROUP, type LocalRuntime } from '../../local/runtime.js';
import type { ApiClient, Job } from '../support/api.js';
import { MINUTE, TestClock } from '../support/clock.js';
import { getSchedule, type ManualSuite, settleFile, settleTest, startManualSuite } from './support.js';

const clock = new TestClock();
let suite: ManualSuite;
let runtime: LocalRuntime;
let api: ApiClient;
/** Scheduler calls by command name, counted on the runtime's own client. */
const counted = new Map<string, number>();
const count = (command: string) => counted.get(command) ?? 0;

beforeAll(async () => {
  // Time stands still within a test: lift the per-second request limit, which would count every call.
  suite = await startManualSuite(clock, {
    limits: { requestsPerSecond: 100_000, jobCreatesPerMinute: 100_000 },
  });
  ({ runtime, api } = suite);
  runtime.clients.scheduler.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName);
      counted.set(name, (counted.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countSchedulerCalls' },
  );
});
beforeEach(() => {
  clock.fresh();
});
afterEach(() => settleTest(suite));
afterAll(() => settleFile(suite));

async function createJobs(n: number, prefix: string): Promise<Job[]> {
  const jobs: Job[] = [];
  for (let i = 0; i < n; i++) {
    const res = await api<Job>('POST', '/v1/jobs', {
      name: `${prefix}-${i}`,
      schedule: { expression: 'rate(1 hour)' },
      target: { type: 'http', url: 'http://127.0.0.1:8009/never-called' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    jobs.push(res.body);
  }
  return jobs;
}

const schedule = (name: string) => getSchedule(runtime, name);

/** Changes a schedule the way the console does: read it, write it back with one field changed. */
async function editByHand(name: string, change: Record<string, unknown>) {
  const current = await schedule(name);
  await runtime.clients.scheduler.send(
    new UpdateScheduleCommand({
      ...current,
      Name: name,
      GroupName: LOCAL_SCHEDULE_GROUP,
      ScheduleExpression: current.ScheduleExpression!,
      FlexibleTimeWindow: current.FlexibleTimeWindow!,
      Target: current.Target!,
      ...change,
    }),
  );
}

/** Runs the reconciler, counting the GetSchedule calls it makes on the wire. */
async function reconcile() {
  const before = count('GetScheduleCommand');
  const report = await runtime.reconcile();
  expect(count('GetScheduleCommand') - before).toBe(report.getScheduleCalls);
  return report;
}

describe('the reconciler at scale', () => {
  it('checks unchanged jobs from the listing alone: no GetSchedule call', async () => {
    const n = 120; // more than one ListSchedules page
    await createJobs(n, 'unchanged');
    expect(await reconcile()).toMatchObject({
      jobs: n,
      schedules: n,
      listCalls: 2,
      getScheduleCalls: 0,
      missing: 0,
      drifted: 0,
      orphaned: 0,
      failed: 0,
      completed: true,
    });
  });

  it('repairs a schedule edited by hand after Sundial last wrote it, reading only that one', async () => {
    const [edited, disabled, untouched] = await createJobs(3, 'edited');
    expect(await reconcile()).toMatchObject({ getScheduleCalls: 0, drifted: 0 });

    // Later, hands in the console: one expression changed, one schedule disabled.
    clock.advance(10 * MINUTE);
    await editByHand(edited!.id, { ScheduleExpression: 'rate(5 minutes)' });
    await editByHand(disabled!.id, { State: 'DISABLED' });
    const modified = (await schedule(edited!.id)).LastModificationDate!;
    expect(modified.toISOString()).toBe(clock.now().toISOString());

    const report = await reconcile();
    // The disabled one shows in the listing's State; only the edited one is read in full.
    expect(report).toMatchObject({ drifted: 2, getScheduleCalls: 1, failed: 0, completed: true });
    expect((await schedule(edited!.id)).ScheduleExpression).toBe('rate(1 hour)');
    expect((await schedule(disabled!.id)).State).toBe('ENABLED');
    expect((await schedule(untouched!.id)).ScheduleExpression).toBe('rate(1 hour)');

    // Settled: at most one more look at each repaired schedule, then none.
    expect(await reconcile()).toMatchObject({ drifted: 0, missing: 0, orphaned: 0, failed: 0 });
    expect(await reconcile()).toMatchObject({ drifted: 0, getScheduleCalls: 0 });
  });

  it('compares jobs written before scheduleSyncedAt existed in full, once', async () => {
    const jobs = await createJobs(4, 'legacy');
    for (const job of jobs.slice(0, 3)) {
      await runtime.clients.dynamodb.send(
        new UpdateItemCommand({
          TableName: runtime.config.jobsTableName,
          Key: { pk: { S: 'TENANT#dev' }, sk: { S: `JOB#${job.id}` } },
          UpdateExpression: 'REMOVE scheduleSyncedAt',
        }),
      );
    }
    await editByHand(jobs[0]!.id, { ScheduleExpression: 'rate(2 hours)' });
    expect(await reconcile()).toMatchObject({ getScheduleCalls: 3, verified: 2, drifted: 1 });
    expect((await schedule(jobs[0]!.id)).ScheduleExpression).toBe('rate(1 hour)');
    await reconcile();
    expect(await reconcile()).toMatchObject({ getScheduleCalls: 0, drifted: 0 });
  });

  it('stops cleanly at its time budget, says so, and the next run finishes', async () => {
    await createJobs(12, 'budget');
    await runtime.clients.scheduler.send(
      new CreateScheduleCommand({
        Name: 'job_01ORPHANBYHAND',
        GroupName: LOCAL_SCHEDULE_GROUP,
        ScheduleExpression: 'rate(1 hour)',
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: { Arn: runtime.queues.default.arn, RoleArn: runtime.config.schedulerRoleArn },
      }),
    );
    const logged: { message: string; data: Record<string, unknown> }[] = [];
    const record = (message: string, data: Record<string, unknown> = {}) =>
      void logged.push({ message, data });
    const services = runtime.servicesWith({ logger: { info: record, warn: record, error: record } });
    const run = createReconcileHandler(services.reconciler, async () => undefined);

    // A Lambda with 10 minutes left whose clock runs out after the listing and 5 jobs.
    let checks = 0;
    const report = await run({ timeLeftMs: () => (++checks > 6 ? 10_000 : 600_000) });
    expect(report).toMatchObject({
      completed: false,
      stoppedIn: 'jobs',
      jobs: 5,
      schedules: 13,
      orphaned: 0,
    });
    expect(logged.at(-1)?.message).toMatch(/stopped before the end at its time budget/);
    expect(logged.at(-1)?.data).toMatchObject({ completed: false, stoppedIn: 'jobs' });
    // Unsure whether its job exists (the scan did not finish), it left the orphan alone.
    await expect(schedule('job_01ORPHANBYHAND')).resolves.toBeDefined();

    const next = await run({ timeLeftMs: () => 600_000 });
    expect(next).toMatchObject({ completed: true, jobs: 12, orphaned: 1, failed: 0 });
    await expect(schedule('job_01ORPHANBYHAND')).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it('re-creates a schedule deleted by hand', async () => {
    const [job] = await createJobs(1, 'deleted');
    clock.advance(MINUTE);
    await runtime.clients.scheduler.send(
      new DeleteScheduleCommand({ Name: job!.id, GroupName: LOCAL_SCHEDULE_GROUP }),
    );
    expect(await reconcile()).toMatchObject({ missing: 1, getScheduleCalls: 0 });
    expect((await schedule(job!.id)).ScheduleExpression).toBe('rate(1 hour)');
  });
});
