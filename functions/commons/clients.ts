/**
 * AWS SDK clients. Endpoints come from the SDK's standard AWS_ENDPOINT_URL_* variables,
 * so the same code talks to AWS or to the local emulators.
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import type { SQSClient, SQSClientConfig } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type Lazy, lazy } from './lazy.js';

export function createDocumentClient(config: DynamoDBClientConfig = {}): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient(config), {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
  });
}

/**
 * EventBridge Scheduler, made and its SDK code loaded at the first schedule read or written:
 * the api's reads never touch one (the sync function and the reconciler do at every run).
 */
export function createLazySchedulerClient(wrap: <T extends object>(client: T) => T): Lazy<SchedulerClient> {
  return lazy(async () => wrap(new (await import('@aws-sdk/client-scheduler')).SchedulerClient({})));
}

/**
 * SQS, always at its configured endpoint: by default the SDK sends a request to the host
 * in its QueueUrl, which would carry Sundial's signed credentials to any host a queue
 * URL names (invariant 9).
 */
export const sqsConfig = (config: SQSClientConfig = {}): SQSClientConfig => ({
  ...config,
  useQueueUrlAsEndpoint: false,
});

/**
 * SQS at its configured endpoint (sqsConfig), made and its SDK code loaded at the first message a
 * function sends (a retry, a deferral, a dependent, a run-now, an SQS target): a batch whose
 * runs all succeed at once sends none.
 */
export function createLazySqsClient(wrap: <T extends object>(client: T) => T): Lazy<SQSClient> {
  return lazy(async () => wrap(new (await import('@aws-sdk/client-sqs')).SQSClient(sqsConfig({}))));
}

/**
 * KMS, made and its SDK code loaded at the first secret sealed or opened (a worker instance's
 * first signed HTTP call, a job with secret headers): most cold starts open none.
 */
export function createLazyKmsClient(wrap: <T extends object>(client: T) => T): Lazy<KMSClient> {
  return lazy(async () => wrap(new (await import('@aws-sdk/client-kms')).KMSClient({})));
}
