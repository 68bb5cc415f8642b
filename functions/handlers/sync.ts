import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { jobFromItem } from '../adapters/job-store.js';
import type { SyncServices } from '../wiring/maintenance.js';

/**
 * The sync sweeper over injected services: repairs schedules a crash left out of step, and
 * in a two-region deployment writes this region's heartbeat. A passive region repairs
 * nothing: the sync markers are the active region's (its sweeper clears them).
 */
/** Two regions' roles: loaded only where a deployment has two (most have one). */
const regionRole = () => import('../usecases/region-role.js');

export function createSyncHandler(services: SyncServices, graceSeconds: number) {
  return async (): Promise<{ repaired: number; failed: number }> => {
    let passive = false;
    if (services.role) {
      const beat = await (await regionRole()).heartbeat(services.role);
      passive = beat.role === 'passive';
    }
    if (passive) return { repaired: 0, failed: 0 };
    const result = await services.sync.sweepSyncPending(graceSeconds);
    if (result.repaired > 0 || result.failed > 0) services.logger.info('sync sweep finished', result);
    return result;
  };
}

/**
 * The jobs table's stream: in order, each record acted on (see onJobsTableChange). The first
 * record that fails is reported, with everything after it, so the event source mapping
 * retries from there and nothing is skipped (ReportBatchItemFailures).
 */
export function createSyncStreamHandler(services: SyncServices) {
  return async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const role = services.role;
    if (!role) return { batchItemFailures: [] };
    const { onJobsTableChange } = await regionRole();
    for (const record of event.Records) {
      const keys = record.dynamodb?.Keys;
      const pk = keys?.pk?.S;
      const sk = keys?.sk?.S;
      if (!pk || !sk) continue;
      try {
        const image = record.eventName === 'REMOVE' ? undefined : record.dynamodb?.NewImage;
        const outcome = await onJobsTableChange(role, {
          keys: { pk, sk },
          // The stream's images and the SDK's AttributeValue are the same wire shape.
          ...(image ? { newItem: unmarshall(image as Record<string, AttributeValue>) } : {}),
          toJob: jobFromItem,
        });
        if (outcome !== 'not a job' && outcome !== 'active: the API syncs')
          services.logger.info('jobs stream record handled', {
            pk: pk.startsWith('TENANT#') ? 'TENANT#…' : pk,
            sk,
            outcome,
          });
      } catch (error) {
        services.logger.error('jobs stream record failed; retried from here', { sk, error: String(error) });
        return { batchItemFailures: [{ itemIdentifier: record.dynamodb?.SequenceNumber ?? '' }] };
      }
    }
    return { batchItemFailures: [] };
  };
}
