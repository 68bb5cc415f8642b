/**
 * The local stand-in for global tables: two DynamoDB Locals ("regions"), the project's tables in
 * each, and local/replicator.ts copying changes between them from the tables' streams.
 * Also the local KMS key shared by two regions, as a multi-Region key and its replica.
 */
import {
  type AttributeValue,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  type _Record,
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOBS_TABLE } from '../../lib/definitions.js';
import {
  type DynamoDbLocal,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  startDynamoDbLocal,
} from '../../local/dynamodb-local.js';
import { LocalKms } from '../../local/kms-emulator.js';
import { type ReplicaEnd, replicateBothWays, replicator } from '../../local/replicator.js';
import { createTables, latestStreamArn, tableInput } from '../../local/resources.js';

type Item = Record<string, AttributeValue>;

let locals: DynamoDbLocal[] = [];
let a: ReplicaEnd;
let b: ReplicaEnd;
let dbA: DynamoDBClient;
let dbB: DynamoDBClient;

const client = (endpoint: string) =>
  new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
const key = (pk: string, sk = 'item'): Item => ({ pk: { S: pk }, sk: { S: sk } });
const get = async (db: DynamoDBClient, table: string, k: Item) =>
  (await db.send(new GetItemCommand({ TableName: table, Key: k, ConsistentRead: true }))).Item;
const put = (db: DynamoDBClient, table: string, item: Item) =>
  db.send(new PutItemCommand({ TableName: table, Item: item }));

beforeAll(async () => {
  locals = await Promise.all([startDynamoDbLocal(), startDynamoDbLocal()]);
  dbA = client(locals[0]!.endpoint);
  dbB = client(locals[1]!.endpoint);
  const [tablesA, tablesB] = await Promise.all([createTables(dbA), createTables(dbB)]);
  a = { region: 'local-a', endpoint: locals[0]!.endpoint, tables: tablesA };
  b = { region: 'local-b', endpoint: locals[1]!.endpoint, tables: tablesB };
}, 120_000);

afterAll(async () => {
  dbA?.destroy();
  dbB?.destroy();
  await Promise.all(locals.map((local) => local.stop()));
});

describe('the local tables and DynamoDB Local streams', () => {
  let streams: DynamoDBStreamsClient;
  beforeAll(() => {
    streams = new DynamoDBStreamsClient({
      endpoint: a.endpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
  });
  afterAll(() => streams?.destroy());

  /** LATEST iterators of the table's open shards (DynamoDB Local has one). */
  async function latest(table: string): Promise<string[]> {
    const arn = await latestStreamArn(dbA, table);
    const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: arn }));
    const open = StreamDescription!.Shards!.filter((s) => !s.SequenceNumberRange?.EndingSequenceNumber);
    return Promise.all(
      open.map(async (s) => {
        const input = { StreamArn: arn, ShardId: s.ShardId, ShardIteratorType: 'LATEST' as const };
        return (await streams.send(new GetShardIteratorCommand(input))).ShardIterator!;
      }),
    );
  }

  async function read(iterators: string[]): Promise<_Record[]> {
    const records: _Record[] = [];
    for (const ShardIterator of iterators) {
      records.push(...((await streams.send(new GetRecordsCommand({ ShardIterator }))).Records ?? []));
    }
    return records;
  }

  it('have a stream with both images, and DynamoDB Local writes no record for a write that changes nothing', async () => {
    const table = a.tables.Jobs!;
    const { Table } = await dbA.send(new DescribeTableCommand({ TableName: table }));
    expect(Table?.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' });

    // A first record, so that the iterators below are not taken on an empty shard (next test).
    await put(dbA, table, { ...key('first'), n: { N: '0' } });
    const iterators = await latest(table);
    const item = { ...key('noop'), n: { N: '1' }, tags: { SS: ['b', 'a'] } };
    await put(dbA, table, item);
    await put(dbA, table, item); // the same item again
    await dbA.send(
      new UpdateItemCommand({
        TableName: table,
        Key: key('noop'),
        UpdateExpression: 'SET n = :n',
        ExpressionAttributeValues: { ':n': { N: '1.0' } }, // the same number
      }),
    );
    await dbA.send(new DeleteItemCommand({ TableName: table, Key: key('never-there') }));
    const records = await read(iterators);
    expect(records.map((r) => r.eventName)).toEqual(['INSERT']);
    // Both images, set members in DynamoDB's order: the replicator compares items canonically.
    expect(records[0]!.dynamodb?.NewImage?.tags).toEqual({ SS: ['a', 'b'] });
  });

  it('fails an iterator taken on an empty shard once a record is written; the replicator then reads from TRIM_HORIZON', async () => {
    // A quirk of DynamoDB Local (on AWS the iterator reads the new records). Nothing is lost by
    // reading the shard from TRIM_HORIZON then, since it held nothing when the iterator was taken.
    const table = a.tables.Runs!;
    const iterators = await latest(table);
    const aToB = replicator({ from: { ...a, tables: { Runs: table } }, to: b, startAt: 'LATEST' });
    await aToB.start();
    try {
      expect(await read(iterators)).toEqual([]);
      expect((await aToB.pump()).applied).toBe(0);
      await put(dbA, table, { ...key('first'), n: { N: '0' } });
      await expect(read(iterators)).rejects.toThrow(
        expect.objectContaining({ name: 'TrimmedDataAccessException' }),
      );
      expect((await aToB.pump()).applied).toBe(1);
      expect(await get(dbB, b.tables.Runs!, key('first'))).toEqual({ ...key('first'), n: { N: '0' } });
      await dbA.send(new DeleteItemCommand({ TableName: table, Key: key('first') }));
      expect((await aToB.pump()).applied).toBe(1);
      expect(aToB.stats().errors).toBe(0);
    } finally {
      await aToB.stop();
    }
  });
});

