/**
 * The active-region check on every firing and every API write: one consistent GetItem per
 * process every few seconds at most, so a failover reaches a warm worker within that time
 * after replication brings the item.
 */
import type { Clock, RegionGate } from '../domain/ports.js';
import type { RegionStore } from './region-store.js';

/** How long a read of the active item is trusted. */
export const REGION_CACHE_MS = 5_000;

export class CachedRegionGate implements RegionGate {
  readonly multiRegion = true;
  private cached:
    | { at: number; value: Promise<{ active: boolean; activeRegion: string; epoch: number }> }
    | undefined;

  constructor(
    readonly region: string,
    private readonly store: Pick<RegionStore, 'state'>,
    private readonly clock: Clock,
    private readonly ttlMs = REGION_CACHE_MS,
  ) {}

  current(): Promise<{ active: boolean; activeRegion: string; epoch: number }> {
    const now = this.clock.now().getTime();
    if (!this.cached || now - this.cached.at >= this.ttlMs || now < this.cached.at) {
      const value = this.store.state().then(
        (state) => ({
          active: state.activeRegion === this.region,
          activeRegion: state.activeRegion,
          epoch: state.epoch,
        }),
        (error) => {
          this.cached = undefined; // a failed read is not remembered
          throw error;
        },
      );
      this.cached = { at: now, value };
    }
    return this.cached.value;
  }

  invalidate(): void {
    this.cached = undefined;
  }
}

/** A one-region deployment: always active, nothing read. */
export function singleRegionGate(region: string): RegionGate {
  const value = Promise.resolve({ active: true, activeRegion: region, epoch: 0 });
  return { region, multiRegion: false, current: () => value, invalidate: () => undefined };
}
