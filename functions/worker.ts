/** Worker Lambda: SQS batches of firings -> runs, with partial batch failures. */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { createDocumentClient, createSchedulerClient } from './commons/clients.js';
import { systemClock } from './commons/clock.js';
import { loadConfig } from './commons/config.js';
import { logger } from './commons/logger.js';
import { buildServices, type Services } from './commons/services.js';
import { executeFiring, firingMessageSchema } from './usecases/execute-firing.js';

export function createWorkerHandler(services: Services): (event: SQSEvent) => Promise<SQSBatchResponse> {
  const deps = {
    jobs: services.jobStore,
    runs: services.runStore,
    callTarget: services.callTarget,
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
    const outcome = await executeFiring(deps, parsed.data);
    if (outcome.result === 'retry') throw new Error(outcome.detail);
  };
  return (event) =>
    processPartialResponse(event, processRecord, processor, { throwOnFullBatchFailure: false });
}

const process_ = createWorkerHandler(
  buildServices({
    config: loadConfig(),
    db: createDocumentClient(),
    scheduler: createSchedulerClient(),
    clock: systemClock,
    logger,
  }),
);

export const handler = middy<SQSEvent, SQSBatchResponse>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler((event) => process_(event));