describe('one way', () => {
  it('copies a put, an update and a delete, each as the raw item, at the next pump', async () => {
    const aToB = replicator({ from: a, to: b, startAt: 'LATEST' });
    await aToB.start();
    try {
      // Every kind of attribute value, so that nothing is lost in a marshalling round trip.
      const job: Item = {
        ...key('tenant#one', 'job#1'),
        s: { S: 'text' },
        n: { N: '12.5' },
        bin: { B: Uint8Array.from([0, 1, 254, 255]) },
        ss: { SS: ['x', 'y'] },
        ns: { NS: ['1', '2'] },
        bs: { BS: [Uint8Array.from([1]), Uint8Array.from([2])] },
        map: { M: { nested: { L: [{ S: 'a' }, { N: '1' }, { NULL: true }, { BOOL: false }] } } },
      };
      await put(dbA, a.tables.Jobs!, job);
      expect(await get(dbB, b.tables.Jobs!, key('tenant#one', 'job#1'))).toBeUndefined();
      expect((await aToB.pump()).applied).toBe(1);
      expect(await get(dbB, b.tables.Jobs!, key('tenant#one', 'job#1'))).toEqual(
        await get(dbA, a.tables.Jobs!, key('tenant#one', 'job#1')),
      );

      await dbA.send(
        new UpdateItemCommand({
          TableName: a.tables.Jobs!,
          Key: key('tenant#one', 'job#1'),
          UpdateExpression: 'SET s = :s REMOVE bin',
          ExpressionAttributeValues: { ':s': { S: 'changed' } },
        }),
      );
      await put(dbA, a.tables.Runs!, { ...key('run#1'), state: { S: 'running' } });
      const second = await aToB.pump();
      expect(second.applied).toBe(2);
      expect(second.lastChangeAt).toBeInstanceOf(Date);
      const updated = await get(dbB, b.tables.Jobs!, key('tenant#one', 'job#1'));
      expect(updated?.s).toEqual({ S: 'changed' });
      expect(updated?.bin).toBeUndefined();
      expect(await get(dbB, b.tables.Runs!, key('run#1'))).toEqual({
        ...key('run#1'),
        state: { S: 'running' },
      });

      await dbA.send(new DeleteItemCommand({ TableName: a.tables.Jobs!, Key: key('tenant#one', 'job#1') }));
      expect((await aToB.pump()).applied).toBe(1);
      expect(await get(dbB, b.tables.Jobs!, key('tenant#one', 'job#1'))).toBeUndefined();
      // Caught up: nothing more to copy.
      expect(await aToB.pump()).toEqual({ records: 0, applied: 0, lastChangeAt: undefined });
      expect(aToB.stats()).toMatchObject({ applied: 4, errors: 0, pending: 0 });
    } finally {
      await aToB.stop();
    }
  });

  it('copies many items of both tables in one pump, each item in its stream order', async () => {
    const aToB = replicator({ from: a, to: b, startAt: 'LATEST' });
    await aToB.start();
    try {
      for (let i = 0; i < 30; i++) {
        await put(dbA, a.tables.Runs!, { ...key(`many#${i}`), step: { N: '1' } });
        await put(dbA, a.tables.Jobs!, { ...key(`many#${i}`), step: { N: '1' } });
      }
      // The same item three times in a row: the last one stands.
      for (const step of ['2', '3', '4'])
        await put(dbA, a.tables.Runs!, { ...key('many#0'), step: { N: step } });
      const result = await aToB.pump();
      expect(result).toMatchObject({ records: 63, applied: 63 });
      for (let i = 0; i < 30; i++) {
        expect(await get(dbB, b.tables.Jobs!, key(`many#${i}`))).toBeDefined();
      }
      expect((await get(dbB, b.tables.Runs!, key('many#0')))?.step).toEqual({ N: '4' });
      expect((await get(dbB, b.tables.Runs!, key('many#29')))?.step).toEqual({ N: '1' });
    } finally {
      await aToB.stop();
    }
  });

  it('keeps a record whose write failed and applies it at the next pump, never skipping it', async () => {
    // The replica table does not exist yet: the write fails, the record waits.
    const missing = 'sundial-local-jobs-later';
    const aToB = replicator({
      from: a,
      to: { ...b, tables: { ...b.tables, Jobs: missing } },
      startAt: 'LATEST',
    });
    await aToB.start();
    try {
      await put(dbA, a.tables.Jobs!, { ...key('retry#1'), v: { S: 'first' } });
      await put(dbA, a.tables.Jobs!, { ...key('retry#1'), v: { S: 'second' } });
      await expect(aToB.pump()).rejects.toThrow(/non-existent table|not found|ResourceNotFound/i);
      expect(aToB.stats()).toMatchObject({ applied: 0, errors: 1, pending: 2 });
      await dbB.send(new CreateTableCommand(tableInput(JOBS_TABLE, missing)));
      expect((await aToB.pump()).applied).toBe(2);
      expect(await get(dbB, missing, key('retry#1'))).toEqual({ ...key('retry#1'), v: { S: 'second' } });
      expect(aToB.stats()).toMatchObject({ pending: 0 });
    } finally {
      await aToB.stop();
    }
  });

  it('reads a closed shard before its children, and finds the children of a shard closing meanwhile', async () => {
    // DynamoDB Local keeps one shard for hours; the rollover is played by a mocked streams client
    // (writes still go to the real replica).
    const streams = mockClient(DynamoDBStreamsClient);
    try {
      const record = (seq: number, step: string): _Record => ({
        eventName: seq === 1 ? 'INSERT' : 'MODIFY',
        dynamodb: {
          Keys: key('rollover'),
          NewImage: { ...key('rollover'), step: { S: step } },
          SequenceNumber: String(seq).padStart(21, '0'),
          ApproximateCreationDateTime: new Date(),
        },
      });
      const parent = {
        ShardId: 'shard-parent',
        SequenceNumberRange: { StartingSequenceNumber: '1', EndingSequenceNumber: '2' },
      };
      const child = {
        ShardId: 'shard-child',
        ParentShardId: 'shard-parent',
        SequenceNumberRange: { StartingSequenceNumber: '3' },
      };
      const grandchild = {
        ShardId: 'shard-grandchild',
        ParentShardId: 'shard-child',
        SequenceNumberRange: { StartingSequenceNumber: '5' },
      };
      let childClosed = false;
      const read: string[] = [];
      // The child is listed first: order must come from the parent links, not the list.
      streams.on(DescribeStreamCommand).callsFake(() => ({
        StreamDescription: { Shards: childClosed ? [child, parent, grandchild] : [child, parent] },
      }));
      streams.on(GetShardIteratorCommand).callsFake((input) => ({ ShardIterator: `${input.ShardId}@0` }));
      streams.on(GetRecordsCommand).callsFake((input) => {
        const [shard, page] = (input.ShardIterator as string).split('@') as [string, string];
        read.push(`${shard}@${page}`);
        const next = `${shard}@${Number(page) + 1}`;
        if (shard === 'shard-parent') {
          return page === '0'
            ? { Records: [record(1, 'p1'), record(2, 'p2')], NextShardIterator: next }
            : { Records: [] };
        }
        if (shard === 'shard-child') {
          if (page === '0') return { Records: [record(3, 'c1')], NextShardIterator: next };
          if (page === '1') {
            childClosed = true;
            return { Records: [record(4, 'c2')] };
          }
        }
        if (shard === 'shard-grandchild' && page === '0') {
          return { Records: [record(5, 'g1')], NextShardIterator: next };
        }
        return { Records: [], NextShardIterator: next };
      });
      const aToB = replicator({
        from: { ...a, tables: { Jobs: a.tables.Jobs! } },
        to: b,
        startAt: 'TRIM_HORIZON',
      });
      await aToB.start();
      const result = await aToB.pump();
      await aToB.stop();
      expect(result.applied).toBe(5);
      expect(read).toEqual([
        'shard-parent@0',
        'shard-parent@1',
        'shard-child@0',
        'shard-child@1',
        'shard-grandchild@0',
        'shard-grandchild@1',
      ]);
    } finally {
      streams.restore();
    }
    expect((await get(dbB, b.tables.Jobs!, key('rollover')))?.step).toEqual({ S: 'g1' });
  });
});

