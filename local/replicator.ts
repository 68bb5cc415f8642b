/**
 * The local stand-in for DynamoDB global tables: copies a table's changes to the same table in
 * another DynamoDB Local (another local "region"), read from the source table's DynamoDB stream
 * (local/resources.ts gives every local table a NEW_AND_OLD_IMAGES stream, as global tables need).
 *
 * Replica semantics follow global tables version 2019.11.21 in multi-Region eventual consistency
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_HowItWorks.html,
 * "Consistency and conflict resolution"; and the key facts in
 * https://docs.aws.amazon.com/prescriptive-guidance/latest/dynamodb-global-tables/overview.html):
 * - items are replicated one by one, in each item's stream order; an INSERT or MODIFY puts the
 *   record's NewImage in the replica (the whole item, as raw AttributeValues), a REMOVE (a TTL
 *   deletion too) deletes its key; a transaction's items are not replicated together;
 * - conflicting writes of one item in two regions within the replication lag are resolved by "last
 *   writer wins": every replica ends with the same, latest write. DynamoDB compares its own precise
 *   write timestamps; the stream gives us only ApproximateCreationDateTime, which DynamoDB Local
 *   rounds down to the minute (AWS to the second). So a write's version here is that time, made
 *   later than whatever the region's item held before (a Lamport clock: a write that follows another
 *   in one region's stream always wins over it), and ties go to the region whose name sorts last.
 *   Sundial writes in one active region at a time, so conflicts are rare: a firing recorded in both
 *   regions inside the lag, or the active-region item set on both sides of a partition.
 * - a replicated write is not replicated back. DynamoDB writes no stream record for a write that
 *   changes nothing (checked on DynamoDB Local in test/e2e/replicator.test.ts: a put of the same
 *   item, an update to the same value and a delete of a missing key emit none), which alone stops
 *   the echo of a plain copy; replicateBothWays also remembers its own writes and skips their
 *   stream records, which is what stops a conflict from bouncing between the regions forever.
 *
 * Use replicateBothWays for two regions both written to (standby and active swap on failover);
 * replicator() alone copies one way. stop() cuts a region off: what was not copied yet is lost, as
 * in a region lost with its replication backlog (the RPO the drill measures).
 */
import {
  type AttributeValue,
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  type _Record,
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';
import type { Logger } from '../functions/domain/ports.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './dynamodb-local.js';
import { latestStreamArn } from './resources.js';

export interface ReplicaEnd {
  /**
   * The region this end stands for: names it in logs and breaks ties between concurrent writes.
   * Both ends of a replicator must differ. Default: the endpoint.
   */
  region?: string;
  /** The DynamoDB Local endpoint (its streams are on the same endpoint). */
  endpoint: string;
  /** Table id -> table name, e.g. createTables' result { Jobs: 'sundial-local-jobs', Runs: ... }. */
  tables: Record<string, string>;
}

/** Where in the source streams a replicator starts: all they hold (24 hours), or only what follows. */
export type StartingPosition = 'TRIM_HORIZON' | 'LATEST';

export interface ReplicatorOptions {
  /** Default: TRIM_HORIZON, every record the streams hold when start() is called. */
  startAt?: StartingPosition;
  /** The SDK clients' signing region (DynamoDB Local accepts any). Default: LOCAL_REGION. */
  region?: string;
  logger?: Logger;
}

export interface PumpResult {
  /** Stream records read. */
  records: number;
  /** Writes that changed a target item (a record already there, or an echo, changes nothing). */
  applied: number;
  /** ApproximateCreationDateTime of the last record applied (minute-rounded on DynamoDB Local). */
  lastChangeAt: Date | undefined;
}

export interface ReplicatorStats extends PumpResult {
  /** Stream records recognised as this pair's own writes coming back, and skipped. */
  echoes: number;
  /** Writes back into the source region, where its own write lost to a later one ("last writer wins"). */
  repaired: number;
  /** Failed writes or reads (each retried at the next pump). */
  errors: number;
  /** Records read but not yet applied: a write failed and waits for the next pump. */
  pending: number;
  /** The wall-clock time of the last applied write. */
  lastAppliedAt: Date | undefined;
}

type Image = Record<string, AttributeValue>;

/** A write's place in "last writer wins": time, then a counter within one time, then the region. */
interface Version {
  t: number;
  n: number;
  region: string;
}

function compareVersions(a: Version, b: Version): number {
  return a.t - b.t || a.n - b.n || (a.region < b.region ? -1 : a.region > b.region ? 1 : 0);
}

interface Write {
  version: Version;
  /** Undefined: the item is deleted. */
  image: Image | undefined;
}

/**
 * What the two directions of a pair share: the winning write of every item seen, the version each
 * region's item holds as its own stream told it, and the writes made but not yet seen coming back.
 * One pump runs at a time (the lock), so a decision and its write are never interleaved with another.
 */
class ReplicaState {
  readonly winners = new Map<string, Write>();
  readonly held = new Map<string, Version>();
  readonly echoes = new Map<string, { version: Version; image: string | null }[]>();
  private lock: Promise<unknown> = Promise.resolve();

  constructor(readonly remembersEchoes: boolean) {}

  exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.lock.then(task, task);
    this.lock = run.catch(() => undefined);
    return run;
  }

  expectEcho(region: string, item: string, version: Version, image: Image | undefined): void {
    if (!this.remembersEchoes) return;
    const key = `${region}\u0000${item}`;
    const list = this.echoes.get(key) ?? [];
    list.push({ version, image: image ? canonical({ M: image }) : null });
    // A region no one reads any more (cut off) must not make this grow without end.
    if (list.length > 32) list.shift();
    this.echoes.set(key, list);
  }
}

