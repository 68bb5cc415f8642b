/**
 * The circuit breaker per tenant and target (issue 17): after repeated failures across runs
 * Sundial stops calling a target for a cool-down, then lets one attempt (the probe) through.
 * Plain state machine here; the use case (usecases/circuit.ts) stores it with conditional
 * writes so concurrent workers agree.
 *
 *   closed ──failures reach the threshold──▶ open ──cool-down over, one probe──▶ half_open
 *     ▲                                        ▲                                   │
 *     └──────────── any success ───────────────┼──── probe fails (cool-down grows) ┘
 *                                              └── probe lease runs out: the next one probes
 */
import type { TargetOutcome } from './ports.js';
import type { Target } from './target.js';

export interface BreakerSettings {
  /** Consecutive failures that open the breaker; 0 turns breakers off. */
  failureThreshold: number;
  /** The first cool-down; each failed probe doubles it, up to the maximum. */
  coolDownSeconds: number;
  maxCoolDownSeconds: number;
}

export const DEFAULT_BREAKER_SETTINGS: BreakerSettings = {
  failureThreshold: 5,
  coolDownSeconds: 60,
  maxCoolDownSeconds: 900,
};

export const BREAKER_STATES = ['closed', 'open', 'half_open'] as const;
export type BreakerState = (typeof BREAKER_STATES)[number];

export interface Breaker {
  tenantId: string;
  /** The target's identity: an HTTP target's host[:port], an AWS target's ARN. */
  target: string;
  state: BreakerState;
  /** Consecutive failures (across runs and jobs of the tenant) since the last success. */
  failures: number;
  /** Times it opened since it was last closed by a success: the cool-down grows with it. */
  opens: number;
  openedAt: string | null;
  /** Open: when the cool-down ends and one probe may go. */
  retryAt: string | null;
  /** Half-open: the one attempt let through, and until when it holds the place (its lease). */
  probe: { holder: string; until: string } | null;
  lastError: string | null;
  lastFailureAt: string | null;
  /** When a success last closed it after failures. */
  closedAt: string | null;
  updatedAt: string;
  /** Optimistic concurrency: every write is conditional on the version read. */
  version: number;
}

/** What the API shows of a breaker. */
export interface PublicBreaker {
  id: string;
  target: string;
  state: BreakerState;
  failures: number;
  openedAt: string | null;
  retryAt: string | null;
  lastError: string | null;
  lastFailureAt: string | null;
  closedAt: string | null;
  updatedAt: string;
}

/**
 * Which target a breaker guards. HTTP: the URL's lowercased host and port (the port only when
 * it is not the scheme's default), so every path of one service shares it; AWS targets: the
 * resource's ARN (an SQS queue: its URL; an ECS task: its cluster and task definition).
 */
export function breakerTargetOf(target: Target): string {
  switch (target.type) {
    case 'http': {
      const url = new URL(target.url);
      return url.host.toLowerCase();
    }
    case 'lambda':
      return target.functionArn;
    case 'sqs':
      // The URL names the queue as its ARN does (account, region, name).
      return target.queueUrl;
    case 'eventbridge':
      return target.eventBusArn;
    case 'ecs':
      return `${target.cluster}|${target.taskDefinition}`;
    case 'stepfunctions':
      return target.stateMachineArn;
  }
}

/** A breaker's id in URLs: its target, base64url (ARNs hold `/` and `:`). */
export function breakerId(target: string): string {
  return `brk_${Buffer.from(target, 'utf8').toString('base64url')}`;
}

/** The target a breaker id names, or null for a malformed id. */
export function breakerTargetFromId(id: string): string | null {
  const match = /^brk_([A-Za-z0-9_-]{1,2048})$/.exec(id);
  if (!match) return null;
  const target = Buffer.from(match[1]!, 'base64url').toString('utf8');
  return target && breakerId(target) === id ? target : null;
}

/**
 * Why an outcome counts against the target, or null when it does not. Errors, timeouts, 5xx
 * and 429 count; another 4xx is the caller's fault (a wrong URL, a bad token) and says the
 * target is up, so it does not count — and, as a success, it closes the breaker.
 */
export function failureOf(outcome: TargetOutcome): string | null {
  const counts = (code: number | null) => code === null || code === 429 || code >= 500 || code < 400;
  switch (outcome.kind) {
    case 'response':
      if (outcome.statusCode >= 200 && outcome.statusCode < 300) return null;
      return outcome.statusCode === 429 || outcome.statusCode >= 500 ? `HTTP ${outcome.statusCode}` : null;
    case 'delivered':
      return null;
    case 'rejected':
      return counts(outcome.statusCode) ? `${outcome.type}: ${outcome.message}`.slice(0, 500) : null;
    case 'timeout':
    case 'error':
      return outcome.message.slice(0, 500);
  }
}

/** What closing a breaker resets: a new breaker starts so, and a success or a reset returns to it. */
const CLOSED_STATE = {
  state: 'closed',
  failures: 0,
  opens: 0,
  openedAt: null,
  retryAt: null,
  probe: null,
} as const satisfies Partial<Breaker>;

