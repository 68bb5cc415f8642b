import { describe, expect, it } from 'vitest';
import { hasAttemptsLeft, type RetryPolicy, retryDelaySeconds } from '../../functions/domain/retry.js';

const policy: RetryPolicy = { maxAttempts: 5, initialDelaySeconds: 30, multiplier: 2, maxDelaySeconds: 100 };

describe('retry delays', () => {
  it.each([
    // attempt, random, expected: base = min(100, 30 * 2^(attempt-1)); delay = base/2 + random*base/2
    [1, 0, 15],
    [1, 1, 30],
    [2, 0, 30],
    [2, 1, 60],
    [3, 0.5, 75], // base capped at 100: 50 + 25
    [4, 1, 100],
  ])('after attempt %i with jitter %d waits %i s', (attempt, random, expected) => {
    expect(retryDelaySeconds(policy, attempt, () => random)).toBe(expected);
  });

  it('never waits less than a second', () => {
    expect(retryDelaySeconds({ ...policy, initialDelaySeconds: 1 }, 1, () => 0)).toBe(1);
  });

  it('allows attempts up to maxAttempts', () => {
    expect(hasAttemptsLeft(policy, 4)).toBe(true);
    expect(hasAttemptsLeft(policy, 5)).toBe(false);
    expect(hasAttemptsLeft({ ...policy, maxAttempts: 1 }, 1)).toBe(false);
  });
});
