/** Function configuration from the environment, checked once at cold start. */
import * as z from 'zod';
import {
  ALLOWED_TARGET_ARNS_ENV,
  defaultTenantRunsInProgress,
  JOBS_TABLE,
  PRIORITIES,
  PROTECTED_ARNS_ENV,
  type Priority,
  QUEUE_ARNS_ENV,
  QUEUES,
  RUN_RETENTION_DAYS,
  RUNS_TABLE,
  SCHEDULE_GROUP_ENV,
  SCHEDULER_ROLE_ENV,
  SECRETS_KEY_ENV,
} from '../../lib/definitions.js';
import type { JwtConfig } from '../adapters/authenticator.js';
import { parseAllowedHosts } from '../adapters/url-guard.js';
import type { TargetAccess } from '../domain/target-access.js';

const queueArnsSchema = z.object(
  Object.fromEntries(PRIORITIES.map((p) => [p, z.string().min(1)])) as {
    [K in (typeof PRIORITIES)[number]]: z.ZodString;
  },
);

/** Per-tenant quotas and rate limits. */
export interface TenantLimits {
  maxJobs: number;
  jobCreatesPerMinute: number;
  requestsPerSecond: number;
  /**
   * Runs in progress at once per tenant on each queue; a tenant over it waits (fair share).
   * Unset: half each queue's worker concurrency. 0: no fair share.
   */
  runsInProgress?: number;
}

export const DEFAULT_LIMITS: TenantLimits = {
  maxJobs: 10_000,
  jobCreatesPerMinute: 1_000,
  requestsPerSecond: 100,
};

/** A tenant's places on a queue under these limits. */
export function runsInProgressLimit(limits: TenantLimits, priority: Priority): number {
  return limits.runsInProgress ?? defaultTenantRunsInProgress(priority);
}

export interface Config {
  jobsTableName: string;
  runsTableName: string;
  scheduleGroupName: string;
  schedulerRoleArn: string;
  /** Queue ARN per priority: the EventBridge schedule's target. */
  queueArns: z.infer<typeof queueArnsSchema>;
  /** Queue URL per priority: where retries and manual runs are sent. */
  queueUrls: z.infer<typeof queueArnsSchema>;
  runRetentionDays: number;
  /** ARN patterns Lambda, SQS and EventBridge targets must match; none allowed when empty. */
  allowedTargetArns: string[];
  /**
   * What HTTP targets and webhooks may reach even at internal addresses: `host:port`,
   * `host:low-high` or a bare host (ports 80 and 443); `*.suffix` hosts.
   */
  allowedHttpHosts: string[];
  /** Ports of Sundial's own services on this machine (the local runtime): never targets. */
  ownPorts?: number[];
  /** ARN patterns of Sundial's own resources: never targets, whatever allowedTargetArns says. */
  protectedArns: string[];
  /** The origin of a local emulator's queue URLs, allowed besides AWS's SQS hosts. */
  sqsEndpoint?: string;
  limits: TenantLimits;
  /** The KMS key (id or ARN) that seals secrets at rest. */
  secretsKeyId: string;
  /** This deployment's region (for queue URLs that do not name one). */
  region: string;
  /** The OIDC issuer whose tokens the API accepts besides API keys; none when unset. */
  jwt?: JwtConfig;
  /** SNS topic told of every final run failure; none when unset. */
  failureTopicArn?: string;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const missing = [
    JOBS_TABLE.envVar,
    RUNS_TABLE.envVar,
    SCHEDULE_GROUP_ENV,
    SCHEDULER_ROLE_ENV,
    QUEUE_ARNS_ENV,
    SECRETS_KEY_ENV,
    ...QUEUES.map((q) => q.envVar),
  ].filter((name) => !env[name]);
  if (missing.length > 0) throw new Error(`missing environment variables: ${missing.join(', ')}`);
  return {
    jobsTableName: env[JOBS_TABLE.envVar]!,
    runsTableName: env[RUNS_TABLE.envVar]!,
    scheduleGroupName: env[SCHEDULE_GROUP_ENV]!,
    schedulerRoleArn: env[SCHEDULER_ROLE_ENV]!,
    queueArns: queueArnsSchema.parse(JSON.parse(env[QUEUE_ARNS_ENV]!)),
    queueUrls: queueArnsSchema.parse(Object.fromEntries(QUEUES.map((q) => [q.priority, env[q.envVar]]))),
    allowedTargetArns: z
      .array(z.string().startsWith('arn:'))
      .parse(JSON.parse(env[ALLOWED_TARGET_ARNS_ENV] || '[]')),
    allowedHttpHosts: allowedHttpHosts(env.ALLOWED_HTTP_HOSTS),
    protectedArns: z.array(z.string().startsWith('arn:')).parse(JSON.parse(env[PROTECTED_ARNS_ENV] || '[]')),
    ...(env.AWS_ENDPOINT_URL_SQS ? { sqsEndpoint: env.AWS_ENDPOINT_URL_SQS } : {}),
    secretsKeyId: env[SECRETS_KEY_ENV]!,
    limits: {
      maxJobs: positive(env.TENANT_MAX_JOBS, DEFAULT_LIMITS.maxJobs),
      jobCreatesPerMinute: positive(env.TENANT_JOB_CREATES_PER_MINUTE, DEFAULT_LIMITS.jobCreatesPerMinute),
      requestsPerSecond: positive(env.TENANT_REQUESTS_PER_SECOND, DEFAULT_LIMITS.requestsPerSecond),
      ...(env.TENANT_RUNS_IN_PROGRESS
        ? { runsInProgress: z.coerce.number().int().min(0).parse(env.TENANT_RUNS_IN_PROGRESS) }
        : {}),
    },
    region: env.AWS_REGION || 'us-east-1',
    ...(env.JWT_ISSUER && env.JWT_AUDIENCE
      ? {
          jwt: {
            issuer: env.JWT_ISSUER,
            audience: env.JWT_AUDIENCE,
            ...(env.JWT_JWKS_URI ? { jwksUri: env.JWT_JWKS_URI } : {}),
            ...(env.JWT_TENANT_CLAIM ? { tenantClaim: env.JWT_TENANT_CLAIM } : {}),
            ...(env.JWT_ROLE_CLAIM ? { roleClaim: env.JWT_ROLE_CLAIM } : {}),
          },
        }
      : {}),
    ...(env.FAILURE_TOPIC_ARN ? { failureTopicArn: env.FAILURE_TOPIC_ARN } : {}),
    runRetentionDays: z.coerce
      .number()
      .int()
      .min(1)
      .default(RUN_RETENTION_DAYS)
      .parse(env.RUN_RETENTION_DAYS || undefined),
  };
}

/** The HTTP allowlist, checked at load so a malformed entry fails the cold start, naming it. */
export function allowedHttpHosts(value: string | undefined): string[] {
  const entries = (value ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  parseAllowedHosts(entries);
  return entries;
}

/** What AWS targets may name under this configuration (invariant 9). */
export function targetAccessOf(config: Config): TargetAccess {
  return {
    region: config.region,
    allowedArns: config.allowedTargetArns,
    protectedArns: config.protectedArns,
    ...(config.sqsEndpoint ? { sqsEndpoint: config.sqsEndpoint } : {}),
  };
}

function positive(value: string | undefined, fallback: number): number {
  return z.coerce
    .number()
    .int()
    .min(1)
    .default(fallback)
    .parse(value || undefined);
}
