/**
 * Every environment variable a Sundial function reads, and which function reads which: the
 * one table the CDK stack sets them from and each function's configuration loads them by.
 * Plain data (no CDK or AWS SDK imports): the functions and the local runtime load it too.
 */

export const ENV = {
  jobsTable: 'JOBS_TABLE_NAME',
  runsTable: 'RUNS_TABLE_NAME',
  /** Every job's schedule lives in this group, so Sundial never touches other schedules. */
  scheduleGroup: 'SCHEDULE_GROUP_NAME',
  /** The role the Scheduler assumes to send a firing to a queue. */
  schedulerRole: 'SCHEDULER_ROLE_ARN',
  /** JSON map priority -> queue ARN, the targets a schedule may send to. */
  queueArns: 'QUEUE_ARNS',
  /** Queue URL per priority: where retries, dependents and manual runs are sent. */
  queueUrlHigh: 'QUEUE_URL_HIGH',
  queueUrlDefault: 'QUEUE_URL_DEFAULT',
  queueUrlLow: 'QUEUE_URL_LOW',
  /** JSON map priority -> dead-letter queue ARN, for the dead-letter archiver. */
  deadLetterQueueArns: 'DEAD_LETTER_QUEUE_ARNS',
  /** The KMS key that seals secrets at rest (signing secrets, secret headers, the firing key). */
  secretsKey: 'SECRETS_KEY_ID',
  /** JSON array of ARN patterns (`*` wildcards) that Lambda, SQS and EventBridge targets may name. */
  allowedTargetArns: 'ALLOWED_TARGET_ARNS',
  /**
   * JSON array of ARN patterns of Sundial's own resources (queues, DLQs, tables, topic,
   * functions): refused as targets whatever the allowlist says (invariant 9).
   */
  protectedArns: 'PROTECTED_ARNS',
  /** Comma-separated `host`, `host:port` or `host:low-high` HTTP targets may reach internally. */
  allowedHttpHosts: 'ALLOWED_HTTP_HOSTS',
  /**
   * Local only: the origin of the emulator's queue URLs, allowed for SQS targets besides
   * AWS's SQS hosts. Not the SDK's AWS_ENDPOINT_URL_SQS: fauxqs names its queues by a host
   * (`sqs.<region>.localhost`) that is not where its API listens.
   */
  sqsEndpoint: 'SUNDIAL_LOCAL_SQS_ORIGIN',
  /**
   * The API's base URL (no trailing slash): long-running HTTP targets are handed
   * `<callbackBaseUrl>/v1/callbacks/<token>` to report to.
   */
  callbackBaseUrl: 'CALLBACK_BASE_URL',
  runRetentionDays: 'RUN_RETENTION_DAYS',
  /** `ttl` (default) or `sweep`: how old runs leave the runs table (lib/definitions.ts RunExpiry). */
  runExpiry: 'RUN_EXPIRY',
  failureTopic: 'FAILURE_TOPIC_ARN',
  tenantMaxJobs: 'TENANT_MAX_JOBS',
  tenantJobCreatesPerMinute: 'TENANT_JOB_CREATES_PER_MINUTE',
  tenantRequestsPerSecond: 'TENANT_REQUESTS_PER_SECOND',
  tenantRunsInProgress: 'TENANT_RUNS_IN_PROGRESS',
  /** Worker concurrency per queue as deployed (`-c queueConcurrencyHigh=…`), JSON by priority; default per QUEUES. */
  queueConcurrency: 'QUEUE_CONCURRENCY',
  /** Circuit breaker per tenant and target (issue 17): consecutive failures that open it (0: off). */
  breakerFailures: 'BREAKER_FAILURES',
  /** Its first cool-down, doubled after each failed probe up to the maximum. */
  breakerCoolDownSeconds: 'BREAKER_COOL_DOWN_SECONDS',
  breakerMaxCoolDownSeconds: 'BREAKER_MAX_COOL_DOWN_SECONDS',
  jwtIssuer: 'JWT_ISSUER',
  jwtAudience: 'JWT_AUDIENCE',
  jwtJwksUri: 'JWT_JWKS_URI',
  jwtTenantClaim: 'JWT_TENANT_CLAIM',
  jwtRoleClaim: 'JWT_ROLE_CLAIM',
  /**
   * The user pool's hosted sign-in (`https://<prefix>.auth.<region>.amazoncognito.com`) the
   * web console offers besides API keys; the app client is JWT_AUDIENCE.
   */
  consoleSignInDomain: 'CONSOLE_SIGN_IN_DOMAIN',
  /**
   * Two-region deployments: JSON array of the regions, the home region first (e.g.
   * `["us-east-1","us-west-2"]`). Unset: one region, always active, no region checks.
   */
  drRegions: 'DR_REGIONS',
  /**
   * Graceful degradation's thresholds and step settings (functions/domain/degradation.ts), a
   * JSON object of the fields to change, e.g. `{"queueAgeSeconds":[60,180,300,600]}`. Unset: the defaults.
   */
  degradationSettings: 'DEGRADATION_SETTINGS',
  /** Set by Lambda itself. */
  region: 'AWS_REGION',
} as const;