describe('both ways', () => {
  it('copies each region’s writes to the other at once, and its own writes do not come back', async () => {
    const pair = replicateBothWays(a, b, { startAt: 'LATEST' });
    await pair.start();
    try {
      await put(dbA, a.tables.Jobs!, { ...key('from-a'), v: { S: 'a' } });
      await put(dbB, b.tables.Runs!, { ...key('from-b'), v: { S: 'b' } });
      const first = await pair.pump();
      expect(first.aToB.applied).toBe(1);
      expect(first.bToA.applied).toBe(1);
      expect(await get(dbB, b.tables.Jobs!, key('from-a'))).toEqual({ ...key('from-a'), v: { S: 'a' } });
      expect(await get(dbA, a.tables.Runs!, key('from-b'))).toEqual({ ...key('from-b'), v: { S: 'b' } });

      // A changes what B wrote; B deletes what A wrote.
      await put(dbA, a.tables.Runs!, { ...key('from-b'), v: { S: 'a changed it' } });
      await dbB.send(new DeleteItemCommand({ TableName: b.tables.Jobs!, Key: key('from-a') }));
      expect((await pair.pump()).applied).toBe(2);
      expect(await get(dbB, b.tables.Runs!, key('from-b'))).toEqual({
        ...key('from-b'),
        v: { S: 'a changed it' },
      });
      expect(await get(dbA, a.tables.Jobs!, key('from-a'))).toBeUndefined();

      // No ping-pong: the copies' own stream records change nothing and are not copied back.
      expect((await pair.pump()).applied).toBe(0);
      expect((await pair.pump()).applied).toBe(0);
      expect(pair.aToB.stats().echoes + pair.bToA.stats().echoes).toBe(4);
    } finally {
      await pair.stop();
    }
  });

  it('settles the same item written in both regions within the lag on one value in both (last writer wins)', async () => {
    const pair = replicateBothWays(a, b, { startAt: 'LATEST' });
    await pair.start();
    try {
      // B writes after A (in the same minute, or a later one): B's write wins in both regions.
      await put(dbA, a.tables.Jobs!, { ...key('active-region'), region: { S: 'local-a' } });
      await put(dbB, b.tables.Jobs!, { ...key('active-region'), region: { S: 'local-b' } });
      await pair.pump();
      await pair.pump();
      const inA = await get(dbA, a.tables.Jobs!, key('active-region'));
      expect(inA).toEqual({ ...key('active-region'), region: { S: 'local-b' } });
      expect(await get(dbB, b.tables.Jobs!, key('active-region'))).toEqual(inA);
      // And it stays settled: nothing bounces between the regions.
      expect((await pair.pump()).applied).toBe(0);
      expect((await pair.pump()).applied).toBe(0);
      expect(pair.aToB.stats().repaired + pair.bToA.stats().repaired).toBe(1);

      // A later write in A, after it saw B's, wins in turn.
      await put(dbA, a.tables.Jobs!, { ...key('active-region'), region: { S: 'local-a again' } });
      expect((await pair.pump()).applied).toBe(1);
      expect((await get(dbB, b.tables.Jobs!, key('active-region')))?.region).toEqual({ S: 'local-a again' });
      expect((await pair.pump()).applied).toBe(0);
    } finally {
      await pair.stop();
    }
  });
});

