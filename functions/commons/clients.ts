/**
 * AWS SDK clients. Endpoints come from the SDK's standard AWS_ENDPOINT_URL_* variables,
 * so the same code talks to AWS or to the local emulators.
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { SchedulerClient, type SchedulerClientConfig } from '@aws-sdk/client-scheduler';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export function createDocumentClient(config: DynamoDBClientConfig = {}): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient(config), {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
  });
}

export function createSchedulerClient(config: SchedulerClientConfig = {}): SchedulerClient {
  return new SchedulerClient(config);
}
