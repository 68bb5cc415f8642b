/**
 * Calls a job's target, whatever its type, within its timeout, and reports what happened.
 * AWS targets are checked against the configured allowlist again at call time, so a job
 * created under an older configuration cannot reach what the current one forbids.
 *
 * Lambda and EventBridge calls, and their SDK clients, are loaded the first time a job of that
 * type runs (lambda-calls.ts, eventbridge-calls.ts). SQS is not: the worker needs it anyway.
 */
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { MessageAttributeValue, SQSClient } from '@aws-sdk/client-sqs';
import type { Lazy } from '../commons/lazy.js';
import type { Clock, SecretSealer, TargetCallContext, TargetCaller, TargetOutcome } from '../domain/ports.js';
import type { SqsTarget } from '../domain/target.js';
import { awsTargetRefusal, type TargetAccess } from '../domain/target-access.js';
import { awsFailure, notAllowed } from './aws-outcomes.js';
import { callHttpTarget } from './http-target.js';
import type { UrlGuard } from './url-guard.js';

export interface AwsTargetClients {
  lambda: Lazy<LambdaClient>;
  sqs: Lazy<SQSClient>;
  eventBridge: Lazy<EventBridgeClient>;
}

export interface TargetCallerOptions {
  clients: AwsTargetClients;
  /** Which AWS resources targets may name: checked again at every call. */
  access: TargetAccess;
  /** Refuses HTTP targets that reach internal addresses. */
  urlGuard?: UrlGuard;
  /** The tenant's signing secrets; every HTTP call is signed with them. */
  signingSecrets?: (tenantId: string) => Promise<string[]>;
  /** Opens sealed secret headers. */
  box?: SecretSealer;
  clock?: Clock;
  /** Replaces the HTTP caller (tests). */
  http?: TargetCaller;
}

export function createTargetCaller(options: TargetCallerOptions): TargetCaller {
  const { clients } = options;
  return async (target, context) => {
    if (target.type === 'http') {
      if (options.http) return options.http(target, context);
      const { tenantId, sealedHeaders } = context;
      const secrets = tenantId && options.signingSecrets ? await options.signingSecrets(tenantId) : [];
      const secretHeaders =
        sealedHeaders && options.box && tenantId
          ? (JSON.parse(await options.box.open(sealedHeaders, { tenantId, jobId: context.jobId })) as Record<
              string,
              string
            >)
          : undefined;
      const now = (options.clock?.now() ?? new Date()).getTime();
      return callHttpTarget(target, context, options.urlGuard, {
        signing: { secrets, timestamp: Math.floor(now / 1000) },
        ...(secretHeaders ? { secretHeaders } : {}),
      });
    }
    if (target.type === 'ecs' || target.type === 'stepfunctions') {
      // Started by the long-target starter, never called and awaited here.
      return { kind: 'error', message: `a ${target.type} target is a long run: it is started, not called` };
    }
    const refusal = awsTargetRefusal(target, options.access);
    if (refusal) return notAllowed(refusal.message);
    const abortSignal = AbortSignal.timeout(target.timeoutSeconds * 1000);
    try {
      switch (target.type) {
        case 'lambda': {
          const [client, { invokeLambda }] = await Promise.all([
            clients.lambda(),
            import('./lambda-calls.js'),
          ]);
          return await invokeLambda(client, target, context, abortSignal);
        }
        case 'sqs':
          return await sendToQueue(await clients.sqs(), target, context, abortSignal);
        case 'eventbridge': {
          const [client, { putEvent }] = await Promise.all([
            clients.eventBridge(),
            import('./eventbridge-calls.js'),
          ]);
          return await putEvent(client, target, abortSignal);
        }
      }
    } catch (error) {
      return awsFailure(error, `no response within ${target.timeoutSeconds}s`);
    }
  };
}

async function sendToQueue(
  sqs: SQSClient,
  target: SqsTarget,
  context: TargetCallContext,
  abortSignal: AbortSignal,
): Promise<TargetOutcome> {
  const attributes: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(target.messageAttributes)) {
    attributes[name] = { DataType: 'String', StringValue: value };
  }
  attributes['sundial-job-id'] = { DataType: 'String', StringValue: context.jobId };
  attributes['sundial-run-id'] = { DataType: 'String', StringValue: context.runId };
  attributes['sundial-scheduled-time'] = { DataType: 'String', StringValue: context.scheduledAt };
  const fifo = target.queueUrl.endsWith('.fifo');
  const { SendMessageCommand } = await import('@aws-sdk/client-sqs');
  const { MessageId } = await sqs.send(
    new SendMessageCommand({
      QueueUrl: target.queueUrl,
      MessageBody: target.body,
      MessageAttributes: attributes,
      // On FIFO queues a redelivered firing sends a message SQS drops as a duplicate.
      ...(fifo
        ? { MessageGroupId: target.messageGroupId ?? context.jobId, MessageDeduplicationId: context.runId }
        : {}),
    }),
    { abortSignal },
  );
  return { kind: 'delivered', statusCode: null, bodyExcerpt: JSON.stringify({ messageId: MessageId }) };
}
