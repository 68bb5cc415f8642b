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
  return (event) =>
    processPartialResponse(event, processRecord, processor, { throwOnFullBatchFailure: false });
}
