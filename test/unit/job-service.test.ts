/**
 * The job service over the in-memory ports: what a create, an edit, a pause, a resume or a
 * delete leaves in the jobs table and in Scheduler, what it queues, and what it refuses
 * (changing nothing). Plus "run now", which queues a run of its own.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import {
  ConflictError,
  NotFoundError,
  PreconditionFailedError,
  ValidationError,
} from '../../functions/domain/errors.js';
import { firing } from '../../functions/domain/firing.js';
import { firingMessageSchema } from '../../functions/domain/firing-schema.js';
import { scheduledRunId } from '../../functions/domain/run.js';
import { executeFiring } from '../../functions/usecases/execute-firing.js';
import { JobService, toPublicJob } from '../../functions/usecases/jobs.js';
import { runNow } from '../../functions/usecases/run-now.js';
import { ScheduleSync } from '../../functions/usecases/schedule-sync.js';
import { ManualClock } from '../../local/manual-clock.js';
import {
  FailingScheduleWriter,
  FakeTarget,
  HostListUrlPolicy,
  InMemoryJobs,
  InMemoryRuns,
  InMemorySchedules,
  InMemorySecretSealer,
  QUEUE_ARNS,
  RecordingLogger,
  RecordingQueue,
} from '../fakes/in-memory.js';
import { MINUTE, TENANT } from '../fakes/world.js';

const at = (time: string) => `2027-03-01T${time}.000Z`;

let clock: ManualClock;
let jobs: InMemoryJobs;
let schedules: InMemorySchedules;
let writer: FailingScheduleWriter;
let queue: RecordingQueue;
let logger: RecordingLogger;
let service: JobService;
let sync: ScheduleSync;

beforeEach(() => {
  clock = new ManualClock(at('09:00:00'));
  jobs = new InMemoryJobs();
  schedules = new InMemorySchedules({ clock });
  // Scheduler, reachable unless a test takes it down.
  writer = new FailingScheduleWriter(schedules);
  writer.down = false;
  queue = new RecordingQueue();
  logger = new RecordingLogger();
  let n = 0;
  const deps = { jobs, schedules: writer, clock, logger, queue };
  service = new JobService({
    ...deps,
    newJobId: () => `job_${++n}`,
    box: new InMemorySecretSealer(),
    urlGuard: new HostListUrlPolicy(['169.254.169.254']),
  });
  sync = new ScheduleSync(deps);
});

/** What a client sends to create a job: every 15 minutes, an HTTP call. */
function input(overrides: Record<string, unknown> = {}) {
  return {
    name: 'export invoices',
    schedule: { expression: 'cron(0/15 * * * ? *)' },
    target: { type: 'http', url: 'https://billing.example.com/export' },
    ...overrides,
  };
}

async function create(overrides: Record<string, unknown> = {}) {
  return (await service.create(TENANT, input(overrides))).job;
}

