import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { Priority } from '../../lib/definitions.js';
import { archiveDeadLetter } from '../usecases/dead-letters.js';
import type { DeadLetterServices } from '../wiring/maintenance.js';

/**
 * Consumes the dead-letter queues: each message becomes a tenant-scoped dead-letter record
 * that the API lists and redrives. `dlqArns` names each priority's DLQ (its configuration).
 */
export function createDeadLetterHandler(
  services: DeadLetterServices,
): (event: SQSEvent) => Promise<SQSBatchResponse> {
  const { dlqArns } = services;
  const priorityOfQueue = (arn: string) =>
    (Object.entries(dlqArns) as [Priority, string][]).find(([, a]) => a === arn)?.[0];
  return async (event) => {
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    for (const record of event.Records) {
      try {
        const errorMessage = record.messageAttributes?.ERROR_MESSAGE?.stringValue;
        const letter = await archiveDeadLetter(services, {
          messageId: record.messageId,
          body: record.body,
          priority: priorityOfQueue(record.eventSourceARN) ?? 'default',
          receiveCount: Number(record.attributes.ApproximateReceiveCount ?? 0),
          ...(errorMessage ? { errorMessage } : {}),
        });
        services.logger.error('dead letter archived', {
          deadLetterId: letter.id,
          tenantId: letter.tenantId,
          jobId: letter.jobId,
          reason: letter.reason,
        });
      } catch (error) {
        services.logger.error('dead letter not archived', {
          messageId: record.messageId,
          error: String(error),
        });
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures };
  };
}
