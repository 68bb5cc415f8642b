/** Dead-letter Lambda entry: archives what the priority queues gave up on. */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createDocumentClient, createLazyKmsClient } from './commons/clients.js';
import { systemClock } from './commons/clock.js';
import { loadConfig } from './commons/config.js';
import { logger } from './commons/logger.js';
import { sampledTracing, traced } from './commons/tracer.js';
import { createDeadLetterHandler } from './handlers/dead-letters.js';
import { wireDeadLetters } from './wiring/maintenance.js';

const archive = createDeadLetterHandler(
  wireDeadLetters(
    loadConfig('DeadLetters'),
    { db: traced(createDocumentClient()), kms: createLazyKmsClient(traced) },
    { clock: systemClock, logger },
  ),
);

export const handler = middy<SQSEvent, SQSBatchResponse>()
  .use(sampledTracing())
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler((event) => archive(event));
