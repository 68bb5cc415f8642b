/**
 * Each Lambda entry's services, from its environment; fails fast on bad config. Every entry
 * builds only the clients and adapters its handler uses, so its bundle carries nothing else
 * (`npm run bench` shows the sizes). The parts are built as buildServices builds them.
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SNSClient } from '@aws-sdk/client-sns';
import { ApiKeyStore } from '../adapters/api-key-store.js';
import { AuditLog } from '../adapters/audit-log.js';
import { createAuthenticator } from '../adapters/authenticator.js';
import { WebhookAndTopicNotifier } from '../adapters/failure-notifier.js';
import { SqsFiringQueue } from '../adapters/firing-queue.js';
import { JobStore } from '../adapters/job-store.js';
import { RateLimiter } from '../adapters/rate-limiter.js';
import { PowertoolsRunMetrics } from '../adapters/run-metrics.js';
import { SecretBox } from '../adapters/secret-box.js';
import { SigningSecrets } from '../adapters/signing-secrets.js';
import type { createApiHandler } from '../handlers/api.js';
import type { createDeadLetterHandler } from '../handlers/dead-letters.js';
import type { createReconcileHandler } from '../handlers/reconcile.js';
import type { createSyncHandler } from '../handlers/sync.js';
import type { createWorkerHandler } from '../handlers/worker.js';
import { createDocumentClient, createSchedulerClient, createSqsClient } from './clients.js';
import { systemClock } from './clock.js';
import { type Config, loadConfig } from './config.js';
import { logger } from './logger.js';
import { metrics } from './metrics.js';
import {
  newDeadLetterStore,
  newFairShare,
  newFiringSigner,
  newHealthChecks,
  newJobService,
  newRunStore,
  newScheduleGateway,
  newTargetCaller,
  newUrlGuard,
} from './services.js';
import { tracer } from './tracer.js';

/** Every SDK call becomes an X-Ray subsegment of the invocation. */
const traced = <T>(client: T): T => tracer.captureAWSv3Client(client);

const base = () => {
  const config = loadConfig();
  return { config, db: traced(createDocumentClient()), clock: systemClock, logger };
};

/** The job service as buildServices builds it: the api and the sync sweeper use it. */
function jobServiceParts(config: Config, db: ReturnType<typeof base>['db']) {
  const jobStore = new JobStore(db, config.jobsTableName);
  const rateLimiter = new RateLimiter(db, config.jobsTableName);
  const box = new SecretBox(traced(new KMSClient({})), config.secretsKeyId);
  const firingSigner = newFiringSigner(db, config, box);
  const firingQueue = new SqsFiringQueue(
    traced(createSqsClient()),
    config.queueUrls,
    systemClock,
    firingSigner,
  );
  const urlGuard = newUrlGuard(config);
  const schedules = newScheduleGateway(traced(createSchedulerClient()), config, firingSigner);
  const jobService = newJobService({
    config,
    clock: systemClock,
    logger,
    jobStore,
    schedules,
    firingQueue,
    urlGuard,
    box,
    rateLimiter,
  });
  return { jobStore, rateLimiter, box, firingQueue, firingSigner, jobService };
}

export function apiServicesFromEnv(): Parameters<typeof createApiHandler>[0] {
  const { config, db, clock } = base();
  const { rateLimiter, box, firingQueue, jobService } = jobServiceParts(config, db);
  const apiKeys = new ApiKeyStore(db, config.jobsTableName);
  return {
    config,
    clock,
    logger,
    jobService,
    runStore: newRunStore(db, config),
    firingQueue,
    deadLetterStore: newDeadLetterStore(db, config),
    healthChecks: newHealthChecks(db, config),
    authenticate: createAuthenticator(apiKeys, config.jwt),
    apiKeys,
    audit: new AuditLog(db, config.jobsTableName),
    rateLimiter,
    signingSecrets: new SigningSecrets(db, config.jobsTableName, box),
  };
}

export function workerServicesFromEnv(): Parameters<typeof createWorkerHandler>[0] {
  const { config, db, clock } = base();
  const sqs = traced(createSqsClient());
  const box = new SecretBox(traced(new KMSClient({})), config.secretsKeyId);
  const urlGuard = newUrlGuard(config);
  const firingSigner = newFiringSigner(db, config, box);
  return {
    clock,
    logger,
    firingSigner,
    fairShare: newFairShare(db, config),
    jobStore: new JobStore(db, config.jobsTableName),
    runStore: newRunStore(db, config),
    callTarget: newTargetCaller({
      config,
      clock,
      clients: { lambda: traced(new LambdaClient({})), sqs, eventBridge: traced(new EventBridgeClient({})) },
      urlGuard,
      box,
      signingSecrets: new SigningSecrets(db, config.jobsTableName, box),
    }),
    firingQueue: new SqsFiringQueue(sqs, config.queueUrls, clock, firingSigner),
    notifier: new WebhookAndTopicNotifier(
      traced(new SNSClient({})),
      config.failureTopicArn,
      clock,
      logger,
      urlGuard,
      box,
    ),
    runMetrics: new PowertoolsRunMetrics(metrics),
  };
}

export function syncServicesFromEnv(): Parameters<typeof createSyncHandler>[0] {
  const { config, db } = base();
  return { logger, jobService: jobServiceParts(config, db).jobService };
}

export function deadLetterServicesFromEnv(): Parameters<typeof createDeadLetterHandler>[0] {
  const { config, db, clock } = base();
  return {
    clock,
    logger,
    firingSigner: newFiringSigner(db, config, new SecretBox(traced(new KMSClient({})), config.secretsKeyId)),
    deadLetterStore: newDeadLetterStore(db, config),
    runStore: newRunStore(db, config),
  };
}

export function reconcilerServicesFromEnv(): Parameters<typeof createReconcileHandler>[0] {
  const { config, db, clock } = base();
  return {
    config,
    clock,
    logger,
    scheduler: traced(createSchedulerClient()),
    jobStore: new JobStore(db, config.jobsTableName),
    firingSigner: newFiringSigner(db, config, new SecretBox(traced(new KMSClient({})), config.secretsKeyId)),
  };
}
