/**
 * Runs in DynamoDB: pk = TENANT#<tenant>#JOB#<job>, sk = RUN#<runId>. A scheduled run's id
 * comes from its scheduled time, so `claim` is the conditional write that makes each
 * (job, scheduled time) run exactly once (invariant 2).
 */
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { RunSummary } from '../domain/job.js';
import type { ClaimResult, RunRepository } from '../domain/ports.js';
import type { RunStatus, StoredRun } from '../domain/run.js';
import { conditionally, queryPage } from './dynamo.js';

const runPk = (tenantId: string, jobId: string) => `TENANT#${tenantId}#JOB#${jobId}`;
const RUN_PREFIX = 'RUN#';
/** The overlap lock lives beside the runs, outside the RUN# range that lists read. */
const LOCK_SK = 'LOCK';

function fromItem(item: Record<string, unknown>): StoredRun {
  const { pk: _pk, sk: _sk, expiresAt: _exp, ...run } = item;
  return run as unknown as StoredRun;
}

export class RunStore implements RunRepository {
  private item(run: StoredRun, now: Date): Record<string, unknown> {
    return {
      pk: runPk(run.tenantId, run.jobId),
      sk: `${RUN_PREFIX}${run.id}`,
      ...run,
      expiresAt: this.expiresAt(now),
    };
  }

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly retentionDays: number,
  ) {}

  private expiresAt(now: Date): number {
    return Math.floor(now.getTime() / 1000) + this.retentionDays * 86_400;
  }

  /**
   * Claims a new run: succeeds if no record exists, or if a manual run is waiting for its
   * first attempt. Anything else is a duplicate delivery or a run to take over.
   */
  async claim(run: StoredRun, now: Date): Promise<ClaimResult> {
    const claimed = await conditionally(() =>
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: this.item(run, now),
          // A manual run waits as `queued` with attempt 0 until a worker takes it. A run whose
          // worker died is not taken here: claimAttempt does that, counting the lost attempt.
          ConditionExpression: 'attribute_not_exists(pk) OR (#status = :queued AND attempt = :zero)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':queued': 'queued', ':zero': 0 },
        }),
      ),
    );
    if (claimed) return { claimed: true, run };
    return { claimed: false, existing: await this.get(run.tenantId, run.jobId, run.id) };
  }

  /** Records a run waiting for its first attempt, unless a worker already took it. */
  async putQueued(run: StoredRun, now: Date): Promise<void> {
    await conditionally(() =>
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: this.item(run, now),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
  }

  /**
   * Claims attempt `attempt` of a run: one waiting for its retry (`queued` at attempt-1), or
   * one whose worker died during attempt `from.attempt` (`running`, lease run out). Returns
   * the claimed run, or undefined.
   */
  async claimAttempt(
    tenantId: string,
    jobId: string,
    runId: string,
    attempt: number,
    claim: { claimToken: string; leaseUntil: string; startedAt: string },
    now: Date,
    from: { status: 'queued' | 'running'; attempt: number } = { status: 'queued', attempt: attempt - 1 },
  ): Promise<StoredRun | undefined> {
    let updated: StoredRun | undefined;
    const claimed = await conditionally(async () => {
      const { Attributes } = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: runPk(tenantId, jobId), sk: `${RUN_PREFIX}${runId}` },
          UpdateExpression:
            'SET #status = :running, attempt = :attempt, claimToken = :token, leaseUntil = :lease, startedAt = :started, nextAttemptAt = :null',
          ConditionExpression:
            from.status === 'queued'
              ? '#status = :queued AND attempt = :previous'
              : '#status = :running AND attempt = :previous AND leaseUntil < :now',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':running': 'running',
            ':attempt': attempt,
            ':previous': from.attempt,
            ...(from.status === 'queued' ? { ':queued': 'queued' } : { ':now': now.toISOString() }),
            ':token': claim.claimToken,
            ':lease': claim.leaseUntil,
            ':started': claim.startedAt,
            ':null': null,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      updated = Attributes ? fromItem(Attributes) : undefined;
    });
    return claimed ? updated : undefined;
  }

  /**
   * The job's overlap lock: which run is in progress and until when (a lease, so a worker
   * that dies cannot block the job forever), and which one firing waits behind it.
   */
  acquireLock(
    tenantId: string,
    jobId: string,
    runId: string,
    leaseUntil: string,
    now: Date,
  ): Promise<boolean> {
    return conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: runPk(tenantId, jobId), sk: LOCK_SK },
          UpdateExpression: 'SET holder = :me, leaseUntil = :lease',
          ConditionExpression: 'attribute_not_exists(holder) OR leaseUntil < :now OR holder = :me',
          ExpressionAttributeValues: { ':me': runId, ':lease': leaseUntil, ':now': now.toISOString() },
        }),
      ),
    );
  }

  async readLock(
    tenantId: string,
    jobId: string,
  ): Promise<{ holder?: string; leaseUntil?: string; buffered?: string }> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: runPk(tenantId, jobId), sk: LOCK_SK },
        ConsistentRead: true,
      }),
    );
    return (Item ?? {}) as { holder?: string; leaseUntil?: string; buffered?: string };
  }

  /** Takes the single waiting place behind a live lock; false when it is taken or the lock is free. */
  bufferBehindLock(tenantId: string, jobId: string, runId: string, now: Date): Promise<boolean> {
    return conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: runPk(tenantId, jobId), sk: LOCK_SK },
          UpdateExpression: 'SET buffered = :me',
          ConditionExpression: 'leaseUntil >= :now AND (attribute_not_exists(buffered) OR buffered = :me)',
          ExpressionAttributeValues: { ':me': runId, ':now': now.toISOString() },
        }),
      ),
    );
  }

  /** Frees the lock if this run holds it, keeping the waiting place for the buffered firing. */
  async releaseLock(tenantId: string, jobId: string, runId: string): Promise<void> {
    await conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: runPk(tenantId, jobId), sk: LOCK_SK },
          UpdateExpression: 'REMOVE holder, leaseUntil',
          ConditionExpression: 'holder = :me',
          ExpressionAttributeValues: { ':me': runId },
        }),
      ),
    );
  }

  /** The buffered firing, once it runs, gives its waiting place to the next one. */
  async clearBuffered(tenantId: string, jobId: string, runId: string): Promise<void> {
    await conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: runPk(tenantId, jobId), sk: LOCK_SK },
          UpdateExpression: 'REMOVE buffered',
          ConditionExpression: 'buffered = :me',
          ExpressionAttributeValues: { ':me': runId },
        }),
      ),
    );
  }

  /** Writes a run's outcome if this worker still holds the claim. */
  finish(run: StoredRun, claimToken: string, now: Date): Promise<boolean> {
    return conditionally(() =>
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: this.item(run, now),
          ConditionExpression: 'claimToken = :token',
          ExpressionAttributeValues: { ':token': claimToken },
        }),
      ),
    );
  }

  async get(tenantId: string, jobId: string, runId: string): Promise<StoredRun | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: runPk(tenantId, jobId), sk: `${RUN_PREFIX}${runId}` },
        ConsistentRead: true,
      }),
    );
    return Item ? fromItem(Item) : undefined;
  }

  /**
   * The job's newest run, whatever its status: one Query of a single item. The worker
   * writes nothing to the job per run (two writes per run, both here); the API reads this.
   */
  async latest(tenantId: string, jobId: string): Promise<RunSummary | null> {
    const { Items } = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': runPk(tenantId, jobId), ':prefix': RUN_PREFIX },
        ExpressionAttributeNames: { '#id': 'id', '#status': 'status' },
        ProjectionExpression: '#id, #status, scheduledAt, finishedAt',
        ScanIndexForward: false,
        Limit: 1,
      }),
    );
    const item = Items?.[0];
    if (!item) return null;
    return {
      id: item.id as string,
      status: item.status as string,
      scheduledAt: item.scheduledAt as string,
      finishedAt: (item.finishedAt as string | null | undefined) ?? null,
    };
  }

  /** Newest first. */
  async list(
    tenantId: string,
    jobId: string,
    query: { limit: number; cursor?: string; status?: RunStatus },
  ): Promise<{ items: StoredRun[]; nextCursor: string | null }> {
    const page = await queryPage(
      this.db,
      {
        TableName: this.tableName,
        pk: runPk(tenantId, jobId),
        skPrefix: RUN_PREFIX,
        ScanIndexForward: false,
        ...(query.status
          ? {
              FilterExpression: '#status = :status',
              ExpressionAttributeNames: { '#status': 'status' },
              ExpressionAttributeValues: { ':status': query.status },
            }
          : {}),
      },
      query.limit,
      query.cursor,
    );
    return { items: page.items.map(fromItem), nextCursor: page.nextCursor };
  }
}