/** A stable text for an AttributeValue: map keys and set members sorted, binaries in base64. */
export function canonical(value: AttributeValue): string {
  if (value.M) {
    const keys = Object.keys(value.M).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value.M![k]!)}`).join(',')}}`;
  }
  if (value.L) return `[${value.L.map(canonical).join(',')}]`;
  if (value.SS) return `SS${JSON.stringify([...value.SS].sort())}`;
  if (value.NS) return `NS${JSON.stringify([...value.NS].sort())}`;
  if (value.BS) return `BS${JSON.stringify(value.BS.map((b) => Buffer.from(b).toString('base64')).sort())}`;
  if (value.B) return `B${JSON.stringify(Buffer.from(value.B).toString('base64'))}`;
  if (value.S !== undefined) return `S${JSON.stringify(value.S)}`;
  if (value.N !== undefined) return `N${JSON.stringify(value.N)}`;
  if (value.BOOL !== undefined) return `BOOL${value.BOOL}`;
  if (value.NULL !== undefined) return 'NULL';
  return JSON.stringify(value);
}

interface ShardCursor {
  shardId: string;
  parentId: string | undefined;
  /** How to get the first iterator when none was got yet. */
  startAt: StartingPosition;
  iterator: string | undefined;
  /** The sequence number of the last record read, to resume after it if an iterator expires. */
  lastRead: string | undefined;
  /** Read but not yet applied (a write failed): applied first at the next pump. */
  pending: _Record[];
  /** The shard is closed and read to its end. */
  done: boolean;
}

interface TableStream {
  id: string;
  sourceTable: string;
  arn: string;
  shards: Map<string, ShardCursor>;
}

interface End {
  region: string;
  db: DynamoDBClient;
  tables: Record<string, string>;
}

class Stopped extends Error {
  constructor() {
    super('the replicator is stopped');
    this.name = 'ReplicatorStopped';
  }
}

export class StreamReplicator {
  private readonly source: End;
  private readonly target: End;
  private readonly streamsClient: DynamoDBStreamsClient;
  private readonly abort = new AbortController();
  private readonly logger: Logger | undefined;
  private readonly startAt: StartingPosition;
  private streams: TableStream[] | undefined;
  private stopped = false;
  private failing = false;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private readonly totals: ReplicatorStats = {
    records: 0,
    applied: 0,
    lastChangeAt: undefined,
    echoes: 0,
    repaired: 0,
    errors: 0,
    pending: 0,
    lastAppliedAt: undefined,
  };

  /** Use replicator() or replicateBothWays(). */
  constructor(
    from: ReplicaEnd,
    to: ReplicaEnd,
    options: ReplicatorOptions,
    private readonly state: ReplicaState,
  ) {
    const region = options.region ?? LOCAL_REGION;
    const client = (endpoint: string) =>
      new DynamoDBClient({ endpoint, region, credentials: LOCAL_CREDENTIALS });
    this.source = { region: from.region ?? from.endpoint, db: client(from.endpoint), tables: from.tables };
    this.target = { region: to.region ?? to.endpoint, db: client(to.endpoint), tables: to.tables };
    if (this.source.region === this.target.region) {
      throw new Error(`both ends are region ${this.source.region}: name them apart (ReplicaEnd.region)`);
    }
    for (const id of Object.keys(from.tables)) {
      if (!to.tables[id]) throw new Error(`table ${id} has no replica in ${this.target.region}`);
    }
    this.streamsClient = new DynamoDBStreamsClient({
      endpoint: from.endpoint,
      region,
      credentials: LOCAL_CREDENTIALS,
    });
    this.logger = options.logger;
    this.startAt = options.startAt ?? 'TRIM_HORIZON';
  }

