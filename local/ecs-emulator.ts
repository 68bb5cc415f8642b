/**
 * A local stand-in for Amazon ECS: the JSON 1.1 API that @aws-sdk/client-ecs speaks (RunTask,
 * DescribeTasks, ListTasks, StopTask, RegisterTaskDefinition, DescribeTaskDefinition), where a
 * task's containers are local child processes running their container commands. Each task
 * state change to RUNNING and to STOPPED is handed to `onEvent` as EventBridge delivers ECS's
 * "ECS Task State Change" event, so Sundial's completion path runs as it does on AWS.
 *
 * Not emulated: images (a container must have a command), networking, services, container
 * instances, CloudWatch Logs (the awslogs configuration is stored and returned, and a
 * container's output goes to `output`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { constants } from 'node:os';
import { createInterface } from 'node:readline';
import { close, listen, readJson, sendAwsJson } from './stub-http.js';

/** The "ECS Task State Change" event as EventBridge delivers it. */
export interface EcsTaskStateChangeEvent {
  version: '0';
  id: string;
  'detail-type': 'ECS Task State Change';
  source: 'aws.ecs';
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
}

export interface LocalEcsOptions {
  region: string;
  accountId: string;
  onEvent: (event: EcsTaskStateChangeEvent) => void | Promise<void>;
  /** Where container output lines go; console.log by default. */
  output?: (line: string) => void;
  /** Added to every container's environment (after PATH and HOME, before the task's own). */
  env?: Record<string, string>;
  /** SIGTERM to SIGKILL grace when a task is stopped (ECS's default: 30 s). */
  stopTimeoutMs?: number;
}

/** What a test can see of a local task and its processes. */
export interface LocalEcsTaskInfo {
  taskArn: string;
  taskId: string;
  clusterArn: string;
  startedBy: string | undefined;
  lastStatus: string;
  desiredStatus: string;
  containers: {
    name: string;
    command: string[];
    pid: number | undefined;
    lastStatus: string;
    exitCode: number | undefined;
  }[];
}

type KeyValue = { name?: string; value?: string };

interface ContainerDefinitionInput {
  name?: string;
  image?: string;
  command?: string[];
  entryPoint?: string[];
  environment?: KeyValue[];
  essential?: boolean;
  stopTimeout?: number;
  logConfiguration?: { logDriver?: string; options?: Record<string, string> };
  [key: string]: unknown;
}

interface ContainerOverrideInput {
  name?: string;
  command?: string[];
  environment?: KeyValue[];
  [key: string]: unknown;
}

interface TaskDefinitionRecord {
  arn: string;
  family: string;
  revision: number;
  containerDefinitions: ContainerDefinitionInput[];
  fields: Record<string, unknown>;
  registeredAt: number;
  tags: unknown[];
}

interface ContainerRun {
  name: string;
  arn: string;
  image: string | undefined;
  argv: string[];
  env: Record<string, string>;
  essential: boolean;
  stopTimeoutMs: number;
  child: ChildProcess | undefined;
  lastStatus: 'PENDING' | 'RUNNING' | 'STOPPED';
  exitCode: number | undefined;
  reason: string | undefined;
  killTimer: NodeJS.Timeout | undefined;
}

type ContainerSpec = Pick<ContainerRun, 'name' | 'image' | 'argv' | 'env' | 'essential' | 'stopTimeoutMs'>;

interface TaskRecord {
  taskArn: string;
  id: string;
  clusterArn: string;
  clusterName: string;
  taskDefinitionArn: string;
  family: string;
  startedBy: string | undefined;
  group: string;
  launchType: string | undefined;
  capacityProviderName: string | undefined;
  platformVersion: string | undefined;
  cpu: string | undefined;
  memory: string | undefined;
  enableExecuteCommand: boolean;
  overrides: Record<string, unknown>;
  tags: unknown[];
  lastStatus: 'PROVISIONING' | 'RUNNING' | 'STOPPED';
  desiredStatus: 'RUNNING' | 'STOPPED';
  createdAt: number;
  connectivityAt: number | undefined;
  startedAt: number | undefined;
  stoppingAt: number | undefined;
  executionStoppedAt: number | undefined;
  stoppedAt: number | undefined;
  updatedAt: number;
  stopCode: string | undefined;
  stoppedReason: string | undefined;
  version: number;
  containers: ContainerRun[];
  done: Promise<void>;
  resolveDone: () => void;
}

class EcsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const TARGET_PREFIX = 'AmazonEC2ContainerServiceV20141113.';
const FAMILY = /^[a-zA-Z0-9_-]{1,255}$/;

/**
 * A container killed by signal n has exit code 128 + n, as Docker (and so ECS) reports it:
 * 143 after SIGTERM, 137 after SIGKILL, rather than no exit code.
 */
function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number | undefined {
  if (code !== null) return code;
  const n = signal ? constants.signals[signal] : undefined;
  return n === undefined ? undefined : 128 + n;
}

function keyValues(list: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(list)) return out;
  for (const item of list as KeyValue[]) {
    if (item && typeof item.name === 'string') out[item.name] = String(item.value ?? '');
  }
  return out;
}

function stringList(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;
}

export class LocalEcs {
  /** Upcoming events to drop, as if EventBridge lost them. */
  dropEvents = 0;
  /** Deliver every event twice (EventBridge delivers at least once). */
  duplicateEvents = false;
  endpoint = '';

  private readonly region: string;
  private readonly accountId: string;
  private readonly onEvent: LocalEcsOptions['onEvent'];
  private readonly output: (line: string) => void;
  private readonly baseEnv: Record<string, string>;
  private readonly stopTimeoutMs: number;
  private readonly taskList: TaskRecord[] = [];
  private readonly definitions = new Map<string, TaskDefinitionRecord[]>();
  private readonly clientTokens = new Map<string, { fingerprint: string; tasks: TaskRecord[] }>();
  private delivery: Promise<void> = Promise.resolve();
  private server: Server | undefined;
  private closing = false;

