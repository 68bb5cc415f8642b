/**
 * Two regions, one active (issue 16): when a failover may go ahead (checkFailover), what it
 * writes, and the status and failover use cases over tables that answer, lag or do not.
 * test/e2e/cli-dr.test.ts runs the same through `sundial dr` against two DynamoDB Locals.
 */
import { describe, expect, it } from 'vitest';
import { ConflictError, ValidationError } from '../../functions/domain/errors.js';
import {
  checkFailover,
  type FailoverRequest,
  type Heartbeat,
  initialState,
  nextState,
  passiveRunId,
  REGION_NAME,
  type RegionState,
  type RoleChange,
} from '../../functions/domain/region.js';
import { type DrDeps, drStatus, failover, type RegionTable } from '../../functions/usecases/regions.js';

const HOME = 'eu-west-1';
const STANDBY = 'us-west-2';
const REGIONS = [HOME, STANDBY];
const NOW = new Date('2027-03-01T12:00:00.000Z');
const STALE = 180;

const secondsAgo = (s: number) => new Date(NOW.getTime() - s * 1000).toISOString();

function beat(region: string, age: number, extra: Partial<Heartbeat> = {}): Heartbeat {
  return { region, at: secondsAgo(age), role: 'passive', epoch: 0, change: null, ...extra };
}

function change(epoch: number, role: RoleChange['role'], state: RoleChange['state']): RoleChange {
  return {
    epoch,
    role,
    state,
    startedAt: secondsAgo(300),
    finishedAt: state === 'running' ? null : secondsAgo(200),
    schedules: 10,
    caughtUp: 0,
    missed: 0,
    redriven: 0,
    error: null,
  };
}

const failedOver: RegionState = {
  activeRegion: STANDBY,
  epoch: 1,
  changedAt: secondsAgo(3600),
  changedBy: 'alice@ops',
  previousRegion: HOME,
  reason: 'failover',
};

function check(
  state: RegionState,
  heartbeats: Heartbeat[],
  request: Partial<FailoverRequest> & { to: string },
  regions = REGIONS,
): unknown {
  try {
    checkFailover(regions, state, heartbeats, { by: 'alice@ops', ...request }, NOW, STALE);
    return 'ok';
  } catch (error) {
    return error;
  }
}

const fresh = [beat(HOME, 10, { role: 'active' }), beat(STANDBY, 10)];

