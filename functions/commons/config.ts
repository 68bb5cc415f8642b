/**
 * Each function's configuration, from its environment, checked once at cold start. A
 * function reads only the variables `lib/environment.ts` lists for it (the table the CDK
 * stack sets them from); a missing one fails the load, naming it.
 */
// Checked by hand, not with zod: these few JSON values are read once per cold start, and
// zod/mini's code and schemas cost about 7 ms of it (issue 17), a tenth of the floor.
import {
  defaultTenantRunsInProgress,
  PRIORITIES,
  type Priority,
  QUEUE_CONCURRENCY_RANGE,
  RUN_EXPIRIES,
  RUN_RETENTION_DAYS,
  type RunExpiry,
} from '../../lib/definitions.js';
import {
  ENV,
  type EnvKey,
  environmentNames,
  FUNCTION_ENVIRONMENT,
  type FunctionId,
} from '../../lib/environment.js';
import type { JwtConfig } from '../adapters/authenticator.js';
import { parseAllowedHosts } from '../adapters/url-guard.js';
import { type BreakerSettings, DEFAULT_BREAKER_SETTINGS } from '../domain/breaker.js';
import { type DegradationSettings, parseDegradationSettings } from '../domain/degradation.js';
import { isPlainObject } from '../domain/json-walk.js';
import { REGION_NAME } from '../domain/region.js';
import type { TargetAccess } from '../domain/target-access.js';

/** Per-tenant quotas and rate limits of the API. */
export interface TenantLimits {
  maxJobs: number;
  jobCreatesPerMinute: number;
  requestsPerSecond: number;
}

export const DEFAULT_LIMITS: TenantLimits = {
  maxJobs: 10_000,
  jobCreatesPerMinute: 1_000,
  requestsPerSecond: 100,
};

/**
 * A tenant's places on a queue (fair share): runs in progress at once. Unset: half the
 * queue's worker concurrency. 0: no fair share.
 */
export function runsInProgressLimit(
  configured: number | undefined,
  priority: Priority,
  queueConcurrency: Partial<Record<Priority, number>> = {},
): number {
  return configured ?? defaultTenantRunsInProgress(priority, queueConcurrency[priority]);
}

/** Every setting any function has; each function's configuration is a part of it (ConfigOf). */
export interface Config {
  jobsTableName: string;
  runsTableName: string;
  scheduleGroupName: string;
  schedulerRoleArn: string;
  /** Queue ARN per priority: the EventBridge schedule's target. */
  queueArns: Record<Priority, string>;
  /** Queue URL per priority: where retries, dependents and manual runs are sent. */
  queueUrls: Record<Priority, string>;
  /** Dead-letter queue ARN per priority: tells the archiver which queue a letter came from. */
  deadLetterQueueArns: Record<Priority, string>;
  runRetentionDays: number;
  /** How old runs leave the runs table: DynamoDB TTL, or the completion sweep (strong consistency). */
  runExpiry: RunExpiry;
  /** ARN patterns Lambda, SQS and EventBridge targets must match; none allowed when empty. */
  allowedTargetArns: string[];
  /**
   * What HTTP targets and webhooks may reach even at internal addresses: `host:port`,
   * `host:low-high` or a bare host (ports 80 and 443); `*.suffix` hosts.
   */
  allowedHttpHosts: string[];
  /** ARN patterns of Sundial's own resources: never targets, whatever allowedTargetArns says. */
  protectedArns: string[];
  /** The origin of a local emulator's queue URLs, allowed besides AWS's SQS hosts. */
  sqsEndpoint?: string;
  /** The API's per-tenant limits. */
  limits: TenantLimits;
  /** Runs in progress per tenant on each queue (fair share); unset: the default per queue. */
  tenantRunsInProgress?: number;
  /** Each queue's worker concurrency as deployed, where it differs from QUEUES (fair share's default follows it). */
  queueConcurrency: Partial<Record<Priority, number>>;
  /** The circuit breaker per tenant and target: when it opens, for how long. */
  breaker: BreakerSettings;
  /** The KMS key (id or ARN) that seals secrets at rest. */
  secretsKeyId: string;
  /** The API's base URL, which long-running HTTP targets call back to. */
  callbackBaseUrl: string;
  /** This deployment's region (for queue URLs that do not name one). */
  region: string;
  /** The OIDC issuer whose tokens the API accepts besides API keys; none when unset. */
  jwt?: JwtConfig;
  /** SNS topic told of every final run failure; none when unset. */
  failureTopicArn?: string;
  /** The hosted sign-in the console offers (with `jwt`'s audience as its client); none when unset. */
  consoleSignInDomain?: string;
  /** A two-region deployment's regions, the home region first; empty for one region. */
  drRegions: string[];
  /** Graceful degradation's thresholds and steps (issue 17). */
  degradation: DegradationSettings;
}

