/**
 * Two regions, one active (issue 16). Which region fires is one item in the replicated jobs
 * table (`REGION` / `ACTIVE`); each region also writes its own heartbeat item (`REGION` /
 * `HEARTBEAT#<region>`), saying when it last ran, what it believes and how far its last
 * change of role got. Only the active region's workers call targets, only its API writes.
 *
 * Global tables resolve concurrent writes to one item by last writer wins (AWS, "How
 * DynamoDB global tables work", MREC): so no item is ever written by both regions. The
 * active item is written only by a failover (a conditional write on its epoch, in one
 * region), a heartbeat only by its own region, and a passive region writes nothing to the
 * jobs or runs items the active region owns (its skip records have ids of their own).
 */
import { ConflictError, ValidationError } from './errors.js';

export const REGION_PK = 'REGION';
export const ACTIVE_SK = 'ACTIVE';
export const heartbeatSk = (region: string) => `HEARTBEAT#${region}`;

/** What the active item says. Absent item: the home region (the first) is active, epoch 0. */
export interface RegionState {
  activeRegion: string;
  /** Grows by one at every failover; a region acts on a change of role once per epoch. */
  epoch: number;
  changedAt: string | null;
  changedBy: string | null;
  previousRegion: string | null;
  reason: string | null;
}

/** How far a region got with the change of role its epoch asked for. */
export interface RoleChange {
  epoch: number;
  role: 'active' | 'passive';
  state: 'running' | 'done' | 'failed';
  startedAt: string;
  finishedAt: string | null;
  /** Takeover: schedules enabled; stand-down: schedules disabled. */
  schedules: number;
  /** Takeover only: gap occurrences sent to run, recorded as missed, runs driven again. */
  caughtUp: number;
  missed: number;
  redriven: number;
  error: string | null;
}

export interface Heartbeat {
  region: string;
  at: string;
  role: 'active' | 'passive';
  epoch: number;
  change: RoleChange | null;
}

export function initialState(regions: readonly string[]): RegionState {
  return {
    activeRegion: regions[0]!,
    epoch: 0,
    changedAt: null,
    changedBy: null,
    previousRegion: null,
    reason: null,
  };
}

/** The id of a passive region's skip record: never the id the active region's run has. */
export function passiveRunId(runId: string, region: string): string {
  return `${runId}_passive_${region.replace(/[^0-9A-Za-z]/g, '')}`;
}

export const REGION_NAME = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

export interface FailoverRequest {
  to: string;
  /** Fail over although the old region cannot be told (its heartbeat is stale). */
  force?: boolean;
  /** A failback: back to the home region, only with both regions heard from and settled. */
  failback?: boolean;
  by: string;
  reason?: string;
}

/**
 * Whether a failover may go ahead, from the state and heartbeats as the target region reads
 * them; throws a ValidationError (bad request) or a ConflictError (it would leave two
 * regions active, or it is pointless), with what to do in the message.
 */
export function checkFailover(
  regions: readonly string[],
  state: RegionState,
  heartbeats: readonly Heartbeat[],
  request: FailoverRequest,
  now: Date,
  staleSeconds: number,
): void {
  if (regions.length < 2) {
    throw new ConflictError(
      'this deployment has one region: deploy a standby with -c standbyRegion=<region> first',
    );
  }
  if (!regions.includes(request.to)) {
    throw ValidationError.of('to', `must be one of this deployment's regions: ${regions.join(', ')}`);
  }
  if (request.failback && request.to !== regions[0]) {
    throw ValidationError.of('to', `a failback goes to the home region, ${regions[0]}`);
  }
  if (state.activeRegion === request.to) {
    throw new ConflictError(`${request.to} is already the active region (epoch ${state.epoch})`);
  }
  const old = state.activeRegion;
  const age = (region: string) => {
    const beat = heartbeats.find((h) => h.region === region);
    return beat ? Math.round((now.getTime() - Date.parse(beat.at)) / 1000) : null;
  };
  const describe = (seconds: number | null) =>
    seconds === null ? 'has never written its heartbeat' : `last wrote its heartbeat ${seconds} s ago`;
  const targetAge = age(request.to);
  if (targetAge === null || targetAge > staleSeconds) {
    throw new ConflictError(
      `${request.to} ${describe(targetAge)}: its stack is not running (or not deployed), so it cannot take over`,
    );
  }
  const target = heartbeats.find((h) => h.region === request.to);
  const current = target?.change;
  if (current && current.epoch === state.epoch && current.state === 'running') {
    throw new ConflictError(
      `${request.to} is still changing role for epoch ${state.epoch}; wait for it to finish (sundial dr status)`,
    );
  }
  const oldAge = age(old);
  const oldHeard = oldAge !== null && oldAge <= staleSeconds;
  if (request.failback) {
    // Back home only when both are up and the current active one finished taking over.
    const active = heartbeats.find((h) => h.region === old);
    if (!oldHeard) {
      throw new ConflictError(
        `${old} ${describe(oldAge)}: a failback needs both regions up; use failover --to ${request.to} --force if ${old} is lost`,
      );
    }
    if (!active?.change || active.change.epoch !== state.epoch || active.change.state !== 'done') {
      throw new ConflictError(
        `${old} has not finished taking over for epoch ${state.epoch}; fail back once it has (sundial dr status)`,
      );
    }
    return;
  }
  if (!oldHeard && !request.force) {
    throw new ConflictError(
      `${old} ${describe(oldAge)}: it may be down, or cut off and still firing. If it is still firing, failing over now leaves two regions active until it reads the change. Check it, then repeat with force to fence it through the active-region item alone`,
    );
  }
}

/** The state a failover writes. */
export function nextState(state: RegionState, request: FailoverRequest, now: Date): RegionState {
  return {
    activeRegion: request.to,
    epoch: state.epoch + 1,
    changedAt: now.toISOString(),
    changedBy: request.by,
    previousRegion: state.activeRegion,
    reason: request.reason ?? (request.failback ? 'failback' : 'failover'),
  };
}