  get from(): string {
    return this.source.region;
  }

  get to(): string {
    return this.target.region;
  }

  /** Finds each table's stream and takes its shard iterators: LATEST means "after this call". */
  async start(): Promise<void> {
    if (this.streams) return;
    const streams: TableStream[] = [];
    for (const [id, sourceTable] of Object.entries(this.source.tables)) {
      const arn = await latestStreamArn(this.source.db, sourceTable);
      const stream: TableStream = {
        id,
        sourceTable,
        arn,
        shards: new Map(),
      };
      for (const shard of await this.listShards(arn)) {
        const closed = shard.SequenceNumberRange?.EndingSequenceNumber !== undefined;
        // From LATEST a closed shard has nothing more to give; from TRIM_HORIZON all of it is read.
        const cursor = this.cursor(shard, this.startAt);
        if (this.startAt === 'LATEST' && closed) cursor.done = true;
        else cursor.iterator = await this.iterator(stream, cursor);
        stream.shards.set(cursor.shardId, cursor);
      }
      streams.push(stream);
    }
    this.streams = streams;
  }

  /**
   * Copies everything the streams hold now and returns when caught up. A failed write stops the
   * pump with its error and is tried again at the next pump, never skipped.
   */
  pump(): Promise<PumpResult> {
    return this.state.exclusive(async () => {
      if (this.stopped) throw new Stopped();
      if (!this.streams) throw new Error('start() the replicator first');
      const result: PumpResult = { records: 0, applied: 0, lastChangeAt: undefined };
      try {
        for (const stream of this.streams) await this.pumpStream(stream, result);
        if (this.failing) {
          this.failing = false;
          this.logger?.info('replication resumed', { from: this.source.region, to: this.target.region });
        }
      } catch (error) {
        if (!this.stopped) {
          this.totals.errors += 1;
          // Once per streak: a region down fails every pump of the real-clock loop.
          if (!this.failing) {
            this.logger?.warn('replication stopped at an error; retried at each next pump', {
              from: this.source.region,
              to: this.target.region,
              error: String(error),
            });
          }
          this.failing = true;
        }
        throw this.stopped ? new Stopped() : error;
      } finally {
        this.totals.pending = this.streams.reduce(
          (sum, s) => sum + [...s.shards.values()].reduce((n, c) => n + c.pending.length, 0),
          0,
        );
      }
      return result;
    });
  }

  /** Pumps every intervalMs until stop() (the real-clock mode); errors are logged and retried. */
  run(intervalMs: number): void {
    if (this.timer || this.stopped) return;
    const tick = async () => {
      this.running = this.pump().catch(() => undefined);
      await this.running;
      if (!this.stopped) this.timer = setTimeout(tick, intervalMs);
    };
    this.timer = setTimeout(tick, 0);
  }