export function newBreaker(tenantId: string, target: string, now: Date): Breaker {
  return {
    tenantId,
    target,
    ...CLOSED_STATE,
    lastError: null,
    lastFailureAt: null,
    closedAt: null,
    updatedAt: now.toISOString(),
    version: 0,
  };
}

/** A closed breaker with no failures: the calm state, where a success writes nothing. */
export function isCalm(breaker: Breaker | undefined): boolean {
  return !breaker || (breaker.state === 'closed' && breaker.failures === 0);
}

export type Admission =
  /** Call the target. */
  | { kind: 'pass' }
  /** Call the target as the probe: `next` (half-open, holding the probe) must be written first. */
  | { kind: 'probe'; next: Breaker }
  /** Do not call it: wait until `until`. */
  | { kind: 'wait'; until: Date; reason: string };

/** Whether an attempt at the target may go now. */
export function admit(breaker: Breaker | undefined, holder: string, probeUntil: Date, now: Date): Admission {
  if (!breaker || breaker.state === 'closed') return { kind: 'pass' };
  const iso = now.toISOString();
  if (breaker.state === 'open' && breaker.retryAt && breaker.retryAt > iso) {
    return {
      kind: 'wait',
      until: new Date(breaker.retryAt),
      reason: `circuit open for ${breaker.target} after ${breaker.failures} consecutive failures; next try at ${breaker.retryAt}`,
    };
  }
  if (breaker.state === 'half_open' && breaker.probe && breaker.probe.until > iso) {
    return {
      kind: 'wait',
      until: new Date(breaker.probe.until),
      reason: `circuit half-open for ${breaker.target}: one attempt is probing it; next try at ${breaker.probe.until}`,
    };
  }
  // The cool-down is over, or the probe's worker was lost (its lease ran out): this one probes.
  return {
    kind: 'probe',
    next: {
      ...breaker,
      state: 'half_open',
      probe: { holder, until: probeUntil.toISOString() },
      updatedAt: iso,
      version: breaker.version + 1,
    },
  };
}

/** The cool-down after the `opens`-th opening in a row: doubling, capped. */
export function coolDownSeconds(settings: BreakerSettings, opens: number): number {
  const grown = settings.coolDownSeconds * 2 ** Math.min(Math.max(0, opens - 1), 20);
  return Math.min(Math.max(settings.coolDownSeconds, settings.maxCoolDownSeconds), grown);
}

/** The breaker after a failed attempt (`holder` made it). */
export function afterFailure(
  current: Breaker | undefined,
  tenantId: string,
  target: string,
  holder: string,
  error: string,
  settings: BreakerSettings,
  now: Date,
): Breaker {
  const breaker = current ?? newBreaker(tenantId, target, now);
  const failures = breaker.failures + 1;
  const base = {
    ...breaker,
    failures,
    lastError: error,
    lastFailureAt: now.toISOString(),
    updatedAt: now.toISOString(),
    version: breaker.version + 1,
  };
  const open = (): Breaker => {
    const opens = breaker.opens + 1;
    return {
      ...base,
      state: 'open',
      opens,
      openedAt: now.toISOString(),
      retryAt: new Date(now.getTime() + coolDownSeconds(settings, opens) * 1000).toISOString(),
      probe: null,
    };
  };
  // The probe failed: open again, for longer.
  if (breaker.state === 'half_open' && breaker.probe?.holder === holder) return open();
  if (breaker.state === 'closed' && failures >= settings.failureThreshold) return open();
  // Open already (an attempt let through before it opened, failing late): counted, no longer.
  return base;
}

/** The breaker after a success, or null when there is nothing to write (it was calm). */
export function afterSuccess(current: Breaker | undefined, now: Date): Breaker | null {
  if (!current || isCalm(current)) return null;
  return closed(current, now);
}

/** Closed with no failures: a success, or an operator's reset. */
export function closed(breaker: Breaker, now: Date): Breaker {
  return {
    ...breaker,
    ...CLOSED_STATE,
    closedAt: now.toISOString(),
    updatedAt: now.toISOString(),
    version: breaker.version + 1,
  };
}

/** The probe was let through but never made (its run was a duplicate): the next attempt may probe now. */
export function probeReleased(breaker: Breaker, holder: string, now: Date): Breaker | null {
  if (breaker.state !== 'half_open' || breaker.probe?.holder !== holder) return null;
  return {
    ...breaker,
    state: 'open',
    probe: null,
    retryAt: now.toISOString(),
    updatedAt: now.toISOString(),
    version: breaker.version + 1,
  };
}

export function toPublicBreaker(breaker: Breaker): PublicBreaker {
  return {
    id: breakerId(breaker.target),
    target: breaker.target,
    state: breaker.state,
    failures: breaker.failures,
    openedAt: breaker.openedAt,
    retryAt: breaker.state === 'half_open' ? (breaker.probe?.until ?? null) : breaker.retryAt,
    lastError: breaker.lastError,
    lastFailureAt: breaker.lastFailureAt,
    closedAt: breaker.closedAt,
    updatedAt: breaker.updatedAt,
  };
}
