/**
 * The emulator's SQS target: SendMessage to the queue a target (or dead-letter) ARN names, as
 * Scheduler's templated SQS target does. Any queue of the SQS endpoint the client talks to can
 * be a target: the ARN `arn:<partition>:sqs:<region>:<account>:<name>` is resolved to its URL
 * with GetQueueUrl (QueueName, QueueOwnerAWSAccountId) in the ARN's region, and cached.
 */
import { GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';

/** One delivery the emulator asks for: the target's templated SendMessage, or the dead letter of one. */
export interface DeliveryTarget {
  arn: string;
  input: string;
  sqsParameters?: { MessageGroupId?: string };
  /** Set when delivering to the schedule's dead-letter queue. */
  deadLetterReason?: string;
}

/**
 * A delivery failure that retrying cannot mend (no such queue, a target that is no queue): the
 * emulator skips the retry policy and goes straight to the dead-letter queue, as EventBridge
 * does for a target that does not exist.
 */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = code;
  }
}

const QUEUE_ARN = /^arn:(aws(?:-[a-z]+)*):sqs:([a-z0-9-]+):(\d{12}):([a-zA-Z0-9_-]{1,80}(?:\.fifo)?)$/;

export interface QueueArn {
  partition: string;
  region: string;
  account: string;
  name: string;
}

export function parseQueueArn(arn: string): QueueArn | undefined {
  const match = QUEUE_ARN.exec(arn);
  if (!match) return undefined;
  const [, partition, region, account, name] = match as unknown as [string, string, string, string, string];
  return { partition, region, account, name };
}

/** Resolves a queue ARN to its URL; `undefined` from an override means "resolve it the usual way". */
export type QueueUrlResolver = (arn: string) => string | undefined | Promise<string | undefined>;

export interface SqsQueueUrlResolver {
  (arn: string): Promise<string>;
  /** Forgets a cached URL (the queue was deleted, say): the next delivery asks SQS again. */
  forget(arn: string): void;
  /** Closes the clients it made for other regions than the given client's. */
  destroy(): void;
}

/**
 * Resolves any queue ARN of the local (or real) SQS endpoint with GetQueueUrl, caching the
 * answer. GetQueueUrl is signed for the ARN's region (SQS, and fauxqs, look a queue up in the
 * region of the request), so another region gets a client of its own on the same endpoint.
 * A missing queue is not cached: created later, it receives the next attempt.
 */
export function sqsQueueUrlResolver(sqs: SQSClient): SqsQueueUrlResolver {
  const urls = new Map<string, string>();
  const regional = new Map<string, SQSClient>();
  let ownRegion: Promise<string> | undefined;

  async function clientFor(region: string): Promise<SQSClient> {
    ownRegion ??= sqs.config.region();
    if ((await ownRegion) === region) return sqs;
    let client = regional.get(region);
    if (!client) {
      client = new SQSClient({
        region,
        credentials: sqs.config.credentials,
        ...(sqs.config.endpoint ? { endpoint: sqs.config.endpoint } : {}),
        useQueueUrlAsEndpoint: false,
      });
      regional.set(region, client);
    }
    return client;
  }

  const resolve = async (arn: string): Promise<string> => {
    const cached = urls.get(arn);
    if (cached) return cached;
    const queue = parseQueueArn(arn);
    if (!queue) {
      throw new DeliveryError(
        'the target is not an SQS queue ARN (the emulator delivers to SQS queues only)',
        'UnsupportedTarget',
        false,
      );
    }
    const client = await clientFor(queue.region);
    let url: string | undefined;
    try {
      ({ QueueUrl: url } = await client.send(
        new GetQueueUrlCommand({ QueueName: queue.name, QueueOwnerAWSAccountId: queue.account }),
      ));
    } catch (error) {
      if (isMissingQueue(error)) {
        throw new DeliveryError(`no queue ${queue.name} in ${queue.region}`, 'QueueDoesNotExist', false);
      }
      throw error;
    }
    // An emulator may answer for its one account whatever the owner asked (fauxqs does): a
    // queue of another account is not this one.
    if (!url || !new URL(url).pathname.endsWith(`/${queue.account}/${queue.name}`)) {
      throw new DeliveryError(
        `no queue ${queue.name} of account ${queue.account} in ${queue.region}`,
        'QueueDoesNotExist',
        false,
      );
    }
    urls.set(arn, url);
    return url;
  };

  return Object.assign(resolve, {
    forget: (arn: string) => {
      urls.delete(arn);
    },
    destroy: () => {
      for (const client of regional.values()) client.destroy();
      regional.clear();
    },
  });
}

function isMissingQueue(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  const code = (error as { Code?: unknown } | null)?.Code;
  return (
    name === 'QueueDoesNotExist' ||
    name === 'AWS.SimpleQueueService.NonExistentQueue' ||
    code === 'AWS.SimpleQueueService.NonExistentQueue'
  );
}

export interface SqsDeliverer {
  (target: DeliveryTarget): Promise<void>;
  /** Closes what the deliverer opened (clients for other regions); not the given client. */
  destroy(): void;
}

/**
 * Delivers firings to SQS queues, as Scheduler's SQS target does: to any queue the client can
 * reach. `resolveQueueUrl` may override the URL of some ARNs; where it returns `undefined` (or
 * is not given) the ARN is resolved with GetQueueUrl. Missing queues fail with a
 * {@link DeliveryError} that is not retryable.
 */
export function sqsDeliverer(sqs: SQSClient, resolveQueueUrl?: QueueUrlResolver): SqsDeliverer {
  const resolver = sqsQueueUrlResolver(sqs);
  const deliver = async (target: DeliveryTarget): Promise<void> => {
    const url = (await resolveQueueUrl?.(target.arn)) ?? (await resolver(target.arn));
    try {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: url,
          MessageBody: target.input,
          ...(target.sqsParameters?.MessageGroupId
            ? { MessageGroupId: target.sqsParameters.MessageGroupId }
            : {}),
          ...(target.deadLetterReason
            ? {
                MessageAttributes: {
                  ERROR_MESSAGE: { DataType: 'String', StringValue: target.deadLetterReason.slice(0, 1024) },
                },
              }
            : {}),
        }),
      );
    } catch (error) {
      if (isMissingQueue(error)) {
        // Deleted since it was resolved: ask again next time, it may have been made anew.
        resolver.forget(target.arn);
        throw new DeliveryError(`no queue at ${url}`, 'QueueDoesNotExist', false);
      }
      throw error;
    }
  };
  return Object.assign(deliver, { destroy: resolver.destroy });
}
