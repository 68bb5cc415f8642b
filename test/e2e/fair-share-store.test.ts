/** The fair-share places on DynamoDB Local: at most N holders, taken concurrently, freed by give or by lease. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoFairShare } from '../../functions/adapters/fair-share.js';
import { createDocumentClient } from '../../functions/commons/clients.js';
import { startLocalTables } from './support.js';

let dynamo: Awaited<ReturnType<typeof startLocalTables>>;
let share: (limit: number) => DynamoFairShare;
const now = new Date('2027-05-01T00:00:00.000Z');
const later = (seconds: number) => new Date(now.getTime() + seconds * 1000);

beforeAll(async () => {
  dynamo = await startLocalTables();
  const { config, tables } = dynamo;
  const db = createDocumentClient(config);
  share = (limit) => new DynamoFairShare(db, tables.Runs, () => limit);
}, 90_000);
afterAll(async () => {
  await dynamo?.stop();
});

describe('fair-share places', () => {
  it('lets everyone in when there is room, even taken all at once on a new item', async () => {
    const places = share(20);
    const taken = await Promise.all(
      Array.from({ length: 10 }, (_, i) => places.take('roomy', 'default', `h${i}`, later(60), now)),
    );
    expect(taken).toEqual(Array(10).fill(true));
  });

  it('gives exactly N places to concurrent takers, and a given-back place to the next', async () => {
    const places = share(3);
    const taken = await Promise.all(
      Array.from({ length: 10 }, (_, i) => places.take('busy', 'low', `h${i}`, later(60), now)),
    );
    expect(taken.filter(Boolean)).toHaveLength(3);
    expect(await places.take('busy', 'low', 'late', later(60), now)).toBe(false);
    // Another tenant and another queue have places of their own.
    expect(await places.take('other', 'low', 'x', later(60), now)).toBe(true);
    expect(await places.take('busy', 'high', 'x', later(60), now)).toBe(true);
    const holder = `h${taken.indexOf(true)}`;
    await places.give('busy', 'low', holder);
    expect(await places.take('busy', 'low', 'late', later(60), now)).toBe(true);
  });

  it('frees the places of holders whose leases ran out (their workers stopped)', async () => {
    const places = share(2);
    expect(await places.take('crashy', 'default', 'a', later(10), now)).toBe(true);
    expect(await places.take('crashy', 'default', 'b', later(10), now)).toBe(true);
    expect(await places.take('crashy', 'default', 'c', later(10), now)).toBe(false);
    expect(await places.take('crashy', 'default', 'c', later(80), later(20))).toBe(true);
    expect(await places.take('crashy', 'default', 'd', later(80), later(20))).toBe(true);
    expect(await places.take('crashy', 'default', 'e', later(80), later(20))).toBe(false);
  });

  it('is off with a limit of 0, and giving back what was never taken changes nothing', async () => {
    expect(await share(0).take('free', 'default', 'a', later(10), now)).toBe(true);
    await share(1).give('never', 'default', 'a');
    expect(await share(1).take('never', 'default', 'b', later(10), now)).toBe(true);
  });

  it("takes a batch's places in one write, on a new item too, or none when they do not all fit", async () => {
    const places = share(5);
    const batchOf = (name: string, n: number) => Array.from({ length: n }, (_, i) => `${name}.${i}`);
    expect(await places.takeAll('batchy', 'default', batchOf('b1', 3), later(90), now)).toBe(true);
    // Three of five taken: a batch of three more does not fit, and takes nothing.
    expect(await places.takeAll('batchy', 'default', batchOf('b2', 3), later(90), now)).toBe(false);
    expect(await places.take('batchy', 'default', 'lone1', later(60), now)).toBe(true);
    expect(await places.take('batchy', 'default', 'lone2', later(60), now)).toBe(true);
    expect(await places.take('batchy', 'default', 'lone3', later(60), now)).toBe(false);
    // Given back in one write, the three are free again.
    await places.giveAll('batchy', 'default', batchOf('b1', 3));
    expect(await places.takeAll('batchy', 'default', batchOf('b3', 3), later(90), now)).toBe(true);
  });

  it('never lets concurrent batches past the limit', async () => {
    const places = share(10);
    const taken = await Promise.all(
      Array.from({ length: 6 }, (_, b) =>
        places.takeAll(
          'crowded',
          'high',
          Array.from({ length: 4 }, (_, i) => `b${b}.${i}`),
          later(90),
          now,
        ),
      ),
    );
    // Four places each: two batches fit in ten, a third does not.
    expect(taken.filter(Boolean)).toHaveLength(2);
    expect(await places.take('crowded', 'high', 'x', later(60), now)).toBe(true);
    expect(await places.take('crowded', 'high', 'y', later(60), now)).toBe(true);
    expect(await places.take('crowded', 'high', 'z', later(60), now)).toBe(false);
  });
});