describe('checkFailover', () => {
  it('lets a failover to a standby go ahead when both regions are heard from', () => {
    expect(check(initialState(REGIONS), fresh, { to: STANDBY })).toBe('ok');
  });

  it('refuses a one-region deployment, and a region not in the deployment as a bad `to`', () => {
    expect(check(initialState([HOME]), fresh, { to: STANDBY }, [HOME])).toBeInstanceOf(ConflictError);
    const wrong = check(initialState(REGIONS), fresh, { to: 'ap-south-1' });
    expect(wrong).toBeInstanceOf(ValidationError);
    expect((wrong as ValidationError).errors[0]?.field).toBe('to');
  });

  it('refuses a failback anywhere but home, and a failover to the region already active', () => {
    const away = check(failedOver, fresh, { to: STANDBY, failback: true });
    expect(away).toBeInstanceOf(ValidationError);
    expect((away as Error).message).toContain(`a failback goes to the home region, ${HOME}`);
    expect((check(failedOver, fresh, { to: STANDBY }) as Error).message).toBe(
      `${STANDBY} is already the active region (epoch 1)`,
    );
  });

  it('counts a heartbeat exactly staleSeconds old as fresh, one second more as stale', () => {
    expect(check(initialState(REGIONS), [beat(HOME, 10), beat(STANDBY, STALE)], { to: STANDBY })).toBe('ok');
    const stale = check(initialState(REGIONS), [beat(HOME, 10), beat(STANDBY, STALE + 1)], { to: STANDBY });
    expect((stale as Error).message).toMatch(/^us-west-2 last wrote its heartbeat 181 s ago/);
    // No heartbeat is no region running; --force does not cover the target.
    const none = check(initialState(REGIONS), [beat(HOME, 10)], { to: STANDBY, force: true });
    expect((none as Error).message).toMatch(/^us-west-2 has never written its heartbeat/);
  });

  it("refuses a target still changing role for the current epoch, not for an earlier one's", () => {
    const running = [beat(HOME, 10), beat(STANDBY, 10, { change: change(0, 'passive', 'running') })];
    expect((check(initialState(REGIONS), running, { to: STANDBY }) as Error).message).toMatch(
      /still changing role for epoch 0/,
    );
    // A change left running at an earlier epoch does not hold a later failover.
    const atTwo = { ...failedOver, epoch: 2, activeRegion: HOME, previousRegion: STANDBY };
    const leftOver = [
      beat(HOME, 10, { role: 'active', epoch: 2 }),
      beat(STANDBY, 10, { epoch: 2, change: change(1, 'active', 'running') }),
    ];
    expect(check(atTwo, leftOver, { to: STANDBY })).toBe('ok');
  });

  it("refuses while the old region's heartbeat is stale or missing, unless forced", () => {
    for (const heartbeats of [[beat(HOME, 900), beat(STANDBY, 10)], [beat(STANDBY, 10)]]) {
      const refused = check(initialState(REGIONS), heartbeats, { to: STANDBY });
      expect(refused).toBeInstanceOf(ConflictError);
      expect((refused as Error).message).toMatch(
        /^eu-west-1 .*: it may be down, or cut off and still firing/,
      );
      expect(check(initialState(REGIONS), heartbeats, { to: STANDBY, force: true })).toBe('ok');
    }
  });

  it('lets a failback go ahead only with both regions up and the active one done taking over', () => {
    const up = (standbyChange: RoleChange | null, homeAge = 10) => [
      beat(HOME, homeAge, { change: change(1, 'passive', 'done') }),
      beat(STANDBY, 10, { role: 'active', epoch: 1, change: standbyChange }),
    ];
    const back = { to: HOME, failback: true };
    expect(check(failedOver, up(change(1, 'active', 'done')), back)).toBe('ok');
    for (const notDone of [
      null,
      change(1, 'active', 'running'),
      change(1, 'active', 'failed'),
      change(0, 'passive', 'done'),
    ]) {
      expect((check(failedOver, up(notDone), back) as Error).message, JSON.stringify(notDone)).toBe(
        `${STANDBY} has not finished taking over for epoch 1; fail back once it has (sundial dr status)`,
      );
    }
    // The home region must be up to come back; a lost active region is a forced failover instead.
    const homeDown = check(failedOver, up(change(1, 'active', 'done'), 900), back);
    expect((homeDown as Error).message).toMatch(
      /^eu-west-1 last wrote its heartbeat 900 s ago: .*cannot take over/,
    );
    const lostActive = [
      beat(HOME, 10),
      beat(STANDBY, 900, { role: 'active', change: change(1, 'active', 'done') }),
    ];
    expect((check(failedOver, lostActive, { ...back, force: true }) as Error).message).toMatch(
      /a failback needs both regions up; use failover --to eu-west-1 --force/,
    );
    expect(check(failedOver, lostActive, { to: HOME, force: true })).toBe('ok');
  });
});

describe('nextState and the ids a passive region writes', () => {
  it('moves the epoch by one and keeps who, why and from where', () => {
    expect(nextState(failedOver, { to: HOME, failback: true, by: 'bob@ops' }, NOW)).toEqual({
      activeRegion: HOME,
      epoch: 2,
      changedAt: NOW.toISOString(),
      changedBy: 'bob@ops',
      previousRegion: STANDBY,
      reason: 'failback',
    });
    expect(nextState(initialState(REGIONS), { to: STANDBY, by: 'a', reason: 'drill' }, NOW).reason).toBe(
      'drill',
    );
  });

  it('gives a skip record an id the active region never uses', () => {
    expect(passiveRunId('run_20270301T120000000Z', STANDBY)).toBe('run_20270301T120000000Z_passive_uswest2');
    expect(['eu-west-1', 'us-gov-west-1', 'ap-southeast-2'].every((r) => REGION_NAME.test(r))).toBe(true);
    expect(['local', 'EU-WEST-1', 'eu-west'].some((r) => REGION_NAME.test(r))).toBe(false);
  });
});

/** A region's table in memory; `down` makes it throw as an unreachable one would. */
class MemoryTable implements RegionTable {
  item: RegionState | undefined;
  heartbeatItems: Heartbeat[] = [];
  down = false;
  writes = 0;
  /** Makes the next write lose its condition, as one racing another change would. */
  loseNext = false;

