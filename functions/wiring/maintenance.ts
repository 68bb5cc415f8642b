/**
 * The maintenance functions' parts: the schedule-sync sweeper, the reconciler and the
 * dead-letter archiver. Each is built from only what its own configuration names.
 */
import type { KMSClient } from '@aws-sdk/client-kms';
import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DeadLettersConfig, ReconcilerConfig, SyncConfig } from '../commons/config.js';
import type { Clock, DeadLetterRepository, FiringSigner, Logger, RunRepository } from '../domain/ports.js';
import { ScheduleSync } from '../usecases/schedule-sync.js';
import {
  newDeadLetterStore,
  newFiringSigner,
  newJobStore,
  newRunStore,
  newScheduleGateway,
  newSecretBox,
} from './parts.js';
import type { Platform } from './platform.js';

export interface MaintenanceClients {
  db: DynamoDBDocumentClient;
  scheduler: SchedulerClient;
  kms: KMSClient;
}

export interface SyncServices {
  sync: ScheduleSync;
  logger: Logger;
}

export function wireSync(config: SyncConfig, clients: MaintenanceClients, platform: Platform): SyncServices {
  const signer = newFiringSigner(clients.db, config, newSecretBox(clients.kms, config));
  return {
    sync: new ScheduleSync({
      jobs: newJobStore(clients.db, config),
      schedules: platform.seams?.schedules ?? newScheduleGateway(clients.scheduler, config, signer),
      clock: platform.clock,
      logger: platform.logger,
    }),
    logger: platform.logger,
  };
}

export type ReconcilerServices = ReturnType<typeof wireReconciler>;

export function wireReconciler(config: ReconcilerConfig, clients: MaintenanceClients, platform: Platform) {
  const signer = newFiringSigner(clients.db, config, newSecretBox(clients.kms, config));
  return {
    jobs: newJobStore(clients.db, config),
    gateway: newScheduleGateway(clients.scheduler, config, signer),
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
    signer: newFiringSigner(clients.db, config, newSecretBox(clients.kms, config)),
    clock: platform.clock,
    logger: platform.logger,
    dlqArns: config.deadLetterQueueArns,
  };
}
