/**
 * `sundial dr status|failover|failback` as an operator runs them: the real binary
 * (cli/sundial.mjs) against two DynamoDB Locals standing in for the two regions' jobs
 * tables (SUNDIAL_DR_ENDPOINTS, DynamoDB Local's credentials). Each region's sync function
 * is stood in for by heartbeats written with RegionStore.beat(), in both tables as global
 * tables' replication would have them; no replicator runs, so what a table holds is what
 * the CLI itself wrote there.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RegionStore } from '../../functions/adapters/region-store.js';
import {
  ACTIVE_SK,
  type Heartbeat,
  heartbeatSk,
  REGION_PK,
  type RegionState,
  type RoleChange,
} from '../../functions/domain/region.js';
import type { DrStatus, FailoverResult } from '../../functions/usecases/regions.js';
import { type DynamoDbLocal, LOCAL_CREDENTIALS, startDynamoDbLocal } from '../../local/dynamodb-local.js';
import { freePort } from '../../local/ports.js';
import { createTables } from '../../local/resources.js';

const CLI = resolve('cli/sundial.mjs');
const HOME = 'eu-west-1';
const STANDBY = 'us-west-2';
const REGIONS = [HOME, STANDBY];

let locals: DynamoDbLocal[] = [];
let docs: DynamoDBDocumentClient[] = [];
/** Each region's own table. */
let stores: Record<string, RegionStore>;
let endpoints: Record<string, string>;
let table: string;
let closedEndpoint: string;

beforeAll(async () => {
  locals = await Promise.all([startDynamoDbLocal(), startDynamoDbLocal()]);
  const clients = locals.map(
    (local) =>
      new DynamoDBClient({ endpoint: local.endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS }),
  );
  const names = await Promise.all(clients.map((client) => createTables(client)));
  table = names[0]!.Jobs;
  expect(names[1]!.Jobs).toBe(table);
  docs = clients.map((client) => DynamoDBDocumentClient.from(client));
  stores = {
    [HOME]: new RegionStore(docs[0]!, table, REGIONS),
    [STANDBY]: new RegionStore(docs[1]!, table, REGIONS),
  };
  endpoints = { [HOME]: locals[0]!.endpoint, [STANDBY]: locals[1]!.endpoint };
  closedEndpoint = `http://127.0.0.1:${await freePort()}`;
}, 120_000);

afterAll(async () => {
  for (const doc of docs) doc.destroy();
  await Promise.all(locals.map((local) => local.stop()));
});

/** A fresh deployment: no active item, no heartbeats, in either table. */
beforeEach(async () => {
  for (const doc of docs) {
    for (const sk of [ACTIVE_SK, ...REGIONS.map(heartbeatSk)])
      await doc.send(new DeleteCommand({ TableName: table, Key: { pk: REGION_PK, sk } }));
  }
});

/** A region's sync function writing its heartbeat, `secondsAgo` old, replicated to both tables. */
async function beat(region: string, secondsAgo = 5, extra: Partial<Heartbeat> = {}): Promise<void> {
  const state = await stores[region]!.state();
  const heartbeat: Heartbeat = {
    region,
    at: new Date(Date.now() - secondsAgo * 1000).toISOString(),
    role: state.activeRegion === region ? 'active' : 'passive',
    epoch: state.epoch,
    change: null,
    ...extra,
  };
  await Promise.all(Object.values(stores).map((store) => store.beat(heartbeat)));
}

function change(epoch: number, role: RoleChange['role'], state: RoleChange['state']): RoleChange {
  return {
    epoch,
    role,
    state,
    startedAt: new Date(Date.now() - 60_000).toISOString(),
    finishedAt: state === 'running' ? null : new Date().toISOString(),
    schedules: 12,
    caughtUp: role === 'active' ? 3 : 0,
    missed: role === 'active' ? 1 : 0,
    redriven: role === 'active' ? 2 : 0,
    error: state === 'failed' ? 'AccessDenied on scheduler:UpdateSchedule' : null,
  };
}

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Only what the test gives: no AWS credentials or region of whoever runs the tests. */
function environment(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TZ: 'UTC',
    NO_COLOR: '1',
    SUNDIAL_DR_REGIONS: REGIONS.join(','),
    SUNDIAL_DR_TABLE: table,
    SUNDIAL_DR_ENDPOINTS: JSON.stringify(endpoints),
  };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  return base;
}

