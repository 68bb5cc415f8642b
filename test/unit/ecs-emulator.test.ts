/**
 * The local ECS stand-in through the real @aws-sdk/client-ecs: tasks are child processes
 * (Node scripts here), and their state changes arrive as EventBridge's ECS events. Every wait
 * is on an event or an output line, never on a timer.
 */
import {
  ClientException,
  ConflictException,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  InvalidParameterException,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  type RunTaskCommandInput,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EcsTaskStateChangeEvent, LocalEcs } from '../../local/ecs-emulator.js';

const REGION = 'local';
const ACCOUNT = '000000000000';
const node = process.execPath;
const STOP_TIMEOUT_MS = 300;

const events: EcsTaskStateChangeEvent[] = [];
const lines: string[] = [];
const waiters = new Set<() => boolean>();

function notify(): void {
  for (const check of [...waiters]) if (check()) waiters.delete(check);
}

/** Resolves with the probe's first defined value, probing again on every event and output line. */
function until<T>(probe: () => T | undefined): Promise<T> {
  return new Promise((resolve) => {
    const check = () => {
      const value = probe();
      if (value === undefined) return false;
      resolve(value);
      return true;
    };
    if (!check()) waiters.add(check);
  });
}

const eventsOf = (taskArn: string) => events.filter((e) => e.resources[0] === taskArn);
const stoppedEvent = (taskArn: string) =>
  until(() => eventsOf(taskArn).find((e) => e.detail.lastStatus === 'STOPPED'));
const runningEvent = (taskArn: string) =>
  until(() => eventsOf(taskArn).find((e) => e.detail.lastStatus === 'RUNNING'));
const line = (text: string) => until(() => lines.find((l) => l.endsWith(text)));

let local: LocalEcs;
let ecs: ECSClient;

