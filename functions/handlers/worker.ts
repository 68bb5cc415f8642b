import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Services } from '../commons/services.js';
import { executeFiring, firingMessageSchema } from '../usecases/execute-firing.js';

/** The worker over injected services: one firing per record, partial batch failures. */
export function createWorkerHandler(
  services: Pick<
    Services,
    | 'jobStore'
    | 'runStore'
    | 'callTarget'
    | 'firingQueue'
    | 'firingSigner'
    | 'fairShare'
    | 'notifier'
    | 'runMetrics'
    | 'clock'
    | 'logger'
  >,
): (event: SQSEvent) => Promise<SQSBatchResponse> {
  const deps = {
    jobs: services.jobStore,
    runs: services.runStore,
    callTarget: services.callTarget,
    queue: services.firingQueue,
    notifier: services.notifier,
    metrics: services.runMetrics,
    fairShare: services.fairShare,
    clock: services.clock,
    logger: services.logger,
  };
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
      services.runMetrics.rejected();
      return;
    }
    const outcome = await executeFiring(deps, parsed.data);
    if (outcome.result === 'retry') throw new Error(outcome.detail);
  };
  return (event) =>
    processPartialResponse(event, processRecord, processor, { throwOnFullBatchFailure: false });
}
