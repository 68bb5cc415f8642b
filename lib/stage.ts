import { isIPv6 } from 'node:net';
import { parseDegradationSettings } from '../functions/domain/degradation.js';
import { PRIORITIES, type Priority, QUEUE_CONCURRENCY_RANGE, QUEUES } from './definitions.js';
import type { EnvKey } from './environment.js';

export const STAGES = ['dev', 'prod'] as const;
export type Stage = (typeof STAGES)[number];

/** The stage from `-c stage=...`; anything else stops the synth with a clear message. */
export function parseStage(value: unknown): Stage {
  const stage = value ?? 'dev';
  if (typeof stage === 'string' && (STAGES as readonly string[]).includes(stage)) return stage as Stage;
  throw new Error(`stage must be one of ${STAGES.join(', ')} (pass -c stage=dev), got "${String(stage)}"`);
}

/** Days a run is kept (DynamoDB TTL) from `-c runRetentionDays=N`; 30 when not given. */
export function parseRetentionDays(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const days = Number(value);
  if (!Number.isInteger(days) || days < 1 || days > 3650) {
    throw new Error(`runRetentionDays must be a whole number of days from 1 to 3650, got "${String(value)}"`);
  }
  return days;
}

/**
 * Whether the worker is traced with X-Ray, from `-c workerTracing=true|false`; off by default.
 * Lambda traces up to one invocation a second plus 5% of the rest, a rule no sampling rule
 * changes for it: at a batch of 10 that is up to $0.50 per million runs (`npm run bench`),
 * a sixth of the bill. Runs are followed by their records, logs and metrics without it.
 */
export function parseWorkerTracing(value: unknown): boolean {
  if (value === true || value === 'true') return true;
  if (value === undefined || value === false || value === 'false') return false;
  throw new Error(`workerTracing must be true or false, got "${String(value)}"`);
}

/**
 * Which API requests X-Ray traces: an `AWS::XRay::SamplingRule` for the API's stage, which API
 * Gateway honours and the API function (active tracing) follows. Lambda's own decision for the
 * functions SQS and EventBridge invoke is a fixed rule no sampling rule changes.
 */
export interface TraceSampling {
  /** Share of the requests past the reservoir, 0 to 1. */
  rate: number;
  /** Requests a second traced before the rate applies, across the API. */
  reservoirPerSecond: number;
}

/** X-Ray's own default: one request a second, then 5%. */
export const API_TRACE_SAMPLING: TraceSampling = { rate: 0.05, reservoirPerSecond: 1 };

/** `-c apiTraceRate=0.05 -c apiTraceReservoir=1`; X-Ray's defaults when not given. */
export function parseTraceSampling(get: (key: string) => unknown): TraceSampling {
  const rateValue = get('apiTraceRate');
  const reservoirValue = get('apiTraceReservoir');
  const rate = rateValue === undefined ? API_TRACE_SAMPLING.rate : Number(rateValue);
  if (!Number.isFinite(rate) || rate < 0 || rate > 1) {
    throw new Error(`apiTraceRate must be a share from 0 to 1 (0.05 is 5%), got "${String(rateValue)}"`);
  }
  const reservoir =
    reservoirValue === undefined ? API_TRACE_SAMPLING.reservoirPerSecond : Number(reservoirValue);
  if (!Number.isInteger(reservoir) || reservoir < 0) {
    throw new Error(
      `apiTraceReservoir must be a whole number of requests a second (0 or more), got "${String(reservoirValue)}"`,
    );
  }
  return { rate, reservoirPerSecond: reservoir };
}

const PARTITION = '(aws|aws-cn|aws-us-gov|\\*)';
const REGION = '([a-z0-9-]+|\\*)';
const ACCOUNT = '(\\d{12}|\\*)';
/** An ECS cluster or task-definition family, or a Step Functions state machine name; `*` allowed. */
const NAME = '[A-Za-z0-9_*-]+';
const arnPattern = (service: string, resource: string) =>
  new RegExp(`^arn:${PARTITION}:${service}:${REGION}:${ACCOUNT}:${resource}$`);