describe('a region cut off', () => {
  it('loses what was not copied at stop(); a replicator from LATEST does not copy it later, one from TRIM_HORIZON does', async () => {
    const aToB = replicator({ from: a, to: b, startAt: 'LATEST' });
    await aToB.start();
    await put(dbA, a.tables.Runs!, { ...key('before-cut'), v: { N: '1' } });
    expect((await aToB.pump()).applied).toBe(1);
    await aToB.stop();
    await expect(aToB.pump()).rejects.toThrow(/stopped/);

    await put(dbA, a.tables.Runs!, { ...key('after-cut'), v: { N: '1' } });
    expect(await get(dbB, b.tables.Runs!, key('after-cut'))).toBeUndefined();

    const fromLatest = replicator({ from: a, to: b, startAt: 'LATEST' });
    await fromLatest.start();
    expect((await fromLatest.pump()).applied).toBe(0);
    await fromLatest.stop();
    expect(await get(dbB, b.tables.Runs!, key('after-cut'))).toBeUndefined();

    // TRIM_HORIZON replays all the stream holds (24 hours on AWS): what B lacks is copied.
    const fromStart = replicator({ from: a, to: b, startAt: 'TRIM_HORIZON' });
    await fromStart.start();
    await fromStart.pump();
    await fromStart.stop();
    expect(await get(dbB, b.tables.Runs!, key('after-cut'))).toEqual({ ...key('after-cut'), v: { N: '1' } });
  });

  it('stop() in real-clock mode ends the loop at once', async () => {
    const aToB = replicator({ from: a, to: b, startAt: 'LATEST' });
    await aToB.start();
    aToB.run(20);
    await put(dbA, a.tables.Jobs!, { ...key('running'), v: { N: '1' } });
    await expect.poll(() => get(dbB, b.tables.Jobs!, key('running')), { timeout: 5000 }).toBeDefined();
    await aToB.stop();
    await put(dbA, a.tables.Jobs!, { ...key('running'), v: { N: '2' } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await get(dbB, b.tables.Jobs!, key('running')))?.v).toEqual({ N: '1' });
  });
});

