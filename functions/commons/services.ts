/** Wires adapters and use cases from configuration; shared by the handlers and the local runtime. */
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { ApiKeyStore } from '../adapters/api-key-store.js';
import { AuditLog } from '../adapters/audit-log.js';
import { type Authenticate, createAuthenticator } from '../adapters/authenticator.js';
import { DeadLetterStore } from '../adapters/dead-letter-store.js';
import { type FailureNotifier, WebhookAndTopicNotifier } from '../adapters/failure-notifier.js';
import { DynamoFairShare, type FairShare } from '../adapters/fair-share.js';
import { type FiringQueue, SqsFiringQueue } from '../adapters/firing-queue.js';
import { type FiringSigner, KeyedFiringSigner } from '../adapters/firing-signer.js';
import { JobStore } from '../adapters/job-store.js';
import { RateLimiter } from '../adapters/rate-limiter.js';
import { InMemoryRunMetrics, type RunMetrics } from '../adapters/run-metrics.js';
import { RunStore } from '../adapters/run-store.js';
import { EventBridgeScheduleGateway, type ScheduleGateway } from '../adapters/schedule-gateway.js';
import { SecretBox } from '../adapters/secret-box.js';
import { SigningSecrets } from '../adapters/signing-secrets.js';
import { type AwsTargetClients, createTargetCaller, type TargetCaller } from '../adapters/targets.js';
import { UrlGuard } from '../adapters/url-guard.js';
import { QuotaExceededError } from '../domain/errors.js';
import { JobService, type JobServiceLogger } from '../usecases/jobs.js';
import type { Clock } from './clock.js';
import { type Config, runsInProgressLimit, targetAccessOf } from './config.js';

export interface Services {
  config: Config;
  clock: Clock;
  logger: JobServiceLogger;
  jobStore: JobStore;
  runStore: RunStore;
  deadLetterStore: DeadLetterStore;
  apiKeys: ApiKeyStore;
  audit: AuditLog;
  rateLimiter: RateLimiter;
  signingSecrets: SigningSecrets;
  runMetrics: RunMetrics;
  scheduler: SchedulerClient;
  authenticate: Authenticate;
  schedules: ScheduleGateway;
  jobService: JobService;
  callTarget: TargetCaller;
  firingQueue: FiringQueue;
  /** Signs and checks firing messages (invariant 8). */
  firingSigner: FiringSigner;
  /** Each tenant's places on the queues. */
  fairShare: FairShare;
  notifier: FailureNotifier;
  healthChecks: Record<string, () => Promise<void>>;
}

export interface ServiceInputs {
  config: Config;
  db: DynamoDBDocumentClient;
  scheduler: SchedulerClient;
  sqs: SQSClient;
  sns: SNSClient;
  /** Clients for Lambda and EventBridge targets. */
  lambda: LambdaClient;
  eventBridge: EventBridgeClient;
  kms: KMSClient;
  clock: Clock;
  logger: JobServiceLogger;
  /** Replaces the Scheduler adapter, e.g. to simulate a crash in tests. */
  schedules?: ScheduleGateway;
  /** Where run metrics go (CloudWatch EMF on AWS); in memory when not given. */
  runMetrics?: RunMetrics;
  /** Replaces the HTTP target caller (AWS targets still go through their clients). */
  callHttpTarget?: TargetCaller;
  /** Replaces SQS for retries and manual runs, e.g. with a clock-driven delay line locally. */
  firingQueue?: FiringQueue;
}

