/**
 * Starts, describes and stops the targets that finish later than they start: ECS tasks
 * (RunTask), Step Functions executions (StartExecution) and HTTP targets that call back.
 * Every start is idempotent per attempt: the attempt key is the task's `startedBy` and
 * client token and the execution's name, so a worker that stopped after starting one finds
 * it instead of starting another. The same parsers read a task or an execution from a
 * describe call and from its EventBridge state-change event.
 *
 * The ECS and Step Functions calls, and their SDK clients, are loaded the first time a run of
 * that type needs them (ecs-calls.ts, sfn-calls.ts): a cold start that starts none pays for neither.
 */
import type { ECSClient, Task } from '@aws-sdk/client-ecs';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { Lazy } from '../commons/lazy.js';
import type { LongHandle, LongStart, LongStartContext, LongTargets, TargetCaller } from '../domain/ports.js';
import { BODY_EXCERPT_CHARS, type LongOutcome, type RunResult } from '../domain/run.js';
import type { LongTarget } from '../domain/target.js';
import { awsTargetRefusal, type TargetAccess } from '../domain/target-access.js';
import { awsFailure, notAllowed } from './aws-outcomes.js';
import type { ContainerLogs } from './ecs-calls.js';

const ecsCalls = () => import('./ecs-calls.js');
const sfnCalls = () => import('./sfn-calls.js');

export interface LongTargetOptions {
  ecs: Lazy<ECSClient>;
  sfn: Lazy<SFNClient>;
  /** Calls a callback target (signing, secret headers, the URL guard: the HTTP caller's). */
  callHttp: TargetCaller;
  access: TargetAccess;
}

export function createLongTargets(options: LongTargetOptions): LongTargets {
  const ecs = async () => {
    const [client, calls] = await Promise.all([options.ecs(), ecsCalls()]);
    return { client, ...calls };
  };
  const sfn = async () => {
    const [client, calls] = await Promise.all([options.sfn(), sfnCalls()]);
    return { client, ...calls };
  };
  // Task definitions change only by new revisions: what one logs to is read once per process.
  const logConfigs = new Map<string, Promise<ContainerLogs[]>>();
  const logsOf = (taskDefinition: string) => {
    let found = logConfigs.get(taskDefinition);
    if (!found) {
      found = ecs()
        .then(({ client, describeLogs }) => describeLogs(client, taskDefinition))
        .catch(() => []);
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
        if (target.type === 'ecs') {
          const { client, startTask } = await ecs();
          return await startTask(client, target, context, await logsOf(target.taskDefinition), abortSignal);
        }
        const { client, startExecution } = await sfn();
        return await startExecution(client, target, context, abortSignal);
      } catch (error) {
        return awsFailure(error, `no answer to the start call within ${target.timeoutSeconds}s`);
      }
    },

    async describe(handle: LongHandle): Promise<LongOutcome | null> {
      if (handle.ref === null || handle.kind === 'callback') return null;
      if (handle.kind === 'ecs') {
        const { client, describeTask } = await ecs();
        const { tasks, failures } = await describeTask(client, handle.cluster, handle.ref);
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
      const { client, describeExecution } = await sfn();
      const execution = await describeExecution(client, handle.ref);
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
        const { client, stopTask } = await ecs();
        await stopTask(client, handle.cluster, handle.ref, reason);
        return;
      }
      try {
        const { client, stopExecution } = await sfn();
        await stopExecution(client, handle.ref, reason);
      } catch (error) {
        // Stopping an execution that already ended is not a failure to stop it.
        if ((error as Error).name !== 'ExecutionDoesNotExist') throw error;
      }
    },
  };
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