describe('a KMS key shared by two local regions', () => {
  it('opens in either region what the other sealed, given the same key material, and not with another key', async () => {
    const material = Buffer.alloc(32, 7);
    const arn = (region: string) =>
      `arn:aws:kms:${region}:000000000000:key/mrk-00000000000000000000000000000000`;
    const east = await new LocalKms(arn('us-east-1'), material).start();
    const west = await new LocalKms(arn('us-west-2'), material).start();
    const other = await new LocalKms(arn('us-west-2')).start();
    const kms = (endpoint: string) =>
      new KMSClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const [eastKms, westKms, otherKms] = [kms(east.endpoint), kms(west.endpoint), kms(other.endpoint)];
    try {
      const context = { tenantId: 'acme' };
      const { CiphertextBlob } = await eastKms.send(
        new EncryptCommand({
          KeyId: east.keyArn,
          Plaintext: Buffer.from('secret'),
          EncryptionContext: context,
        }),
      );
      const opened = await westKms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context }));
      expect(Buffer.from(opened.Plaintext!).toString()).toBe('secret');
      expect(opened.KeyId).toBe(arn('us-west-2'));
      await expect(
        otherKms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context })),
      ).rejects.toThrow(/invalid ciphertext/);
      expect(() => new LocalKms(arn('us-east-1'), Buffer.alloc(16))).toThrow(/32 bytes/);
    } finally {
      for (const c of [eastKms, westKms, otherKms]) c.destroy();
      await Promise.all([east.stop(), west.stop(), other.stop()]);
    }
  });
});