  constructor(options: LocalEcsOptions) {
    this.region = options.region;
    this.accountId = options.accountId;
    this.onEvent = options.onEvent;
    this.output = options.output ?? ((line) => console.log(line));
    this.stopTimeoutMs = options.stopTimeoutMs ?? 30_000;
    const base: Record<string, string> = {};
    if (process.env.PATH !== undefined) base.PATH = process.env.PATH;
    if (process.env.HOME !== undefined) base.HOME = process.env.HOME;
    this.baseEnv = { ...base, ...options.env };
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error) =>
        send(res, 500, { __type: 'ServerException', message: String(error) }, 'ServerException'),
      );
    });
    this.endpoint = await listen(this.server);
    return this;
  }

  /** Closes the server and kills (SIGKILL) every live container; no events are sent after this. */
  async stop(): Promise<void> {
    this.closing = true;
    const closed = this.server ? close(this.server) : Promise.resolve();
    for (const task of this.taskList) {
      for (const c of task.containers) {
        if (c.lastStatus !== 'STOPPED') c.child?.kill('SIGKILL');
      }
    }
    await Promise.all([closed, ...this.taskList.map((t) => (this.hasChildren(t) ? t.done : undefined))]);
    await this.delivery;
  }

  /** The tasks run so far, oldest first, with their processes. */
  tasks(): LocalEcsTaskInfo[] {
    return this.taskList.map((t) => ({
      taskArn: t.taskArn,
      taskId: t.id,
      clusterArn: t.clusterArn,
      startedBy: t.startedBy,
      lastStatus: t.lastStatus,
      desiredStatus: t.desiredStatus,
      containers: t.containers.map((c) => ({
        name: c.name,
        command: [...c.argv],
        pid: c.child?.pid,
        lastStatus: c.lastStatus,
        exitCode: c.exitCode,
      })),
    }));
  }

  clusterArn(name: string): string {
    return `arn:aws:ecs:${this.region}:${this.accountId}:cluster/${name}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = String(req.headers['x-amz-target'] ?? '');
    let body: Record<string, unknown>;
    try {
      const parsed = await readJson(req);
      body = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
    } catch {
      return send(res, 400, { __type: 'SerializationException', message: 'Malformed JSON body' });
    }
    const op = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
    try {
      switch (op) {
        case 'RunTask': {
          const { response, started } = this.runTask(body);
          // Containers start once RunTask has answered: a task is PROVISIONING when RunTask returns.
          res.once('close', () => {
            for (const task of started) this.launch(task);
          });
          return send(res, 200, response);
        }
        case 'DescribeTasks':
          return send(res, 200, this.describeTasks(body));
        case 'ListTasks':
          return send(res, 200, this.listTasks(body));
        case 'StopTask':
          return send(res, 200, this.stopTask(body));
        case 'RegisterTaskDefinition':
          return send(res, 200, this.registerTaskDefinition(body));
        case 'DescribeTaskDefinition':
          return send(res, 200, this.describeTaskDefinition(body));
        default:
          return send(
            res,
            400,
            {
              __type: 'UnknownOperationException',
              message: `${target || 'no X-Amz-Target'} is not emulated`,
            },
            'UnknownOperationException',
          );
      }
    } catch (error) {
      if (error instanceof EcsError) {
        return send(res, 400, { __type: error.type, message: error.message, ...error.extra }, error.type);
      }
      throw error;
    }
  }

  // --- clusters and task definitions ------------------------------------------------------------

  private cluster(ref: unknown): { name: string; arn: string } {
    const text = typeof ref === 'string' && ref !== '' ? ref : 'default';
    const name = /^arn:[^:]+:ecs:[^:]*:[^:]*:cluster\/(.+)$/.exec(text)?.[1] ?? text;
    return { name, arn: this.clusterArn(name) };
  }

  /** family, family:revision or an ARN → { family, revision? } */
  private parseTaskDefinitionRef(ref: string): { family: string; revision: number | undefined } {
    const bare = /^arn:[^:]+:ecs:[^:]*:[^:]*:task-definition\/(.+)$/.exec(ref)?.[1] ?? ref;
    const [family = '', rev] = bare.split(':');
    const revision = rev === undefined ? undefined : Number(rev);
    return { family, revision: revision !== undefined && Number.isInteger(revision) ? revision : undefined };
  }

  private findDefinition(ref: string): TaskDefinitionRecord | undefined {
    const { family, revision } = this.parseTaskDefinitionRef(ref);
    const revisions = this.definitions.get(family) ?? [];
    return revision === undefined ? revisions.at(-1) : revisions.find((d) => d.revision === revision);
  }

  private definitionView(def: TaskDefinitionRecord): Record<string, unknown> {
    const usesAwslogs = def.containerDefinitions.some((c) => c.logConfiguration?.logDriver === 'awslogs');
    const requires = stringList(def.fields.requiresCompatibilities) ?? [];
    return {
      ...def.fields,
      taskDefinitionArn: def.arn,
      family: def.family,
      revision: def.revision,
      // ECS fills these defaults into what it returns.
      containerDefinitions: def.containerDefinitions.map((c) => ({
        cpu: 0,
        essential: true,
        environment: [],
        mountPoints: [],
        portMappings: [],
        volumesFrom: [],
        systemControls: [],
        ...c,
      })),
      volumes: def.fields.volumes ?? [],
      placementConstraints: def.fields.placementConstraints ?? [],
      status: 'ACTIVE',
      compatibilities: requires.includes('FARGATE') ? ['EC2', 'FARGATE'] : ['EC2'],
      requiresAttributes: usesAwslogs
        ? [{ name: 'com.amazonaws.ecs.capability.logging-driver.awslogs' }]
        : [],
      registeredAt: def.registeredAt / 1000,
      registeredBy: `arn:aws:iam::${this.accountId}:root`,
    };
  }

  private registerTaskDefinition(body: Record<string, unknown>): unknown {
    const family = body.family;
    if (typeof family !== 'string' || !FAMILY.test(family)) {
      throw new EcsError(
        'ClientException',
        'Family must be 1-255 letters (uppercase and lowercase), numbers, hyphens and underscores.',
      );
    }
    const containers = body.containerDefinitions;
    if (!Array.isArray(containers) || containers.length === 0) {
      throw new EcsError('ClientException', 'TaskDefinition must contain at least one container definition.');
    }
    for (const c of containers as ContainerDefinitionInput[]) {
      if (typeof c?.name !== 'string' || c.name === '') {
        throw new EcsError('ClientException', 'Container.name should not be null or empty.');
      }
      if (typeof c.image !== 'string' || c.image === '') {
        throw new EcsError('ClientException', 'Container.image should not be null or empty.');
      }
    }
    const { family: _f, containerDefinitions: _c, tags, ...fields } = body;
    const revisions = this.definitions.get(family) ?? [];
    const revision = (revisions.at(-1)?.revision ?? 0) + 1;
    const def: TaskDefinitionRecord = {
      arn: `arn:aws:ecs:${this.region}:${this.accountId}:task-definition/${family}:${revision}`,
      family,
      revision,
      containerDefinitions: structuredClone(containers as ContainerDefinitionInput[]),
      fields: structuredClone(fields),
      registeredAt: Date.now(),
      tags: Array.isArray(tags) ? structuredClone(tags) : [],
    };
    revisions.push(def);
    this.definitions.set(family, revisions);
    return { taskDefinition: this.definitionView(def), tags: def.tags };
  }

  private describeTaskDefinition(body: Record<string, unknown>): unknown {
    const ref = body.taskDefinition;
    const def = typeof ref === 'string' ? this.findDefinition(ref) : undefined;
    if (!def) throw new EcsError('ClientException', 'Unable to describe task definition.');
    const include = stringList(body.include) ?? [];
    return {
      taskDefinition: this.definitionView(def),
      ...(include.includes('TAGS') ? { tags: def.tags } : {}),
    };
  }

  // --- tasks --------------------------------------------------------------------------------------

  private runTask(body: Record<string, unknown>): { response: unknown; started: TaskRecord[] } {
    const ref = body.taskDefinition;
    if (typeof ref !== 'string' || ref === '') {
      throw new EcsError('InvalidParameterException', 'TaskDefinition can not be blank.');
    }
    const cluster = this.cluster(body.cluster);
    const count = body.count === undefined ? 1 : Number(body.count);
    if (!Number.isInteger(count) || count < 1 || count > 10) {
      throw new EcsError('InvalidParameterException', 'count must be between 1 and 10.');
    }

    // ECS scopes a client token to its cluster; the same token with other parameters conflicts.
    const token = typeof body.clientToken === 'string' ? body.clientToken : undefined;
    const { clientToken: _t, ...rest } = body;
    const fingerprint = JSON.stringify({ ...rest, cluster: cluster.arn });
    const tokenKey = token === undefined ? undefined : `${cluster.arn}\n${token}`;
    const prior = tokenKey === undefined ? undefined : this.clientTokens.get(tokenKey);
    if (prior) {
      if (prior.fingerprint !== fingerprint) {
        throw new EcsError(
          'ConflictException',
          'The specified client token has already been used in a request with different parameters.',
          { resourceIds: prior.tasks.map((t) => t.taskArn) },
        );
      }
      return {
        response: { tasks: prior.tasks.map((t) => this.taskView(t, 'api')), failures: [] },
        started: [],
      };
    }

    const overrides = (
      typeof body.overrides === 'object' && body.overrides !== null ? body.overrides : {}
    ) as {
      containerOverrides?: ContainerOverrideInput[];
      cpu?: string;
      memory?: string;
    };
    const containerOverrides = Array.isArray(overrides.containerOverrides)
      ? overrides.containerOverrides
      : [];
    for (const o of containerOverrides) {
      if (typeof o?.name !== 'string' || o.name === '') {
        throw new EcsError('InvalidParameterException', 'Container overrides must name their container.');
      }
    }
    const def = this.findDefinition(ref);
    const specs = def
      ? this.containersFromDefinition(def, containerOverrides)
      : this.containersFromOverrides(ref, containerOverrides);

    const { family, revision } = this.parseTaskDefinitionRef(ref);
    // A task definition that is not registered locally keeps the name it was given.
    const taskDefinitionArn =
      def?.arn ??
      `arn:aws:ecs:${this.region}:${this.accountId}:task-definition/${family}${revision === undefined ? '' : `:${revision}`}`;
    const strategy = Array.isArray(body.capacityProviderStrategy)
      ? (body.capacityProviderStrategy as { capacityProvider?: string }[])
      : [];
    const capacityProviderName = strategy[0]?.capacityProvider;
    const launchType =
      typeof body.launchType === 'string'
        ? body.launchType
        : capacityProviderName?.startsWith('FARGATE')
          ? 'FARGATE'
          : capacityProviderName
            ? undefined
            : 'EC2';

    const tasks: TaskRecord[] = [];
    for (let i = 0; i < count; i++) {
      const id = randomBytes(16).toString('hex');
      const now = Date.now();
      let resolveDone!: () => void;
      const done = new Promise<void>((resolve) => {
        resolveDone = resolve;
      });
      const task: TaskRecord = {
        taskArn: `arn:aws:ecs:${this.region}:${this.accountId}:task/${cluster.name}/${id}`,
        id,
        clusterArn: cluster.arn,
        clusterName: cluster.name,
        taskDefinitionArn,
        family: def?.family ?? family,
        startedBy: typeof body.startedBy === 'string' ? body.startedBy : undefined,
        group: typeof body.group === 'string' ? body.group : `family:${def?.family ?? family}`,
        launchType,
        capacityProviderName,
        platformVersion:
          launchType === 'FARGATE'
            ? typeof body.platformVersion === 'string' && body.platformVersion !== 'LATEST'
              ? body.platformVersion
              : '1.4.0'
            : undefined,
        cpu: overrides.cpu ?? (typeof def?.fields.cpu === 'string' ? def.fields.cpu : undefined),
        memory: overrides.memory ?? (typeof def?.fields.memory === 'string' ? def.fields.memory : undefined),
        enableExecuteCommand: body.enableExecuteCommand === true,
        overrides: structuredClone({ inferenceAcceleratorOverrides: [], ...overrides, containerOverrides }),
        tags: Array.isArray(body.tags) ? structuredClone(body.tags) : [],
        lastStatus: 'PROVISIONING',
        desiredStatus: 'RUNNING',
        createdAt: now,
        connectivityAt: undefined,
        startedAt: undefined,
        stoppingAt: undefined,
        executionStoppedAt: undefined,
        stoppedAt: undefined,
        updatedAt: now,
        stopCode: undefined,
        stoppedReason: undefined,
        version: 1,
        containers: specs.map((s) => ({
          ...s,
          arn: `arn:aws:ecs:${this.region}:${this.accountId}:container/${cluster.name}/${id}/${randomUUID()}`,
          child: undefined,
          lastStatus: 'PENDING',
          exitCode: undefined,
          reason: undefined,
          killTimer: undefined,
        })),
        done,
        resolveDone,
      };
      tasks.push(task);
      this.taskList.push(task);
    }
    if (tokenKey !== undefined) this.clientTokens.set(tokenKey, { fingerprint, tasks });
    return { response: { tasks: tasks.map((t) => this.taskView(t, 'api')), failures: [] }, started: tasks };
  }

  private containersFromDefinition(
    def: TaskDefinitionRecord,
    overrides: ContainerOverrideInput[],
  ): ContainerSpec[] {
    for (const o of overrides) {
      if (!def.containerDefinitions.some((c) => c.name === o.name)) {
        throw new EcsError(
          'InvalidParameterException',
          `Override for container named ${o.name} is not a container in the TaskDefinition.`,
        );
      }
    }
    return def.containerDefinitions.map((c) => {
      const name = c.name ?? '';
      const o = overrides.find((x) => x.name === name);
      const argv = [
        ...(stringList(c.entryPoint) ?? []),
        ...(stringList(o?.command) ?? stringList(c.command) ?? []),
      ];
      if (argv.length === 0) throw this.noCommand(name);
      return {
        name,
        image: c.image,
        argv,
        env: { ...this.baseEnv, ...keyValues(c.environment), ...keyValues(o?.environment) },
        essential: c.essential !== false,
        stopTimeoutMs: typeof c.stopTimeout === 'number' ? c.stopTimeout * 1000 : this.stopTimeoutMs,
      };
    });
  }

  private containersFromOverrides(ref: string, overrides: ContainerOverrideInput[]): ContainerSpec[] {
    if (!overrides.some((o) => stringList(o.command)?.length)) {
      throw new EcsError(
        'InvalidParameterException',
        `Task definition ${ref} is not registered locally and no container override gives a command.`,
      );
    }
    return overrides.map((o) => {
      const name = o.name ?? '';
      const argv = stringList(o.command) ?? [];
      if (argv.length === 0) throw this.noCommand(name);
      return {
        name,
        image: undefined,
        argv,
        env: { ...this.baseEnv, ...keyValues(o.environment) },
        essential: true,
        stopTimeoutMs: this.stopTimeoutMs,
      };
    });
  }

  private noCommand(container: string): EcsError {
    // Locally there is no image to supply a default command.
    return new EcsError(
      'InvalidParameterException',
      `Container ${container} has no command: give one in containerOverrides or the task definition.`,
    );
  }

  private findTask(clusterRef: unknown, ref: string): TaskRecord | undefined {
    const cluster = this.cluster(clusterRef);
    const id = /^arn:[^:]+:ecs:[^:]*:[^:]*:task\/(?:[^/]+\/)?([^/]+)$/.exec(ref)?.[1] ?? ref;
    return this.taskList.find((t) => t.id === id && t.clusterName === cluster.name);
  }

  private describeTasks(body: Record<string, unknown>): unknown {
    const refs = stringList(body.tasks);
    if (!refs || refs.length === 0 || refs.length > 100) {
      throw new EcsError('InvalidParameterException', 'Tasks must contain between 1 and 100 elements.');
    }
    const withTags = (stringList(body.include) ?? []).includes('TAGS');
    const tasks: unknown[] = [];
    const failures: unknown[] = [];
    for (const ref of refs) {
      const task = this.findTask(body.cluster, ref);
      if (task) tasks.push({ ...this.taskView(task, 'api'), ...(withTags ? { tags: task.tags } : {}) });
      else failures.push({ arn: ref, reason: 'MISSING' });
    }
    return { tasks, failures };
  }

  private listTasks(body: Record<string, unknown>): unknown {
    const cluster = this.cluster(body.cluster);
    // As ECS: without a desiredStatus filter, only tasks whose desired status is RUNNING.
    const desired = typeof body.desiredStatus === 'string' ? body.desiredStatus : 'RUNNING';
    const matching = this.taskList.filter(
      (t) =>
        t.clusterName === cluster.name &&
        t.desiredStatus === desired &&
        (typeof body.startedBy !== 'string' || t.startedBy === body.startedBy) &&
        (typeof body.family !== 'string' || t.family === body.family) &&
        (typeof body.serviceName !== 'string' || t.group === `service:${body.serviceName}`),
    );
    const max =
      typeof body.maxResults === 'number' && body.maxResults > 0 ? Math.min(body.maxResults, 100) : 100;
    const from =
      typeof body.nextToken === 'string'
        ? Number(Buffer.from(body.nextToken, 'base64url').toString('utf8'))
        : 0;
    if (!Number.isInteger(from) || from < 0)
      throw new EcsError('InvalidParameterException', 'Invalid nextToken.');
    const page = matching.slice(from, from + max);
    const next =
      from + max < matching.length ? Buffer.from(String(from + max)).toString('base64url') : undefined;
    return { taskArns: page.map((t) => t.taskArn), ...(next ? { nextToken: next } : {}) };
  }

  private stopTask(body: Record<string, unknown>): unknown {
    const ref = body.task;
    const task = typeof ref === 'string' ? this.findTask(body.cluster, ref) : undefined;
    if (!task) throw new EcsError('InvalidParameterException', 'The referenced task was not found.');
    if (task.desiredStatus === 'RUNNING') {
      this.beginStopping(
        task,
        'UserInitiated',
        typeof body.reason === 'string' && body.reason !== '' ? body.reason : 'Task stopped by user',
      );
    }
    return { task: this.taskView(task, 'api') };
  }

  // --- lifecycle ----------------------------------------------------------------------------------

  private hasChildren(task: TaskRecord): boolean {
    return task.containers.some((c) => c.child !== undefined);
  }

  private touch(task: TaskRecord): void {
    task.version += 1;
    task.updatedAt = Date.now();
  }

  private launch(task: TaskRecord): void {
    if (this.closing) return;
    if (task.desiredStatus === 'STOPPED') {
      // Stopped before its containers started: none ever runs.
      for (const c of task.containers) c.lastStatus = 'STOPPED';
      this.finish(task);
      return;
    }
    task.connectivityAt = Date.now();
    for (const c of task.containers) this.spawnContainer(task, c);
  }

  private spawnContainer(task: TaskRecord, c: ContainerRun): void {
    const [command = '', ...args] = c.argv;
    let settled = false;
    const settle = (code: number | null, signal: NodeJS.Signals | null, failure?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(c.killTimer);
      c.lastStatus = 'STOPPED';
      if (failure) c.reason = `CannotStartContainerError: ${failure.message}`;
      else c.exitCode = exitCodeOf(code, signal);
      this.containerStopped(task, c);
    };
    let child: ChildProcess;
    try {
      child = spawn(command, args, { env: c.env, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      settle(null, null, error as Error);
      return;
    }
    c.child = child;
    const prefix = `[ecs ${task.id.slice(0, 8)} ${c.name}]`;
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
        try {
          this.output(`${prefix} ${line}`);
        } catch {
          // An output sink that throws must not take the task down.
        }
      });
    }
    child.once('spawn', () => {
      c.lastStatus = 'RUNNING';
      this.maybeRunning(task);
    });
    child.once('error', (error) => {
      // Before spawn this is a failure to start; after it (a failed kill) the process lives on.
      if (c.lastStatus === 'PENDING') settle(null, null, error);
    });
    child.once('close', (code, signal) => settle(code, signal));
  }

  private maybeRunning(task: TaskRecord): void {
    if (task.lastStatus !== 'PROVISIONING' || task.desiredStatus !== 'RUNNING') return;
    if (task.containers.some((c) => c.lastStatus === 'PENDING')) return;
    task.lastStatus = 'RUNNING';
    task.startedAt = Date.now();
    this.touch(task);
    this.emit(task);
  }

  private containerStopped(task: TaskRecord, c: ContainerRun): void {
    if (task.desiredStatus === 'RUNNING') {
      if (c.reason !== undefined) {
        this.beginStopping(task, 'TaskFailedToStart', c.reason);
      } else if (c.essential) {
        this.beginStopping(task, 'EssentialContainerExited', 'Essential container in task exited');
      }
    }
    if (task.containers.every((x) => x.lastStatus === 'STOPPED')) this.finish(task);
  }

  private beginStopping(task: TaskRecord, stopCode: string, reason: string): void {
    task.desiredStatus = 'STOPPED';
    task.stopCode = stopCode;
    task.stoppedReason = reason;
    task.stoppingAt = Date.now();
    this.touch(task);
    for (const c of task.containers) {
      if (c.lastStatus === 'STOPPED' || !c.child) continue;
      const child = c.child;
      child.kill('SIGTERM');
      c.killTimer = setTimeout(() => child.kill('SIGKILL'), c.stopTimeoutMs);
      c.killTimer.unref();
    }
  }

  private finish(task: TaskRecord): void {
    if (task.lastStatus === 'STOPPED') return;
    const now = Date.now();
    task.lastStatus = 'STOPPED';
    task.desiredStatus = 'STOPPED';
    task.executionStoppedAt = now;
    task.stoppedAt = now;
    this.touch(task);
    this.emit(task);
    task.resolveDone();
  }

  // --- views and events ---------------------------------------------------------------------------

  /** The task as DescribeTasks shows it ('api': epoch seconds) or as its event does ('event': ISO). */
  private taskView(task: TaskRecord, as: 'api' | 'event'): Record<string, unknown> {
    const time = (ms: number | undefined) =>
      ms === undefined ? undefined : as === 'api' ? ms / 1000 : new Date(ms).toISOString();
    const view: Record<string, unknown> = {
      attachments: [],
      attributes: [],
      capacityProviderName: task.capacityProviderName,
      clusterArn: task.clusterArn,
      connectivity: task.connectivityAt === undefined ? undefined : 'CONNECTED',
      connectivityAt: time(task.connectivityAt),
      containers: task.containers.map((c) => ({
        containerArn: c.arn,
        taskArn: task.taskArn,
        name: c.name,
        image: c.image,
        lastStatus: c.lastStatus,
        exitCode: c.exitCode,
        reason: c.reason,
        networkInterfaces: [],
        networkBindings: [],
      })),
      cpu: task.cpu,
      createdAt: time(task.createdAt),
      desiredStatus: task.desiredStatus,
      enableExecuteCommand: task.enableExecuteCommand,
      executionStoppedAt: time(task.executionStoppedAt),
      group: task.group,
      lastStatus: task.lastStatus,
      launchType: task.launchType,
      memory: task.memory,
      overrides: task.overrides,
      platformVersion: task.platformVersion,
      platformFamily: task.platformVersion === undefined ? undefined : 'Linux',
      startedAt: time(task.startedAt),
      startedBy: task.startedBy,
      stopCode: task.stopCode,
      stoppedAt: time(task.stoppedAt),
      stoppedReason: task.stoppedReason,
      stoppingAt: time(task.stoppingAt),
      taskArn: task.taskArn,
      taskDefinitionArn: task.taskDefinitionArn,
      version: task.version,
    };
    // ECS's events carry updatedAt; its API's Task has no such member.
    if (as === 'event') view.updatedAt = time(task.updatedAt);
    return JSON.parse(JSON.stringify(view)) as Record<string, unknown>;
  }

  private emit(task: TaskRecord): void {
    if (this.closing) return;
    if (this.dropEvents > 0) {
      this.dropEvents -= 1;
      return;
    }
    const event: EcsTaskStateChangeEvent = {
      version: '0',
      id: randomUUID(),
      'detail-type': 'ECS Task State Change',
      source: 'aws.ecs',
      account: this.accountId,
      // EventBridge's time has whole seconds.
      time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: this.region,
      resources: [task.taskArn],
      detail: this.taskView(task, 'event'),
    };
    const copies = this.duplicateEvents ? 2 : 1;
    // One at a time, in order, as a consumer would see them when nothing is lost.
    this.delivery = this.delivery.then(async () => {
      for (let i = 0; i < copies; i++) {
        try {
          await this.onEvent(structuredClone(event));
        } catch (error) {
          this.output(`[ecs] onEvent failed for ${task.taskArn}: ${String(error)}`);
        }
      }
    });
  }
}

function send(res: ServerResponse, status: number, body: unknown, errorType?: string): void {
  sendAwsJson(res, '1.1', status, body, errorType);
}
