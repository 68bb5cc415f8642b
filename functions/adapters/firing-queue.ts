/**
 * Putting work on a priority queue: retries of failed attempts, manual, catch-up and
 * dependency runs. Every message is signed on its way out (invariant 8). SQS delays a
 * message at most 15 minutes; a longer wait is carried in `notBefore` and the worker
 * re-delays the message until it is due.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Priority } from '../../lib/definitions.js';
import type { Lazy } from '../commons/lazy.js';
import type { FiringMessage } from '../domain/firing.js';
import type { Clock, FiringQueue, FiringSigner } from '../domain/ports.js';

/** SQS's ceiling on DelaySeconds. */
export const MAX_SQS_DELAY_SECONDS = 900;

export class SqsFiringQueue implements FiringQueue {
  constructor(
    private readonly sqs: Lazy<SQSClient>,
    private readonly queueUrls: Record<Priority, string>,
    private readonly clock: Clock,
    private readonly signer: FiringSigner,
  ) {}

  async send(priority: Priority, message: FiringMessage): Promise<void> {
    const waitMs = message.notBefore ? Date.parse(message.notBefore) - this.clock.now().getTime() : 0;
    const delay = Math.min(MAX_SQS_DELAY_SECONDS, Math.max(0, Math.ceil(waitMs / 1000)));
    const [sqs, { SendMessageCommand }] = await Promise.all([this.sqs(), import('@aws-sdk/client-sqs')]);
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrls[priority],
        MessageBody: JSON.stringify(await this.signer.sign(message)),
        DelaySeconds: delay,
      }),
    );
  }
}
