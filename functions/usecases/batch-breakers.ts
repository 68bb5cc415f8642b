/**
 * The circuit breakers as one worker batch reads them: the calm path's eventually
 * consistent read is made once per tenant and target for the batch, not once per run. A
 * batch's runs start within milliseconds of each other, well inside the staleness an
 * eventually consistent read already allows; every write is still conditional on the
 * version read, and a write drops what was read, so later runs of the batch read again.
 * Strongly consistent reads (before a write, after a lost race) always go to the store.
 */
import type { Breaker } from '../domain/breaker.js';
import type { BreakerStore, Page } from '../domain/ports.js';

export class BatchBreakerReads implements BreakerStore {
  private readonly seen = new Map<string, Promise<Breaker | undefined>>();

  constructor(private readonly inner: BreakerStore) {}

  get(tenantId: string, target: string, consistent = false): Promise<Breaker | undefined> {
    if (consistent) return this.inner.get(tenantId, target, true);
    const key = JSON.stringify([tenantId, target]);
    let read = this.seen.get(key);
    if (!read) {
      read = this.inner.get(tenantId, target, false);
      // A failed read is not kept: the next run tries for itself.
      read.catch(() => this.seen.delete(key));
      this.seen.set(key, read);
    }
    return read;
  }

  async save(breaker: Breaker, expectedVersion: number): Promise<boolean> {
    this.seen.delete(JSON.stringify([breaker.tenantId, breaker.target]));
    return this.inner.save(breaker, expectedVersion);
  }

  list(tenantId: string, query: { limit: number; cursor?: string }): Promise<Page<Breaker>> {
    return this.inner.list(tenantId, query);
  }
}