function sundial(args: string[], env: Record<string, string | undefined> = {}): Promise<Result> {
  const child = spawn(process.execPath, [CLI, ...args], { env: environment(env), stdio: 'pipe' });
  child.stdin.end();
  const result: Result = { code: null, stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => {
    result.stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    result.stderr += chunk.toString();
  });
  return new Promise((done) =>
    child.on('close', (code) => {
      result.code = code;
      done(result);
    }),
  );
}

async function json<T>(args: string[], env: Record<string, string | undefined> = {}): Promise<T> {
  const result = await sundial([...args, '--json'], env);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as T;
}

const states = () => Promise.all(REGIONS.map((region) => stores[region]!.state()));

describe('sundial dr status', () => {
  it('shows a fresh deployment: the home region active at epoch 0, both heard from', async () => {
    await beat(HOME, 4);
    await beat(STANDBY, 7);
    const status = await json<DrStatus & { staleSeconds: number }>(['dr', 'status']);
    expect([status.activeRegion, status.epoch, status.staleSeconds]).toEqual([HOME, 0, 180]);
    expect(status.views.map((v) => [v.region, v.reachable])).toEqual([
      [HOME, true],
      [STANDBY, true],
    ]);
    expect(status.summary.map((s) => [s.region, s.role])).toEqual([
      [HOME, 'active'],
      [STANDBY, 'passive'],
    ]);
    // As old as written, plus the CLI's start.
    const [homeAge, standbyAge] = status.summary.map((s) => s.heartbeatAgeSeconds!);
    expect(homeAge).toBeGreaterThanOrEqual(4);
    expect(standbyAge! - homeAge!).toBeGreaterThanOrEqual(2);
    expect(standbyAge).toBeLessThan(60);

    const shown = await sundial(['dr', 'status']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^Active region: +eu-west-1 \(home\)$/m);
    expect(shown.stdout).toMatch(/^Epoch: +0$/m);
    expect(shown.stdout).toMatch(/never failed over/);
    expect(shown.stdout).toMatch(/^REGION +ROLE +HEARTBEAT +REPLICATION LAG +TABLE$/m);
    expect(shown.stdout).toMatch(/^eu-west-1 \(home\) +active +\d+ s ago +0 s +reachable$/m);
    expect(shown.stdout).toMatch(/^us-west-2 +passive +\d+ s ago +0 s +reachable$/m);
    expect(shown.stdout).toContain('Change of role: none recorded yet.');
  });

  it('prints a region that does not answer, and its change of role; exits 1 only when none answers', async () => {
    await stores[STANDBY]!.write(
      {
        activeRegion: STANDBY,
        epoch: 1,
        changedAt: new Date().toISOString(),
        changedBy: 'alice@ops',
        previousRegion: HOME,
        reason: 'drill',
      },
      0,
    );
    await beat(STANDBY, 3, { role: 'active', epoch: 1, change: change(1, 'active', 'running') });
    // eu-west-1's last word, ten minutes ago: active at epoch 0.
    await beat(HOME, 600);
    const half = { SUNDIAL_DR_ENDPOINTS: JSON.stringify({ ...endpoints, [HOME]: closedEndpoint }) };
    const shown = await sundial(['dr', 'status'], half);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^Active region: +us-west-2$/m);
    expect(shown.stdout).toMatch(/^Changed: .* by alice@ops, from eu-west-1: drill$/m);
    expect(shown.stdout).toMatch(
      /^eu-west-1 \(home\) +active → passive +10 min ago \(stale\) +- +unreachable: /m,
    );
    expect(shown.stdout).toMatch(/^us-west-2 +active +\d+ s ago +- +reachable$/m);
    expect(shown.stdout).toMatch(
      /^REGION +EPOCH +TO +STATE +SCHEDULES +CAUGHT UP +MISSED +REDRIVEN +STARTED +FINISHED$/m,
    );
    expect(shown.stdout).toMatch(
      /^us-west-2 +1 +active +running +12 +3 +1 +2 +\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? +-$/m,
    );

    const none = await sundial(['dr', 'status'], {
      SUNDIAL_DR_ENDPOINTS: JSON.stringify({ [HOME]: closedEndpoint, [STANDBY]: closedEndpoint }),
    });
    expect(none.code).toBe(1);
    expect(none.stdout).toMatch(/Active region: +unknown/);
    expect(none.stderr).toMatch(/no region's table answered/);
  });
});