  /** Stops at once, in the middle of a pump if need be, without flushing: what was not copied is lost. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort.abort();
    await this.running;
    // A pump queued behind the lock ends at once (stopped); wait for the one in flight, if any.
    await this.state.exclusive(async () => undefined);
    this.source.db.destroy();
    this.target.db.destroy();
    this.streamsClient.destroy();
  }

  stats(): ReplicatorStats {
    return { ...this.totals };
  }

  private cursor(shard: Shard, startAt: StartingPosition): ShardCursor {
    return {
      shardId: shard.ShardId!,
      parentId: shard.ParentShardId,
      startAt,
      iterator: undefined,
      lastRead: undefined,
      pending: [],
      done: false,
    };
  }

  private async listShards(arn: string): Promise<Shard[]> {
    const shards: Shard[] = [];
    let exclusiveStartShardId: string | undefined;
    do {
      const { StreamDescription } = await this.streamsClient.send(
        new DescribeStreamCommand({ StreamArn: arn, ExclusiveStartShardId: exclusiveStartShardId }),
        { abortSignal: this.abort.signal },
      );
      shards.push(...(StreamDescription?.Shards ?? []));
      exclusiveStartShardId = StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStartShardId);
    return shards;
  }

  private async iterator(stream: TableStream, cursor: ShardCursor): Promise<string | undefined> {
    const { ShardIterator } = await this.streamsClient.send(
      new GetShardIteratorCommand({
        StreamArn: stream.arn,
        ShardId: cursor.shardId,
        ...(cursor.lastRead
          ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: cursor.lastRead }
          : { ShardIteratorType: cursor.startAt }),
      }),
      { abortSignal: this.abort.signal },
    );
    return ShardIterator;
  }

  private async pumpStream(stream: TableStream, result: PumpResult): Promise<void> {
    for (;;) {
      // Shards roll over: a closed shard's children appear in the stream's description. A child is
      // read only after its parent (or once its parent is gone from the stream), keeping item order.
      for (const shard of await this.listShards(stream.arn)) {
        if (!stream.shards.has(shard.ShardId!)) {
          // A shard made since start(): all of it follows the starting point.
          stream.shards.set(shard.ShardId!, this.cursor(shard, 'TRIM_HORIZON'));
        }
      }
      let closedOne = false;
      for (const cursor of stream.shards.values()) {
        if (cursor.done) continue;
        const parent = cursor.parentId ? stream.shards.get(cursor.parentId) : undefined;
        if (parent && !parent.done) continue;
        if (await this.drainShard(stream, cursor, result)) closedOne = true;
      }
      if (!closedOne) return;
    }
  }

  /** Reads a shard until it has nothing more now; true when it turned out closed and read to its end. */
  private async drainShard(stream: TableStream, cursor: ShardCursor, result: PumpResult): Promise<boolean> {
    for (;;) {
      while (cursor.pending.length > 0) {
        await this.apply(stream, cursor.pending[0]!, result);
        cursor.pending.shift();
      }
      if (cursor.done) return true;
      if (!cursor.iterator) {
        cursor.iterator = await this.iterator(stream, cursor);
        if (!cursor.iterator) {
          cursor.done = true;
          return true;
        }
      }
      let page: { Records?: _Record[]; NextShardIterator?: string };
      try {
        page = await this.streamsClient.send(
          new GetRecordsCommand({ ShardIterator: cursor.iterator, Limit: 1000 }),
          {
            abortSignal: this.abort.signal,
          },
        );
      } catch (error) {
        const name = (error as Error).name;
        if (name === 'ExpiredIteratorException') {
          // Iterators last 15 minutes: take a new one after the last record read (with none read
          // yet, at the starting point again: from LATEST, what came meanwhile is skipped).
          cursor.iterator = undefined;
          continue;
        }
        if (name === 'TrimmedDataAccessException') {
          // DynamoDB Local fails an iterator taken while its shard was empty once a record is
          // written (test/e2e/replicator.test.ts): with nothing read yet, all the shard holds
          // follows the starting point, so it is read from TRIM_HORIZON. After a record read, it
          // means what it says on AWS: records older than the stream's 24 hours are gone.
          if (cursor.lastRead !== undefined) {
            this.logger?.warn('stream records were trimmed before they were replicated', {
              from: this.source.region,
              table: stream.sourceTable,
              shard: cursor.shardId,
            });
          }
          cursor.iterator = undefined;
          cursor.lastRead = undefined;
          cursor.startAt = 'TRIM_HORIZON';
          continue;
        }
        throw error;
      }
      const records = page.Records ?? [];
      result.records += records.length;
      this.totals.records += records.length;
      cursor.pending = records;
      if (records.length > 0) cursor.lastRead = records.at(-1)!.dynamodb?.SequenceNumber;
      cursor.iterator = page.NextShardIterator;
      // No next iterator: the shard is closed and this was its end.
      if (!page.NextShardIterator) cursor.done = true;
      // An empty page of an open shard: caught up (DynamoDB Local has no empty stretches to skip).
      if (records.length === 0) {
        return cursor.done;
      }
    }
  }

