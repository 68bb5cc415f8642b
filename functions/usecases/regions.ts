/**
 * Failover, failback and status of a two-region deployment (issue 16), as the `sundial dr`
 * commands and the drill run them: with the operator's own AWS credentials, straight on the
 * jobs table of each region, not through the API. Which region fires is the whole
 * deployment's business, not a tenant's, so no tenant's key can move it; IAM on the table is
 * what authorises it.
 *
 * A failover writes the new active item in the region taking over (a conditional write on the
 * epoch it read, so two failovers cannot both win) and, when the old region answers, the very
 * same item there too: identical items, so last-writer-wins between them changes nothing, and
 * the old region stands down at once instead of after the replication lag. Each region's sync
 * function then acts on the change it reads from its table's stream: the new active region
 * takes over (schedules enabled, the gap caught up), the old one stands down (schedules
 * disabled). A region that does not answer is fenced by the item alone: when it comes back,
 * replication brings it the item, and its workers go passive on their next read of it.
 */
import { ConflictError, ValidationError } from '../domain/errors.js';
import type { Clock } from '../domain/ports.js';
import {
  checkFailover,
  type FailoverRequest,
  type Heartbeat,
  nextState,
  type RegionState,
} from '../domain/region.js';

export interface RegionTable {
  state(): Promise<RegionState>;
  write(next: RegionState, expectedEpoch: number): Promise<boolean>;
  heartbeats(): Promise<Heartbeat[]>;
}

export interface DrDeps {
  /** The deployment's regions, home first. */
  regions: readonly string[];
  /** Each region's jobs table, as the operator reaches it. */
  tables: Record<string, RegionTable>;
  clock: Clock;
  /** A heartbeat older than this means its region cannot be counted on to read a change. */
  staleSeconds: number;
}

export interface RegionView {
  region: string;
  /** False when its table did not answer (the error says why). */
  reachable: boolean;
  error?: string;
  /** The active item as this region's table has it. */
  state?: RegionState;
  /** Every region's heartbeat as this region's table has it. */
  heartbeats?: Heartbeat[];
}

export interface DrStatus {
  regions: readonly string[];
  /** The active region by the newest epoch any reachable region has. */
  activeRegion: string | null;
  epoch: number | null;
  views: RegionView[];
  /** Per region: its own heartbeat's age where it is read freshest, its role and its change of role. */
  summary: {
    region: string;
    role: 'active' | 'passive' | 'unknown';
    heartbeatAgeSeconds: number | null;
    change: Heartbeat['change'];
    /**
     * How far behind the other region's table is, read from this region's own heartbeat as
     * each table has it (seconds); null when only one side answers.
     */
    replicationLagSeconds: number | null;
  }[];
}

async function view(deps: DrDeps, region: string): Promise<RegionView> {
  const table = deps.tables[region];
  if (!table) return { region, reachable: false, error: 'no way to reach its table was given' };
  try {
    const [state, heartbeats] = await Promise.all([table.state(), table.heartbeats()]);
    return { region, reachable: true, state, heartbeats };
  } catch (error) {
    return { region, reachable: false, error: error instanceof Error ? error.message : String(error) };
  }
}

export async function drStatus(deps: DrDeps): Promise<DrStatus> {
  const views = await Promise.all(deps.regions.map((r) => view(deps, r)));
  const now = deps.clock.now().getTime();
  const newest = views
    .filter((v) => v.state)
    .sort((a, b) => (b.state?.epoch ?? 0) - (a.state?.epoch ?? 0))[0]?.state;
  const summary = deps.regions.map((region) => {
    const own = views.find((v) => v.region === region);
    const seen = views.flatMap((v) => (v.heartbeats ?? []).filter((h) => h.region === region));
    const freshest = seen.sort((a, b) => Date.parse(b.at) - Date.parse(a.at))[0];
    const atHome = own?.heartbeats?.find((h) => h.region === region);
    const elsewhere = views
      .filter((v) => v.region !== region)
      .flatMap((v) => (v.heartbeats ?? []).filter((h) => h.region === region))[0];
    return {
      region,
      role: freshest ? freshest.role : ('unknown' as const),
      heartbeatAgeSeconds: freshest ? Math.round((now - Date.parse(freshest.at)) / 1000) : null,
      change: freshest?.change ?? null,
      replicationLagSeconds:
        atHome && elsewhere
          ? Math.max(0, Math.round((Date.parse(atHome.at) - Date.parse(elsewhere.at)) / 1000))
          : null,
    };
  });
  return {
    regions: deps.regions,
    activeRegion: newest?.activeRegion ?? null,
    epoch: newest?.epoch ?? null,
    views,
    summary,
  };
}

export interface FailoverResult {
  state: RegionState;
  /** Whether the old region's table took the new item directly (else it learns by replication). */
  fencedDirectly: boolean;
  oldRegion: string;
  note?: string;
}

/**
 * Makes `request.to` the active region. Refuses (ConflictError / ValidationError) when it
 * would leave two regions active or cannot take effect: see checkFailover.
 */
export async function failover(deps: DrDeps, request: FailoverRequest): Promise<FailoverResult> {
  if (!deps.regions.includes(request.to)) {
    throw ValidationError.of('to', `must be one of this deployment's regions: ${deps.regions.join(', ')}`);
  }
  const target = await view(deps, request.to);
  if (!target.reachable || !target.state || !target.heartbeats) {
    throw new ConflictError(`${request.to}'s table does not answer (${target.error}); it cannot take over`);
  }
  const state = target.state;
  const now = deps.clock.now();
  checkFailover(deps.regions, state, target.heartbeats, request, now, deps.staleSeconds);
  const oldRegion = state.activeRegion;
  const old = await view(deps, oldRegion);
  if (old.state && old.state.epoch > state.epoch) {
    throw new ConflictError(
      `${oldRegion} has the active item at epoch ${old.state.epoch} but ${request.to} at ${state.epoch}: replication to ${request.to} is behind; wait for it (sundial dr status)`,
    );
  }
  const next = nextState(state, request, now);
  if (!(await deps.tables[request.to]!.write(next, state.epoch))) {
    throw new ConflictError(
      `the active item changed in ${request.to} while failing over; read the status and retry`,
    );
  }
  let fencedDirectly = false;
  let note: string | undefined;
  if (old.reachable && old.state) {
    try {
      fencedDirectly = await deps.tables[oldRegion]!.write(next, old.state.epoch);
      if (!fencedDirectly)
        note = `${oldRegion}'s item changed meanwhile; it learns the new state by replication`;
    } catch (error) {
      note = `${oldRegion} did not take the item (${error instanceof Error ? error.message : String(error)}); it learns by replication`;
    }
  } else {
    note = `${oldRegion} does not answer (${old.error}); its workers go passive when replication brings it the item`;
  }
  return { state: next, fencedDirectly, oldRegion, ...(note ? { note } : {}) };
}
