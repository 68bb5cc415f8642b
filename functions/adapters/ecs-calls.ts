/**
 * The ECS calls of long runs (long-targets.ts): a module of their own, so that they and the ECS
 * client are loaded only when a run of an ECS target first needs them.
 */
import {
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  type DescribeTasksCommandOutput,
  type ECSClient,
  type KeyValuePair,
  ListTasksCommand,
  RunTaskCommand,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import type { LongStart, LongStartContext } from '../domain/ports.js';
import type { RunResult } from '../domain/run.js';
import type { EcsTarget } from '../domain/target.js';

export interface ContainerLogs {
  container: string;
  group: string;
  region: string;
  prefix: string;
}

export async function describeLogs(ecs: ECSClient, taskDefinition: string): Promise<ContainerLogs[]> {
  const { taskDefinition: definition } = await ecs.send(
    new DescribeTaskDefinitionCommand({ taskDefinition }),
  );
  return (definition?.containerDefinitions ?? []).flatMap((container) => {
    const config = container.logConfiguration;
    const options = config?.options ?? {};
    const group = options['awslogs-group'];
    const region = options['awslogs-region'];
    const prefix = options['awslogs-stream-prefix'];
    if (config?.logDriver !== 'awslogs' || !group || !region || !prefix || !container.name) return [];
    return [{ container: container.name, group, region, prefix }];
  });
}

/** What Sundial gives every container of the task: which run it is, and where to heartbeat. */
function sundialEnvironment(context: LongStartContext): KeyValuePair[] {
  return [
    { name: 'SUNDIAL_JOB_ID', value: context.jobId },
    { name: 'SUNDIAL_RUN_ID', value: context.runId },
    { name: 'SUNDIAL_ATTEMPT', value: String(context.attempt) },
    { name: 'SUNDIAL_SCHEDULED_TIME', value: context.scheduledAt },
    // POST $SUNDIAL_CALLBACK_URL/heartbeat { progress, message }; the task's exit is its outcome.
    { name: 'SUNDIAL_CALLBACK_URL', value: context.callbackUrl },
  ];
}

export async function startTask(
  ecs: ECSClient,
  target: EcsTarget,
  context: LongStartContext,
  logs: ContainerLogs[],
  abortSignal: AbortSignal,
): Promise<LongStart> {
  const key = context.attemptKey;
  // A worker that stopped after RunTask left its task behind, named by startedBy: find it.
  // (A first start needs no look: the client token makes a retried RunTask the same task.)
  for (const desiredStatus of context.resuming ? (['RUNNING', 'STOPPED'] as const) : []) {
    const { taskArns } = await ecs.send(
      new ListTasksCommand({ cluster: target.cluster, startedBy: key, desiredStatus }),
      { abortSignal },
    );
    const found = taskArns?.[0];
    if (found) return { kind: 'started', ref: found, result: taskResult(found, logs) };
  }
  const names = new Set([...target.containerOverrides.map((o) => o.name), ...logs.map((l) => l.container)]);
  const overrides = [...names].map((name) => {
    const given = target.containerOverrides.find((o) => o.name === name);
    return {
      name,
      ...(given?.command ? { command: given.command } : {}),
      environment: [
        ...Object.entries(given?.environment ?? {}).map(([n, value]) => ({ name: n, value })),
        ...sundialEnvironment(context),
      ],
    };
  });
  const { tasks, failures } = await ecs.send(
    new RunTaskCommand({
      cluster: target.cluster,
      taskDefinition: target.taskDefinition,
      launchType: target.launchType,
      count: 1,
      startedBy: key,
      // ECS keeps a client token for a while: a retried call returns the same task.
      clientToken: key,
      ...(target.network
        ? {
            networkConfiguration: {
              awsvpcConfiguration: {
                subnets: target.network.subnets,
                securityGroups: target.network.securityGroups,
                assignPublicIp: target.network.assignPublicIp ? 'ENABLED' : 'DISABLED',
              },
            },
          }
        : {}),
      overrides: { containerOverrides: overrides },
    }),
    { abortSignal },
  );
  const task = tasks?.[0];
  if (!task?.taskArn) {
    const failure = failures?.[0];
    return {
      kind: 'rejected',
      type: 'run_task_failed',
      message:
        `ECS did not start the task: ${failure?.reason ?? 'no reason given'}${failure?.detail ? ` (${failure.detail})` : ''}`.slice(
          0,
          500,
        ),
      statusCode: null,
      bodyExcerpt: null,
    };
  }
  return { kind: 'started', ref: task.taskArn, result: taskResult(task.taskArn, logs) };
}

/** The task and, when its definition logs with awslogs, where its first such container's output goes. */
function taskResult(taskArn: string, logs: ContainerLogs[]): Partial<RunResult> {
  const taskId = taskArn.split('/').pop() ?? taskArn;
  const first = logs[0];
  return {
    taskArn,
    ...(first
      ? {
          logs: {
            group: first.group,
            region: first.region,
            stream: `${first.prefix}/${first.container}/${taskId}`,
          },
        }
      : {}),
  };
}

export function describeTask(
  ecs: ECSClient,
  cluster: string | undefined,
  taskArn: string,
): Promise<DescribeTasksCommandOutput> {
  return ecs.send(new DescribeTasksCommand({ cluster, tasks: [taskArn] }));
}

export async function stopTask(
  ecs: ECSClient,
  cluster: string | undefined,
  taskArn: string,
  reason: string,
): Promise<void> {
  await ecs.send(new StopTaskCommand({ cluster, task: taskArn, reason: reason.slice(0, 255) }));
}