type Field = keyof Config;
type Env = Record<string, string | undefined>;

/** Each setting, from the variables it is made of; `read` refuses a variable the function does not have. */
const FIELDS: {
  [F in Field]-?: { keys: readonly EnvKey[]; parse: (read: (k: EnvKey) => string | undefined) => Config[F] };
} = {
  jobsTableName: { keys: ['jobsTable'], parse: (read) => nonEmpty('jobsTable', read('jobsTable')) },
  runsTableName: { keys: ['runsTable'], parse: (read) => nonEmpty('runsTable', read('runsTable')) },
  scheduleGroupName: {
    keys: ['scheduleGroup'],
    parse: (read) => nonEmpty('scheduleGroup', read('scheduleGroup')),
  },
  schedulerRoleArn: {
    keys: ['schedulerRole'],
    parse: (read) => nonEmpty('schedulerRole', read('schedulerRole')),
  },
  queueArns: {
    keys: ['queueArns'],
    parse: (read) => byPriority(ENV.queueArns, read('queueArns')),
  },
  queueUrls: {
    keys: ['queueUrlHigh', 'queueUrlDefault', 'queueUrlLow'],
    parse: (read) => ({
      high: nonEmpty('queueUrlHigh', read('queueUrlHigh')),
      default: nonEmpty('queueUrlDefault', read('queueUrlDefault')),
      low: nonEmpty('queueUrlLow', read('queueUrlLow')),
    }),
  },
  deadLetterQueueArns: {
    keys: ['deadLetterQueueArns'],
    parse: (read) => byPriority(ENV.deadLetterQueueArns, read('deadLetterQueueArns')),
  },
  runRetentionDays: {
    keys: ['runRetentionDays'],
    parse: (read) => integer(ENV.runRetentionDays, read('runRetentionDays'), 1, RUN_RETENTION_DAYS),
  },
  runExpiry: {
    keys: ['runExpiry'],
    parse: (read) => {
      const value = read('runExpiry') || 'ttl';
      if (!(RUN_EXPIRIES as readonly string[]).includes(value)) {
        throw new ConfigurationError(
          `${ENV.runExpiry} must be one of ${RUN_EXPIRIES.join(', ')}, got "${value}"`,
        );
      }
      return value as RunExpiry;
    },
  },
  allowedTargetArns: {
    keys: ['allowedTargetArns'],
    parse: (read) => arnList(ENV.allowedTargetArns, read('allowedTargetArns') || '[]'),
  },
  allowedHttpHosts: {
    keys: ['allowedHttpHosts'],
    parse: (read) => allowedHttpHosts(read('allowedHttpHosts')),
  },
  protectedArns: {
    keys: ['protectedArns'],
    parse: (read) => arnList(ENV.protectedArns, read('protectedArns') || '[]'),
  },
  sqsEndpoint: { keys: ['sqsEndpoint'], parse: (read) => read('sqsEndpoint') || undefined },
  limits: {
    keys: ['tenantMaxJobs', 'tenantJobCreatesPerMinute', 'tenantRequestsPerSecond'],
    parse: (read) => ({
      maxJobs: integer(ENV.tenantMaxJobs, read('tenantMaxJobs'), 1, DEFAULT_LIMITS.maxJobs),
      jobCreatesPerMinute: integer(
        ENV.tenantJobCreatesPerMinute,
        read('tenantJobCreatesPerMinute'),
        1,
        DEFAULT_LIMITS.jobCreatesPerMinute,
      ),
      requestsPerSecond: integer(
        ENV.tenantRequestsPerSecond,
        read('tenantRequestsPerSecond'),
        1,
        DEFAULT_LIMITS.requestsPerSecond,
      ),
    }),
  },
  tenantRunsInProgress: {
    keys: ['tenantRunsInProgress'],
    parse: (read) =>
      read('tenantRunsInProgress')
        ? integer(ENV.tenantRunsInProgress, read('tenantRunsInProgress'), 0)
        : undefined,
  },
  queueConcurrency: {
    keys: ['queueConcurrency'],
    parse: (read) => queueConcurrency(ENV.queueConcurrency, read('queueConcurrency') || '{}'),
  },
  breaker: {
    keys: ['breakerFailures', 'breakerCoolDownSeconds', 'breakerMaxCoolDownSeconds'],
    parse: (read) => {
      const d = DEFAULT_BREAKER_SETTINGS;
      const coolDownSeconds = integer(
        ENV.breakerCoolDownSeconds,
        read('breakerCoolDownSeconds'),
        1,
        d.coolDownSeconds,
      );
      const maxCoolDownSeconds = integer(
        ENV.breakerMaxCoolDownSeconds,
        read('breakerMaxCoolDownSeconds'),
        1,
        Math.max(d.maxCoolDownSeconds, coolDownSeconds),
      );
      if (maxCoolDownSeconds < coolDownSeconds)
        throw new ConfigurationError(
          `${ENV.breakerMaxCoolDownSeconds} (${maxCoolDownSeconds}) must be at least ${ENV.breakerCoolDownSeconds} (${coolDownSeconds})`,
        );
      return {
        failureThreshold: integer(ENV.breakerFailures, read('breakerFailures'), 0, d.failureThreshold),
        coolDownSeconds,
        maxCoolDownSeconds,
      };
    },
  },
  secretsKeyId: { keys: ['secretsKey'], parse: (read) => nonEmpty('secretsKey', read('secretsKey')) },
  region: { keys: ['region'], parse: (read) => read('region') || 'us-east-1' },
  jwt: {
    keys: ['jwtIssuer', 'jwtAudience', 'jwtJwksUri', 'jwtTenantClaim', 'jwtRoleClaim'],
    parse: (read) => {
      const issuer = read('jwtIssuer');
      const audience = read('jwtAudience');
      if (!issuer || !audience) return undefined;
      const optional = (key: EnvKey, name: keyof JwtConfig) => (read(key) ? { [name]: read(key) } : {});
      return {
        issuer,
        audience,
        ...optional('jwtJwksUri', 'jwksUri'),
        ...optional('jwtTenantClaim', 'tenantClaim'),
        ...optional('jwtRoleClaim', 'roleClaim'),
      };
    },
  },
  failureTopicArn: { keys: ['failureTopic'], parse: (read) => read('failureTopic') || undefined },
  consoleSignInDomain: {
    keys: ['consoleSignInDomain'],
    parse: (read) => {
      const value = read('consoleSignInDomain');
      if (!value) return undefined;
      if (!/^https:\/\/[a-z0-9.-]+$/.test(value)) {
        throw new ConfigurationError(`${ENV.consoleSignInDomain} must be an https:// origin, got "${value}"`);
      }
      return value;
    },
  },
  drRegions: {
    keys: ['drRegions'],
    parse: (read) => {
      const value = read('drRegions');
      if (!value) return [];
      const regions = json(ENV.drRegions, value);
      if (
        !Array.isArray(regions) ||
        regions.length !== 2 ||
        !regions.every((r) => typeof r === 'string' && REGION_NAME.test(r))
      ) {
        throw new ConfigurationError(
          `${ENV.drRegions} must be a JSON array of two region names, got "${value}"`,
        );
      }
      if (regions[0] === regions[1]) {
        throw new ConfigurationError(`${ENV.drRegions} must name two different regions, got "${value}"`);
      }
      return regions;
    },
  },
  degradation: {
    keys: ['degradationSettings'],
    parse: (read) => {
      try {
        return parseDegradationSettings(read('degradationSettings'));
      } catch (error) {
        throw new ConfigurationError(`${ENV.degradationSettings}: ${(error as Error).message}`);
      }
    },
  },
  callbackBaseUrl: {
    keys: ['callbackBaseUrl'],
    parse: (read) => {
      const value = nonEmpty('callbackBaseUrl', read('callbackBaseUrl'));
      if (!/^https?:\/\/[^\s/]+(\/[^\s]*)?$/.test(value)) {
        throw new ConfigurationError(`${ENV.callbackBaseUrl} must be an http(s) URL, got "${value}"`);
      }
      return value.replace(/\/+$/, '');
    },
  },
};