/** The error a call throws. */
async function failure(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

describe('creating a job', () => {
  it('stores the job and its schedule, then clears the sync marker', async () => {
    const { job, replayed } = await service.create(TENANT, input());

    expect(replayed).toBe(false);
    const stored = jobs.peek(TENANT, job.id)!;
    expect(stored).toMatchObject({
      id: 'job_1',
      tenantId: TENANT,
      version: 1,
      state: 'enabled',
      nextRunAt: at('09:15:00'),
      scheduleSyncedAt: at('09:00:00'),
    });
    expect(stored).not.toHaveProperty('syncPendingAt');
    expect(schedules.peek('job_1')).toEqual({
      ...(await schedules.desired({ ...stored, schedule: stored.schedule! })),
      modifiedAt: at('09:00:00'),
    });
    expect(schedules.peek('job_1')).toMatchObject({
      expression: 'cron(0/15 * * * ? *)',
      timezone: 'UTC',
      enabled: true,
      targetArn: QUEUE_ARNS.default,
    });
    // The schedule fires the job's message, signed, with Scheduler's time placeholder.
    expect(JSON.parse(schedules.peek('job_1')!.input)).toMatchObject({
      ...firing.scheduleTemplate(stored),
      mac: expect.any(String),
    });
  });

  it('a schedule write that fails leaves the marker, and the sweeper repairs it once the grace has passed', async () => {
    writer.down = true;

    const { job } = await service.create(TENANT, input());

    // The request still succeeds: the job is stored, marked for the sweeper.
    expect(jobs.peek(TENANT, job.id)!.syncPendingAt).toBe(at('09:00:00'));
    expect(schedules.peek(job.id)).toBeUndefined();
    expect(logger.messages('warn')).toContain('schedule sync deferred to the sweeper');

    writer.down = false;
    // Within the grace the marker may belong to a request still in flight: left alone.
    clock.set(at('09:00:30'));
    expect(await sync.sweepSyncPending(60)).toEqual({ repaired: 0, failed: 0 });
    expect(schedules.peek(job.id)).toBeUndefined();

    clock.set(at('09:01:01'));
    expect(await sync.sweepSyncPending(60)).toEqual({ repaired: 1, failed: 0 });
    expect(schedules.peek(job.id)).toMatchObject({ expression: 'cron(0/15 * * * ? *)', enabled: true });
    expect(jobs.peek(TENANT, job.id)).not.toHaveProperty('syncPendingAt');
    expect(jobs.peek(TENANT, job.id)!.scheduleSyncedAt).toBe(at('09:01:01'));
    // Nothing left to repair.
    expect(await sync.sweepSyncPending(60)).toEqual({ repaired: 0, failed: 0 });
  });

  it('a sweep while Scheduler is still down fails, keeps the marker, and a later sweep repairs it', async () => {
    writer.down = true;
    const { job } = await service.create(TENANT, input());
    clock.set(at('09:05:00'));

    expect(await sync.sweepSyncPending(60)).toEqual({ repaired: 0, failed: 1 });
    expect(jobs.peek(TENANT, job.id)!.syncPendingAt).toBe(at('09:00:00'));

    writer.down = false;
    expect(await sync.sweepSyncPending(60)).toEqual({ repaired: 1, failed: 0 });
    expect(schedules.names()).toEqual([job.id]);
  });

  it('replayed with its Idempotency-Key returns the first job and writes nothing more', async () => {
    const first = await service.create(TENANT, input(), 'key-1');
    const again = await service.create(TENANT, input(), 'key-1');

    expect(again.replayed).toBe(true);
    expect(again.job.id).toBe(first.job.id);
    expect(jobs.all()).toHaveLength(1);
    expect(schedules.calls.apply).toBe(1);
  });

  describe('refused when invalid, naming the fields and changing nothing', () => {
    const cases: { name: string; body: Record<string, unknown>; fields: string[] }[] = [
      {
        name: 'fields of the wrong shape, and one unknown',
        body: input({ name: '', target: { type: 'http', url: 'ftp://billing.example.com/' }, colour: 'red' }),
        fields: ['name', 'target.url', 'colour'],
      },
      {
        name: 'an expression and a time zone that do not exist',
        body: input({ schedule: { expression: 'cron(61 * * * ? *)', timezone: 'Mars/Olympus_Mons' } }),
        fields: ['schedule.expression', 'schedule.timezone'],
      },
      {
        name: 'a schedule that never fires again',
        body: input({ schedule: { expression: 'at(2020-01-01T00:00:00)' } }),
        fields: ['schedule.expression'],
      },
      {
        name: 'a retry policy out of range',
        body: input({ retryPolicy: { maxAttempts: 0 } }),
        fields: ['retryPolicy.maxAttempts'],
      },
      {
        name: 'a target at an internal address',
        body: input({ target: { type: 'http', url: 'http://169.254.169.254/latest/meta-data' } }),
        fields: ['target.url'],
      },
      {
        name: 'a dependency that does not exist',
        body: input({ dependsOn: ['job_Nope'] }),
        fields: ['dependsOn.0'],
      },
    ];

    it.each(cases)('$name', async ({ body, fields }) => {
      const error = await failure(service.create(TENANT, body));

      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).errors.map((e) => e.field).sort()).toEqual([...fields].sort());
      expect(jobs.writes).toEqual([]);
      expect(schedules.calls).toEqual({ list: 0, get: 0, apply: 0, remove: 0 });
      expect(queue.size).toBe(0);
    });
  });
});

