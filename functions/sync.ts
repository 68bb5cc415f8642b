/** Sync sweeper Lambda: repairs schedules a crash left out of step with the jobs table. */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { SYNC_GRACE_SECONDS } from '../lib/definitions.js';
import { createDocumentClient, createSchedulerClient } from './commons/clients.js';
import { systemClock } from './commons/clock.js';
import { loadConfig } from './commons/config.js';
import { logger } from './commons/logger.js';
import { buildServices, type Services } from './commons/services.js';

export function createSyncHandler(services: Services) {
  return async (): Promise<{ repaired: number; failed: number }> => {
    const result = await services.jobService.sweepSyncPending(SYNC_GRACE_SECONDS);
    if (result.repaired > 0 || result.failed > 0) services.logger.info('sync sweep finished', result);
    return result;
  };
}

const sweep = createSyncHandler(
  buildServices({
    config: loadConfig(),
    db: createDocumentClient(),
    scheduler: createSchedulerClient(),
    clock: systemClock,
    logger,
  }),
);

export const handler = middy()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(() => sweep());
