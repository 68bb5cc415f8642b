/**
 * Jobs in DynamoDB. Every key carries the tenant: pk = TENANT#<tenant>, sk = JOB#<id>.
 * A job whose EventBridge schedule may be stale carries a sync marker (syncShard,
 * syncPendingAt) that puts it in the sparse `bySyncPending` index until the schedule
 * has been applied; the sweeper repairs what a crash left behind (invariant 1).
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { SYNC_SHARDS } from '../../lib/definitions.js';
import { IdempotencyConflictError, QuotaExceededError, ValidationError } from '../domain/errors.js';
import type { Job, StoredJob } from '../domain/job.js';
import type { IdempotencyRecord, JobRepository, ListJobsQuery, ReadOptions } from '../domain/ports.js';
import { conditionally, queryPage } from './dynamo.js';

/** Fields the worker and the dependency edges keep on the job; an edit of the job never overwrites them. */
const RUN_BOOKKEEPING = new Set(['lastSucceededAt', 'dependencyCursor', 'hasDependents']);

const JOB_PREFIX = 'JOB#';
const tenantPk = (tenantId: string) => `TENANT#${tenantId}`;
const jobSk = (jobId: string) => `${JOB_PREFIX}${jobId}`;
/** A dependency edge, stored under the job depended on so its dependents are one Query away. */
const dependentPrefix = (dependencyId: string) => `DEPENDENT#${dependencyId}#`;

/**
 * The writes that move a job's dependency edges: for each dependency added, its edge and
 * its `hasDependents` flag (only while it exists and is not being deleted); for each
 * removed, its edge. The flag updates come right after the `added.length` edge puts.
 */
function edgeOps(
  tableName: string,
  job: Pick<Job, 'tenantId' | 'id'>,
  added: readonly string[],
  removed: readonly string[],
) {
  const key = (dependencyId: string) => ({
    pk: tenantPk(job.tenantId),
    sk: `${dependentPrefix(dependencyId)}${job.id}`,
  });
  return [
    ...added.map((d) => ({
      Put: { TableName: tableName, Item: { ...key(d), type: 'dependency', jobId: job.id, dependsOn: d } },
    })),
    ...added.map((d) => ({
      Update: {
        TableName: tableName,
        Key: { pk: tenantPk(job.tenantId), sk: jobSk(d) },
        UpdateExpression: 'SET hasDependents = :yes',
        ConditionExpression: 'attribute_exists(pk) AND #state <> :deleting',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':yes': true, ':deleting': 'deleting' },
      },
    })),
    ...removed.map((d) => ({ Delete: { TableName: tableName, Key: key(d) } })),
  ];
}

/**
 * A dependency deleted between the API's check and the transaction: its flag update's
 * condition failed. `at` is the index of the edge operations in the transaction.
 */
function goneDependency(error: TransactionCanceledException, at: number, added: readonly string[]) {
  const gone = added.find(
    (_d, i) => error.CancellationReasons?.[at + added.length + i]?.Code === 'ConditionalCheckFailed',
  );
  return gone === undefined ? undefined : ValidationError.of('dependsOn', `job ${gone} does not exist`);
}

export function syncShardFor(jobId: string): string {
  let hash = 0;
  for (const ch of jobId) hash = (hash * 31 + ch.charCodeAt(0)) | 0;
  return `SYNC#${Math.abs(hash) % SYNC_SHARDS}`;
}

export function parseJobKey(pk: string, sk: string): { tenantId: string; jobId: string } {
  return { tenantId: pk.slice('TENANT#'.length), jobId: sk.slice(JOB_PREFIX.length) };
}

function toItem(job: StoredJob, syncPendingAt: string | undefined): Record<string, unknown> {
  const { syncPendingAt: _ignored, ...rest } = job;
  return {
    pk: tenantPk(job.tenantId),
    sk: jobSk(job.id),
    type: 'job',
    ...rest,
    ...(syncPendingAt ? { syncShard: syncShardFor(job.id), syncPendingAt } : {}),
  };
}

export function jobFromItem(item: Record<string, unknown>): StoredJob {
  const { pk: _pk, sk: _sk, type: _type, syncShard: _shard, ...job } = item;
  return job as unknown as StoredJob;
}

