/**
 * Fair-share places for one worker batch, taken and given back a tenant at a time.
 *
 * Taking and giving back a place per run cost two writes a run, on one item per tenant and
 * queue: $1.25 a million runs, and a ceiling near 500 runs a second for one tenant. A batch
 * holds up to ten messages, often of one tenant (its jobs fire at the same minute), so the
 * first run of a tenant in the batch takes a place for each of that tenant's messages in one
 * write, and they are given back in one write when the last of them is done. The cap is the
 * same: every run still holds a place while it is in progress. A tenant with more messages
 * in the batch than its share takes the whole share in that one write, and its other runs
 * wait (deferred) without a write of their own: nothing else can hold a place of it until
 * the pool is given back. When the places do not all fit, each run takes its own as before
 * (which also clears leases that ran out), so a tenant near its share is admitted run by
 * run, never over it.
 */
import type { Priority } from '../../lib/definitions.js';
import type { FairShare, Logger } from '../domain/ports.js';

interface Pool {
  priority: Priority;
  leaseUntil: number;
  holders: string[];
  free: string[];
  /** The pool is the tenant's whole share on the queue: once it is used up, no place is free. */
  whole: boolean;
}

interface Group {
  /** The tenant's messages in this batch not yet done. */
  pending: number;
  size: number;
  pool?: Promise<Pool | undefined>;
  /** The run holders that were given a pooled place: their own give is the pool's. */
  pooled: Set<string>;
}

export class BatchPlaces implements FairShare {
  private readonly groups = new Map<string, Group>();

  /**
   * @param tenants each (verified) message's tenant in the batch, one entry per message
   * @param poolLeaseMs how long pooled places last if this worker dies holding them: as long as
   *   a worker invocation can run, so every run's own lease fits inside it
   */
  constructor(
    private readonly inner: FairShare,
    tenants: readonly string[],
    private readonly batchId: string,
    private readonly poolLeaseMs: number,
    private readonly logger: Logger,
  ) {
    for (const tenantId of tenants) {
      const group = this.groups.get(tenantId) ?? { pending: 0, size: 0, pooled: new Set<string>() };
      group.pending++;
      group.size++;
      this.groups.set(tenantId, group);
    }
  }

  async take(
    tenantId: string,
    priority: Priority,
    holder: string,
    leaseUntil: Date,
    now: Date,
  ): Promise<boolean> {
    const group = this.groups.get(tenantId);
    if (!group || group.size < 2) return this.inner.take(tenantId, priority, holder, leaseUntil, now);
    group.pool ??= this.fill(tenantId, group, priority, leaseUntil, now);
    const pool = await group.pool;
    // A run of another queue's priority (its job moved) or with a longer lease takes its own.
    const fits = pool && pool.priority === priority && leaseUntil.getTime() <= pool.leaseUntil;
    const place = fits && pool.free.pop();
    if (!place) {
      // The whole share is this batch's and in use: a take could only fail.
      if (fits && pool.whole) return false;
      return this.inner.take(tenantId, priority, holder, leaseUntil, now);
    }
    group.pooled.add(holder);
    return true;
  }

  limit(priority: Priority): number {
    return this.inner.limit(priority);
  }

  async give(tenantId: string, priority: Priority, holder: string): Promise<void> {
    // A pooled place goes back with its pool, when the tenant's last message is done.
    if (this.groups.get(tenantId)?.pooled.has(holder)) return;
    await this.inner.give(tenantId, priority, holder);
  }

  takeAll(tenantId: string, priority: Priority, holders: readonly string[], leaseUntil: Date, now: Date) {
    return this.inner.takeAll(tenantId, priority, holders, leaseUntil, now);
  }

  giveAll(tenantId: string, priority: Priority, holders: readonly string[]) {
    return this.inner.giveAll(tenantId, priority, holders);
  }

  /** One of the tenant's messages is done: the last one gives the pool back. */
  async settled(tenantId: string): Promise<void> {
    const group = this.groups.get(tenantId);
    if (!group || --group.pending > 0 || !group.pool) return;
    const pool = await group.pool;
    if (!pool) return;
    await this.inner.giveAll(tenantId, pool.priority, pool.holders).catch((error: unknown) => {
      // Their lease frees them anyway.
      this.logger.warn('fair-share places not given back', { tenantId, error: String(error) });
    });
  }

  private async fill(
    tenantId: string,
    group: Group,
    priority: Priority,
    leaseUntil: Date,
    now: Date,
  ): Promise<Pool | undefined> {
    const limit = this.inner.limit(priority);
    // No more places than the share: beyond it a run waits anyway.
    const size = limit > 0 ? Math.min(group.size, limit) : group.size;
    const holders = Array.from({ length: size }, (_, i) => `${this.batchId}.${i}`);
    const until = Math.max(leaseUntil.getTime(), now.getTime() + this.poolLeaseMs);
    const taken = await this.inner
      .takeAll(tenantId, priority, holders, new Date(until), now)
      .catch((error: unknown) => {
        // Each run then takes its own place, as without a pool.
        this.logger.warn('fair-share places not taken for the batch', { tenantId, error: String(error) });
        return false;
      });
    return taken
      ? { priority, leaseUntil: until, holders, free: [...holders], whole: limit > 0 && size === limit }
      : undefined;
  }
}
