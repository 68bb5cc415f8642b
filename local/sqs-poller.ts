/**
 * What Lambda's SQS event source mapping does, locally: receive a batch, hand it to the
 * handler, delete what succeeded, and leave the reported failures to reappear after the
 * visibility timeout (and reach the DLQ after maxReceiveCount, as SQS's redrive does).
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

export type SqsHandler = (event: SQSEvent) => Promise<SQSBatchResponse>;

export interface PollerQueue {
  url: string;
  arn: string;
  batchSize: number;
}

function toRecord(
  message: Message,
  queueArn: string,
  region: string,
  sentAt?: (messageId: string) => number | undefined,
): SQSRecord {
  const attributes = message.Attributes ?? {};
  const sent = sentAt?.(message.MessageId!);
  return {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: sent !== undefined ? String(sent) : (attributes.SentTimestamp ?? String(Date.now())),
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        {
          dataType: value.DataType ?? 'String',
          ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
          stringListValues: [],
          binaryListValues: [],
        },
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

export interface PollOptions {
  waitTimeSeconds?: number;
  region?: string;
  /**
   * Lambda leaves a failed message invisible for the queue's visibility timeout. Tests set
   * this to make that time pass at once (0) instead of waiting minutes for a redelivery.
   */
  failedVisibilityTimeoutSeconds?: number;
  /** When a message was sent, on an injected clock (the local runtime's manual mode); SQS's own otherwise. */
  sentAt?: (messageId: string) => number | undefined;
}

/** Receives one batch and processes it; returns how many messages it received. */
export async function pollOnce(
  sqs: SQSClient,
  queue: PollerQueue,
  handler: SqsHandler,
  options: PollOptions = {},
): Promise<number> {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queue.url,
      MaxNumberOfMessages: queue.batchSize,
      WaitTimeSeconds: options.waitTimeSeconds ?? 0,
      MessageSystemAttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    }),
  );
  if (Messages.length === 0) return 0;
  const records = Messages.map((m) => toRecord(m, queue.arn, options.region ?? 'us-east-1', options.sentAt));
  let failed = new Set<string>();
  try {
    const response = await handler({ Records: records });
    failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
  } catch (error) {
    // A thrown handler fails the whole batch, as on Lambda.
    console.error('worker invocation failed', error);
    failed = new Set(records.map((r) => r.messageId));
  }
  const retry = Messages.filter((m) => failed.has(m.MessageId!));
  if (retry.length > 0 && options.failedVisibilityTimeoutSeconds !== undefined) {
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queue.url,
        Entries: retry.map((m, i) => ({
          Id: String(i),
          ReceiptHandle: m.ReceiptHandle!,
          VisibilityTimeout: options.failedVisibilityTimeoutSeconds,
        })),
      }),
    );
  }
  const done = Messages.filter((m) => !failed.has(m.MessageId!));
  if (done.length > 0) {
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queue.url,
        Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
      }),
    );
  }
  return Messages.length;
}

/**
 * Long-polling loops on a queue until stopped: `concurrency` of them, as Lambda runs at
 * most the event source mapping's maximum concurrency of invocations, one batch each.
 */
export function startPoller(
  sqs: SQSClient,
  queue: PollerQueue,
  handler: SqsHandler,
  options: PollOptions = {},
  concurrency = 1,
): { stop(): Promise<void> } {
  let running = true;
  const loop = async () => {
    while (running) {
      try {
        await pollOnce(sqs, queue, handler, { ...options, waitTimeSeconds: 1 });
      } catch (error) {
        if (!running) break;
        console.error('poller error', error);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}
