/**
 * The parts more than one function is built from, each built one way. Every function's
 * wiring (api.ts, worker.ts, …) composes these; the Lambda entries and the local runtime
 * both call those wirings, so what the end-to-end tests run is what deploys.
 */

import type { KMSClient } from '@aws-sdk/client-kms';
import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoBreakerStore } from '../adapters/breaker-store.js';
import { DeadLetterStore } from '../adapters/dead-letter-store.js';
import { CachedDegradation, DegradationStore, throttleCounterOf } from '../adapters/degradation.js';
import { SqsFiringQueue } from '../adapters/firing-queue.js';
import { KeyedFiringSigner } from '../adapters/firing-signer.js';
import { JobStore } from '../adapters/job-store.js';
import { RateLimiter } from '../adapters/rate-limiter.js';
import { CachedRegionGate, singleRegionGate } from '../adapters/region-gate.js';
import { RegionStore } from '../adapters/region-store.js';
import { RunStore } from '../adapters/run-store.js';
import { EventBridgeScheduleGateway } from '../adapters/schedule-gateway.js';
import { SecretBox } from '../adapters/secret-box.js';
import { UrlGuard } from '../adapters/url-guard.js';
import type { Config } from '../commons/config.js';
import type { Lazy } from '../commons/lazy.js';
import type { Degradation, FiringQueue, FiringSigner, RegionGate } from '../domain/ports.js';
import type { Platform } from './platform.js';

export const newSecretBox = (kms: Lazy<KMSClient>, config: Pick<Config, 'secretsKeyId'>) =>
  new SecretBox(kms, config.secretsKeyId);

/** The deployment's firing key lives in the jobs table, sealed with the secrets key (invariant 8). */
export const newFiringSigner = (
  db: DynamoDBDocumentClient,
  config: Pick<Config, 'jobsTableName'>,
  box: SecretBox,
  region?: RegionGate,
) =>
  new KeyedFiringSigner(
    db,
    config.jobsTableName,
    box,
    region?.multiRegion ? async () => (await region.current()).active : undefined,
  );

/** Which region is active: read from the replicated jobs table in a two-region deployment. */
export const newRegionGate = (
  db: DynamoDBDocumentClient,
  config: Pick<Config, 'jobsTableName' | 'drRegions' | 'region'>,
  platform: Platform,
): RegionGate =>
  config.drRegions.length === 0
    ? singleRegionGate(config.region)
    : new CachedRegionGate(
        config.region,
        new RegionStore(db, config.jobsTableName, config.drRegions),
        platform.clock,
      );

export const newRegionStore = (
  db: DynamoDBDocumentClient,
  config: Pick<Config, 'jobsTableName' | 'drRegions' | 'region'>,
) =>
  new RegionStore(db, config.jobsTableName, config.drRegions.length > 0 ? config.drRegions : [config.region]);

/**
 * This region's degradation level (issue 17), over one item of the jobs table, with the
 * DynamoDB throttles this process's client meets counted as one of its signals.
 */
export const newDegradation = (
  db: DynamoDBDocumentClient,
  config: Pick<Config, 'jobsTableName' | 'region' | 'degradation'>,
  platform: Platform,
): Degradation =>
  new CachedDegradation(
    new DegradationStore(db, config.jobsTableName, config.region),
    config.degradation,
    platform.clock,
    platform.logger,
    throttleCounterOf(db, platform.clock),
  );

export const newJobStore = (db: DynamoDBDocumentClient, config: Pick<Config, 'jobsTableName'>) =>
  new JobStore(db, config.jobsTableName);

export const newRunStore = (
  db: DynamoDBDocumentClient,
  config: Pick<Config, 'runsTableName' | 'runRetentionDays' | 'runExpiry'>,
) => new RunStore(db, config.runsTableName, config.runRetentionDays, config.runExpiry);

/** The circuit breakers live in the runs table, under each tenant's own partition. */
export const newBreakerStore = (db: DynamoDBDocumentClient, config: Pick<Config, 'runsTableName'>) =>
  new DynamoBreakerStore(db, config.runsTableName);

export const newDeadLetterStore = (
  db: DynamoDBDocumentClient,
  config: Pick<Config, 'runsTableName' | 'runRetentionDays' | 'runExpiry'>,
) => new DeadLetterStore(db, config.runsTableName, config.runRetentionDays, config.runExpiry);

export const newRateLimiter = (db: DynamoDBDocumentClient, config: Pick<Config, 'jobsTableName'>) =>
  new RateLimiter(db, config.jobsTableName);

export const newUrlGuard = (config: Pick<Config, 'allowedHttpHosts'>, platform: Platform) =>
  new UrlGuard({ allowedHosts: config.allowedHttpHosts, ownPorts: platform.ownPorts ?? [] });

export const newScheduleGateway = (
  scheduler: Lazy<SchedulerClient>,
  config: Pick<Config, 'scheduleGroupName' | 'schedulerRoleArn' | 'queueArns'>,
  signer: FiringSigner,
) =>
  new EventBridgeScheduleGateway(scheduler, {
    groupName: config.scheduleGroupName,
    roleArn: config.schedulerRoleArn,
    queueArns: config.queueArns,
    signer,
  });

/** Retries, manual, catch-up and dependency runs: signed on the way (or a local seam in front). */
export const newFiringQueue = (
  sqs: Lazy<SQSClient>,
  config: Pick<Config, 'queueUrls'>,
  platform: Platform,
  signer: FiringSigner,
): FiringQueue =>
  platform.seams?.firingQueue ?? new SqsFiringQueue(sqs, config.queueUrls, platform.clock, signer);