/**
 * What an allowed target ARN pattern may look like, by kind. ECS and Step Functions ARNs name
 * exactly one kind of resource (a cluster, a task definition, a state machine), so the worker's
 * grants and the completion rules can be derived from them without guessing.
 */
export const TARGET_ARN_KINDS = {
  lambda: { label: 'Lambda function', pattern: arnPattern('lambda', '[A-Za-z0-9_.:/*$-]+') },
  sqs: { label: 'SQS queue', pattern: arnPattern('sqs', '[A-Za-z0-9_.:/*$-]+') },
  events: { label: 'EventBridge bus', pattern: arnPattern('events', '[A-Za-z0-9_.:/*$-]+') },
  ecsCluster: { label: 'ECS cluster', pattern: arnPattern('ecs', `cluster/${NAME}`) },
  // A family (every revision), family:revision, or family:* as in IAM.
  ecsTaskDefinition: {
    label: 'ECS task definition',
    pattern: arnPattern('ecs', `task-definition/${NAME}(:([1-9][0-9]*|\\*))?`),
  },
  stateMachine: {
    label: 'Step Functions state machine',
    pattern: arnPattern('states', `stateMachine:${NAME}`),
  },
} as const;
export type TargetArnKind = keyof typeof TARGET_ARN_KINDS;

/** The kind of an allowed target ARN pattern, or undefined when it is none of them. */
export function targetArnKind(arn: string): TargetArnKind | undefined {
  return (Object.keys(TARGET_ARN_KINDS) as TargetArnKind[]).find((kind) =>
    TARGET_ARN_KINDS[kind].pattern.test(arn),
  );
}

/** Splits a comma list from `-c` (or a JSON array in cdk.json) into trimmed, non-empty entries. */
const contextList = (value: unknown): string[] =>
  value === undefined || value === ''
    ? []
    : (Array.isArray(value) ? value : String(value).split(',')).map((v) => String(v).trim()).filter(Boolean);

/**
 * The ARNs Lambda, SQS, EventBridge, ECS and Step Functions targets may name, from
 * `-c allowedTargetArns=a,b` (or a JSON array in cdk.json). `*` wildcards are allowed, as in
 * IAM; none by default.
 */
export function parseAllowedTargetArns(value: unknown): string[] {
  const arns = contextList(value);
  const bad = arns.filter((arn) => targetArnKind(arn) === undefined);
  if (bad.length > 0) {
    const kinds = Object.values(TARGET_ARN_KINDS).map((k) => k.label);
    throw new Error(
      `allowedTargetArns must be ${kinds.slice(0, -1).join(', ')} or ${kinds.at(-1)} ARNs (wildcards allowed; an ECS task definition as task-definition/<family>, <family>:<revision> or <family>:*), got "${bad.join('", "')}"`,
    );
  }
  return arns;
}

