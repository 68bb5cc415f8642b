/**
 * Per-tenant rate limits as atomic DynamoDB counters: one item per tenant, limit and
 * window, incremented only while under the limit, gone by TTL after the window.
 *
 * A busy caller need not write once per event: with `lease`, an instance counts several
 * events at once in the table and spends them locally within the same window. The lease
 * is a tenth of what this instance spent on the key in its previous window (at most a
 * tenth of the limit, at least one), so a lease left unspent when its window ends is at
 * most a tenth of the events an instance serves: a caller spread over many instances is
 * refused no earlier than at about 90 % of its limit, and never let past it.
 */
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { conditionally } from './dynamo.js';

export type Taken = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/** Keys whose leases are kept before stale ones are dropped. */
const MAX_LEASES = 10_000;

interface Lease {
  window: number;
  /** Counted in the table, not yet spent. */
  left: number;
  spent: number;
  /** What the previous window spent: the lease's size hint. */
  last: number;
  /** The table refused even one more in this window: the counter only grows, so it stays refused. */
  full: boolean;
}

export class RateLimiter {
  private readonly leases = new Map<string, Lease>();
  /** Per key: the lease being counted now, and how many requests wait for it. */
  private readonly granting = new Map<string, { done: Promise<unknown>; waiting: number }>();

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Counts one event in the current window; returns the seconds to wait when over `limit`.
   * `lease: true` lets this instance count ahead (see the module comment).
   */
  async take(
    tenantId: string,
    name: string,
    limit: number,
    windowSeconds: number,
    now: Date,
    options: { lease?: boolean } = {},
  ): Promise<Taken> {
    const nowSeconds = now.getTime() / 1000;
    const window = Math.floor(nowSeconds / windowSeconds);
    const refused: Taken = {
      allowed: false,
      retryAfterSeconds: Math.max(1, Math.ceil((window + 1) * windowSeconds - nowSeconds)),
    };
    if (!options.lease) {
      return (await this.count(tenantId, name, 1, limit, window, windowSeconds))
        ? { allowed: true }
        : refused;
    }
    const key = `${tenantId}\u0000${name}`;
    for (;;) {
      const lease = this.leaseOf(key, window);
      if (lease.left > 0) {
        lease.left--;
        lease.spent++;
        return { allowed: true };
      }
      if (lease.full) return refused;
      const pending = this.granting.get(key);
      if (pending) {
        // One lease at a time per key, sized for everyone waiting on it.
        pending.waiting++;
        await pending.done;
        continue;
      }
      const grant = { done: Promise.resolve() as Promise<unknown>, waiting: 0 };
      this.granting.set(key, grant);
      const counting = (async () => {
        // Sized once the requests arriving meanwhile have queued behind it.
        await Promise.resolve();
        const size = Math.max(
          1,
          Math.min(Math.max(Math.ceil(lease.last / 10), grant.waiting + 1), Math.floor(limit / 10)),
        );
        let granted = size;
        if (!(await this.count(tenantId, name, size, limit, window, windowSeconds))) {
          // Too little room for a whole lease: the last few go one at a time.
          granted = size > 1 && (await this.count(tenantId, name, 1, limit, window, windowSeconds)) ? 1 : 0;
        }
        const current = this.leaseOf(key, window);
        if (granted === 0) current.full = true;
        current.left += granted;
      })();
      grant.done = counting.catch(() => undefined);
      try {
        await counting;
      } finally {
        this.granting.delete(key);
      }
    }
  }

  /** This key's lease in `window`, the previous one's spending carried over as its size hint. */
  private leaseOf(key: string, window: number): Lease {
    const held = this.leases.get(key);
    if (held && held.window === window) return held;
    const fresh: Lease = {
      window,
      left: 0,
      spent: 0,
      last: held && held.window === window - 1 ? held.spent : 0,
      full: false,
    };
    if (!held && this.leases.size >= MAX_LEASES) {
      for (const [k, v] of this.leases) if (v.window < window - 1) this.leases.delete(k);
      if (this.leases.size >= MAX_LEASES) this.leases.delete(this.leases.keys().next().value as string);
    }
    this.leases.set(key, fresh);
    return fresh;
  }

  /** Adds `n` events to the window's counter if they fit under `limit`. */
  private count(
    tenantId: string,
    name: string,
    n: number,
    limit: number,
    window: number,
    windowSeconds: number,
  ): Promise<boolean> {
    return conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: `TENANT#${tenantId}`, sk: `RATE#${name}#${window}` },
          UpdateExpression: 'ADD used :n SET expiresAt = :expires',
          ConditionExpression: 'attribute_not_exists(used) OR used <= :room',
          ExpressionAttributeValues: {
            ':n': n,
            ':room': limit - n,
            ':expires': (window + 2) * windowSeconds,
          },
        }),
      ),
    );
  }
}