  private answer<T>(value: T): Promise<T> {
    return this.down
      ? Promise.reject(new Error('connect ECONNREFUSED'))
      : Promise.resolve(structuredClone(value));
  }
  state(): Promise<RegionState> {
    return this.answer(this.item ?? initialState(REGIONS));
  }
  heartbeats(): Promise<Heartbeat[]> {
    return this.answer(this.heartbeatItems);
  }
  async write(next: RegionState, expectedEpoch: number): Promise<boolean> {
    if (this.down) throw new Error('connect ECONNREFUSED');
    this.writes += 1;
    if (this.loseNext || (this.item?.epoch ?? 0) !== expectedEpoch) {
      this.loseNext = false;
      return false;
    }
    this.item = structuredClone(next);
    return true;
  }
}

function deployment(): { deps: DrDeps; home: MemoryTable; standby: MemoryTable } {
  const home = new MemoryTable();
  const standby = new MemoryTable();
  for (const table of [home, standby])
    table.heartbeatItems = [beat(HOME, 10, { role: 'active' }), beat(STANDBY, 20)];
  return {
    deps: {
      regions: REGIONS,
      tables: { [HOME]: home, [STANDBY]: standby },
      clock: { now: () => NOW },
      staleSeconds: STALE,
    },
    home,
    standby,
  };
}

describe('drStatus and failover over two tables', () => {
  it('reads the newest epoch any table has, each heartbeat where it is freshest, and the lag', async () => {
    const { deps, home, standby } = deployment();
    home.item = failedOver;
    // The standby's own table has its heartbeat of 20 s ago; home's copy is 50 s old: 30 s behind.
    home.heartbeatItems = [beat(HOME, 10), beat(STANDBY, 50)];
    const status = await drStatus(deps);
    expect([status.activeRegion, status.epoch]).toEqual([STANDBY, 1]);
    expect(status.summary.map((s) => [s.region, s.heartbeatAgeSeconds, s.replicationLagSeconds])).toEqual([
      [HOME, 10, 0],
      [STANDBY, 20, 30],
    ]);
    standby.down = true;
    const half = await drStatus(deps);
    expect(half.views.map((v) => [v.region, v.reachable])).toEqual([
      [HOME, true],
      [STANDBY, false],
    ]);
    expect(half.summary.map((s) => s.replicationLagSeconds)).toEqual([null, null]);
    expect(half.summary[1]?.heartbeatAgeSeconds).toBe(50);
  });

  it('writes the target first, then fences the old region directly', async () => {
    const { deps, home, standby } = deployment();
    const result = await failover(deps, { to: STANDBY, by: 'alice@ops' });
    expect(result).toMatchObject({ fencedDirectly: true, oldRegion: HOME });
    expect(result.note).toBeUndefined();
    expect([home.item?.epoch, standby.item?.epoch]).toEqual([1, 1]);
  });

  it('leaves the old region to replication when it does not answer or its item changed meanwhile', async () => {
    const lost = deployment();
    lost.home.down = true;
    const forced = await failover(lost.deps, { to: STANDBY, by: 'a', force: true });
    expect(forced.fencedDirectly).toBe(false);
    expect(forced.note).toMatch(/eu-west-1 does not answer .*go passive when replication brings it the item/);
    expect(lost.standby.item?.epoch).toBe(1);

    const raced = deployment();
    raced.home.loseNext = true;
    const result = await failover(raced.deps, { to: STANDBY, by: 'a' });
    expect(result.fencedDirectly).toBe(false);
    expect(result.note).toMatch(/item changed meanwhile; it learns the new state by replication/);
  });

  it('refuses when the target lost the race, cannot be read, or is behind the old region', async () => {
    const raced = deployment();
    raced.standby.loseNext = true;
    await expect(failover(raced.deps, { to: STANDBY, by: 'a' })).rejects.toThrow(
      /changed in us-west-2 while failing over/,
    );
    expect(raced.home.writes).toBe(0);

    const cut = deployment();
    cut.standby.down = true;
    await expect(failover(cut.deps, { to: STANDBY, by: 'a' })).rejects.toThrow(
      /us-west-2's table does not answer/,
    );

    const lagging = deployment();
    lagging.home.item = { ...failedOver };
    await expect(failover(lagging.deps, { to: STANDBY, by: 'a' })).rejects.toThrow(
      /replication to us-west-2 is behind/,
    );
    await expect(failover(lagging.deps, { to: 'ap-south-1', by: 'a' })).rejects.toBeInstanceOf(
      ValidationError,
    );
  });
});
