/** The api function's parts: the job API over the jobs and runs tables, the Scheduler and the queues. */
import type { KMSClient } from '@aws-sdk/client-kms';
import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { ApiKeyStore } from '../adapters/api-key-store.js';
import { AuditLog } from '../adapters/audit-log.js';
import { createAuthenticator } from '../adapters/authenticator.js';
import { SigningSecrets } from '../adapters/signing-secrets.js';
import { type ApiConfig, targetAccessOf } from '../commons/config.js';
import type { Lazy } from '../commons/lazy.js';
import { QuotaExceededError } from '../domain/errors.js';
import type { ApiDeps } from '../http/app.js';
import { JobService } from '../usecases/jobs.js';
import {
  newBreakerStore,
  newDeadLetterStore,
  newDegradation,
  newFiringQueue,
  newFiringSigner,
  newJobStore,
  newRateLimiter,
  newRegionGate,
  newRunStore,
  newScheduleGateway,
  newSecretBox,
  newUrlGuard,
} from './parts.js';
import type { Platform } from './platform.js';

export interface ApiClients {
  db: DynamoDBDocumentClient;
  scheduler: Lazy<SchedulerClient>;
  sqs: Lazy<SQSClient>;
  kms: Lazy<KMSClient>;
}

export type ApiServices = ApiDeps & {
  config: ApiConfig;
  jobStore: ReturnType<typeof newJobStore>;
  schedules: ReturnType<typeof newScheduleGateway>;
};

export function wireApi(config: ApiConfig, clients: ApiClients, platform: Platform): ApiServices {
  const { db } = clients;
  const { clock, logger } = platform;
  const box = newSecretBox(clients.kms, config);
  const region = newRegionGate(db, config, platform);
  const firingSigner = newFiringSigner(db, config, box, region);
  const jobStore = newJobStore(db, config);
  const rateLimiter = newRateLimiter(db, config);
  const schedules = newScheduleGateway(clients.scheduler, config, firingSigner);
  const queue = newFiringQueue(clients.sqs, config, platform, firingSigner);
  const apiKeys = new ApiKeyStore(db, config.jobsTableName);
  const jobs = new JobService({
    jobs: jobStore,
    schedules: platform.seams?.schedules ?? schedules,
    clock,
    logger,
    queue,
    targetAccess: targetAccessOf(config),
    urlGuard: newUrlGuard(config, platform),
    maxJobsPerTenant: config.limits.maxJobs,
    box,
    countCreation: async (tenantId) => {
      const max = config.limits.jobCreatesPerMinute;
      const taken = await rateLimiter.take(tenantId, 'creates', max, 60, clock.now(), { lease: true });
      if (!taken.allowed) {
        throw new QuotaExceededError(
          `the tenant's limit of ${max} job creations per minute is reached`,
          taken.retryAfterSeconds,
        );
      }
    },
  });
  return {
    config,
    jobStore,
    firingSigner,
    schedules,
    jobs,
    runs: newRunStore(db, config),
    breakers: newBreakerStore(db, config),
    queue,
    deadLetters: newDeadLetterStore(db, config),
    clock,
    logger,
    healthChecks: {
      // A point read of a key that never exists: proves reachability and permissions cheaply.
      jobsTable: async () => {
        await db.send(
          new GetCommand({ TableName: config.jobsTableName, Key: { pk: 'HEALTH', sk: 'HEALTH' } }),
        );
      },
    },
    // The failure limiter and tokens' time claims go by the platform's clock (an injected one locally).
    authenticate: createAuthenticator(apiKeys, config.jwt, { now: () => clock.now().getTime() }),
    apiKeys,
    audit: new AuditLog(db, config.jobsTableName),
    rateLimiter,
    limits: config.limits,
    signingSecrets: new SigningSecrets(db, config.jobsTableName, box),
    region,
    degradation: newDegradation(db, config, platform),
    ...(platform.runMetrics ? { metrics: platform.runMetrics } : {}),
    regions: config.drRegions.length > 0 ? config.drRegions : [config.region],
  };
}
