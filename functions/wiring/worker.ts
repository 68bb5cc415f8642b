/** The worker's parts: runs firings, calls targets, records runs, announces failures. */
import type { ECSClient } from '@aws-sdk/client-ecs';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { WebhookAndTopicNotifier } from '../adapters/failure-notifier.js';
import { DynamoFairShare } from '../adapters/fair-share.js';
import type { LongTargetOptions } from '../adapters/long-targets.js';
import { InMemoryRunMetrics } from '../adapters/run-metrics.js';
import { SigningSecrets } from '../adapters/signing-secrets.js';
import { createTargetCaller } from '../adapters/targets.js';
import { DynamoTenancy } from '../adapters/tenancy.js';
import { runsInProgressLimit, targetAccessOf, type WorkerConfig } from '../commons/config.js';
import { type Lazy, lazy } from '../commons/lazy.js';
import type { FiringSigner, Logger, LongTargets, RunMetrics, Tenancy } from '../domain/ports.js';
import type { ExecuteDeps } from '../usecases/execute-firing.js';
import {
  newBreakerStore,
  newDegradation,
  newFiringQueue,
  newFiringSigner,
  newJobStore,
  newRegionGate,
  newRunStore,
  newSecretBox,
  newUrlGuard,
} from './parts.js';
import type { Platform } from './platform.js';

/** The lazy ones are made (and their code loaded) only when work needs them: see commons/lazy.ts. */
export interface WorkerClients {
  db: DynamoDBDocumentClient;
  sqs: Lazy<SQSClient>;
  /** For the failure topic: only when a run finally fails. */
  sns: Lazy<SNSClient>;
  kms: Lazy<KMSClient>;
  /** For Lambda and EventBridge targets. */
  lambda: Lazy<LambdaClient>;
  eventBridge: Lazy<EventBridgeClient>;
  /** For long runs: ECS tasks and Step Functions executions. */
  ecs: Lazy<ECSClient>;
  sfn: Lazy<SFNClient>;
}

export type WorkerServices = ExecuteDeps & {
  firingSigner: FiringSigner;
  metrics: RunMetrics;
  logger: Logger;
  /**
   * With the share left at its default: fair share starts once a second tenant has run.
   * Absent when a share is set (`tenantRunsInProgress`), which holds from the first run.
   */
  tenancy?: Tenancy;
};

/**
 * ECS tasks, Step Functions executions and callback calls, with their code loaded at the first
 * long run: most workers only ever call short targets.
 */
function lazyLongTargets(options: LongTargetOptions): LongTargets {
  const made = lazy(async () => (await import('../adapters/long-targets.js')).createLongTargets(options));
  return {
    start: async (target, context) => (await made()).start(target, context),
    describe: async (handle) => (await made()).describe(handle),
    stop: async (handle, reason) => (await made()).stop(handle, reason),
  };
}

export function wireWorker(config: WorkerConfig, clients: WorkerClients, platform: Platform): WorkerServices {
  const { db, sqs } = clients;
  const { clock, logger } = platform;
  const box = newSecretBox(clients.kms, config);
  const region = newRegionGate(db, config, platform);
  const firingSigner = newFiringSigner(db, config, box, region);
  const urlGuard = newUrlGuard(config, platform);
  const signingSecrets = new SigningSecrets(db, config.jobsTableName, box);
  const callTarget = createTargetCaller({
    clients: { lambda: clients.lambda, sqs, eventBridge: clients.eventBridge },
    access: targetAccessOf(config),
    urlGuard,
    box,
    clock,
    signingSecrets: (tenantId) => signingSecrets.forSigning(tenantId, clock.now()),
    ...(platform.seams?.callHttpTarget ? { http: platform.seams.callHttpTarget } : {}),
  });
  return {
    jobs: newJobStore(db, config),
    runs: newRunStore(db, config),
    queue: newFiringQueue(sqs, config, platform, firingSigner),
    callTarget,
    long: {
      targets: lazyLongTargets({
        ecs: clients.ecs,
        sfn: clients.sfn,
        callHttp: callTarget,
        access: targetAccessOf(config),
      }),
      signer: firingSigner,
      callbackBaseUrl: config.callbackBaseUrl,
    },
    notifier: new WebhookAndTopicNotifier(clients.sns, config.failureTopicArn, clock, logger, urlGuard, box),
    metrics: platform.runMetrics ?? new InMemoryRunMetrics(),
    fairShare: new DynamoFairShare(db, config.runsTableName, (priority) =>
      runsInProgressLimit(config.tenantRunsInProgress, priority, config.queueConcurrency),
    ),
    ...(config.tenantRunsInProgress === undefined
      ? { tenancy: new DynamoTenancy(db, config.runsTableName, logger) }
      : {}),
    circuit: { store: newBreakerStore(db, config), settings: config.breaker },
    firingSigner,
    region,
    degradation: newDegradation(db, config, platform),
    clock,
    logger,
  };
}
