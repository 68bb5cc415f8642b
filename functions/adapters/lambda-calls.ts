/**
 * Invoking a Lambda target (targets.ts): a module of its own, so that it and the Lambda client
 * are loaded only when a job of that type first runs.
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { TargetCallContext, TargetOutcome } from '../domain/ports.js';
import { BODY_EXCERPT_CHARS } from '../domain/run.js';
import type { LambdaTarget } from '../domain/target.js';

export async function invokeLambda(
  lambda: LambdaClient,
  target: LambdaTarget,
  context: TargetCallContext,
  abortSignal: AbortSignal,
): Promise<TargetOutcome> {
  const response = await lambda.send(
    new InvokeCommand({
      FunctionName: target.functionArn,
      InvocationType: 'RequestResponse',
      Payload: Buffer.from(JSON.stringify(target.payload)),
      // The function reads these from context.clientContext.custom to deduplicate.
      ClientContext: Buffer.from(
        JSON.stringify({
          custom: {
            'sundial-job-id': context.jobId,
            'sundial-run-id': context.runId,
            'sundial-scheduled-time': context.scheduledAt,
          },
        }),
      ).toString('base64'),
    }),
    { abortSignal },
  );
  const text = response.Payload ? Buffer.from(response.Payload).toString('utf8') : '';
  const bodyExcerpt = text.slice(0, BODY_EXCERPT_CHARS);
  if (response.FunctionError) {
    return {
      kind: 'rejected',
      type: 'function_error',
      message: `the function failed (${response.FunctionError}): ${errorMessageOf(text)}`,
      statusCode: response.StatusCode ?? null,
      bodyExcerpt,
    };
  }
  return { kind: 'delivered', statusCode: response.StatusCode ?? 200, bodyExcerpt };
}

function errorMessageOf(payload: string): string {
  try {
    const parsed = JSON.parse(payload) as { errorType?: string; errorMessage?: string };
    return [parsed.errorType, parsed.errorMessage].filter(Boolean).join(': ').slice(0, 500) || 'no message';
  } catch {
    return payload.slice(0, 500) || 'no message';
  }
}
