/**
 * AWS SDK clients. Endpoints come from the SDK's standard AWS_ENDPOINT_URL_* variables,
 * so the same code talks to AWS or to the local emulators.
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { SchedulerClient, type SchedulerClientConfig } from '@aws-sdk/client-scheduler';
import { SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export function createDocumentClient(config: DynamoDBClientConfig = {}): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient(config), {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
  });
}

export function createSchedulerClient(config: SchedulerClientConfig = {}): SchedulerClient {
  return new SchedulerClient(config);
}

/**
 * SQS, always at its configured endpoint: by default the SDK sends a request to the host
 * in its QueueUrl, which would carry Sundial's signed credentials to any host a queue
 * URL names (invariant 9).
 */
export function createSqsClient(config: SQSClientConfig = {}): SQSClient {
  return new SQSClient({ ...config, useQueueUrlAsEndpoint: false });
}
