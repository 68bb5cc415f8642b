/**
 * What an AWS call that did not go through means for an attempt: shared by the targets
 * that answer (Lambda, SQS, EventBridge) and those that start (ECS, Step Functions).
 */
import type { TargetOutcome } from '../domain/ports.js';

/** A target this deployment does not allow (invariant 9), refused before any call. */
export function notAllowed(message: string): Extract<TargetOutcome, { kind: 'rejected' }> {
  return { kind: 'rejected', type: 'target_not_allowed', message, statusCode: null, bodyExcerpt: null };
}

/** An SDK failure: the timeout (`timeoutMessage`), an AWS error answer, or no answer at all. */
export function awsFailure(
  error: unknown,
  timeoutMessage: string,
): Exclude<TargetOutcome, { kind: 'response' | 'delivered' }> {
  const err = error as Error & { $metadata?: { httpStatusCode?: number }; $fault?: string };
  if (err.name === 'AbortError' || err.name === 'TimeoutError') {
    return { kind: 'timeout', message: timeoutMessage };
  }
  if (err.$metadata?.httpStatusCode !== undefined) {
    return {
      kind: 'rejected',
      type: 'aws_error',
      message: `${err.name}: ${err.message}`.slice(0, 500),
      statusCode: err.$metadata.httpStatusCode,
      bodyExcerpt: null,
    };
  }
  return { kind: 'error', message: `${err.name}: ${err.message}`.slice(0, 500) };
}
