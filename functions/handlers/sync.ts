import type { SyncServices } from '../wiring/maintenance.js';

/** The sync sweeper over injected services: repairs schedules a crash left out of step. */
export function createSyncHandler(services: SyncServices, graceSeconds: number) {
  return async (): Promise<{ repaired: number; failed: number }> => {
    const result = await services.sync.sweepSyncPending(graceSeconds);
    if (result.repaired > 0 || result.failed > 0) services.logger.info('sync sweep finished', result);
    return result;
  };
}
