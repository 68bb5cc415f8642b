/**
 * Jobs in DynamoDB. Every key carries the tenant: pk = TENANT#<tenant>, sk = JOB#<id>.
 * A job whose EventBridge schedule may be stale carries a sync marker (syncShard,
 * syncPendingAt) that puts it in the sparse `bySyncPending` index until the schedule
 * has been applied; the sweeper repairs what a crash left behind (invariant 1).
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { SYNC_SHARDS } from '../../lib/definitions.js';
import { IdempotencyConflictError } from '../domain/errors.js';
import type { Job, JobState, RunSummary, StoredJobState } from '../domain/job.js';
import { conditionally, queryPage } from './dynamo.js';

export interface StoredJob extends Omit<Job, 'state'> {
  state: StoredJobState;
  syncPendingAt?: string;
}

export interface ListJobsQuery {
  limit: number;
  cursor?: string;
  state?: JobState;
  tag?: { key: string; value: string };
}

export interface IdempotencyRecord {
  key: string;
  requestHash: string;
  expiresAt: number;
}

const JOB_PREFIX = 'JOB#';
const tenantPk = (tenantId: string) => `TENANT#${tenantId}`;
const jobSk = (jobId: string) => `${JOB_PREFIX}${jobId}`;

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

function fromItem(item: Record<string, unknown>): StoredJob {
  const { pk: _pk, sk: _sk, type: _type, syncShard: _shard, ...job } = item;
  return job as unknown as StoredJob;
}

export class JobStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(tenantId: string, jobId: string): Promise<StoredJob | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: tenantPk(tenantId), sk: jobSk(jobId) },
        ConsistentRead: true,
      }),
    );
    return Item ? fromItem(Item) : undefined;
  }

  /**
   * Writes a new job with its sync marker. With an idempotency record, the job and the
   * record are written in one transaction; a replay returns the job first created.
   */
  async create(job: Job, idempotency?: IdempotencyRecord): Promise<{ job: StoredJob; replayed: boolean }> {
    const stored: StoredJob = { ...job };
    const now = job.createdAt;
    const put = {
      TableName: this.tableName,
      Item: toItem(stored, now),
      ConditionExpression: 'attribute_not_exists(pk)',
    };
    if (!idempotency) {
      await this.db.send(new PutCommand(put));
      return { job: { ...stored, syncPendingAt: now }, replayed: false };
    }
    const idemKey = { pk: tenantPk(job.tenantId), sk: `IDEMPOTENCY#${idempotency.key}` };
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: put },
            {
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
            },
          ],
        }),
      );
      return { job: { ...stored, syncPendingAt: now }, replayed: false };
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const { Item } = await this.db.send(
        new GetCommand({ TableName: this.tableName, Key: idemKey, ConsistentRead: true }),
      );
      if (!Item) throw error;
      if (Item.requestHash !== idempotency.requestHash) throw new IdempotencyConflictError();
      return { job: Item.job as StoredJob, replayed: true };
    }
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
    return { items: page.items.map(fromItem), nextCursor: page.nextCursor };
  }

  /** Replaces a job's fields if it is still at `expectedVersion`; sets the sync marker. */
  async replace(job: StoredJob, expectedVersion: number, syncPendingAt: string): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: toItem(job, syncPendingAt),
        ConditionExpression: 'attribute_exists(pk) AND version = :expected AND #state <> :deleting',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':expected': expectedVersion, ':deleting': 'deleting' },
      }),
    );
  }

  /** Removes the sync marker only if nobody changed the job since `version` was applied. */
  clearSyncMarker(tenantId: string, jobId: string, version: number): Promise<boolean> {
    return conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: tenantPk(tenantId), sk: jobSk(jobId) },
          UpdateExpression: 'REMOVE syncShard, syncPendingAt',
          ConditionExpression: 'version = :v',
          ExpressionAttributeValues: { ':v': version },
        }),
      ),
    );
  }

  /** Deletes the job item once its schedule is gone, unless it changed meanwhile. */
  deleteIfVersion(tenantId: string, jobId: string, version: number): Promise<boolean> {
    return conditionally(() =>
      this.db.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { pk: tenantPk(tenantId), sk: jobSk(jobId) },
          ConditionExpression: 'version = :v',
          ExpressionAttributeValues: { ':v': version },
        }),
      ),
    );
  }

  /**
   * Records the latest run summary on the job without bumping its version (a run is not
   * an edit, so it must not make a client's If-Match stale). Older runs never overwrite newer.
   */
  async recordLastRun(
    tenantId: string,
    jobId: string,
    summary: RunSummary,
    nextRunAt: string | null,
  ): Promise<void> {
    await conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: tenantPk(tenantId), sk: jobSk(jobId) },
          UpdateExpression: 'SET lastRun = :run, nextRunAt = :next',
          ConditionExpression:
            'attribute_exists(pk) AND (attribute_not_exists(lastRun) OR lastRun = :null OR lastRun.scheduledAt <= :scheduledAt)',
          ExpressionAttributeValues: {
            ':run': summary,
            ':next': nextRunAt,
            ':null': null,
            ':scheduledAt': summary.scheduledAt,
          },
        }),
      ),
    );
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
