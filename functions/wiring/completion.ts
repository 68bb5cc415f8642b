/**
 * The completion function's parts: it settles long runs (events, the sweep) but never
 * starts one, so it has no HTTP target caller and no permission to start tasks.
 */
import type { ECSClient } from '@aws-sdk/client-ecs';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { WebhookAndTopicNotifier } from '../adapters/failure-notifier.js';
import { createLongTargets } from '../adapters/long-targets.js';
import { ExpirySweeper } from '../adapters/record-expiry.js';
import { InMemoryRunMetrics } from '../adapters/run-metrics.js';
import { type CompletionConfig, targetAccessOf } from '../commons/config.js';
import type { Lazy } from '../commons/lazy.js';
import type { Degradation, Logger, RecordExpiry, RegionGate, RunMetrics } from '../domain/ports.js';
import type { LongRunDeps } from '../usecases/long-runs.js';
import {
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
export interface CompletionClients {
  db: DynamoDBDocumentClient;
  sqs: Lazy<SQSClient>;
  /** For the failure topic: only when a run finally fails. */
  sns: Lazy<SNSClient>;
  kms: Lazy<KMSClient>;
  /** Only for the runs of that type the function settles. */
  ecs: Lazy<ECSClient>;
  sfn: Lazy<SFNClient>;
}

export type CompletionServices = LongRunDeps & {
  metrics: RunMetrics;
  logger: Logger;
  region?: RegionGate;
  /** This region's degradation level: the minute sweep publishes it (and so it is seen with no traffic). */
  degradation?: Degradation;
  /** `RUN_EXPIRY=sweep` only: the minute sweep deletes expired records too (no TTL). */
  expiry?: RecordExpiry;
};

export function wireCompletion(
  config: CompletionConfig,
  clients: CompletionClients,
  platform: Platform,
): CompletionServices {
  const { db, sqs } = clients;
  const { clock, logger } = platform;
  const box = newSecretBox(clients.kms, config);
  const region = newRegionGate(db, config, platform);
  const firingSigner = newFiringSigner(db, config, box, region);
  return {
    jobs: newJobStore(db, config),
    runs: newRunStore(db, config),
    queue: newFiringQueue(sqs, config, platform, firingSigner),
    notifier: new WebhookAndTopicNotifier(
      clients.sns,
      config.failureTopicArn,
      clock,
      logger,
      newUrlGuard(config, platform),
      box,
    ),
    metrics: platform.runMetrics ?? new InMemoryRunMetrics(),
    long: {
      targets: createLongTargets({
        ecs: clients.ecs,
        sfn: clients.sfn,
        // Settling never starts an attempt: the worker does.
        callHttp: async () => ({ kind: 'error', message: 'the completion function starts no attempt' }),
        access: targetAccessOf(config),
      }),
      signer: firingSigner,
      callbackBaseUrl: config.callbackBaseUrl,
    },
    region,
    degradation: newDegradation(db, config, platform),
    ...(config.runExpiry === 'sweep' ? { expiry: new ExpirySweeper(db, config.runsTableName) } : {}),
    clock,
    logger,
  };
}
