/**
 * Starts, describes and stops the targets that finish later than they start: ECS tasks
 * (RunTask), Step Functions executions (StartExecution) and HTTP targets that call back.
 * Every start is idempotent per attempt: the attempt key is the task's `startedBy` and
 * client token and the execution's name, so a worker that stopped after starting one finds
 * it instead of starting another. The same parsers read a task or an execution from a
 * describe call and from its EventBridge state-change event.
 */
import {
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  type ECSClient,
  type KeyValuePair,
  ListTasksCommand,
  RunTaskCommand,
  StopTaskCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import {
  DescribeExecutionCommand,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { LongHandle, LongStart, LongStartContext, LongTargets, TargetCaller } from '../domain/ports.js';
import { BODY_EXCERPT_CHARS, type LongOutcome, type RunResult } from '../domain/run.js';
import type { EcsTarget, LongTarget, StepFunctionsTarget } from '../domain/target.js';
import { awsTargetRefusal, type TargetAccess } from '../domain/target-access.js';
import { awsFailure, notAllowed } from './aws-outcomes.js';

export interface LongTargetOptions {
  ecs: ECSClient;
  sfn: SFNClient;
  /** Calls a callback target (signing, secret headers, the URL guard: the HTTP caller's). */
  callHttp: TargetCaller;
  access: TargetAccess;
}

export function createLongTargets(options: LongTargetOptions): LongTargets {
  const { ecs, sfn } = options;
  // Task definitions change only by new revisions: what one logs to is read once per process.
  const logConfigs = new Map<string, Promise<ContainerLogs[]>>();
  const logsOf = (taskDefinition: string) => {
    let found = logConfigs.get(taskDefinition);
    if (!found) {
      found = describeLogs(ecs, taskDefinition).catch(() => []);
      logConfigs.set(taskDefinition, found);
    }
    return found;
  };

  return {
    async start(target: LongTarget, context: LongStartContext): Promise<LongStart> {
      if (target.type === 'http') {
        const outcome = await options.callHttp(target, context);
        if (outcome.kind === 'response' && outcome.statusCode >= 200 && outcome.statusCode < 300) {
          return {
            kind: 'started',
            ref: null,
            result: { statusCode: outcome.statusCode, bodyExcerpt: outcome.bodyExcerpt },
          };
        }
        return outcome.kind === 'delivered' ? { kind: 'error', message: 'unexpected outcome' } : outcome;
      }
      const refusal = awsTargetRefusal(target, options.access);
      if (refusal) return notAllowed(refusal.message);
      const abortSignal = AbortSignal.timeout(target.timeoutSeconds * 1000);
      try {
        return target.type === 'ecs'
          ? await startTask(ecs, target, context, await logsOf(target.taskDefinition), abortSignal)
          : await startExecution(sfn, target, context, abortSignal);
      } catch (error) {
        return awsFailure(error, `no answer to the start call within ${target.timeoutSeconds}s`);
      }
    },

    async describe(handle: LongHandle): Promise<LongOutcome | null> {
      if (handle.ref === null || handle.kind === 'callback') return null;
      if (handle.kind === 'ecs') {
        const { tasks, failures } = await ecs.send(
          new DescribeTasksCommand({ cluster: handle.cluster, tasks: [handle.ref] }),
        );
        const task = tasks?.[0];
        if (task) return ecsOutcome(task);
        if (failures?.some((f) => f.reason === 'MISSING')) {
          // ECS forgets a stopped task after about an hour: its outcome is lost with it.
          return {
            status: 'failed',
            error: { type: 'task_missing', message: 'ECS no longer knows the task; its outcome is unknown' },
            result: { taskArn: handle.ref },
          };
        }
        return null;
      }
      const execution = await sfn.send(new DescribeExecutionCommand({ executionArn: handle.ref }));
      return executionOutcome({
        executionArn: handle.ref,
        status: execution.status,
        output: execution.output,
        error: execution.error,
        cause: execution.cause,
      });
    },

    async stop(handle: LongHandle, reason: string): Promise<void> {
      if (handle.ref === null || handle.kind === 'callback') return;
      if (handle.kind === 'ecs') {
        await ecs.send(
          new StopTaskCommand({ cluster: handle.cluster, task: handle.ref, reason: reason.slice(0, 255) }),
        );
        return;
      }
      try {
        await sfn.send(
          new StopExecutionCommand({
            executionArn: handle.ref,
            error: 'Sundial.Stopped',
            cause: reason.slice(0, 32_768),
          }),
        );
      } catch (error) {
        // Stopping an execution that already ended is not a failure to stop it.
        if ((error as Error).name !== 'ExecutionDoesNotExist') throw error;
      }
    },
  };
}

interface ContainerLogs {
  container: string;
  group: string;
  region: string;
  prefix: string;
}

async function describeLogs(ecs: ECSClient, taskDefinition: string): Promise<ContainerLogs[]> {
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

async function startTask(
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

async function startExecution(
  sfn: SFNClient,
  target: StepFunctionsTarget,
  context: LongStartContext,
  abortSignal: AbortSignal,
): Promise<LongStart> {
  const name = context.attemptKey;
  try {
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: target.stateMachineArn,
        name,
        input: JSON.stringify(target.input),
      }),
      { abortSignal },
    );
    return { kind: 'started', ref: executionArn ?? null, result: executionArn ? { executionArn } : {} };
  } catch (error) {
    // Started before (the same name): that execution is this attempt's, whatever became of it.
    if ((error as Error).name !== 'ExecutionAlreadyExists') throw error;
    const executionArn = `${target.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    return { kind: 'started', ref: executionArn, result: { executionArn } };
  }
}

/** A task as DescribeTasks or its state-change event shows it: its outcome once it stopped. */
export function ecsOutcome(
  task: Pick<Task, 'taskArn' | 'lastStatus' | 'stopCode' | 'stoppedReason' | 'containers'>,
): LongOutcome | null {
  if (task.lastStatus !== 'STOPPED') return null;
  const taskArn = task.taskArn ?? '';
  const reason = task.stoppedReason ?? String(task.stopCode ?? 'stopped');
  const containers = task.containers ?? [];
  const failed = containers.find((c) => typeof c.exitCode === 'number' && c.exitCode !== 0);
  if (failed) {
    return {
      status: 'failed',
      error: {
        type: 'exit_code',
        message: `container ${failed.name ?? '?'} exited with code ${failed.exitCode}: ${reason}`.slice(
          0,
          500,
        ),
      },
      result: { taskArn, exitCode: failed.exitCode ?? null },
    };
  }
  if (containers.length === 0 || containers.some((c) => typeof c.exitCode !== 'number')) {
    // It never ran, or a container has no exit code (it could not start, or the task was lost).
    return {
      status: 'failed',
      error: {
        type: 'task_stopped',
        message: `the task stopped without an exit code: ${reason}`.slice(0, 500),
      },
      result: { taskArn, exitCode: null },
    };
  }
  return { status: 'succeeded', error: null, result: { taskArn, exitCode: 0 } };
}

/** An execution as DescribeExecution or its status-change event shows it: its outcome once it closed. */
export function executionOutcome(execution: {
  executionArn?: string | undefined;
  status?: string | undefined;
  output?: string | null | undefined;
  error?: string | null | undefined;
  cause?: string | null | undefined;
}): LongOutcome | null {
  const result: Partial<RunResult> = execution.executionArn ? { executionArn: execution.executionArn } : {};
  const what = [execution.error, execution.cause].filter(Boolean).join(': ').slice(0, 500);
  switch (execution.status) {
    case 'SUCCEEDED':
      return {
        status: 'succeeded',
        error: null,
        result: { ...result, bodyExcerpt: (execution.output ?? '').slice(0, BODY_EXCERPT_CHARS) },
      };
    case 'FAILED':
      return {
        status: 'failed',
        error: { type: 'execution_failed', message: what || 'the execution failed' },
        result,
      };
    case 'TIMED_OUT':
      return {
        status: 'timed_out',
        error: { type: 'timeout', message: what || 'the execution timed out (its state machine timeout)' },
        result,
      };
    case 'ABORTED':
      return {
        status: 'failed',
        error: { type: 'execution_aborted', message: what || 'the execution was stopped' },
        result,
      };
    default:
      return null;
  }
}
