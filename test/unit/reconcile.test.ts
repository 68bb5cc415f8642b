/**
 * The reconciler's use case over a mocked Scheduler (aws-sdk-client-mock) and an in-memory
 * job store: which calls it makes for which jobs, what it repairs and records, and how it
 * stops at its time budget.
 */
import {
  CreateScheduleCommand,
  DeleteScheduleCommand,
  GetScheduleCommand,
  type GetScheduleCommandOutput,
  ListSchedulesCommand,
  ResourceNotFoundException,
  SchedulerClient,
  type ScheduleSummary,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { FixedKeyFiringSigner } from '../../functions/adapters/firing-signer.js';
import type { JobStore } from '../../functions/adapters/job-store.js';
import { EventBridgeScheduleGateway } from '../../functions/adapters/schedule-gateway.js';
import { ready } from '../../functions/commons/lazy.js';
import type { StoredJob } from '../../functions/domain/job.js';
import { type ReconcileDeps, reconcile } from '../../functions/usecases/reconcile.js';
import { ManualClock } from '../../local/manual-clock.js';
import { createSchedulerEmulator } from '../../local/scheduler-emulator/index.js';

const GROUP = 'sundial-test';
const QUEUES = {
  high: 'arn:aws:sqs:eu-west-1:123456789012:jobs-high',
  default: 'arn:aws:sqs:eu-west-1:123456789012:jobs-default',
  low: 'arn:aws:sqs:eu-west-1:123456789012:jobs-low',
};
const WRITTEN = '2027-01-01T00:00:00.000Z';
const clock = new ManualClock('2027-01-02T00:00:00.000Z');

/** The job table, in memory, with the store's semantics for what the reconciler uses. */
class FakeJobs {
  readonly items = new Map<string, StoredJob>();
  readonly recorded: { id: string; version: number; at: string | undefined }[] = [];

  async *scanAll(): AsyncGenerator<StoredJob> {
    for (const job of [...this.items.values()]) yield structuredClone(job);
  }

  async get(_tenantId: string, jobId: string): Promise<StoredJob | undefined> {
    const job = this.items.get(jobId);
    return job && structuredClone(job);
  }

  async clearSyncMarker(_tenantId: string, jobId: string, version: number, at?: string): Promise<boolean> {
    const job = this.items.get(jobId);
    if (!job || job.version !== version) return false;
    delete job.syncPendingAt;
    if (at) job.scheduleSyncedAt = at;
    this.recorded.push({ id: jobId, version, at });
    return true;
  }
}

function job(id: string, extra: Partial<StoredJob> = {}): StoredJob {
  return {
    id,
    tenantId: 'acme',
    name: id,
    description: null,
    schedule: {
      expression: 'rate(1 hour)',
      timezone: 'UTC',
      startAt: null,
      endAt: null,
      flexibleWindowMinutes: 0,
    },
    target: { type: 'http', url: 'https://example.com/', method: 'POST', headers: {}, timeoutSeconds: 30 },
    priority: 'default',
    state: 'enabled',
    tags: {},
    nextRunAt: null,
    createdAt: WRITTEN,
    updatedAt: WRITTEN,
    version: 3,
    scheduleSyncedAt: WRITTEN,
    ...extra,
  } as unknown as StoredJob;
}

const client = new SchedulerClient({ region: 'eu-west-1' });
const scheduler = mockClient(client);
const gateway = new EventBridgeScheduleGateway(ready(client), {
  groupName: GROUP,
  roleArn: 'arn:aws:iam::123456789012:role/scheduler',
  queueArns: QUEUES,
  signer: new FixedKeyFiringSigner(Buffer.alloc(32, 7)),
});
let jobs: FakeJobs;
/** The group as Scheduler holds it: what ListSchedules pages and GetSchedule returns. */
let group: Map<string, GetScheduleCommandOutput>;
const logged: { level: string; message: string; data: Record<string, unknown> }[] = [];

/** A schedule as Sundial writes it for the job, last modified at `modified`. */
async function stored(j: StoredJob, modified = WRITTEN): Promise<GetScheduleCommandOutput> {
  const input = await gateway.toScheduleInput({ ...j, schedule: j.schedule! });
  return {
    ...input,
    Arn: `arn:aws:scheduler:eu-west-1:123456789012:schedule/${GROUP}/${j.id}`,
    LastModificationDate: new Date(modified),
    CreationDate: new Date(WRITTEN),
    $metadata: {},
  } as GetScheduleCommandOutput;
}

async function add(j: StoredJob, given?: GetScheduleCommandOutput | null) {
  const schedule = given === undefined ? await stored(j) : given;
  jobs.items.set(j.id, j);
  if (schedule) group.set(j.id, schedule);
}

function deps(extra: Partial<ReconcileDeps> = {}): ReconcileDeps {
  const record =
    (level: string) =>
    (message: string, data: Record<string, unknown> = {}) =>
      void logged.push({ level, message, data });
  return {
    jobs: jobs as unknown as JobStore,
    gateway,
    clock,
    logger: { info: record('info'), warn: record('warn'), error: record('error') },
    ...extra,
  };
}

const calls = (command: Parameters<typeof scheduler.commandCalls>[0]) =>
  scheduler.commandCalls(command).length;

beforeEach(() => {
  jobs = new FakeJobs();
  group = new Map();
  logged.length = 0;
  scheduler.reset();
  scheduler.on(ListSchedulesCommand).callsFake((input) => {
    const names = [...group.keys()].sort();
    const start = input.NextToken ? Number(input.NextToken) : 0;
    const page = names.slice(start, start + (input.MaxResults ?? 100));
    return {
      Schedules: page.map(
        (name): ScheduleSummary => ({
          Name: name,
          GroupName: GROUP,
          State: group.get(name)!.State,
          Target: { Arn: group.get(name)!.Target!.Arn },
          LastModificationDate: group.get(name)!.LastModificationDate,
        }),
      ),
      ...(start + page.length < names.length ? { NextToken: String(start + page.length) } : {}),
    };
  });
  scheduler.on(GetScheduleCommand).callsFake((input) => {
    const found = group.get(input.Name);
    if (!found) throw new ResourceNotFoundException({ message: 'gone', Message: 'gone', $metadata: {} });
    return found;
  });
  scheduler.on(UpdateScheduleCommand).resolves({ ScheduleArn: 'arn' });
  scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn' });
  scheduler.on(DeleteScheduleCommand).resolves({});
});

describe('the reconciler', () => {
  it('checks unchanged jobs from the listing alone: no GetSchedule, no writes', async () => {
    for (let i = 0; i < 1000; i++) await add(job(`job_${String(i).padStart(4, '0')}`));
    const report = await reconcile(deps());
    expect(report).toMatchObject({
      jobs: 1000,
      schedules: 1000,
      listCalls: 10,
      getScheduleCalls: 0,
      missing: 0,
      drifted: 0,
      orphaned: 0,
      failed: 0,
      completed: true,
    });
    expect(calls(GetScheduleCommand)).toBe(0);
    expect(calls(ListSchedulesCommand)).toBe(10);
    expect(calls(UpdateScheduleCommand) + calls(CreateScheduleCommand) + calls(DeleteScheduleCommand)).toBe(
      0,
    );
    expect(jobs.recorded).toEqual([]);
  });

  it('repairs a wrong state or target seen in the listing without reading the schedule', async () => {
    const paused = job('job_paused', { state: 'paused' });
    await add(paused); // written DISABLED...
    group.get(paused.id)!.State = 'ENABLED'; // ...enabled by hand
    const moved = job('job_moved', { priority: 'high' });
    await add(moved, {
      ...(await stored(moved)),
      Target: { ...(await stored(moved)).Target!, Arn: QUEUES.low },
    });
    const report = await reconcile(deps());
    expect(report).toMatchObject({ drifted: 2, getScheduleCalls: 0, failed: 0 });
    expect(calls(GetScheduleCommand)).toBe(0);
    const updates = scheduler.commandCalls(UpdateScheduleCommand).map((c) => c.args[0].input);
    expect(updates.map((u) => [u.Name, u.State, u.Target?.Arn])).toEqual([
      ['job_paused', 'DISABLED', QUEUES.default],
      ['job_moved', 'ENABLED', QUEUES.high],
    ]);
    // Each repair is recorded as Sundial's write, at Sundial's clock.
    expect(jobs.items.get('job_paused')!.scheduleSyncedAt).toBe(clock.now().toISOString());
  });

  it('reads only schedules modified after Sundial last wrote them, and repairs those that differ', async () => {
    const edited = job('job_edited');
    await add(edited, {
      ...(await stored(edited, '2027-01-01T12:00:00.000Z')),
      ScheduleExpression: 'rate(5 minutes)',
    });
    const touched = job('job_touched'); // modified by hand (a description, a tag) but still right
    await add(touched, { ...(await stored(touched, '2027-01-01T13:00:00.000Z')), Description: 'hand-made' });
    await add(job('job_same'));
    const report = await reconcile(deps());
    expect(report).toMatchObject({ drifted: 1, verified: 1, getScheduleCalls: 2, failed: 0 });
    expect(
      scheduler
        .commandCalls(GetScheduleCommand)
        .map((c) => c.args[0].input.Name)
        .sort(),
    ).toEqual(['job_edited', 'job_touched']);
    expect(scheduler.commandCalls(UpdateScheduleCommand)[0]!.args[0].input).toMatchObject({
      Name: 'job_edited',
      ScheduleExpression: 'rate(1 hour)',
    });
    // The matching one is recorded at its exact modification time: the next run skips it.
    expect(jobs.items.get('job_touched')!.scheduleSyncedAt).toBe('2027-01-01T13:00:00.000Z');
    scheduler.resetHistory();
    group.set('job_edited', await stored(edited, clock.now().toISOString()));
    expect(await reconcile(deps())).toMatchObject({ getScheduleCalls: 0, drifted: 0 });
  });

  it('compares jobs written before scheduleSyncedAt existed in full, once', async () => {
    for (let i = 0; i < 5; i++) await add(job(`job_old${i}`, { scheduleSyncedAt: undefined }));
    expect(await reconcile(deps())).toMatchObject({ getScheduleCalls: 5, verified: 5, drifted: 0 });
    expect(jobs.items.get('job_old0')!.scheduleSyncedAt).toBe(WRITTEN);
    expect(await reconcile(deps())).toMatchObject({ getScheduleCalls: 0, verified: 0 });
  });

  it('re-creates missing schedules, deletes orphans, and leaves jobs in sync or deletion alone', async () => {
    await add(job('job_gone', { version: 1 }), null);
    await add(job('job_unscheduled', { schedule: null }), await stored(job('job_unscheduled')));
    await add(job('job_pending', { syncPendingAt: WRITTEN }), null);
    await add(job('job_deleting', { state: 'deleting' }));
    group.set('job_orphan', await stored(job('job_orphan')));
    const report = await reconcile(deps());
    expect(report).toMatchObject({ missing: 1, orphaned: 2, drifted: 0, skipped: 2, failed: 0 });
    expect(scheduler.commandCalls(CreateScheduleCommand)[0]!.args[0].input.Name).toBe('job_gone');
    expect(
      scheduler
        .commandCalls(DeleteScheduleCommand)
        .map((c) => c.args[0].input.Name)
        .sort(),
    ).toEqual(['job_orphan', 'job_unscheduled']);
  });

  it('leaves a job re-synced after the listing began, or changed since the scan, to its own sync', async () => {
    await add(job('job_new', { scheduleSyncedAt: new Date(clock.now().getTime() + 1).toISOString() }), null);
    const racing = job('job_racing', { state: 'paused' });
    await add(racing, { ...(await stored(racing)), State: 'ENABLED' });
    const store = jobs as unknown as JobStore;
    const scanned = store.get.bind(store);
    // Someone resumes it between the scan and the repair.
    store.get = async (tenantId, jobId) => {
      const found = await scanned(tenantId, jobId);
      return found && jobId === 'job_racing' ? { ...found, state: 'enabled', version: 4 } : found;
    };
    const report = await reconcile(deps({ clock: { now: () => new Date(clock.now().getTime() - 1000) } }));
    expect(report).toMatchObject({ missing: 0, drifted: 0, skipped: 2 });
    expect(calls(CreateScheduleCommand) + calls(UpdateScheduleCommand)).toBe(0);
  });

  it('stops at its time budget, says so, and deletes no orphan it could not be sure of', async () => {
    for (let i = 0; i < 10; i++) await add(job(`job_${i}`));
    group.set('job_orphan', await stored(job('job_orphan')));
    let checks = 0;
    const report = await reconcile(deps({ timeLeftMs: () => (++checks > 6 ? 20_000 : 600_000) }));
    expect(report).toMatchObject({ completed: false, stoppedIn: 'jobs', jobs: 5, orphaned: 0 });
    expect(calls(DeleteScheduleCommand)).toBe(0);
    expect(logged.find((l) => l.level === 'warn')?.message).toMatch(/stopped before the end/);
    expect(logged.find((l) => l.level === 'warn')?.data).toMatchObject({ completed: false, jobs: 5 });
    // Out of time before the listing ends: nothing is judged at all.
    expect(await reconcile(deps({ timeLeftMs: () => 0 }))).toMatchObject({
      completed: false,
      stoppedIn: 'listing',
      jobs: 0,
    });
    // With time enough, the next run finishes and removes the orphan.
    expect(await reconcile(deps({ timeLeftMs: () => 600_000 }))).toMatchObject({
      completed: true,
      orphaned: 1,
    });
  });

  it('counts a schedule it cannot read as failed and goes on', async () => {
    await add(job('job_a', { scheduleSyncedAt: undefined }));
    await add(job('job_b'));
    scheduler.on(GetScheduleCommand).rejects(new Error('ThrottlingException'));
    expect(await reconcile(deps())).toMatchObject({ failed: 1, jobs: 2, completed: true });
  });
});

describe('the Scheduler emulator, as the reconciler reads it', () => {
  it('pages ListSchedules by the last ARN: in order, each once, with LastModificationDate', async () => {
    const emulatorClock = new ManualClock('2027-02-01T00:00:00.000Z');
    const emulator = createSchedulerEmulator({ clock: emulatorClock, deliver: async () => undefined });
    const local = new SchedulerClient({
      endpoint: await emulator.listen(0),
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    try {
      const create = (name: string) =>
        local.send(
          new CreateScheduleCommand({
            Name: name,
            ScheduleExpression: 'rate(1 hour)',
            FlexibleTimeWindow: { Mode: 'OFF' },
            Target: { Arn: QUEUES.default, RoleArn: 'arn:aws:iam::000000000000:role/r' },
          }),
        );
      for (let i = 0; i < 250; i++) await create(`s-${String(i).padStart(3, '0')}`);
      const names: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await local.send(new ListSchedulesCommand({ NextToken: token }));
        pages++;
        names.push(...page.Schedules!.map((s) => s.Name!));
        expect(page.Schedules![0]!.LastModificationDate).toEqual(new Date('2027-02-01T00:00:00.000Z'));
        // Writes between pages neither repeat nor skip the schedules already there.
        if (pages === 1) {
          await local.send(new DeleteScheduleCommand({ Name: 's-000' }));
          await create('s-000a');
          await create('s-200a');
        }
        token = page.NextToken;
      } while (token);
      expect(pages).toBe(3);
      expect(names.length).toBe(new Set(names).size);
      expect(names).toEqual([...names].sort());
      expect(names).toContain('s-200a');
      expect(names).not.toContain('s-000a');

      // Every write shows as a later modification, even while the clock stands still.
      const modified = async () =>
        (await local.send(new GetScheduleCommand({ Name: 's-001' }))).LastModificationDate!.getTime();
      const first = await modified();
      const current = await local.send(new GetScheduleCommand({ Name: 's-001' }));
      await local.send(
        new UpdateScheduleCommand({
          Name: 's-001',
          ScheduleExpression: 'rate(2 hours)',
          FlexibleTimeWindow: current.FlexibleTimeWindow!,
          Target: current.Target!,
        }),
      );
      expect(await modified()).toBe(first + 1);
      emulatorClock.advance(60_000);
      await local.send(
        new UpdateScheduleCommand({
          Name: 's-001',
          ScheduleExpression: 'rate(3 hours)',
          FlexibleTimeWindow: current.FlexibleTimeWindow!,
          Target: current.Target!,
        }),
      );
      expect(await modified()).toBe(emulatorClock.now().getTime());
    } finally {
      local.destroy();
      await emulator.close();
    }
  });
});
