/**
 * The circuit breaker around one attempt at a target (issue 17): may it go now, and what its
 * outcome does to the tenant's breaker for that target. The calm path (a closed breaker with
 * no failures, a success) is one eventually consistent read and no write; failures, probes
 * and recoveries write, each conditional on the version read.
 */
import {
  type Admission,
  admit,
  afterFailure,
  afterSuccess,
  type Breaker,
  type BreakerSettings,
  breakerTargetOf,
  closed,
  failureOf,
  isCalm,
  probeReleased,
} from '../domain/breaker.js';
import type { BreakerStore, Clock, Logger, RunMetrics, TargetOutcome } from '../domain/ports.js';
import type { Target } from '../domain/target.js';

export interface CircuitDeps {
  store: BreakerStore;
  settings: BreakerSettings;
}

/** What admission decided for one attempt, kept until its outcome is recorded. */
export interface CircuitPass {
  tenantId: string;
  target: string;
  /** The claim token of the attempt: a probe is held in its name. */
  holder: string;
  /** The breaker as admission read it (undefined: none yet). */
  seen: Breaker | undefined;
  probe: boolean;
}

export type CircuitAdmission =
  | { kind: 'pass'; pass: CircuitPass }
  | Extract<Admission, { kind: 'wait' }>
  /** Breakers are off: call the target. */
  | { kind: 'off' };

/** Rounds of read-decide-write before a worker gives way to the ones it raced. */
const ROUNDS = 4;

export async function admitAttempt(
  deps: CircuitDeps,
  tenantId: string,
  target: Target,
  holder: string,
  probeUntil: Date,
  now: Date,
): Promise<CircuitAdmission> {
  if (deps.settings.failureThreshold <= 0) return { kind: 'off' };
  const key = breakerTargetOf(target);
  for (let round = 0; round < ROUNDS; round++) {
    // The first read is eventually consistent (the calm path's only cost); a lost race reads strongly.
    const seen = await deps.store.get(tenantId, key, round > 0);
    const decision = admit(seen, holder, probeUntil, now);
    if (decision.kind === 'wait') return decision;
    if (decision.kind === 'pass')
      return { kind: 'pass', pass: { tenantId, target: key, holder, seen, probe: false } };
    if (await deps.store.save(decision.next, seen?.version ?? 0)) {
      return { kind: 'pass', pass: { tenantId, target: key, holder, seen: decision.next, probe: true } };
    }
  }
  // Others kept changing it: another worker is probing, so wait a moment and look again.
  return {
    kind: 'wait',
    until: new Date(now.getTime() + 5_000),
    reason: `circuit for ${key} is being probed by another attempt`,
  };
}

/** Records what the attempt came to; returns the breaker written, if one was. */
export async function recordAttempt(
  deps: CircuitDeps & { metrics?: RunMetrics | undefined; logger: Logger },
  pass: CircuitPass,
  outcome: TargetOutcome,
  now: Date,
): Promise<Breaker | undefined> {
  const error = failureOf(outcome);
  // A success on a calm breaker writes nothing (a probe always writes: it holds the breaker).
  if (error === null && !pass.probe && isCalm(pass.seen)) return undefined;
  for (let round = 0; round < ROUNDS; round++) {
    const current = await deps.store.get(pass.tenantId, pass.target, true);
    const next =
      error === null
        ? afterSuccess(current, now)
        : afterFailure(current, pass.tenantId, pass.target, pass.holder, error, deps.settings, now);
    if (!next) return undefined;
    if (await deps.store.save(next, current?.version ?? 0)) {
      if (next.state === 'open' && current?.state !== 'open') {
        deps.metrics?.circuitOpened?.();
        deps.logger.warn('circuit opened', {
          tenantId: pass.tenantId,
          target: pass.target,
          failures: next.failures,
          retryAt: next.retryAt,
          lastError: next.lastError,
        });
      } else if (error === null && current?.state !== 'closed') {
        deps.logger.info('circuit closed', { tenantId: pass.tenantId, target: pass.target });
      }
      return next;
    }
  }
  deps.logger.warn('circuit breaker not updated: too many concurrent writes', {
    tenantId: pass.tenantId,
    target: pass.target,
  });
  return undefined;
}

/** A probe let through whose attempt was never made: the next attempt may probe at once. */
export async function releaseProbe(deps: CircuitDeps, pass: CircuitPass, now: Date): Promise<void> {
  if (!pass.probe) return;
  const current = await deps.store.get(pass.tenantId, pass.target, true);
  const next = current && probeReleased(current, pass.holder, now);
  // Lost the race: its lease frees it anyway.
  if (next) await deps.store.save(next, current.version);
}

/** An operator's reset: closed, no failures. Undefined when the tenant has no such breaker. */
export async function resetBreaker(
  deps: { store: BreakerStore; clock: Clock },
  tenantId: string,
  target: string,
): Promise<Breaker | undefined> {
  for (let round = 0; round < ROUNDS; round++) {
    const current = await deps.store.get(tenantId, target, true);
    if (!current) return undefined;
    const next = closed(current, deps.clock.now());
    if (await deps.store.save(next, current.version)) return next;
  }
  throw new Error(`breaker for ${target} kept changing while it was reset`);
}
