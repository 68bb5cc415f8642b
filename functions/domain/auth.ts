/**
 * Who is calling: a principal carries its tenant and role, taken from an API key or a
 * verified token, never from the request body (invariant 5).
 */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  tenantId: string;
  /** Who, for audit records: `key:<id>` or the token's subject. */
  subject: string;
  role: Role;
}

/** viewer reads; operator also creates, changes, pauses and runs; admin also manages keys. */
export function hasRole(principal: Principal, needed: Role): boolean {
  return ROLES.indexOf(principal.role) >= ROLES.indexOf(needed);
}

/** The highest role named among `values` (e.g. a token's groups), or null. */
export function highestRole(values: readonly unknown[]): Role | null {
  let best: Role | null = null;
  for (const value of values) {
    if (typeof value !== 'string' || !(ROLES as readonly string[]).includes(value)) continue;
    if (best === null || ROLES.indexOf(value as Role) > ROLES.indexOf(best)) best = value as Role;
  }
  return best;
}

/** A tenant id: what keys and tokens may carry. */
export const TENANT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

export class UnauthorizedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnauthorizedError';
  }
}

export class ForbiddenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ForbiddenError';
  }
}

/**
 * Failed authentications per source (client IP), a token bucket each: `capacity` failures
 * at once, refilled at `capacity` per `windowMs`. In memory, per process (a Lambda
 * container, the local runtime): it bounds what one source makes one process spend
 * (DynamoDB reads of unknown keys, token verifications), not a global budget; API Gateway
 * throttling and WAF are the fleet-wide layer. At most `maxSources` buckets are kept; a new
 * source beyond that evicts the least recently seen one. Times are epoch milliseconds.
 */
export class FailureLimiter {
  readonly capacity: number;
  readonly windowMs: number;
  readonly maxSources: number;
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(options: { capacity?: number; windowMs?: number; maxSources?: number } = {}) {
    this.capacity = options.capacity ?? 20;
    this.windowMs = options.windowMs ?? 10_000;
    this.maxSources = options.maxSources ?? 10_000;
  }

  /** Buckets held, for tests and metrics. */
  get size(): number {
    return this.buckets.size;
  }

  /**
   * Reserves one failure for an attempt about to be checked: null when allowed, else the
   * seconds until the source may try again. Reserving before the check, not counting after
   * it, keeps concurrent attempts within the bucket too; `refund` when the attempt succeeds.
   */
  take(source: string | undefined, now: number): number | null {
    const key = sourceKey(source);
    const bucket = this.refilled(key, now);
    if (bucket.tokens < 1) {
      this.store(key, bucket);
      return Math.max(1, Math.ceil(((1 - bucket.tokens) * this.windowMs) / this.capacity / 1000));
    }
    bucket.tokens -= 1;
    this.store(key, bucket);
    return null;
  }

  /** Gives back a reservation whose attempt authenticated; a full bucket is dropped. */
  refund(source: string | undefined, now: number): void {
    const key = sourceKey(source);
    const bucket = this.refilled(key, now);
    bucket.tokens = Math.min(this.capacity, bucket.tokens + 1);
    if (bucket.tokens >= this.capacity) this.buckets.delete(key);
    else this.store(key, bucket);
  }

  private refilled(key: string, now: number): { tokens: number; at: number } {
    const bucket = this.buckets.get(key);
    if (!bucket) return { tokens: this.capacity, at: now };
    const elapsed = Math.max(0, now - bucket.at);
    return {
      tokens: Math.min(this.capacity, bucket.tokens + (elapsed * this.capacity) / this.windowMs),
      at: now,
    };
  }

  /** Re-inserts, so the Map's order is least recently seen first. */
  private store(key: string, bucket: { tokens: number; at: number }): void {
    this.buckets.delete(key);
    while (this.buckets.size >= this.maxSources) {
      const oldest = this.buckets.keys().next().value as string;
      this.buckets.delete(oldest);
    }
    this.buckets.set(key, bucket);
  }
}

/**
 * The bucket a source IP falls in: IPv4 as is (also when IPv4-mapped), IPv6 by its /64,
 * the smallest block a client is usually given (one host can rotate through all of it),
 * and one shared bucket, `*`, when the request names no source.
 */
export function sourceKey(ip: string | undefined): string {
  const value = ip?.trim().toLowerCase().slice(0, 64) ?? '';
  if (value === '') return '*';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(value);
  if (mapped) return mapped[1]!;
  if (!value.includes(':')) return value;
  const [head = '', tail] = value.split('::', 2) as [string, string | undefined];
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  // An embedded IPv4 (…:1.2.3.4) takes two groups.
  const width = (parts: string[]) => parts.reduce((n, p) => n + (p.includes('.') ? 2 : 1), 0);
  const missing = tail === undefined ? 0 : Math.max(0, 8 - width(left) - width(right));
  const all = [...left, ...Array<string>(missing).fill('0'), ...right];
  return `${all
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
