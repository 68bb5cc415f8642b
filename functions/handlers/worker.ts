import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { firingMessageSchema } from '../domain/firing.js';
import { executeFiring } from '../usecases/execute-firing.js';
import type { WorkerServices } from '../wiring/worker.js';

/** The worker over injected services: one firing per record, partial batch failures. */
export function createWorkerHandler(
  services: WorkerServices,
): (event: SQSEvent) => Promise<SQSBatchResponse> {
  const deps = services;
  const processor = new BatchProcessor(EventType.SQS);
  const processRecord = async (record: SQSRecord): Promise<void> => {
    let body: unknown;
    try {
      body = JSON.parse(record.body);
    } catch {
      body = undefined;
    }
    const parsed = firingMessageSchema.safeParse(body);
    if (!parsed.success) {
      // Not ours to guess at: fail it so SQS moves it to the DLQ after maxReceiveCount.
      services.logger.error('malformed firing message', { messageId: record.messageId });
      throw new Error('malformed firing message');
    }
    if (!(await services.firingSigner.verify(parsed.data))) {
      // Not sent by Sundial (invariant 8): a body naming a tenant proves nothing. Dropped,
      // not failed, so it can never become a dead letter of the tenant it names.
      services.logger.error('firing message rejected: not signed by Sundial', {
        messageId: record.messageId,
        namedTenantId: parsed.data.tenantId,
        namedJobId: parsed.data.jobId,
      });
      services.metrics.rejected();
      return;
    }
    const outcome = await executeFiring(deps, parsed.data);
    if (outcome.result === 'retry') throw new Error(outcome.detail);
  };
  return async (event) => {
    // One measurement per batch, before its firings run, so they see the level it makes.
    // Calm batches write nothing (see Degradation.report).
    if (services.degradation && event.Records.length > 0) {
      await services.degradation.report({
        queueAgeSeconds: oldestAgeSeconds(event.Records, services.clock.now()),
        dynamoThrottles: 0,
      });
    }
    return processPartialResponse(event, processRecord, processor, { throwOnFullBatchFailure: false });
  };
}

/**
 * How long the batch's oldest message waited to be worked on: since SQS got it, or since it
 * was due when it was sent with a delay (a retry, a deferred firing). A throttled worker shows
 * here too: its messages wait on the queue, or come back after the visibility timeout, older.
 */
export function oldestAgeSeconds(records: readonly SQSRecord[], now: Date): number {
  let oldest = 0;
  for (const record of records) {
    const sent = Number(record.attributes.SentTimestamp);
    if (!Number.isFinite(sent)) continue;
    let due = sent;
    const notBefore = /"notBefore":"([^"]+)"/.exec(record.body)?.[1];
    if (notBefore) due = Math.max(due, Date.parse(notBefore) || 0);
    oldest = Math.max(oldest, (now.getTime() - due) / 1000);
  }
  return Math.floor(oldest);
}