  /** Applies one stream record; state changes only once its write has succeeded. */
  private async apply(stream: TableStream, record: _Record, result: PumpResult): Promise<void> {
    if (this.stopped) throw new Stopped();
    const data = record.dynamodb;
    if (!data?.Keys) return;
    const keys = data.Keys as Image;
    const item = `${stream.id}\u0000${canonical({ M: keys })}`;
    const image = record.eventName === 'REMOVE' ? undefined : (data.NewImage as Image | undefined);
    if (record.eventName !== 'REMOVE' && !image) {
      throw new Error(`stream of ${stream.sourceTable} has no NewImage: it needs NEW_AND_OLD_IMAGES`);
    }
    const here = `${this.source.region}\u0000${item}`;
    const winner = this.state.winners.get(item);

    // Our own write coming back: the source region now holds that version.
    const expected = this.state.echoes.get(here);
    const text = image ? canonical({ M: image }) : null;
    const echo = expected?.findIndex((e) => e.image === text) ?? -1;
    if (expected && echo >= 0) {
      const { version } = expected[echo]!;
      if (winner && compareVersions(version, winner.version) < 0) {
        // A later write won meanwhile: the source region gets it back.
        if (await this.write(this.source, stream.id, keys, winner, item)) this.totals.repaired += 1;
      }
      expected.splice(0, echo + 1);
      if (expected.length === 0) this.state.echoes.delete(here);
      this.state.held.set(here, version);
      this.totals.echoes += 1;
      return;
    }

    // A write made in the source region: later than whatever its item held before.
    const held = this.state.held.get(here);
    const t = data.ApproximateCreationDateTime?.getTime() ?? Date.now();
    const version: Version =
      held && held.t >= t
        ? { t: held.t, n: held.n + 1, region: this.source.region }
        : { t, n: 0, region: this.source.region };
    if (!winner || compareVersions(version, winner.version) > 0) {
      const write = { version, image };
      if (await this.write(this.target, stream.id, keys, write, item)) {
        result.applied += 1;
        this.totals.applied += 1;
        this.totals.lastAppliedAt = new Date();
        if (data.ApproximateCreationDateTime) {
          result.lastChangeAt = data.ApproximateCreationDateTime;
          this.totals.lastChangeAt = data.ApproximateCreationDateTime;
        }
      }
      this.state.winners.set(item, write);
    } else if (await this.write(this.source, stream.id, keys, winner, item)) {
      // It lost to a concurrent, later write of the other region: that one stands here too.
      this.totals.repaired += 1;
    }
    this.state.held.set(here, version);
  }

  /** Puts or deletes the item as written; true when that changed it (and a stream record follows). */
  private async write(end: End, tableId: string, keys: Image, write: Write, item: string): Promise<boolean> {
    const TableName = end.tables[tableId]!;
    const options = { abortSignal: this.abort.signal };
    let changed: boolean;
    if (write.image) {
      const { Attributes } = await end.db.send(
        new PutItemCommand({ TableName, Item: write.image, ReturnValues: 'ALL_OLD' }),
        options,
      );
      changed = !Attributes || canonical({ M: Attributes }) !== canonical({ M: write.image });
    } else {
      const { Attributes } = await end.db.send(
        new DeleteItemCommand({ TableName, Key: keys, ReturnValues: 'ALL_OLD' }),
        options,
      );
      changed = Attributes !== undefined;
    }
    if (changed) this.state.expectEcho(end.region, item, write.version, write.image);
    return changed;
  }
}

/** One way, from one region's tables to the other's. For two regions both written to, see replicateBothWays. */
export function replicator(
  options: ReplicatorOptions & { from: ReplicaEnd; to: ReplicaEnd },
): StreamReplicator {
  return new StreamReplicator(options.from, options.to, options, new ReplicaState(false));
}

export interface ReplicaPair {
  aToB: StreamReplicator;
  bToA: StreamReplicator;
  start(): Promise<void>;
  /** Pumps A to B, then B to A. */
  pump(): Promise<{ aToB: PumpResult; bToA: PumpResult; applied: number }>;
  run(intervalMs: number): void;
  stop(): Promise<void>;
}

/** Both ways between two regions, as a two-replica global table: echoes skipped, conflicts resolved. */
export function replicateBothWays(
  a: ReplicaEnd,
  b: ReplicaEnd,
  options: ReplicatorOptions = {},
): ReplicaPair {
  const state = new ReplicaState(true);
  const aToB = new StreamReplicator(a, b, options, state);
  const bToA = new StreamReplicator(b, a, options, state);
  return {
    aToB,
    bToA,
    start: async () => {
      await Promise.all([aToB.start(), bToA.start()]);
    },
    pump: async () => {
      const one = await aToB.pump();
      const other = await bToA.pump();
      return { aToB: one, bToA: other, applied: one.applied + other.applied };
    },
    run: (intervalMs) => {
      aToB.run(intervalMs);
      bToA.run(intervalMs);
    },
    stop: async () => {
      await Promise.all([aToB.stop(), bToA.stop()]);
    },
  };
}