describe('editing a job', () => {
  it('with the current version: the job and its schedule change together', async () => {
    const job = await create();
    clock.set(at('09:02:00'));

    const updated = await service.update(
      TENANT,
      job.id,
      { schedule: { expression: 'cron(0 * * * ? *)' } },
      1,
    );

    expect(updated.version).toBe(2);
    expect(jobs.peek(TENANT, job.id)).toMatchObject({ version: 2, nextRunAt: at('10:00:00') });
    expect(jobs.peek(TENANT, job.id)).not.toHaveProperty('syncPendingAt');
    expect(schedules.peek(job.id)).toMatchObject({
      expression: 'cron(0 * * * ? *)',
      modifiedAt: at('09:02:00'),
    });
  });

  it('with a stale If-Match is refused with the current version, and nothing changes', async () => {
    const job = await create();
    await service.update(TENANT, job.id, { name: 'renamed by Ann' }, 1);
    const writes = jobs.writes.length;

    const error = await failure(service.update(TENANT, job.id, { name: 'renamed by Bob' }, 1));

    expect(error).toBeInstanceOf(PreconditionFailedError);
    expect((error as PreconditionFailedError).currentVersion).toBe(2);
    expect(jobs.peek(TENANT, job.id)).toMatchObject({ name: 'renamed by Ann', version: 2 });
    expect(jobs.writes).toHaveLength(writes);
  });

  it('with a stale version in the body is refused the same way', async () => {
    const job = await create();
    await service.update(TENANT, job.id, { description: 'first' });

    const error = await failure(service.update(TENANT, job.id, { description: 'second', version: 1 }));

    expect(error).toMatchObject({ name: 'PreconditionFailedError', currentVersion: 2 });
  });

  it('that is invalid names the field and changes nothing', async () => {
    const job = await create();
    const writes = jobs.writes.length;
    const applies = schedules.calls.apply;

    const error = await failure(service.update(TENANT, job.id, { retryPolicy: { maxAttempts: 11 } }, 1));

    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).errors.map((e) => e.field)).toEqual(['retryPolicy.maxAttempts']);
    expect(jobs.peek(TENANT, job.id)!.version).toBe(1);
    expect(jobs.writes).toHaveLength(writes);
    expect(schedules.calls.apply).toBe(applies);
  });

  it('of a job that does not exist is not found', async () => {
    expect(await failure(service.update(TENANT, 'job_Missing', { name: 'x' }))).toBeInstanceOf(NotFoundError);
  });
});

describe('dependencies', () => {
  it('a dependsOn that would close a cycle is refused, naming the field and the cycle', async () => {
    const a = await create({ name: 'extract' });
    const b = await create({ name: 'transform', dependsOn: [a.id] });
    const c = await create({ name: 'load', dependsOn: [b.id] });
    const writes = jobs.writes.length;

    const error = await failure(service.update(TENANT, a.id, { dependsOn: [c.id] }));

    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).errors).toEqual([
      { field: 'dependsOn', message: `would create a cycle: ${a.id} -> ${c.id} -> ${b.id} -> ${a.id}` },
    ]);
    expect(jobs.peek(TENANT, a.id)).toMatchObject({ version: 1, dependsOn: [] });
    expect(jobs.writes).toHaveLength(writes);
  });

  it('a job cannot depend on itself', async () => {
    const a = await create();
    const error = await failure(service.update(TENANT, a.id, { dependsOn: [a.id] }));
    expect((error as ValidationError).errors).toEqual([
      { field: 'dependsOn.0', message: 'a job cannot depend on itself' },
    ]);
  });

  it('a job others depend on cannot be deleted until they stop depending on it', async () => {
    const a = await create({ name: 'extract' });
    const b = await create({ name: 'load', dependsOn: [a.id] });

    const error = await failure(service.delete(TENANT, a.id));

    expect(error).toBeInstanceOf(ConflictError);
    expect((error as Error).message).toContain(b.id);
    expect(jobs.peek(TENANT, a.id)).toMatchObject({ state: 'enabled', version: 1 });
    expect(schedules.peek(a.id)).toBeDefined();

    await service.update(TENANT, b.id, { dependsOn: [] });
    await service.delete(TENANT, a.id);
    expect(jobs.peek(TENANT, a.id)).toBeUndefined();
  });
});