/** What the functions that run and settle runs (the worker, the completion function) read. */
const RUN_PATH_FIELDS = [
  'jobsTableName',
  'runsTableName',
  'queueUrls',
  'secretsKeyId',
  'allowedTargetArns',
  'protectedArns',
  'allowedHttpHosts',
  'sqsEndpoint',
  'runRetentionDays',
  'runExpiry',
  'failureTopicArn',
  'callbackBaseUrl',
  'drRegions',
  'degradation',
  'region',
] as const satisfies readonly Field[];

/** The settings of each function. */
export const CONFIG_FIELDS = {
  Api: [
    'jobsTableName',
    'runsTableName',
    'scheduleGroupName',
    'schedulerRoleArn',
    'queueArns',
    'queueUrls',
    'secretsKeyId',
    'allowedTargetArns',
    'protectedArns',
    'allowedHttpHosts',
    'sqsEndpoint',
    'runRetentionDays',
    'runExpiry',
    'limits',
    'jwt',
    'consoleSignInDomain',
    'drRegions',
    'degradation',
    'region',
  ],
  Worker: [...RUN_PATH_FIELDS, 'tenantRunsInProgress', 'queueConcurrency', 'breaker'],
  // Settles what the worker started: the worker's settings but fair share's.
  Completion: RUN_PATH_FIELDS,
  DeadLetters: [
    'jobsTableName',
    'runsTableName',
    'secretsKeyId',
    'deadLetterQueueArns',
    'runRetentionDays',
    'runExpiry',
    'drRegions',
    'region',
  ],
  Sync: [
    'jobsTableName',
    'runsTableName',
    'scheduleGroupName',
    'schedulerRoleArn',
    'queueArns',
    'queueUrls',
    'secretsKeyId',
    'sqsEndpoint',
    'runRetentionDays',
    'runExpiry',
    'drRegions',
    'region',
  ],
  Reconciler: [
    'jobsTableName',
    'scheduleGroupName',
    'schedulerRoleArn',
    'queueArns',
    'secretsKeyId',
    'drRegions',
    'region',
  ],
} as const satisfies Record<FunctionId, readonly Field[]>;

