/**
 * The maintenance functions' parts: the schedule-sync sweeper, the reconciler and the
 * dead-letter archiver. Each is built from only what its own configuration names.
 */
import type { KMSClient } from '@aws-sdk/client-kms';
import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DeadLettersConfig, ReconcilerConfig, SyncConfig } from '../commons/config.js';
import type { Lazy } from '../commons/lazy.js';
import { pacer } from '../commons/pace.js';
import type { Clock, DeadLetterRepository, FiringSigner, Logger, RunRepository } from '../domain/ports.js';
import type { RegionRoleDeps } from '../usecases/region-role.js';
import { ScheduleSync } from '../usecases/schedule-sync.js';
import {
  newDeadLetterStore,
  newFiringQueue,
  newFiringSigner,
  newJobStore,
  newRegionGate,
  newRegionStore,
  newRunStore,
  newScheduleGateway,
  newSecretBox,
} from './parts.js';
import type { Platform } from './platform.js';

export interface MaintenanceClients {
  db: DynamoDBDocumentClient;
  scheduler: Lazy<SchedulerClient>;
  kms: Lazy<KMSClient>;
}

export interface SyncServices {
  sync: ScheduleSync;
  logger: Logger;
  /** This region's side of a two-region deployment; absent for one region. */
  role?: RegionRoleDeps;
}

/**
 * UpdateSchedule calls per second of a takeover or stand-down: half of Scheduler's documented
 * default request rate in the large Regions (1,000/s, shared with the API and the sweeper),
 * so 100,000 schedules change in 200 s.
 */
export const ROLE_CHANGE_SCHEDULER_CALLS_PER_SECOND = 500;

export function wireSync(
  config: SyncConfig,
  clients: MaintenanceClients & { sqs: Lazy<SQSClient> },
  platform: Platform & { pace?: () => Promise<void> },
): SyncServices {
  const region = newRegionGate(clients.db, config, platform);
  const signer = newFiringSigner(clients.db, config, newSecretBox(clients.kms, config), region);
  const jobs = newJobStore(clients.db, config);
  const gateway = newScheduleGateway(clients.scheduler, config, signer);
  return {
    sync: new ScheduleSync({
      jobs,
      schedules: platform.seams?.schedules ?? gateway,
      clock: platform.clock,
      logger: platform.logger,
    }),
    logger: platform.logger,
    ...(region.multiRegion
      ? {
          role: {
            gate: region,
            store: newRegionStore(clients.db, config),
            jobs,
            runs: newRunStore(clients.db, config),
            queue: newFiringQueue(clients.sqs, config, platform, signer),
            gateway,
            clock: platform.clock,
            logger: platform.logger,
            pace: platform.pace ?? pacer(ROLE_CHANGE_SCHEDULER_CALLS_PER_SECOND),
            ...(platform.runMetrics?.region
              ? { report: platform.runMetrics.region.bind(platform.runMetrics) }
              : {}),
          },
        }
      : {}),
  };
}

export type ReconcilerServices = ReturnType<typeof wireReconciler>;

export function wireReconciler(config: ReconcilerConfig, clients: MaintenanceClients, platform: Platform) {
  const region = newRegionGate(clients.db, config, platform);
  const signer = newFiringSigner(clients.db, config, newSecretBox(clients.kms, config), region);
  return {
    jobs: newJobStore(clients.db, config),
    gateway: newScheduleGateway(clients.scheduler, config, signer),
    region,
    clock: platform.clock,
    logger: platform.logger,
  };
}

export interface DeadLetterServices {
  deadLetters: DeadLetterRepository;
  runs: Pick<RunRepository, 'get'>;
  signer: FiringSigner;
  clock: Clock;
  logger: Logger;
  dlqArns: DeadLettersConfig['deadLetterQueueArns'];
}

export function wireDeadLetters(
  config: DeadLettersConfig,
  clients: Pick<MaintenanceClients, 'db' | 'kms'>,
  platform: Platform,
): DeadLetterServices {
  return {
    deadLetters: newDeadLetterStore(clients.db, config),
    runs: newRunStore(clients.db, config),
    // Two regions: only the active region may make the firing key (none replicated yet).
    signer: newFiringSigner(
      clients.db,
      config,
      newSecretBox(clients.kms, config),
      newRegionGate(clients.db, config, platform),
    ),
    clock: platform.clock,
    logger: platform.logger,
    dlqArns: config.deadLetterQueueArns,
  };
}
