/**
 * The Step Functions calls of long runs (long-targets.ts): a module of their own, so that they
 * and the Step Functions client are loaded only when a run of such a target first needs them.
 */
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { LongStart, LongStartContext } from '../domain/ports.js';
import type { StepFunctionsTarget } from '../domain/target.js';

export async function startExecution(
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

export function describeExecution(
  sfn: SFNClient,
  executionArn: string,
): Promise<DescribeExecutionCommandOutput> {
  return sfn.send(new DescribeExecutionCommand({ executionArn }));
}

export async function stopExecution(sfn: SFNClient, executionArn: string, reason: string): Promise<void> {
  await sfn.send(
    new StopExecutionCommand({ executionArn, error: 'Sundial.Stopped', cause: reason.slice(0, 32_768) }),
  );
}