beforeAll(async () => {
  local = await new LocalEcs({
    region: REGION,
    accountId: ACCOUNT,
    onEvent: (event) => {
      events.push(event);
      notify();
    },
    output: (text) => {
      lines.push(text);
      notify();
    },
    env: { SUNDIAL_LOCAL: 'yes' },
    stopTimeoutMs: STOP_TIMEOUT_MS,
  }).start();
  ecs = new ECSClient({
    region: REGION,
    endpoint: local.endpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
});

afterAll(async () => {
  ecs?.destroy();
  await local?.stop();
});

function adhoc(command: string[], extra: Partial<RunTaskCommandInput> = {}): RunTaskCommandInput {
  return {
    cluster: 'sundial',
    taskDefinition: 'adhoc',
    launchType: 'FARGATE',
    overrides: { containerOverrides: [{ name: 'main', command }] },
    ...extra,
  };
}

async function run(input: RunTaskCommandInput): Promise<string> {
  const out = await ecs.send(new RunTaskCommand(input));
  const arn = out.tasks?.[0]?.taskArn;
  if (!arn) throw new Error('RunTask returned no task');
  return arn;
}

async function describe1(taskArn: string, cluster = 'sundial') {
  const out = await ecs.send(new DescribeTasksCommand({ cluster, tasks: [taskArn] }));
  const task = out.tasks?.[0];
  if (!task) throw new Error(`no task ${taskArn}`);
  return task;
}

describe('RunTask', () => {
  it('runs the command as a process: exit 0, output streamed, RUNNING then STOPPED events', async () => {
    const out = await ecs.send(
      new RunTaskCommand(
        adhoc(
          [node, '-e', 'console.log("hello"); console.error("to stderr"); process.stdout.write("partial")'],
          {
            startedBy: 'run-ok',
            cluster: `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/sundial`,
          },
        ),
      ),
    );
    const task = out.tasks?.[0];
    expect(out.failures).toEqual([]);
    expect(task?.taskArn).toMatch(/^arn:aws:ecs:local:000000000000:task\/sundial\/[0-9a-f]{32}$/);
    expect(task).toMatchObject({
      clusterArn: 'arn:aws:ecs:local:000000000000:cluster/sundial',
      lastStatus: 'PROVISIONING',
      desiredStatus: 'RUNNING',
      startedBy: 'run-ok',
      launchType: 'FARGATE',
      group: 'family:adhoc',
      taskDefinitionArn: 'arn:aws:ecs:local:000000000000:task-definition/adhoc',
      version: 1,
    });
    expect(task?.createdAt).toBeInstanceOf(Date);
    const taskArn = task?.taskArn ?? '';
    const taskId = taskArn.split('/').at(-1) ?? '';

    const stopped = await stoppedEvent(taskArn);
    const [first, second, ...more] = eventsOf(taskArn);
    expect(more).toEqual([]);
    expect(first).toMatchObject({
      version: '0',
      'detail-type': 'ECS Task State Change',
      source: 'aws.ecs',
      account: ACCOUNT,
      region: REGION,
      resources: [taskArn],
      detail: {
        clusterArn: 'arn:aws:ecs:local:000000000000:cluster/sundial',
        taskArn,
        taskDefinitionArn: 'arn:aws:ecs:local:000000000000:task-definition/adhoc',
        startedBy: 'run-ok',
        lastStatus: 'RUNNING',
        desiredStatus: 'RUNNING',
        group: 'family:adhoc',
        launchType: 'FARGATE',
        containers: [{ name: 'main', lastStatus: 'RUNNING', taskArn }],
      },
    });
    expect(first?.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(first?.detail.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(first?.detail.startedAt).toEqual(expect.any(String));
    expect(first?.detail.stoppedAt).toBeUndefined();
    expect(second).toBe(stopped);
    expect(stopped.id).not.toBe(first?.id);
    expect(stopped.detail).toMatchObject({
      lastStatus: 'STOPPED',
      desiredStatus: 'STOPPED',
      stopCode: 'EssentialContainerExited',
      stoppedReason: 'Essential container in task exited',
      containers: [{ name: 'main', lastStatus: 'STOPPED', exitCode: 0 }],
    });
    expect(stopped.detail.stoppedAt).toEqual(expect.any(String));
    expect(stopped.detail.version as number).toBeGreaterThan(first?.detail.version as number);
    const containerArn = (stopped.detail.containers as { containerArn: string }[])[0]?.containerArn;
    expect(containerArn).toMatch(new RegExp(`^arn:aws:ecs:local:000000000000:container/sundial/${taskId}/`));

    const prefix = `[ecs ${taskId.slice(0, 8)} main]`;
    expect(lines).toEqual(
      expect.arrayContaining([`${prefix} hello`, `${prefix} to stderr`, `${prefix} partial`]),
    );

    const described = await describe1(taskArn);
    expect(described).toMatchObject({
      lastStatus: 'STOPPED',
      desiredStatus: 'STOPPED',
      stopCode: 'EssentialContainerExited',
      containers: [{ name: 'main', exitCode: 0, lastStatus: 'STOPPED' }],
      version: stopped.detail.version,
    });
    expect(described.stoppedAt).toBeInstanceOf(Date);
    expect(described.startedAt?.toISOString()).toBe(stopped.detail.startedAt);
  });

  it('reports a non-zero exit code', async () => {
    const taskArn = await run(adhoc([node, '-e', 'process.exit(3)'], { startedBy: 'run-fail' }));
    const stopped = await stoppedEvent(taskArn);
    expect(eventsOf(taskArn).map((e) => e.detail.lastStatus)).toEqual(['RUNNING', 'STOPPED']);
    expect(stopped.detail).toMatchObject({
      stopCode: 'EssentialContainerExited',
      stoppedReason: 'Essential container in task exited',
      containers: [{ name: 'main', exitCode: 3 }],
    });
    expect((await describe1(taskArn)).containers?.[0]?.exitCode).toBe(3);
  });

  it('gives the child PATH, HOME, the stand-in env and the container environment, and nothing else', async () => {
    const taskArn = await run({
      cluster: 'sundial',
      taskDefinition: 'adhoc',
      overrides: {
        containerOverrides: [
          {
            name: 'main',
            command: [node, '-e', 'console.log("env=" + JSON.stringify(process.env))'],
            environment: [{ name: 'JOB_ID', value: 'job-1' }],
          },
        ],
      },
    });
    await stoppedEvent(taskArn);
    const printed = lines.find(
      (l) => l.includes(taskArn.split('/').at(-1)?.slice(0, 8) ?? '?') && l.includes('env='),
    );
    const env = JSON.parse(printed?.split('env=')[1] ?? '{}') as Record<string, string>;
    expect(env).toMatchObject({ JOB_ID: 'job-1', SUNDIAL_LOCAL: 'yes', PATH: process.env.PATH });
    expect(Object.keys(env).sort()).toEqual(
      ['HOME', 'JOB_ID', 'PATH', 'SUNDIAL_LOCAL'].filter(
        (k) => k !== 'HOME' || process.env.HOME !== undefined,
      ),
    );
  });

  it('ends a task whose command cannot start as TaskFailedToStart, with no RUNNING event', async () => {
    const taskArn = await run(adhoc(['/nonexistent/sundial-binary']));
    const stopped = await stoppedEvent(taskArn);
    expect(eventsOf(taskArn)).toHaveLength(1);
    expect(stopped.detail).toMatchObject({ stopCode: 'TaskFailedToStart', lastStatus: 'STOPPED' });
    expect(stopped.detail.stoppedReason).toMatch(/^CannotStartContainerError: /);
    const container = (stopped.detail.containers as { exitCode?: number; reason?: string }[])[0];
    expect(container?.exitCode).toBeUndefined();
    expect(container?.reason).toMatch(/ENOENT/);
  });

  it('refuses a task with no command, as ECS refuses bad parameters', async () => {
    await expect(
      ecs.send(new RunTaskCommand({ cluster: 'sundial', taskDefinition: 'not-registered' })),
    ).rejects.toBeInstanceOf(InvalidParameterException);
    await expect(
      ecs.send(
        new RunTaskCommand({
          taskDefinition: 'not-registered',
          overrides: { containerOverrides: [{ name: 'main' }] },
        }),
      ),
    ).rejects.toBeInstanceOf(InvalidParameterException);
  });
});

describe('idempotency and listing', () => {
  it('answers the same clientToken with the same task and starts one process', async () => {
    const input = adhoc([node, '-e', 'console.log("once")'], {
      startedBy: 'run-token',
      clientToken: 'attempt-1',
    });
    const a = await run(input);
    const b = await run(input);
    expect(b).toBe(a);
    await stoppedEvent(a);
    const mine = local.tasks().filter((t) => t.startedBy === 'run-token');
    expect(mine).toHaveLength(1);
    expect(mine[0]?.containers[0]?.pid).toEqual(expect.any(Number));
    expect(lines.filter((l) => l.endsWith(' once'))).toHaveLength(1);
    // The same token after the task stopped still names it.
    expect(await run(input)).toBe(a);

    const conflict = await ecs
      .send(new RunTaskCommand({ ...input, startedBy: 'someone-else' }))
      .catch((error: unknown) => error);
    expect(conflict).toBeInstanceOf(ConflictException);
    expect((conflict as ConflictException).resourceIds).toEqual([a]);
    // A token is scoped to its cluster.
    const elsewhere = await run({ ...input, cluster: 'other' });
    expect(elsewhere).not.toBe(a);
    await stoppedEvent(elsewhere);
  });

  it('lists tasks by cluster, startedBy and desired status', async () => {
    const forever = [node, '-e', 'setInterval(() => {}, 1000)'];
    const a1 = await run(adhoc(forever, { startedBy: 'list-a' }));
    const a2 = await run(adhoc(forever, { startedBy: 'list-a' }));
    const b1 = await run(adhoc(forever, { startedBy: 'list-b' }));

    const listed = await ecs.send(new ListTasksCommand({ cluster: 'sundial', startedBy: 'list-a' }));
    expect(listed.taskArns?.sort()).toEqual([a1, a2].sort());
    const stoppedOnes = await ecs.send(
      new ListTasksCommand({ cluster: 'sundial', startedBy: 'list-a', desiredStatus: 'STOPPED' }),
    );
    expect(stoppedOnes.taskArns).toEqual([]);
    expect(
      (await ecs.send(new ListTasksCommand({ cluster: 'other', startedBy: 'list-a' }))).taskArns,
    ).toEqual([]);
    const paged = await ecs.send(
      new ListTasksCommand({ cluster: 'sundial', startedBy: 'list-a', maxResults: 1 }),
    );
    expect(paged.taskArns).toHaveLength(1);
    expect(paged.nextToken).toEqual(expect.any(String));
    const rest = await ecs.send(
      new ListTasksCommand({
        cluster: 'sundial',
        startedBy: 'list-a',
        maxResults: 1,
        nextToken: paged.nextToken,
      }),
    );
    expect([...(paged.taskArns ?? []), ...(rest.taskArns ?? [])].sort()).toEqual([a1, a2].sort());
    expect(rest.nextToken).toBeUndefined();

    for (const arn of [a1, a2, b1]) await ecs.send(new StopTaskCommand({ cluster: 'sundial', task: arn }));
    const after = await ecs.send(
      new ListTasksCommand({ cluster: 'sundial', startedBy: 'list-a', desiredStatus: 'STOPPED' }),
    );
    expect(after.taskArns?.sort()).toEqual([a1, a2].sort());
    expect(
      (await ecs.send(new ListTasksCommand({ cluster: 'sundial', startedBy: 'list-a' }))).taskArns,
    ).toEqual([]);
    await Promise.all([a1, a2, b1].map(stoppedEvent));
  });

  it('describes a missing task as a failure', async () => {
    const out = await ecs.send(new DescribeTasksCommand({ cluster: 'sundial', tasks: ['0'.repeat(32)] }));
    expect(out.tasks).toEqual([]);
    expect(out.failures).toEqual([{ arn: '0'.repeat(32), reason: 'MISSING' }]);
  });
});

describe('StopTask', () => {
  it('sends SIGTERM, then SIGKILL after the grace to a child that ignores SIGTERM (exit 137)', async () => {
    const taskArn = await run(
      adhoc(
        [
          node,
          '-e',
          'process.on("SIGTERM", () => console.log("ignoring SIGTERM")); console.log("ready"); setInterval(() => {}, 1000)',
        ],
        { startedBy: 'run-stubborn' },
      ),
    );
    const taskId = taskArn.split('/').at(-1) ?? '';
    await runningEvent(taskArn);
    await line(`${taskId.slice(0, 8)} main] ready`);

    const out = await ecs.send(
      new StopTaskCommand({ cluster: 'sundial', task: taskId, reason: 'run cancelled' }),
    );
    expect(out.task).toMatchObject({
      taskArn,
      lastStatus: 'RUNNING',
      desiredStatus: 'STOPPED',
      stopCode: 'UserInitiated',
      stoppedReason: 'run cancelled',
    });
    expect(out.task?.stoppingAt).toBeInstanceOf(Date);

    const stopped = await stoppedEvent(taskArn);
    expect(lines).toContain(`[ecs ${taskId.slice(0, 8)} main] ignoring SIGTERM`);
    expect(stopped.detail).toMatchObject({
      lastStatus: 'STOPPED',
      stopCode: 'UserInitiated',
      stoppedReason: 'run cancelled',
      containers: [{ exitCode: 137 }],
    });
    const grace =
      Date.parse(stopped.detail.stoppedAt as string) - Date.parse(stopped.detail.stoppingAt as string);
    expect(grace).toBeGreaterThanOrEqual(STOP_TIMEOUT_MS - 5);
    expect(eventsOf(taskArn).map((e) => e.detail.lastStatus)).toEqual(['RUNNING', 'STOPPED']);

    // Stopping a stopped task changes nothing.
    const again = await ecs.send(new StopTaskCommand({ cluster: 'sundial', task: taskArn, reason: 'again' }));
    expect(again.task).toMatchObject({ lastStatus: 'STOPPED', stoppedReason: 'run cancelled' });
  });

  it('reports 143 for a child that SIGTERM ends, with the default reason', async () => {
    const taskArn = await run(adhoc([node, '-e', 'setInterval(() => {}, 1000)']));
    await runningEvent(taskArn);
    await ecs.send(new StopTaskCommand({ cluster: 'sundial', task: taskArn }));
    const stopped = await stoppedEvent(taskArn);
    expect(stopped.detail).toMatchObject({
      stopCode: 'UserInitiated',
      stoppedReason: 'Task stopped by user',
      containers: [{ exitCode: 143 }],
    });
  });

  it('refuses an unknown task', async () => {
    await expect(
      ecs.send(new StopTaskCommand({ cluster: 'sundial', task: 'f'.repeat(32) })),
    ).rejects.toBeInstanceOf(InvalidParameterException);
  });
});

describe('fault seams', () => {
  it('drops the next event when asked (a lost RUNNING event)', async () => {
    local.dropEvents = 1;
    const taskArn = await run(adhoc([node, '-e', '']));
    const stopped = await stoppedEvent(taskArn);
    expect(eventsOf(taskArn)).toEqual([stopped]);
    expect(local.dropEvents).toBe(0);
    expect((await describe1(taskArn)).lastStatus).toBe('STOPPED');
  });

  it('delivers each event twice when asked, with the same id', async () => {
    local.duplicateEvents = true;
    try {
      const taskArn = await run(adhoc([node, '-e', 'process.exit(1)']));
      await until(() => (eventsOf(taskArn).length === 4 ? true : undefined));
      const [r1, r2, s1, s2] = eventsOf(taskArn);
      expect([r1, r2, s1, s2].map((e) => e?.detail.lastStatus)).toEqual([
        'RUNNING',
        'RUNNING',
        'STOPPED',
        'STOPPED',
      ]);
      expect(r2).toEqual(r1);
      expect(r2).not.toBe(r1);
      expect(s2?.id).toBe(s1?.id);
    } finally {
      local.duplicateEvents = false;
    }
  });
});

describe('task definitions', () => {
  it('registers and describes a definition with awslogs, and runs its command with its environment', async () => {
    const logConfiguration = {
      logDriver: 'awslogs' as const,
      options: {
        'awslogs-group': '/sundial/jobs',
        'awslogs-region': REGION,
        'awslogs-stream-prefix': 'sundial',
      },
    };
    const registered = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'ingest',
        requiresCompatibilities: ['FARGATE'],
        networkMode: 'awsvpc',
        cpu: '256',
        memory: '512',
        containerDefinitions: [
          {
            name: 'app',
            image: 'local/ingest:latest',
            command: [
              node,
              '-e',
              'console.log(["vars", process.env.FROM_DEF, process.env.SHARED].join(" "))',
            ],
            environment: [
              { name: 'FROM_DEF', value: 'def' },
              { name: 'SHARED', value: 'def' },
            ],
            logConfiguration,
          },
        ],
      }),
    );
    const arn = 'arn:aws:ecs:local:000000000000:task-definition/ingest:1';
    expect(registered.taskDefinition).toMatchObject({
      taskDefinitionArn: arn,
      family: 'ingest',
      revision: 1,
    });

    const described = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'ingest' }));
    expect(described.taskDefinition).toMatchObject({
      taskDefinitionArn: arn,
      family: 'ingest',
      revision: 1,
      status: 'ACTIVE',
      cpu: '256',
      memory: '512',
      networkMode: 'awsvpc',
      compatibilities: ['EC2', 'FARGATE'],
      containerDefinitions: [
        { name: 'app', image: 'local/ingest:latest', essential: true, logConfiguration },
      ],
    });
    expect(described.taskDefinition?.registeredAt).toBeInstanceOf(Date);
    for (const ref of ['ingest:1', arn]) {
      const byRef = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: ref }));
      expect(byRef.taskDefinition?.taskDefinitionArn).toBe(arn);
    }
    await expect(
      ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'ingest:9' })),
    ).rejects.toBeInstanceOf(ClientException);

    const taskArn = await run({
      cluster: 'sundial',
      taskDefinition: arn,
      launchType: 'FARGATE',
      overrides: {
        containerOverrides: [{ name: 'app', environment: [{ name: 'SHARED', value: 'override' }] }],
      },
    });
    const stopped = await stoppedEvent(taskArn);
    expect(stopped.detail).toMatchObject({
      taskDefinitionArn: arn,
      group: 'family:ingest',
      cpu: '256',
      memory: '512',
      containers: [{ name: 'app', image: 'local/ingest:latest', exitCode: 0 }],
    });
    expect(lines).toContain(`[ecs ${taskArn.split('/').at(-1)?.slice(0, 8)} app] vars def override`);

    await expect(
      ecs.send(
        new RunTaskCommand({
          taskDefinition: 'ingest',
          overrides: { containerOverrides: [{ name: 'sidecar', command: ['true'] }] },
        }),
      ),
    ).rejects.toBeInstanceOf(InvalidParameterException);

    const second = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'ingest',
        containerDefinitions: [{ name: 'app', image: 'local/ingest:2' }],
      }),
    );
    expect(second.taskDefinition?.revision).toBe(2);
    // A container without a command cannot run locally (no image supplies one).
    await expect(ecs.send(new RunTaskCommand({ taskDefinition: 'ingest:2' }))).rejects.toBeInstanceOf(
      InvalidParameterException,
    );
    await expect(
      ecs.send(new RegisterTaskDefinitionCommand({ family: 'bad', containerDefinitions: [{ name: 'x' }] })),
    ).rejects.toBeInstanceOf(ClientException);
  });
});

