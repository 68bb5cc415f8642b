/**
 * Retention without DynamoDB TTL (RUN_EXPIRY=sweep): the expiry attributes the stores write,
 * the sweep's paging over the expiry shards, and the local stand-in for a strongly consistent
 * runs table routing each command to its table's store.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { expiryAttributes } from '../../functions/adapters/record-expiry.js';
import type { RecordExpiry } from '../../functions/domain/ports.js';
import { sweepExpired } from '../../functions/usecases/record-expiry.js';
import { EXPIRY_SHARDS, runsTableFor } from '../../lib/definitions.js';
import { withStrongTable } from '../../local/strong-table.js';

describe('expiry attributes', () => {
  it('are expiresAt alone under TTL, and a stable expiry shard besides under the sweep', () => {
    const key = { pk: 'TENANT#t#JOB#j', sk: 'RUN#run_1' };
    expect(expiryAttributes('ttl', 100, key)).toEqual({ expiresAt: 100 });
    const swept = expiryAttributes('sweep', 100, key);
    expect(swept.expiresAt).toBe(100);
    expect(swept.expiryShard).toMatch(/^X#\d+$/);
    expect(expiryAttributes('sweep', 200, key).expiryShard).toBe(swept.expiryShard);
    const shards = new Set(
      Array.from(
        { length: 400 },
        (_, i) => expiryAttributes('sweep', 1, { pk: `p${i}`, sk: 's' }).expiryShard,
      ),
    );
    expect(shards.size).toBe(EXPIRY_SHARDS);
  });

  it('shape the runs table: TTL, or no TTL and the sparse expiry index', () => {
    expect(runsTableFor('ttl').timeToLiveAttribute).toBe('expiresAt');
    expect(runsTableFor('ttl').globalSecondaryIndexes.map((i) => i.indexName)).toEqual(['byWatch']);
    const swept = runsTableFor('sweep');
    expect(swept.timeToLiveAttribute).toBeUndefined();
    expect(swept.globalSecondaryIndexes.map((i) => i.indexName)).toEqual(['byWatch', 'byExpiry']);
  });
});

/** Records due per shard; each sweep deletes up to `limit`, except those `kept` (their expiry moved on). */
function fakeExpiry(due: number[], kept = new Set<number>()) {
  const calls: number[] = [];
  const expiry: RecordExpiry = {
    async sweep(shard, _now, limit) {
      calls.push(shard);
      const found = Math.min(due[shard] ?? 0, limit);
      const deleted = kept.has(shard) ? 0 : found;
      due[shard] = (due[shard] ?? 0) - deleted;
      return { due: found, deleted };
    },
  };
  return { expiry, calls, due };
}

describe('the expiry sweep', () => {
  const now = new Date('2026-12-01T00:00:00Z');

  it('works every shard off page by page', async () => {
    const { expiry, calls, due } = fakeExpiry([250, 0, 30]);
    expect(await sweepExpired(expiry, { now, shards: 3, limit: 100 })).toEqual({ due: 280, deleted: 280 });
    expect(calls).toEqual([0, 0, 0, 1, 2]);
    expect(due).toEqual([0, 0, 0]);
  });

  it('leaves a shard whose due records are all kept, instead of reading them for ever', async () => {
    const { expiry, calls } = fakeExpiry([500, 10], new Set([0]));
    expect(await sweepExpired(expiry, { now, shards: 2, limit: 100 })).toEqual({ due: 110, deleted: 10 });
    expect(calls).toEqual([0, 1]);
  });

  it('stops when its time is up, the rest left to the next minute', async () => {
    const { expiry, calls, due } = fakeExpiry([1000, 1000]);
    let pages = 0;
    const result = await sweepExpired(expiry, { now, shards: 2, limit: 100, stopBy: () => pages++ >= 3 });
    expect(result).toEqual({ due: 300, deleted: 300 });
    expect(calls).toEqual([0, 0, 0]);
    expect(due).toEqual([700, 1000]);
  });
});

describe('the local strongly consistent runs table', () => {
  const recorder = (name: string, log: string[]) =>
    ({
      send: async (command: { constructor: { name: string } }) => {
        log.push(`${name} ${command.constructor.name}`);
        return {};
      },
    }) as unknown as DynamoDBDocumentClient;

  it('sends the runs table’s commands to the shared store and the rest to the region’s own', async () => {
    const log: string[] = [];
    const db = withStrongTable(recorder('own', log), 'runs', recorder('shared', log));
    await db.send(new PutCommand({ TableName: 'runs', Item: { pk: 'a', sk: 'b' } }));
    await db.send(new GetCommand({ TableName: 'jobs', Key: { pk: 'a', sk: 'b' } }));
    await db.send(
      new TransactWriteCommand({
        TransactItems: [{ Put: { TableName: 'jobs', Item: { pk: 'a', sk: 'b' } } }],
      }),
    );
    expect(log).toEqual(['shared PutCommand', 'own GetCommand', 'own TransactWriteCommand']);
  });

  it('refuses a transaction on the runs table, as multi-Region strong consistency does', async () => {
    const log: string[] = [];
    const db = withStrongTable(recorder('own', log), 'runs', recorder('shared', log));
    await expect(
      db.send(
        new TransactWriteCommand({
          TransactItems: [{ Put: { TableName: 'runs', Item: { pk: 'a', sk: 'b' } } }],
        }),
      ),
    ).rejects.toMatchObject({ name: 'ValidationException' });
    expect(log).toEqual([]);
  });
});