describe('pausing and resuming', () => {
  it("turn the job's schedule off and on", async () => {
    const job = await create();
    clock.set(at('09:01:00'));

    const paused = await service.setState(TENANT, job.id, 'paused');
    expect(paused).toMatchObject({ state: 'paused', nextRunAt: null, pausedAt: at('09:01:00') });
    expect(schedules.peek(job.id)!.enabled).toBe(false);

    clock.set(at('09:20:00'));
    const resumed = await service.setState(TENANT, job.id, 'enabled');
    expect(resumed).toMatchObject({ state: 'enabled', nextRunAt: at('09:30:00'), pausedAt: null });
    expect(schedules.peek(job.id)!.enabled).toBe(true);
    // catchUp none (the default): the occurrences missed while paused are not run.
    expect(queue.size).toBe(0);
  });

  it('keep the reason a pause gives until the job is resumed; a new reason does not move the pause', async () => {
    const job = await create();
    clock.set(at('09:01:00'));
    const paused = await service.setState(TENANT, job.id, 'paused', 'the upstream API is down');
    expect(paused).toMatchObject({ state: 'paused', pausedReason: 'the upstream API is down' });
    expect(toPublicJob(paused, null).pausedReason).toBe('the upstream API is down');

    clock.set(at('09:10:00'));
    const again = await service.setState(TENANT, job.id, 'paused', 'still down: waiting for the vendor');
    // The pause dates from 09:01 (what catch-up counts from); only its reason changed.
    expect(again).toMatchObject({
      pausedAt: at('09:01:00'),
      pausedReason: 'still down: waiting for the vendor',
    });
    // A pause without a reason keeps the one given.
    expect(await service.setState(TENANT, job.id, 'paused')).toMatchObject({
      pausedReason: 'still down: waiting for the vendor',
    });

    const resumed = await service.setState(TENANT, job.id, 'enabled');
    expect(resumed).toMatchObject({ pausedReason: null, pausedAt: null });
    expect(toPublicJob(resumed, null).pausedReason).toBeNull();
  });

  it('pausing a paused job changes nothing', async () => {
    const job = await create();
    await service.setState(TENANT, job.id, 'paused');
    const writes = jobs.writes.length;

    expect(await service.setState(TENANT, job.id, 'paused')).toMatchObject({ version: 2 });
    expect(jobs.writes).toHaveLength(writes);
  });

  it.each([
    { catchUp: 'all', window: 120, missed: ['09:15:00', '09:30:00', '09:45:00', '10:00:00'] },
    { catchUp: 'all', window: 30, missed: ['09:45:00', '10:00:00'] },
    { catchUp: 'latest', window: 120, missed: ['10:00:00'] },
  ])(
    'resuming with catchUp $catchUp (window $window min) queues the occurrences missed: $missed',
    async ({ catchUp, window, missed }) => {
      const job = await create({ catchUp, catchUpWindowMinutes: window, priority: 'high' });
      clock.set(at('09:01:00'));
      await service.setState(TENANT, job.id, 'paused');
      clock.set(at('10:01:00'));

      const resumed = await service.setState(TENANT, job.id, 'enabled');

      const sent = queue.peek();
      expect(sent.map((m) => m.priority)).toEqual(missed.map(() => 'high'));
      // Each names the resumed job's version, so the worker never runs an older copy of it.
      expect(sent.map((m) => m.message)).toEqual(missed.map((t) => firing.catchUp(resumed, new Date(at(t)))));
      expect(sent.map((m) => m.message.jobVersion)).toEqual(missed.map(() => job.version + 2));
      // Each stands for its occurrence: it has that occurrence's run id, so it can never run twice.
      expect(sent.map((m) => m.message.trigger)).toEqual(missed.map(() => 'catch_up'));
    },
  );
});

