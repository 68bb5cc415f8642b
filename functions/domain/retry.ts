/** Retry timing: exponential backoff with jitter, per the job's retry policy. */

export interface RetryPolicy {
  maxAttempts: number;
  initialDelaySeconds: number;
  multiplier: number;
  maxDelaySeconds: number;
}

/**
 * Seconds to wait after failed attempt `attempt` (1-based) before the next one:
 * base = min(maxDelay, initial * multiplier^(attempt-1)), then "equal jitter" — half the
 * base fixed, half random — so retries of many jobs failing together spread out while
 * each delay still grows.
 */
export function retryDelaySeconds(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(
    policy.maxDelaySeconds,
    policy.initialDelaySeconds * policy.multiplier ** (attempt - 1),
  );
  return Math.max(1, Math.round(base / 2 + random() * (base / 2)));
}

export function hasAttemptsLeft(policy: RetryPolicy, attempt: number): boolean {
  return attempt < policy.maxAttempts;
}
