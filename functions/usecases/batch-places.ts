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
 * wait in the batch for one of those places, handed on by the run that held it (no write):
 * nothing else can hold a place of the share until the pool is given back. A run waits only
 * a few seconds, and only while it would still finish inside the invocation; then it is
 * deferred as before. When the places do not all fit, each run takes its own as before
 * (which also clears leases that ran out), so a tenant near its share is admitted run by
 * run, never over it.
 */
import { MAX_TARGET_TIMEOUT_SECONDS, type Priority, WORKER_TIMEOUT_SECONDS } from '../../lib/definitions.js';
import type { FairShare, Logger } from '../domain/ports.js';

interface Pool {
  priority: Priority;
  leaseUntil: number;
  holders: string[];
  free: string[];
  /** The pool is the tenant's whole share on the queue: once it is used up, no place is free. */
  whole: boolean;
}

/** How long a run beyond its tenant's share waits in the batch for one of the pool's places. */
export interface PlaceWaits {
  maxWaitMs: number;
  /** What a run started late must still leave of the pool's lease, beyond its own. */
  headroomMs: number;
  /** Resolves after `ms`: a timer, injected by tests. */
  sleep(ms: number): Promise<void>;
}

/** A few seconds: a fast target's run frees a place well within it, a slow one's does not. */
export const DEFAULT_PLACE_WAITS: PlaceWaits = {
  maxWaitMs: 5_000,
  // The room the worker's timeout keeps above the longest target timeout, kept for a late start.
  headroomMs: (WORKER_TIMEOUT_SECONDS - MAX_TARGET_TIMEOUT_SECONDS) * 1000,
  // Unref'd: a wait already handed its place keeps no process alive.
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref()),
};

interface Group {
  /** The tenant's messages in this batch not yet done. */
  pending: number;
  size: number;
  pool?: Promise<Pool | undefined>;
  /** The run holders given a pooled place, and which: their give hands it on, or back to the pool. */
  pooled: Map<string, string>;
  /** Runs waiting for a pooled place, first come first served. */
  waiting: ((place: string) => void)[];
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
    private readonly waits: PlaceWaits = DEFAULT_PLACE_WAITS,
  ) {
    for (const tenantId of tenants) {
      const group = this.groups.get(tenantId) ?? {
        pending: 0,
        size: 0,
        pooled: new Map<string, string>(),
        waiting: [],
      };
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
    let place = fits ? pool.free.pop() : undefined;
    if (!place) {
      if (!fits || !pool.whole) return this.inner.take(tenantId, priority, holder, leaseUntil, now);
      // The whole share is this batch's and in use: a take could only fail, so wait for one
      // of its places, as long as this run, started late, still ends inside the pool's lease
      // with the worker's headroom to spare. Its own lease, from before the wait, still
      // covers its timeout: a wait is shorter than the lease's margin.
      const runMs = leaseUntil.getTime() - now.getTime();
      const latestStart = pool.leaseUntil - this.waits.headroomMs - runMs;
      const waitMs = Math.min(this.waits.maxWaitMs, latestStart - now.getTime());
      place = waitMs > 0 ? await this.handedOn(group, waitMs) : undefined;
      if (!place) return false;
    }
    group.pooled.set(holder, place);
    return true;
  }

  /** The next pooled place a run of the group gives back, or undefined after `waitMs`. */
  private handedOn(group: Group, waitMs: number): Promise<string | undefined> {
    return new Promise((resolve) => {
      const waiter = (place: string) => resolve(place);
      group.waiting.push(waiter);
      void this.waits.sleep(waitMs).then(() => {
        const at = group.waiting.indexOf(waiter);
        if (at < 0) return; // already handed a place
        group.waiting.splice(at, 1);
        resolve(undefined);
      });
    });
  }

  limit(priority: Priority): number {
    return this.inner.limit(priority);
  }

  async give(tenantId: string, priority: Priority, holder: string): Promise<void> {
    const group = this.groups.get(tenantId);
    const place = group?.pooled.get(holder);
    if (!group || place === undefined) return this.inner.give(tenantId, priority, holder);
    // A pooled place goes to the next run waiting for one, or back to the pool; the pool is
    // given back in one write when the tenant's last message is done.
    group.pooled.delete(holder);
    const pool = await group.pool;
    // No await from here on: a run that finds no free place starts waiting before this ends.
    const next = group.waiting.shift();
    if (next) next(place);
    else pool?.free.push(place);
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