export type ConfigOf<F extends FunctionId> = Pick<Config, (typeof CONFIG_FIELDS)[F][number]>;
export type ApiConfig = ConfigOf<'Api'>;
export type WorkerConfig = ConfigOf<'Worker'>;
export type CompletionConfig = ConfigOf<'Completion'>;
export type DeadLettersConfig = ConfigOf<'DeadLetters'>;
export type SyncConfig = ConfigOf<'Sync'>;
export type ReconcilerConfig = ConfigOf<'Reconciler'>;

/** The environment variables a function's settings are made of (the CDK test checks them against the table). */
export function configEnvKeys(fn: FunctionId): EnvKey[] {
  return [...new Set(CONFIG_FIELDS[fn].flatMap((field) => FIELDS[field].keys))];
}

export class ConfigurationError extends Error {
  override name = 'ConfigurationError';
}

/** Loads function `fn`'s configuration; throws, naming the variables, when one is missing or bad. */
export function loadConfig<F extends FunctionId>(fn: F, env: Env = process.env): ConfigOf<F> {
  const { required } = environmentNames(fn);
  // Set, though possibly empty: an empty allowlist is a real setting (allow nothing).
  const missing = required.filter((name) => env[name] === undefined);
  if (missing.length > 0) {
    throw new ConfigurationError(`${fn}: missing environment variables: ${missing.join(', ')}`);
  }
  const allowed = new Set<EnvKey>([
    ...FUNCTION_ENVIRONMENT[fn].required,
    ...FUNCTION_ENVIRONMENT[fn].optional,
  ]);
  const read = (key: EnvKey) => {
    // A setting made of a variable this function is not given would silently take its default.
    if (!allowed.has(key)) throw new ConfigurationError(`${fn} does not read ${ENV[key]}`);
    return env[ENV[key]];
  };
  const config: Record<string, unknown> = {};
  for (const field of CONFIG_FIELDS[fn] as readonly Field[]) {
    const value = FIELDS[field].parse(read);
    if (value !== undefined) config[field] = value;
  }
  return config as ConfigOf<F>;
}