/** Every service, for the local runtime and the tests; each Lambda entry wires only its own (env-services.ts). */
export function buildServices(inputs: ServiceInputs): Services {
  const { config, db, clock, logger } = inputs;
  const jobStore = new JobStore(db, config.jobsTableName);
  const box = new SecretBox(inputs.kms, config.secretsKeyId);
  const firingSigner = newFiringSigner(db, config, box);
  const firingQueue =
    inputs.firingQueue ?? new SqsFiringQueue(inputs.sqs, config.queueUrls, clock, firingSigner);
  const schedules = inputs.schedules ?? newScheduleGateway(inputs.scheduler, config, firingSigner);
  const apiKeys = new ApiKeyStore(db, config.jobsTableName);
  const rateLimiter = new RateLimiter(db, config.jobsTableName);
  const signingSecrets = new SigningSecrets(db, config.jobsTableName, box);
  const urlGuard = newUrlGuard(config);
  return {
    config,
    clock,
    logger,
    jobStore,
    apiKeys,
    audit: new AuditLog(db, config.jobsTableName),
    rateLimiter,
    signingSecrets,
    runMetrics: inputs.runMetrics ?? new InMemoryRunMetrics(),
    scheduler: inputs.scheduler,
    authenticate: createAuthenticator(apiKeys, config.jwt),
    runStore: newRunStore(db, config),
    deadLetterStore: newDeadLetterStore(db, config),
    schedules,
    jobService: newJobService({
      config,
      clock,
      logger,
      jobStore,
      schedules,
      firingQueue,
      urlGuard,
      box,
      rateLimiter,
    }),
    callTarget: newTargetCaller({
      config,
      clock,
      clients: { lambda: inputs.lambda, sqs: inputs.sqs, eventBridge: inputs.eventBridge },
      urlGuard,
      box,
      signingSecrets,
      ...(inputs.callHttpTarget ? { http: inputs.callHttpTarget } : {}),
    }),
    firingQueue,
    firingSigner,
    fairShare: newFairShare(db, config),
    notifier: new WebhookAndTopicNotifier(inputs.sns, config.failureTopicArn, clock, logger, urlGuard, box),
    healthChecks: newHealthChecks(db, config),
  };
}

// The parts below are built the same way by buildServices and by each Lambda's own wiring.

export const newRunStore = (db: DynamoDBDocumentClient, config: Config) =>
  new RunStore(db, config.runsTableName, config.runRetentionDays);

export const newDeadLetterStore = (db: DynamoDBDocumentClient, config: Config) =>
  new DeadLetterStore(db, config.runsTableName, config.runRetentionDays);

export const newUrlGuard = (config: Config) =>
  new UrlGuard({ allowedHosts: config.allowedHttpHosts, ownPorts: config.ownPorts ?? [] });

export const newScheduleGateway = (scheduler: SchedulerClient, config: Config, signer: FiringSigner) =>
  new EventBridgeScheduleGateway(scheduler, {
    groupName: config.scheduleGroupName,
    roleArn: config.schedulerRoleArn,
    queueArns: config.queueArns,
    signer,
  });

export const newFairShare = (db: DynamoDBDocumentClient, config: Config) =>
  new DynamoFairShare(db, config.runsTableName, (priority) => runsInProgressLimit(config.limits, priority));

export const newFiringSigner = (db: DynamoDBDocumentClient, config: Config, box: SecretBox) =>
  new KeyedFiringSigner(db, config.jobsTableName, box);

export function newJobService(parts: {
  config: Config;
  clock: Clock;
  logger: JobServiceLogger;
  jobStore: JobStore;
  schedules: ScheduleGateway;
  firingQueue: FiringQueue;
  urlGuard: UrlGuard;
  box: SecretBox;
  rateLimiter: RateLimiter;
}): JobService {
  const { config, clock, rateLimiter } = parts;
  return new JobService({
    jobs: parts.jobStore,
    schedules: parts.schedules,
    clock,
    logger: parts.logger,
    queue: parts.firingQueue,
    targetAccess: targetAccessOf(config),
    urlGuard: parts.urlGuard,
    maxJobsPerTenant: config.limits.maxJobs,
    box: parts.box,
    countCreation: async (tenantId) => {
      const max = config.limits.jobCreatesPerMinute;
      const taken = await rateLimiter.take(tenantId, 'creates', max, 60, clock.now());
      if (!taken.allowed) {
        throw new QuotaExceededError(
          `the tenant's limit of ${max} job creations per minute is reached`,
          taken.retryAfterSeconds,
        );
      }
    },
  });
}

export function newTargetCaller(parts: {
  config: Config;
  clock: Clock;
  clients: AwsTargetClients;
  urlGuard: UrlGuard;
  box: SecretBox;
  signingSecrets: SigningSecrets;
  http?: TargetCaller;
}): TargetCaller {
  const { config, clock, signingSecrets } = parts;
  return createTargetCaller({
    clients: parts.clients,
    access: targetAccessOf(config),
    urlGuard: parts.urlGuard,
    box: parts.box,
    clock,
    signingSecrets: (tenantId) => signingSecrets.forSigning(tenantId, clock.now()),
    ...(parts.http ? { http: parts.http } : {}),
  });
}

export function newHealthChecks(db: DynamoDBDocumentClient, config: Config): Services['healthChecks'] {
  return {
    // A point read of a key that never exists: proves reachability and permissions cheaply.
    jobsTable: async () => {
      await db.send(new GetCommand({ TableName: config.jobsTableName, Key: { pk: 'HEALTH', sk: 'HEALTH' } }));
    },
  };
}