describe('deleting a job', () => {
  it('removes its schedule, then its row', async () => {
    const job = await create();

    await service.delete(TENANT, job.id);

    expect(schedules.peek(job.id)).toBeUndefined();
    expect(jobs.peek(TENANT, job.id)).toBeUndefined();
    expect(await failure(service.get(TENANT, job.id))).toBeInstanceOf(NotFoundError);
  });

  it('keeps the row (hidden) while the schedule cannot be removed, and the sweeper finishes it', async () => {
    const job = await create();
    writer.down = true;

    await service.delete(TENANT, job.id);

    // The schedule is still there, so the row is too: hidden from the API, marked for the sweeper.
    expect(schedules.peek(job.id)).toBeDefined();
    expect(jobs.peek(TENANT, job.id)).toMatchObject({ state: 'deleting', syncPendingAt: at('09:00:00') });
    expect(await failure(service.get(TENANT, job.id))).toBeInstanceOf(NotFoundError);
    expect((await service.list(TENANT, { limit: 10 })).items).toEqual([]);

    writer.down = false;
    clock.advance(2 * MINUTE);
    expect(await sync.sweepSyncPending(60)).toEqual({ repaired: 1, failed: 0 });
    expect(schedules.peek(job.id)).toBeUndefined();
    expect(jobs.peek(TENANT, job.id)).toBeUndefined();
  });
});

describe('run now', () => {
  it('queues a manual run with its own id and records it queued, never taking the next occurrence', async () => {
    const job = await create({ priority: 'low' });
    const runs = new InMemoryRuns();
    clock.set(at('09:07:00'));

    const first = await runNow({ jobs: service, runs, queue, clock }, TENANT, job.id, 'req-1');
    const second = await runNow({ jobs: service, runs, queue, clock }, TENANT, job.id);

    expect(first.id).toMatch(/^run_20270301T090700000Z_m[0-9a-f]{10}$/);
    expect(second.id).not.toBe(first.id);
    for (const id of [first.id, second.id]) {
      expect(id).not.toBe(scheduledRunId(new Date(at('09:15:00'))));
    }
    expect(queue.peek()).toEqual([
      {
        priority: 'low',
        message: firing.manual(job, first.id, new Date(at('09:07:00')), { correlationId: 'req-1' }),
      },
      { priority: 'low', message: firing.manual(job, second.id, new Date(at('09:07:00'))) },
    ]);
    for (const run of [first, second]) {
      expect(runs.peek(TENANT, job.id, run.id)).toMatchObject({
        trigger: 'manual',
        status: 'queued',
        attempt: 0,
        scheduledAt: at('09:07:00'),
      });
    }

    // The worker runs it as its own run; the occurrence at 09:15 still runs as its own.
    const target = new FakeTarget();
    const worker = { jobs, runs, queue, callTarget: target.call, clock, logger, random: () => 0 };
    expect(await executeFiring(worker, queue.take()[0]!)).toMatchObject({ detail: 'succeeded' });
    clock.set(at('09:15:00'));
    const scheduled = firingMessageSchema.parse({
      ...firing.scheduleTemplate(job),
      scheduledTime: at('09:15:00'),
    });
    expect(await executeFiring(worker, scheduled)).toMatchObject({ detail: 'succeeded' });
    expect(runs.peek(TENANT, job.id, first.id)!.status).toBe('succeeded');
    expect(runs.peek(TENANT, job.id, second.id)!.status).toBe('queued');
    expect(runs.peek(TENANT, job.id, scheduledRunId(new Date(at('09:15:00'))))).toMatchObject({
      trigger: 'schedule',
      status: 'succeeded',
    });
    expect(runs.of(TENANT, job.id)).toHaveLength(3);
  });

  it('of a job that does not exist is not found, and nothing is queued', async () => {
    const runs = new InMemoryRuns();
    expect(
      await failure(runNow({ jobs: service, runs, queue, clock }, TENANT, 'job_Missing')),
    ).toBeInstanceOf(NotFoundError);
    expect(queue.size).toBe(0);
  });
});