function nonEmpty(key: EnvKey, value: string | undefined): string {
  if (!value) throw new ConfigurationError(`${ENV[key]} is empty`);
  return value;
}

function json(name: string, value: string | undefined): unknown {
  try {
    return JSON.parse(value ?? '');
  } catch {
    throw new ConfigurationError(`${name} is not JSON`);
  }
}

/** A JSON object with a non-empty string for each priority (other keys are ignored). */
function byPriority(name: string, value: string | undefined): Record<Priority, string> {
  const parsed = json(name, value);
  if (!isPlainObject(parsed)) throw new ConfigurationError(`${name} must be a JSON object by priority`);
  const out = {} as Record<Priority, string>;
  for (const p of PRIORITIES) {
    const v = parsed[p];
    if (typeof v !== 'string' || v === '')
      throw new ConfigurationError(`${name}: ${p} must be a non-empty string`);
    out[p] = v;
  }
  return out;
}

/** A JSON array of ARN patterns. */
function arnList(name: string, value: string): string[] {
  const parsed = json(name, value);
  if (!Array.isArray(parsed)) throw new ConfigurationError(`${name} must be a JSON array of ARNs`);
  parsed.forEach((v, i) => {
    if (typeof v !== 'string' || !v.startsWith('arn:'))
      throw new ConfigurationError(`${name}: [${i}] must be an ARN (arn:…), got ${JSON.stringify(v)}`);
  });
  return parsed as string[];
}

/** A JSON object of some priorities' worker concurrency, each within what SQS's event source takes. */
function queueConcurrency(name: string, value: string): Partial<Record<Priority, number>> {
  const parsed = json(name, value);
  if (!isPlainObject(parsed)) throw new ConfigurationError(`${name} must be a JSON object by priority`);
  const { min, max } = QUEUE_CONCURRENCY_RANGE;
  for (const [key, v] of Object.entries(parsed)) {
    if (!(PRIORITIES as readonly string[]).includes(key))
      throw new ConfigurationError(`${name}: "${key}" is not a priority (${PRIORITIES.join(', ')})`);
    if (!Number.isInteger(v) || (v as number) < min || (v as number) > max)
      throw new ConfigurationError(
        `${name}: ${key} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`,
      );
  }
  return parsed as Partial<Record<Priority, number>>;
}

function integer(name: string, value: string | undefined, min: number, fallback?: number): number {
  if (value === undefined || value === '') {
    if (fallback === undefined) throw new ConfigurationError(`${name} is required`);
    return fallback;
  }
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new ConfigurationError(`${name} must be an integer ≥ ${min}, got "${value}"`);
  return n;
}

/** The HTTP allowlist, checked at load so a malformed entry fails the cold start, naming it. */
export function allowedHttpHosts(value: string | undefined): string[] {
  const entries = (value ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  try {
    parseAllowedHosts(entries);
  } catch (error) {
    throw new ConfigurationError(`${ENV.allowedHttpHosts}: ${(error as Error).message}`);
  }
  return entries;
}

/** What AWS targets may name under this configuration (invariant 9). */
export function targetAccessOf(
  config: Pick<Config, 'region' | 'allowedTargetArns' | 'protectedArns' | 'sqsEndpoint'>,
): TargetAccess {
  return {
    region: config.region,
    allowedArns: config.allowedTargetArns,
    protectedArns: config.protectedArns,
    ...(config.sqsEndpoint ? { sqsEndpoint: config.sqsEndpoint } : {}),
  };
}

/** The environment a function is given from a full set of values: only what the table lists for it. */
export function environmentFor(
  fn: FunctionId,
  values: Partial<Record<EnvKey, string>>,
): Record<string, string> {
  const keys = [...FUNCTION_ENVIRONMENT[fn].required, ...FUNCTION_ENVIRONMENT[fn].optional];
  return Object.fromEntries(
    keys.flatMap((key) => (values[key] === undefined ? [] : [[ENV[key], values[key]]])),
  );
}