export type EnvKey = keyof typeof ENV;
export type EnvName = (typeof ENV)[EnvKey];

/** Sundial's functions by their construct id (the function is named `sundial-<stage>-<id>`). */
export const FUNCTION_IDS = ['Api', 'Worker', 'Completion', 'DeadLetters', 'Sync', 'Reconciler'] as const;
export type FunctionId = (typeof FUNCTION_IDS)[number];

export interface FunctionEnvironment {
  /** Must be set: the function fails at load, naming the first missing ones. */
  required: readonly EnvKey[];
  /** Read when set; a default or "off" otherwise. */
  optional: readonly EnvKey[];
}

const queueUrls = ['queueUrlHigh', 'queueUrlDefault', 'queueUrlLow'] as const;
const targets = ['allowedTargetArns', 'protectedArns', 'allowedHttpHosts'] as const;
const schedules = ['scheduleGroup', 'schedulerRole', 'queueArns'] as const;
const tenantApiLimits = ['tenantMaxJobs', 'tenantJobCreatesPerMinute', 'tenantRequestsPerSecond'] as const;
/** What the worker and the completion function need to run and settle runs. */
const runPath = [
  'jobsTable',
  'runsTable',
  ...queueUrls,
  'secretsKey',
  ...targets,
  'callbackBaseUrl',
] as const;
const jwt = ['jwtIssuer', 'jwtAudience', 'jwtJwksUri', 'jwtTenantClaim', 'jwtRoleClaim'] as const;

/** What each function reads: nothing more is set on it, nothing less lets it start. */
export const FUNCTION_ENVIRONMENT: Record<FunctionId, FunctionEnvironment> = {
  Api: {
    required: ['jobsTable', 'runsTable', ...schedules, ...queueUrls, 'secretsKey', ...targets],
    optional: [
      'sqsEndpoint',
      'runRetentionDays',
      'runExpiry',
      ...tenantApiLimits,
      ...jwt,
      'consoleSignInDomain',
      'drRegions',
      'degradationSettings',
      'region',
    ],
  },
  Worker: {
    required: runPath,
    optional: [
      'sqsEndpoint',
      'runRetentionDays',
      'runExpiry',
      'failureTopic',
      'tenantRunsInProgress',
      'queueConcurrency',
      'breakerFailures',
      'breakerCoolDownSeconds',
      'breakerMaxCoolDownSeconds',
      'drRegions',
      'degradationSettings',
      'region',
    ],
  },
  /**
   * Ends long runs: ECS and Step Functions state-change events (an EventBridge rule), and a
   * sweep every minute over the runs waiting on a deadline, a heartbeat or a poll.
   */
  Completion: {
    required: runPath,
    optional: [
      'sqsEndpoint',
      'runRetentionDays',
      'runExpiry',
      'failureTopic',
      'drRegions',
      'degradationSettings',
      'region',
    ],
  },
  DeadLetters: {
    required: ['jobsTable', 'runsTable', 'secretsKey', 'deadLetterQueueArns'],
    optional: ['runRetentionDays', 'runExpiry', 'drRegions', 'region'],
  },
  /**
   * The schedule-sync sweeper (every minute; it also writes this region's heartbeat) and the
   * jobs table's stream: a passive region keeps its schedules disabled in step with the
   * replicated jobs, and a change of the active region is acted on here (takeover: schedules
   * enabled, the failover gap caught up, runs left behind driven again; stand-down: schedules
   * disabled). The takeover sends firings and records missed runs, hence the runs table and
   * the queues.
   */
  Sync: {
    required: ['jobsTable', 'runsTable', ...schedules, ...queueUrls, 'secretsKey'],
    optional: ['sqsEndpoint', 'runRetentionDays', 'runExpiry', 'drRegions', 'region'],
  },
  Reconciler: {
    required: ['jobsTable', ...schedules, 'secretsKey'],
    optional: ['drRegions', 'region'],
  },
};

/** The variables a function reads, by name. */
export function environmentNames(fn: FunctionId): { required: EnvName[]; optional: EnvName[] } {
  const { required, optional } = FUNCTION_ENVIRONMENT[fn];
  return { required: required.map((k) => ENV[k]), optional: optional.map((k) => ENV[k]) };
}
