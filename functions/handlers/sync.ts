import type { Services } from '../commons/services.js';

/** The sync sweeper over injected services: repairs schedules a crash left out of step. */
export function createSyncHandler(services: Pick<Services, 'jobService' | 'logger'>, graceSeconds: number) {
  return async (): Promise<{ repaired: number; failed: number }> => {
    const result = await services.jobService.sweepSyncPending(graceSeconds);
    if (result.repaired > 0 || result.failed > 0) services.logger.info('sync sweep finished', result);
    return result;
  };
}