describe('sundial dr failover', () => {
  it('makes the standby active in both tables, the old region fenced directly', async () => {
    await beat(HOME);
    await beat(STANDBY);
    const moved = await sundial([
      'dr',
      'failover',
      '--to',
      STANDBY,
      '--reason',
      'drill',
      '--by',
      'alice@ops',
    ]);
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stdout).toContain('us-west-2 is now the active region (epoch 1; by alice@ops: drill).');
    expect(moved.stdout).toContain('eu-west-1 was fenced directly');
    for (const state of await states()) {
      expect(state).toMatchObject({
        activeRegion: STANDBY,
        epoch: 1,
        previousRegion: HOME,
        changedBy: 'alice@ops',
      });
    }
  });

  it('records the OS user at this host as who failed over, and answers JSON', async () => {
    await beat(HOME);
    await beat(STANDBY);
    const result = await json<FailoverResult>(['dr', 'failover', '--to', STANDBY]);
    expect(result).toMatchObject({ fencedDirectly: true, oldRegion: HOME });
    expect(result.state).toMatchObject({ activeRegion: STANDBY, epoch: 1, reason: 'failover' });
    expect(result.state.changedBy).toMatch(/^[^@\s]+@[^@\s]+$/);
  });

  it('refuses a failover to the region already active', async () => {
    await beat(HOME);
    await beat(STANDBY);
    const refused = await sundial(['dr', 'failover', '--to', HOME]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('eu-west-1 is already the active region (epoch 0)');
    const asJson = await sundial(['dr', 'failover', '--to', HOME, '--json']);
    expect(asJson.code).toBe(1);
    expect(JSON.parse(asJson.stdout)).toEqual({
      error: { type: 'refused', message: expect.stringContaining('already the active region') },
    });
  });

  it('refuses a target whose heartbeat is stale or missing: its stack is not running', async () => {
    await beat(HOME);
    await beat(STANDBY, 600);
    const stale = await sundial(['dr', 'failover', '--to', STANDBY]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/us-west-2 last wrote its heartbeat 6\d\d s ago: .*cannot take over/);

    for (const doc of docs)
      await doc.send(
        new DeleteCommand({ TableName: table, Key: { pk: REGION_PK, sk: heartbeatSk(STANDBY) } }),
      );
    const never = await sundial(['dr', 'failover', '--to', STANDBY]);
    expect(never.code).toBe(1);
    expect(never.stderr).toContain('us-west-2 has never written its heartbeat');
    expect((await states()).map((s) => s.epoch)).toEqual([0, 0]);
  });

  it("refuses while the old region's heartbeat is stale, unless --force; then the old region learns by replication", async () => {
    await beat(HOME, 900);
    await beat(STANDBY);
    const refused = await sundial(['dr', 'failover', '--to', STANDBY]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/eu-west-1 last wrote its heartbeat 9\d\d s ago: it may be down.*force/);
    expect((await states()).map((s) => s.epoch)).toEqual([0, 0]);

    // eu-west-1 is lost: its table does not answer either.
    const lost = { SUNDIAL_DR_ENDPOINTS: JSON.stringify({ ...endpoints, [HOME]: closedEndpoint }) };
    const forced = await sundial(
      ['dr', 'failover', '--to', STANDBY, '--force', '--reason', 'eu-west-1 down'],
      lost,
    );
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain('us-west-2 is now the active region (epoch 1;');
    expect(forced.stdout).toMatch(/eu-west-1 learns by replication: eu-west-1 does not answer/);
    const [home, standby] = await states();
    expect(standby).toMatchObject({ activeRegion: STANDBY, epoch: 1, reason: 'eu-west-1 down' });
    expect(home).toMatchObject({ activeRegion: HOME, epoch: 0 });
  });

  it("refuses when the target's table does not answer, or is behind the old region's", async () => {
    await beat(HOME);
    await beat(STANDBY);
    const cut = { SUNDIAL_DR_ENDPOINTS: JSON.stringify({ ...endpoints, [STANDBY]: closedEndpoint }) };
    const unreachable = await sundial(['dr', 'failover', '--to', STANDBY], cut);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/us-west-2's table does not answer \(.*\); it cannot take over/);

    // A failover eu-west-1 has and us-west-2 has not received yet.
    await stores[HOME]!.write(
      {
        activeRegion: STANDBY,
        epoch: 1,
        changedAt: new Date().toISOString(),
        changedBy: 'alice@ops',
        previousRegion: HOME,
        reason: 'failover',
      },
      0,
    );
    const behind = await sundial(['dr', 'failover', '--to', STANDBY]);
    expect(behind.code).toBe(1);
    expect(behind.stderr).toMatch(/replication to us-west-2 is behind/);
    expect((await states()).map((s) => s.epoch)).toEqual([1, 0]);
  });

  it('reads "stale" by --stale-seconds', async () => {
    await beat(HOME);
    await beat(STANDBY, 600);
    expect((await sundial(['dr', 'failover', '--to', STANDBY])).code).toBe(1);
    const moved = await sundial(['dr', 'failover', '--to', STANDBY, '--stale-seconds', '900']);
    expect(moved.code, moved.stderr).toBe(0);
    expect((await states()).map((s) => s.activeRegion)).toEqual([STANDBY, STANDBY]);
    const bad = await sundial(['dr', 'status', '--stale-seconds', '0']);
    expect(bad.code).toBe(2);
  });

  it('refuses a --to that is not one of the regions as usage (exit 2), naming to', async () => {
    const wrong = await sundial(['dr', 'failover', '--to', 'ap-south-1']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/--to must be one of this deployment's regions: eu-west-1, us-west-2/);
    const missing = await sundial(['dr', 'failover']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--to <region>/);
  });
});

describe('sundial dr failback', () => {
  async function failedOver(): Promise<void> {
    await beat(HOME);
    await beat(STANDBY);
    expect((await sundial(['dr', 'failover', '--to', STANDBY])).code).toBe(0);
  }

  it("is refused while the active region's change of role is not done, and accepted once it is", async () => {
    await failedOver();
    await beat(HOME, 5, { role: 'passive', epoch: 1, change: change(1, 'passive', 'done') });
    await beat(STANDBY, 5, { role: 'active', epoch: 1, change: change(1, 'active', 'running') });
    const running = await sundial(['dr', 'failback']);
    expect(running.code).toBe(1);
    expect(running.stderr).toContain('us-west-2 has not finished taking over for epoch 1');

    await beat(STANDBY, 5, { role: 'active', epoch: 1, change: change(1, 'active', 'failed') });
    expect((await sundial(['dr', 'failback'])).code).toBe(1);

    await beat(STANDBY, 5, { role: 'active', epoch: 1, change: change(1, 'active', 'done') });
    const back = await sundial(['dr', 'failback', '--by', 'bob@ops']);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toContain(
      'eu-west-1 (home) is now the active region (epoch 2; by bob@ops: failback).',
    );
    expect(back.stdout).toContain('us-west-2 was fenced directly');
    const expected: Partial<RegionState> = { activeRegion: HOME, epoch: 2, previousRegion: STANDBY };
    for (const state of await states()) expect(state).toMatchObject(expected);
  });

  it('is refused when the home region is already active', async () => {
    await beat(HOME);
    await beat(STANDBY);
    const refused = await sundial(['dr', 'failback']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('eu-west-1 is already the active region');
  });
});

describe('sundial dr configuration', () => {
  it('is a usage error (exit 2) naming what is missing or wrong', async () => {
    const noTable = await sundial(['dr', 'status'], { SUNDIAL_DR_TABLE: undefined });
    expect(noTable.code).toBe(2);
    expect(noTable.stderr).toMatch(/--table <name>/);
    const noRegions = await sundial(['dr', 'failover', '--to', STANDBY], { SUNDIAL_DR_REGIONS: undefined });
    expect(noRegions.code).toBe(2);
    expect(noRegions.stderr).toMatch(/--regions <home>,<standby>/);
    const oneRegion = await sundial(['dr', 'status', '--regions', HOME]);
    expect(oneRegion.code).toBe(2);
    expect(oneRegion.stderr).toMatch(/--regions must be the deployment's two AWS regions/);
    const badEndpoints = await sundial(['dr', 'status'], { SUNDIAL_DR_ENDPOINTS: '{"eu-west-3": 1}' });
    expect(badEndpoints.code).toBe(2);
    expect(badEndpoints.stderr).toMatch(/SUNDIAL_DR_ENDPOINTS must be a JSON object/);
    // The options win over the environment.
    const given = await json<DrStatus>(['dr', 'status', '--table', table, '--regions', REGIONS.join(',')], {
      SUNDIAL_DR_TABLE: undefined,
      SUNDIAL_DR_REGIONS: undefined,
    });
    expect(given.activeRegion).toBe(HOME);
  });
});
