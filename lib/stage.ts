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
 * Whether the worker is traced with X-Ray, from `-c workerTracing=true|false`; on by default.
 * Lambda traces up to one invocation a second plus 5% of the rest: at a batch of 10 that is
 * up to $0.50 per million runs (`npm run bench`), the one line of the run cost to switch off.
 */
export function parseWorkerTracing(value: unknown): boolean {
  if (value === undefined || value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new Error(`workerTracing must be true or false, got "${String(value)}"`);
}

/** What an allowed target ARN pattern may look like: Lambda functions, SQS queues, event buses. */
const TARGET_ARN_PATTERN =
  /^arn:(aws|aws-cn|aws-us-gov|\*):(lambda|sqs|events):([a-z0-9-]+|\*):(\d{12}|\*):[A-Za-z0-9_.:/*$-]+$/;

/**
 * The ARNs Lambda, SQS and EventBridge targets may name, from `-c allowedTargetArns=a,b`
 * (or a JSON array in cdk.json). `*` wildcards are allowed, as in IAM; none by default.
 */
export function parseAllowedTargetArns(value: unknown): string[] {
  if (value === undefined || value === '') return [];
  const list = Array.isArray(value) ? value : String(value).split(',');
  const arns = list.map((v) => String(v).trim()).filter(Boolean);
  const bad = arns.filter((arn) => !TARGET_ARN_PATTERN.test(arn));
  if (bad.length > 0) {
    throw new Error(
      `allowedTargetArns must be Lambda function, SQS queue or EventBridge bus ARNs (wildcards allowed), got "${bad.join('", "')}"`,
    );
  }
  return arns;
}

/** Per-tenant limits from `-c tenantMaxJobs= -c tenantJobCreatesPerMinute= -c tenantRequestsPerSecond=`. */
export function parseTenantLimits(get: (key: string) => unknown): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, variable] of [
    ['tenantMaxJobs', 'TENANT_MAX_JOBS'],
    ['tenantJobCreatesPerMinute', 'TENANT_JOB_CREATES_PER_MINUTE'],
    ['tenantRequestsPerSecond', 'TENANT_REQUESTS_PER_SECOND'],
  ] as const) {
    const value = get(key);
    if (value === undefined) continue;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`${key} must be a whole number of at least 1, got "${String(value)}"`);
    env[variable] = String(n);
  }
  return env;
}

/** Hosts HTTP targets may reach at internal addresses, from `-c allowedHttpHosts=a,*.b` (none by default). */
export function parseAllowedHttpHosts(value: unknown): string[] {
  if (value === undefined || value === '') return [];
  const hosts = (Array.isArray(value) ? value : String(value).split(','))
    .map((h) => String(h).trim())
    .filter(Boolean);
  const bad = hosts.filter((h) => !/^(\*\.)?[A-Za-z0-9.:[\]-]+$/.test(h));
  if (bad.length > 0)
    throw new Error(`allowedHttpHosts must be host names (or *.suffix), got "${bad.join('", "')}"`);
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
