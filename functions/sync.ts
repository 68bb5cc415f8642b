/** Sync sweeper Lambda entry, run every minute by a schedule. */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { SYNC_GRACE_SECONDS } from '../lib/definitions.js';
import { servicesFromEnv } from './commons/env-services.js';
import { logger } from './commons/logger.js';
import { createSyncHandler } from './handlers/sync.js';

const sweep = createSyncHandler(servicesFromEnv(), SYNC_GRACE_SECONDS);

export const handler = middy()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(() => sweep());