export class JobStore implements JobRepository {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(tenantId: string, jobId: string, options?: ReadOptions): Promise<StoredJob | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: tenantPk(tenantId), sk: jobSk(jobId) },
        ConsistentRead: options?.consistent ?? true,
      }),
    );
    return Item ? jobFromItem(Item) : undefined;
  }

  /**
   * Writes a new job with its sync marker, its dependency edges and, with `maxJobs`, the
   * tenant's job count, in one transaction: the count is exact and the quota atomic. With
   * an idempotency record, a replay returns the job first created.
   */
  async create(
    job: Job,
    idempotency?: IdempotencyRecord,
    maxJobs?: number,
  ): Promise<{ job: StoredJob; replayed: boolean }> {
    const stored: StoredJob = { ...job, hasDependents: false };
    const now = job.createdAt;
    const put = {
      TableName: this.tableName,
      Item: toItem(stored, now),
      ConditionExpression: 'attribute_not_exists(pk)',
    };
    const items: NonNullable<TransactWriteCommandInput['TransactItems']> = [
      { Put: put },
      ...edgeOps(this.tableName, job, job.dependsOn ?? [], []),
    ];
    const counterAt = maxJobs === undefined ? -1 : items.length;
    if (maxJobs !== undefined) items.push({ Update: this.countJobs(job.tenantId, 1, maxJobs) });
    const idemKey = idempotency
      ? { pk: tenantPk(job.tenantId), sk: `IDEMPOTENCY#${idempotency.key}` }
      : undefined;
    const idempotencyAt = idempotency ? items.length : -1;
    if (idempotency && idemKey) {
      items.push({
        Put: {
          TableName: this.tableName,
          Item: {
            ...idemKey,
            type: 'idempotency',
            requestHash: idempotency.requestHash,
            jobId: job.id,
            job: stored,
            expiresAt: idempotency.expiresAt,
          },
          // An expired record may linger until TTL removes it; it no longer counts.
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now',
          ExpressionAttributeValues: { ':now': Math.floor(Date.parse(now) / 1000) },
        },
      });
    }
    try {
      if (items.length === 1) await this.db.send(new PutCommand(put));
      else await this.db.send(new TransactWriteCommand({ TransactItems: items }));
      return { job: { ...stored, syncPendingAt: now }, replayed: false };
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const failed = (at: number) =>
        at >= 0 && error.CancellationReasons?.[at]?.Code === 'ConditionalCheckFailed';
      if (failed(idempotencyAt) && idempotency && idemKey) {
        const { Item } = await this.db.send(
          new GetCommand({ TableName: this.tableName, Key: idemKey, ConsistentRead: true }),
        );
        if (!Item) throw error;
        if (Item.requestHash !== idempotency.requestHash) throw new IdempotencyConflictError();
        return { job: Item.job as StoredJob, replayed: true };
      }
      if (failed(counterAt)) {
        throw new QuotaExceededError(`the tenant has its maximum of ${maxJobs} jobs; delete some first`, 60);
      }
      throw goneDependency(error, 1, job.dependsOn ?? []) ?? error;
    }
  }

  /** The tenant's job count, moved by `delta`; with `max`, only while below it. */
  private countJobs(tenantId: string, delta: number, max?: number) {
    return {
      TableName: this.tableName,
      Key: { pk: tenantPk(tenantId), sk: 'COUNTER#jobs' },
      UpdateExpression: 'ADD jobCount :delta',
      ...(max === undefined
        ? { ExpressionAttributeValues: { ':delta': delta } }
        : {
            ConditionExpression: 'attribute_not_exists(jobCount) OR jobCount < :max',
            ExpressionAttributeValues: { ':delta': delta, ':max': max },
          }),
    };
  }

  async list(
    tenantId: string,
    query: ListJobsQuery,
  ): Promise<{ items: StoredJob[]; nextCursor: string | null }> {
    const filters: string[] = ['#state <> :deleting'];
    const names: Record<string, string> = { '#state': 'state' };
    const values: Record<string, unknown> = { ':deleting': 'deleting' };
    if (query.state) {
      filters.push('#state = :state');
      values[':state'] = query.state;
    }
    if (query.tag) {
      filters.push('#tags.#tagKey = :tagValue');
      names['#tags'] = 'tags';
      names['#tagKey'] = query.tag.key;
      values[':tagValue'] = query.tag.value;
    }
    const page = await queryPage(
      this.db,
      {
        TableName: this.tableName,
        pk: tenantPk(tenantId),
        skPrefix: JOB_PREFIX,
        FilterExpression: filters.join(' AND '),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      },
      query.limit,
      query.cursor,
    );
    return { items: page.items.map(jobFromItem), nextCursor: page.nextCursor };
  }

  /**
   * Replaces a job's fields if it is still at `expectedVersion`, sets the sync marker, and
   * moves its dependency edges from `previousDependsOn` in the same transaction. The run
   * bookkeeping the worker writes meanwhile is left as it is.
   */
  async replace(
    job: StoredJob,
    expectedVersion: number,
    syncPendingAt: string,
    previousDependsOn: readonly string[] = job.dependsOn ?? [],
  ): Promise<boolean> {
    const names: Record<string, string> = { '#state': 'state', '#version': 'version' };
    const values: Record<string, unknown> = { ':expected': expectedVersion, ':deleting': 'deleting' };
    const sets: string[] = [];
    Object.entries(toItem(job, syncPendingAt)).forEach(([field, value], i) => {
      if (field === 'pk' || field === 'sk' || RUN_BOOKKEEPING.has(field) || value === undefined) return;
      names[`#f${i}`] = field;
      values[`:v${i}`] = value;
      sets.push(`#f${i} = :v${i}`);
    });
    const update = {
      TableName: this.tableName,
      Key: { pk: tenantPk(job.tenantId), sk: jobSk(job.id) },
      UpdateExpression: `SET ${sets.join(', ')}`,
      ConditionExpression: 'attribute_exists(pk) AND #version = :expected AND #state <> :deleting',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    };
    const next = job.dependsOn ?? [];
    const added = next.filter((d) => !previousDependsOn.includes(d));
    const edges = edgeOps(
      this.tableName,
      job,
      added,
      previousDependsOn.filter((d) => !next.includes(d)),
    );
    if (edges.length === 0) return conditionally(() => this.db.send(new UpdateCommand(update)));
    try {
      await this.db.send(new TransactWriteCommand({ TransactItems: [{ Update: update }, ...edges] }));
      return true;
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      // The job's own condition first: a stale version is the caller's to resolve.
      if (error.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed') return false;
      throw goneDependency(error, 1, added) ?? error;
    }
  }

  /** The ids of the jobs that list `jobId` in their dependsOn (edges may be stale: check). */
  async listDependents(tenantId: string, jobId: string): Promise<string[]> {
    const ids: string[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': tenantPk(tenantId), ':prefix': dependentPrefix(jobId) },
          ProjectionExpression: 'jobId',
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) ids.push(item.jobId as string);
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return ids;
  }

  /** Moves a job's dependency cursor forward to `to`; false if it is already there or beyond. */
  advanceDependencyCursor(tenantId: string, jobId: string, to: string): Promise<boolean> {
    return conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: tenantPk(tenantId), sk: jobSk(jobId) },
          UpdateExpression: 'SET dependencyCursor = :to',
          ConditionExpression:
            'attribute_exists(pk) AND (attribute_not_exists(dependencyCursor) OR dependencyCursor < :to)',
          ExpressionAttributeValues: { ':to': to },
        }),
      ),
    );
  }

  /**
   * Removes the sync marker only if nobody changed the job since `version` was applied;
   * with `syncedAt`, records it as the job's `scheduleSyncedAt` in the same write.
   */
  clearSyncMarker(tenantId: string, jobId: string, version: number, syncedAt?: string): Promise<boolean> {
    return conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: tenantPk(tenantId), sk: jobSk(jobId) },
          UpdateExpression: `${syncedAt ? 'SET scheduleSyncedAt = :at ' : ''}REMOVE syncShard, syncPendingAt`,
          ConditionExpression: 'version = :v',
          ExpressionAttributeValues: { ':v': version, ...(syncedAt ? { ':at': syncedAt } : {}) },
        }),
      ),
    );
  }

  /** Deletes the job item, its edges and its place in the tenant's job count once its schedule is gone, unless it changed meanwhile. */
  deleteIfVersion(job: Pick<StoredJob, 'tenantId' | 'id' | 'version' | 'dependsOn'>): Promise<boolean> {
    const remove = {
      TableName: this.tableName,
      Key: { pk: tenantPk(job.tenantId), sk: jobSk(job.id) },
      ConditionExpression: 'version = :v',
      ExpressionAttributeValues: { ':v': job.version },
    };
    const edges = edgeOps(this.tableName, job, [], job.dependsOn ?? []);
    return conditionally(() =>
      this.db.send(
        new TransactWriteCommand({
          TransactItems: [{ Delete: remove }, ...edges, { Update: this.countJobs(job.tenantId, -1) }],
        }),
      ),
    );
  }

  /**
   * Records when the job last succeeded, for its dependents (only jobs that have any are
   * written to). Not a version bump: a run is not an edit, so it must not make a client's
   * If-Match stale. An older success never overwrites a newer one.
   */
  async recordSuccess(tenantId: string, jobId: string, finishedAt: string): Promise<void> {
    await conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: tenantPk(tenantId), sk: jobSk(jobId) },
          UpdateExpression: 'SET lastSucceededAt = :finished',
          ConditionExpression:
            'attribute_exists(pk) AND (attribute_not_exists(lastSucceededAt) OR lastSucceededAt < :finished)',
          ExpressionAttributeValues: { ':finished': finishedAt },
        }),
      ),
    );
  }

  /** Every job of every tenant, page by page: for maintenance (the reconciler) only. */
  async *scanAll(pageSize = 500): AsyncGenerator<StoredJob> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: '#type = :job',
          ExpressionAttributeNames: { '#type': 'type' },
          ExpressionAttributeValues: { ':job': 'job' },
          ExclusiveStartKey: startKey,
          Limit: pageSize,
        }),
      );
      for (const item of page.Items ?? []) yield jobFromItem(item);
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }

  /** Jobs whose sync marker is older than `before`, oldest first, from one shard. */
  async listSyncPending(
    shard: number,
    before: string,
    limit: number,
  ): Promise<{ tenantId: string; jobId: string }[]> {
    const { Items } = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'bySyncPending',
        KeyConditionExpression: 'syncShard = :shard AND syncPendingAt < :before',
        ExpressionAttributeValues: { ':shard': `SYNC#${shard}`, ':before': before },
        Limit: limit,
      }),
    );
    return (Items ?? []).map((item) => parseJobKey(item.pk as string, item.sk as string));
  }
}
