/** Dead-letter Lambda entry: archives what the priority queues gave up on. */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import * as z from 'zod';
import { DLQ_ARNS_ENV, PRIORITIES, type Priority } from '../lib/definitions.js';
import { deadLetterServicesFromEnv } from './commons/env-services.js';
import { logger } from './commons/logger.js';
import { tracer } from './commons/tracer.js';
import { createDeadLetterHandler } from './handlers/dead-letters.js';

const dlqArns = z
  .object(Object.fromEntries(PRIORITIES.map((p) => [p, z.string().min(1)])) as Record<Priority, z.ZodString>)
  .parse(JSON.parse(process.env[DLQ_ARNS_ENV] ?? '{}'));
const archive = createDeadLetterHandler(deadLetterServicesFromEnv(), dlqArns);

export const handler = middy<SQSEvent, SQSBatchResponse>()
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler((event) => archive(event));