describe('stop()', () => {
  it('kills live children and sends no further events', async () => {
    const seen: EcsTaskStateChangeEvent[] = [];
    let onRunning: () => void = () => {};
    const running = new Promise<void>((resolve) => {
      onRunning = resolve;
    });
    const other = await new LocalEcs({
      region: REGION,
      accountId: ACCOUNT,
      onEvent: (event) => {
        seen.push(event);
        if (event.detail.lastStatus === 'RUNNING') onRunning();
      },
      output: () => {},
    }).start();
    const client = new ECSClient({
      region: REGION,
      endpoint: other.endpoint,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    try {
      await client.send(
        new RunTaskCommand(
          adhoc([node, '-e', 'process.on("SIGTERM", () => {}); setInterval(() => {}, 1000)']),
        ),
      );
      await running;
      const pid = other.tasks()[0]?.containers[0]?.pid ?? 0;
      expect(pid).toBeGreaterThan(0);
      await other.stop();
      expect(() => process.kill(pid, 0)).toThrow();
      expect(other.tasks()[0]?.containers[0]).toMatchObject({ lastStatus: 'STOPPED', exitCode: 137 });
      expect(seen.map((e) => e.detail.lastStatus)).toEqual(['RUNNING']);
    } finally {
      client.destroy();
    }
  });
});