/** An IAM role ARN; `*` is allowed in the role's path and name only. */
const ROLE_ARN_PATTERN = /^arn:(aws|aws-cn|aws-us-gov):iam::\d{12}:role\/[A-Za-z0-9+=,.@_/*-]+$/;

/**
 * The roles ECS task definitions may hand their tasks (task and execution roles) that the worker
 * may pass to ECS when it runs a task, from `-c ecsPassRoleArns=arn:aws:iam::123456789012:role/a,...`
 * (or a JSON array in cdk.json); none by default.
 */
export function parseEcsPassRoleArns(value: unknown): string[] {
  const arns = contextList(value);
  const bad = arns.filter((arn) => !ROLE_ARN_PATTERN.test(arn));
  if (bad.length > 0) {
    throw new Error(
      `ecsPassRoleArns must be IAM role ARNs (arn:aws:iam::<account>:role/<name>, * allowed in the name), got "${bad.join('", "')}"`,
    );
  }
  return arns;
}

/**
 * The per-tenant limits an operator may set, by their key in lib/environment.ts (and in
 * context), with the circuit breaker's thresholds (per tenant and target, issue 17).
 */
export const TENANT_LIMIT_KEYS = [
  'tenantMaxJobs',
  'tenantJobCreatesPerMinute',
  'tenantRequestsPerSecond',
  'tenantRunsInProgress',
  'breakerFailures',
  'breakerCoolDownSeconds',
  'breakerMaxCoolDownSeconds',
] as const satisfies readonly EnvKey[];
/** The limits that may be 0: no fair share, no circuit breaker. */
const ZERO_MEANS_OFF: ReadonlySet<string> = new Set(['tenantRunsInProgress', 'breakerFailures']);
export type TenantLimits = Partial<Record<(typeof TENANT_LIMIT_KEYS)[number], string>>;

/**
 * Per-tenant limits from `-c tenantMaxJobs= -c tenantJobCreatesPerMinute=
 * -c tenantRequestsPerSecond= -c tenantRunsInProgress=` (0: no fair share), and the circuit
 * breaker's `-c breakerFailures=` (0: off) `-c breakerCoolDownSeconds= -c breakerMaxCoolDownSeconds=`.
 */
export function parseTenantLimits(get: (key: string) => unknown): TenantLimits {
  const limits: TenantLimits = {};
  for (const key of TENANT_LIMIT_KEYS) {
    const value = get(key);
    if (value === undefined) continue;
    const n = Number(value);
    const least = ZERO_MEANS_OFF.has(key) ? 0 : 1;
    if (!Number.isInteger(n) || n < least)
      throw new Error(`${key} must be a whole number of at least ${least}, got "${String(value)}"`);
    limits[key] = String(n);
  }
  const first = Number(limits.breakerCoolDownSeconds ?? 60);
  const max = Number(limits.breakerMaxCoolDownSeconds ?? Math.max(900, first));
  if (max < first)
    throw new Error(`breakerMaxCoolDownSeconds (${max}) must be at least breakerCoolDownSeconds (${first})`);
  return limits;
}

/** A host name or IPv4 address, or `*.suffix` for every name under a domain. */
const HOST_NAME = /^(\*\.)?([A-Za-z0-9-]+\.)*[A-Za-z0-9-]+$/;
/** A port: 1 to 65535, no leading zero (checked for range below). */
const PORT = /^[1-9][0-9]{0,4}$/;

/** Why an allowedHttpHosts entry is malformed, or null when it is well formed. */
function hostEntryError(entry: string): string | null {
  if (/[/@?#\s]/.test(entry)) return 'a host and port only, not a URL';
  // host, host:port or host:low-high; an IPv6 address in brackets ([::1]:8080).
  const match = /^(\[[^\]]*\]|[^:[\]]+)(?::([^:]*))?$/.exec(entry);
  if (!match) return 'expected host, host:port or host:low-high (an IPv6 address in brackets)';
  const [, host = '', ports] = match;
  if (host.startsWith('[')) {
    const address = host.slice(1, -1);
    if (!/^[0-9A-Fa-f:.]+$/.test(address) || !isIPv6(address)) return `"${host}" is not an IPv6 address`;
  } else if (!HOST_NAME.test(host)) {
    return `"${host}" is not a host name, IPv4 address or *.suffix`;
  }
  if (ports === undefined) return null; // a bare host: ports 80 and 443 only
  const range = /^([^-]*)(?:-(.*))?$/.exec(ports)!;
  const [low = '', high = low] = [range[1], range[2]];
  for (const port of [low, high]) {
    if (!PORT.test(port) || Number(port) > 65_535)
      return `port "${port}" is not a whole number from 1 to 65535 (no leading zero)`;
  }
  if (Number(low) > Number(high)) return `port range ${low}-${high} runs backwards`;
  return null;
}

/**
 * Host and port pairs HTTP targets and webhooks may reach even at internal addresses, from
 * `-c allowedHttpHosts=reports.internal:8443,*.svc.local:8000-8099,[fd00::1]:80` (or a JSON
 * array in cdk.json); none by default. An entry without a port allows 80 and 443 only.
 * Validated here, passed through as given; the functions parse them (url-guard).
 */
export function parseAllowedHttpHosts(value: unknown): string[] {
  if (value === undefined || value === '') return [];
  const hosts = (Array.isArray(value) ? value : String(value).split(','))
    .map((h) => String(h).trim())
    .filter(Boolean);
  const bad = hosts.flatMap((h) => {
    const error = hostEntryError(h);
    return error ? [`"${h}": ${error}`] : [];
  });
  if (bad.length > 0) {
    throw new Error(
      `allowedHttpHosts entries must be host, host:port or host:low-high (IPv6 in brackets, *.suffix for a domain; no port means 80 and 443), got ${bad.join('; ')}`,
    );
  }
  return hosts;
}

/** An external OIDC issuer for the API, from `-c jwtIssuer=… -c jwtAudience=…`. */
export interface JwtContext {
  issuer: string;
  audience: string;
  jwksUri?: string;
  tenantClaim?: string;
  roleClaim?: string;
}

export function parseJwtContext(get: (key: string) => unknown): JwtContext | undefined {
  const issuer = get('jwtIssuer');
  const audience = get('jwtAudience');
  if (issuer === undefined && audience === undefined) return undefined;
  if (typeof issuer !== 'string' || !/^https:\/\/[^\s]+$/.test(issuer)) {
    throw new Error(`jwtIssuer must be the https:// URL of an OIDC issuer, got "${String(issuer)}"`);
  }
  if (typeof audience !== 'string' || audience.trim() === '') {
    throw new Error('jwtAudience is required with jwtIssuer: the client id tokens are issued for');
  }
  const optional = (key: string) => {
    const value = get(key);
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const jwksUri = optional('jwtJwksUri');
  const tenantClaim = optional('jwtTenantClaim');
  const roleClaim = optional('jwtRoleClaim');
  return {
    issuer,
    audience,
    ...(jwksUri ? { jwksUri } : {}),
    ...(tenantClaim ? { tenantClaim } : {}),
    ...(roleClaim ? { roleClaim } : {}),
  };
}

/** An AWS Region name: `us-east-1`, `eu-central-2`, `ap-southeast-5`, `us-gov-west-1`, `cn-north-1`. */
const REGION_NAME = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/**
 * How the replicated runs table resolves two regions' writes: `eventual` (DynamoDB's default,
 * multi-Region eventual consistency, MREC: last writer wins) or `strong` (multi-Region strong
 * consistency, MRSC: a write is acknowledged once another Region has it, a conditional write
 * holds across regions; no TTL, so its records expire by the completion sweep,
 * RUN_EXPIRY=sweep). The jobs table is eventually consistent either way: the job store writes
 * it with transactions, which MRSC refuses.
 */
export const TABLE_CONSISTENCIES = ['eventual', 'strong'] as const;
export type TableConsistency = (typeof TABLE_CONSISTENCIES)[number];

/**
 * The Region sets an MRSC global table may span, one set per table (AWS CloudFormation
 * Template Reference, AWS::DynamoDB::GlobalTable GlobalTableWitness,
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-dynamodb-globaltable-globaltablewitness.html;
 * the same sets aws-cdk-lib's TableV2 checks).
 */
export const MRSC_REGION_SETS: Readonly<Record<string, readonly string[]>> = {
  US: ['us-east-1', 'us-east-2', 'us-west-2'],
  EU: ['eu-west-1', 'eu-west-2', 'eu-west-3', 'eu-central-1'],
  AP: ['ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3'],
};

/** Two regions (issue 16): the home region (the primary stack's) and its standby. */
export interface DrContext {
  homeRegion: string;
  standbyRegion: string;
  consistency: TableConsistency;
  /** Strong consistency only: the third Region, a witness (no readable table)... */
  witnessRegion?: string;
  /** ...or a third replica of the runs table (a table, no Sundial stack). */
  thirdReplicaRegion?: string;
}

/**
 * Two regions from `-c standbyRegion=us-west-2` (none: one region, as before), the home
 * region being the primary stack's (`CDK_DEFAULT_REGION`: the CLI's region, from AWS_REGION
 * or the profile). `-c tableConsistency=strong` with `-c witnessRegion=<region>` or
 * `-c thirdReplicaRegion=<region>` asks for multi-Region strong consistency on the runs table
 * (lib/constructs/data.ts builds it), refused here only for a set of regions AWS does not
 * offer it in (three Regions of one Region set).
 */
export function parseDrContext(
  get: (key: string) => unknown,
  homeRegion: string | undefined,
): DrContext | undefined {
  const given = (key: string): string | undefined => {
    const value = get(key);
    return value === undefined || value === '' ? undefined : String(value);
  };
  const region = (key: string): string | undefined => {
    const value = given(key);
    if (value !== undefined && !REGION_NAME.test(value)) {
      throw new Error(`${key} must be an AWS Region name such as us-west-2, got "${value}"`);
    }
    return value;
  };
  const standbyRegion = region('standbyRegion');
  const consistencyValue = given('tableConsistency');
  const witnessRegion = region('witnessRegion');
  const thirdReplicaRegion = region('thirdReplicaRegion');
  if (standbyRegion === undefined) {
    const strays = [
      ['tableConsistency', consistencyValue],
      ['witnessRegion', witnessRegion],
      ['thirdReplicaRegion', thirdReplicaRegion],
    ].filter(([, v]) => v !== undefined);
    if (strays.length > 0) {
      throw new Error(
        `${strays.map(([k]) => k).join(' and ')} need two regions: pass -c standbyRegion=<region> as well`,
      );
    }
    return undefined;
  }
  if (homeRegion === undefined || !REGION_NAME.test(homeRegion)) {
    throw new Error(
      `standbyRegion needs the home region, the primary stack's: run through the CDK CLI with a region (AWS_REGION or the profile's), got "${String(homeRegion)}"`,
    );
  }
  if (standbyRegion === homeRegion) {
    throw new Error(`standbyRegion must differ from the home region ${homeRegion}`);
  }
  const consistency = (consistencyValue ?? 'eventual') as TableConsistency;
  if (!TABLE_CONSISTENCIES.includes(consistency)) {
    throw new Error(
      `tableConsistency must be one of ${TABLE_CONSISTENCIES.join(', ')}, got "${consistency}"`,
    );
  }
  if (consistency === 'eventual') {
    if (witnessRegion !== undefined || thirdReplicaRegion !== undefined) {
      throw new Error(
        'witnessRegion and thirdReplicaRegion are for -c tableConsistency=strong only: an eventually consistent global table has no witness',
      );
    }
    return { homeRegion, standbyRegion, consistency };
  }
  // Multi-Region strong consistency: exactly three Regions of one Region set, two replicas and
  // a witness or three replicas (Amazon DynamoDB Developer Guide, "How DynamoDB global tables
  // work", Multi-Region strong consistency:
  // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_HowItWorks.html).
  if ((witnessRegion === undefined) === (thirdReplicaRegion === undefined)) {
    throw new Error(
      'tableConsistency=strong needs a third Region, exactly one of -c witnessRegion=<region> (two replicas and a witness) or -c thirdReplicaRegion=<region> (three replicas): DynamoDB multi-Region strong consistency spans exactly three Regions',
    );
  }
  const third = (witnessRegion ?? thirdReplicaRegion)!;
  const regions = [homeRegion, standbyRegion, third];
  if (new Set(regions).size !== 3) {
    throw new Error(`tableConsistency=strong needs three different Regions, got ${regions.join(', ')}`);
  }
  const set = Object.entries(MRSC_REGION_SETS).find(([, members]) =>
    regions.every((r) => members.includes(r)),
  );
  if (!set) {
    const sets = Object.entries(MRSC_REGION_SETS)
      .map(([name, members]) => `${name}: ${members.join(', ')}`)
      .join('; ');
    throw new Error(
      `tableConsistency=strong: DynamoDB offers multi-Region strong consistency only within one Region set, and ${regions.join(', ')} are not all in one (${sets})`,
    );
  }
  return {
    homeRegion,
    standbyRegion,
    consistency,
    ...(witnessRegion ? { witnessRegion } : {}),
    ...(thirdReplicaRegion ? { thirdReplicaRegion } : {}),
  };
}

/** The stack's throughput knobs (issue 17): what to raise for more than a default deployment carries. */
export interface Capacity {
  /** API Gateway stage throttling: steady requests a second, and the burst (token bucket). */
  apiRateLimit: number;
  apiBurstLimit: number;
  /** Concurrency reserved for the API and the worker functions; none (the account's shared pool) when unset. */
  apiReservedConcurrency?: number;
  workerReservedConcurrency?: number;
  /** Worker invocations at once per queue (the event source mapping's maximum concurrency). */
  queueConcurrency: Record<Priority, number>;
}

export const DEFAULT_CAPACITY: Capacity = {
  apiRateLimit: 100,
  apiBurstLimit: 200,
  queueConcurrency: Object.fromEntries(QUEUES.map((q) => [q.priority, q.maxConcurrency])) as Record<
    Priority,
    number
  >,
};

const capitalized = (p: Priority) => `${p[0]!.toUpperCase()}${p.slice(1)}`;

/**
 * The capacity knobs from `-c apiRateLimit=1000 -c apiBurstLimit=2000
 * -c apiReservedConcurrency=200 -c workerReservedConcurrency=300 -c queueConcurrencyHigh=200
 * -c queueConcurrencyDefault=100 -c queueConcurrencyLow=50`; each unset one keeps its default.
 * A reserved worker concurrency below the queues' total would throttle the queues' pollers
 * (AWS: keep the reserved concurrency at or above the maximum concurrencies), so it is refused.
 */
export function parseCapacity(get: (key: string) => unknown): Capacity {
  const whole = (key: string, min: number, max: number): number | undefined => {
    const value = get(key);
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`${key} must be a whole number from ${min} to ${max}, got "${String(value)}"`);
    return n;
  };
  const queueConcurrency = { ...DEFAULT_CAPACITY.queueConcurrency };
  for (const p of PRIORITIES) {
    const n = whole(
      `queueConcurrency${capitalized(p)}`,
      QUEUE_CONCURRENCY_RANGE.min,
      QUEUE_CONCURRENCY_RANGE.max,
    );
    if (n !== undefined) queueConcurrency[p] = n;
  }
  // API Gateway's account-level default is 10,000 a second with a burst of 5,000 (raisable).
  const apiRateLimit = whole('apiRateLimit', 1, 1_000_000) ?? DEFAULT_CAPACITY.apiRateLimit;
  const apiBurstLimit =
    whole('apiBurstLimit', 1, 1_000_000) ?? Math.max(DEFAULT_CAPACITY.apiBurstLimit, apiRateLimit * 2);
  const apiReservedConcurrency = whole('apiReservedConcurrency', 1, 100_000);
  const workerReservedConcurrency = whole('workerReservedConcurrency', 1, 100_000);
  const total = PRIORITIES.reduce((sum, p) => sum + queueConcurrency[p], 0);
  if (workerReservedConcurrency !== undefined && workerReservedConcurrency < total) {
    throw new Error(
      `workerReservedConcurrency (${workerReservedConcurrency}) is below the queues' total concurrency (${total}: ${PRIORITIES.map((p) => `${p} ${queueConcurrency[p]}`).join(', ')}); the worker would be throttled while its queues wait: reserve at least ${total}, or lower queueConcurrencyHigh/Default/Low`,
    );
  }
  return {
    apiRateLimit,
    apiBurstLimit,
    ...(apiReservedConcurrency === undefined ? {} : { apiReservedConcurrency }),
    ...(workerReservedConcurrency === undefined ? {} : { workerReservedConcurrency }),
    queueConcurrency,
  };
}

/**
 * Graceful degradation's settings from `-c degradation='{"queueAgeSeconds":[60,180,300,600]}'`
 * (or an object in cdk.json): checked at synth, naming the field, and passed on as JSON.
 */
export function parseDegradationContext(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const raw = typeof value === 'string' ? value : JSON.stringify(value);
  parseDegradationSettings(raw);
  return JSON.stringify(typeof value === 'string' ? JSON.parse(value) : value);
}
