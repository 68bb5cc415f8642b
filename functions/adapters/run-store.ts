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
import type { RunExpiry } from '../../lib/definitions.js';
import type { RunSummary } from '../domain/job.js';
import { watchShardKey, watchShardOf } from '../domain/long-run.js';
import type {
  AttemptPointer,
  ClaimResult,
  Heartbeat,
  LongWrite,
  ReadOptions,
  RunExpectation,
  RunRepository,
} from '../domain/ports.js';
import type { LongOutcome, RunStatus, StoredRun } from '../domain/run.js';
import { conditionally, isConditionFailure, queryPage } from './dynamo.js';
import { expiryAttributes } from './record-expiry.js';

const runPk = (tenantId: string, jobId: string) => `TENANT#${tenantId}#JOB#${jobId}`;
const RUN_PREFIX = 'RUN#';
/** The overlap lock lives beside the runs, outside the RUN# range that lists read. */
const LOCK_SK = 'LOCK';
/** Attempt pointers: an attempt key (ECS startedBy, an execution name) -> its run. */
const pointerKey = (key: string) => ({ pk: `ATTEMPT#${key}`, sk: 'ATTEMPT' });
const WATCH_INDEX = 'byWatch';
/** A job's backfill line lives beside its runs and lock, outside the RUN# range. */
const BACKFILL_SK = 'BACKFILL';
const ENDED: RunStatus[] = ['succeeded', 'failed', 'skipped', 'missed', 'timed_out', 'cancelled'];

function fromItem(item: Record<string, unknown>): StoredRun {
  const { pk: _pk, sk: _sk, expiresAt: _exp, expiryShard: _shard, ...run } = item;
  return run as unknown as StoredRun;
}

export class RunStore implements RunRepository {
  private item(run: StoredRun, now: Date): Record<string, unknown> {
    const key = { pk: runPk(run.tenantId, run.jobId), sk: `${RUN_PREFIX}${run.id}` };
    return { ...key, ...run, ...expiryAttributes(this.expiry, this.expiresAt(now), key) };
  }

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly retentionDays: number,
    private readonly expiry: RunExpiry = 'ttl',
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
  putQueued(run: StoredRun, now: Date): Promise<boolean> {
    return conditionally(() =>
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: this.item(run, now),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
  }

  /** Why a run not yet running waits: a new queued record, or a queued one's wait updated. */
  async markWaiting(run: StoredRun, now: Date): Promise<boolean> {
    if (await this.putQueued(run, now)) return true;
    return conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: runPk(run.tenantId, run.jobId), sk: `${RUN_PREFIX}${run.id}` },
          UpdateExpression: 'SET nextAttemptAt = :next, waitReason = :reason',
          ConditionExpression: '#status = :queued',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':next': run.nextAttemptAt,
            ':reason': run.waitReason ?? null,
            ':queued': 'queued',
          },
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
            'SET #status = :running, attempt = :attempt, claimToken = :token, leaseUntil = :lease, startedAt = :started, nextAttemptAt = :null REMOVE waitReason',
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
  async acquireLock(
    tenantId: string,
    jobId: string,
    runId: string,
    leaseUntil: string,
    now: Date,
    token?: string,
  ): Promise<false | { previous: { leaseUntil: string; token: string | null } | null }> {
    let old: Record<string, unknown> | undefined;
    const taken = await conditionally(async () => {
      const { Attributes } = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: runPk(tenantId, jobId), sk: LOCK_SK },
          UpdateExpression:
            token === undefined
              ? 'SET holder = :me, leaseUntil = :lease REMOVE lockToken'
              : 'SET holder = :me, leaseUntil = :lease, lockToken = :token',
          ConditionExpression: 'attribute_not_exists(holder) OR leaseUntil < :now OR holder = :me',
          ExpressionAttributeValues: {
            ':me': runId,
            ':lease': leaseUntil,
            ':now': now.toISOString(),
            ...(token === undefined ? {} : { ':token': token }),
          },
          // What it was before, at no extra cost: whether this run already held it, until when, by whom.
          ReturnValues: 'ALL_OLD',
        }),
      );
      old = Attributes;
    });
    if (!taken) return false;
    const mine =
      old?.holder === runId && typeof old.leaseUntil === 'string' && old.leaseUntil >= now.toISOString();
    return {
      previous: mine
        ? {
            leaseUntil: old?.leaseUntil as string,
            token: typeof old?.lockToken === 'string' ? old.lockToken : null,
          }
        : null,
    };
  }

  async returnLock(
    tenantId: string,
    jobId: string,
    runId: string,
    token: string,
    previous: { leaseUntil: string; token: string | null } | null,
  ): Promise<void> {
    const restore = previous
      ? previous.token === null
        ? {
            UpdateExpression: 'SET leaseUntil = :lease REMOVE lockToken',
            values: { ':lease': previous.leaseUntil },
          }
        : {
            UpdateExpression: 'SET leaseUntil = :lease, lockToken = :previous',
            values: { ':lease': previous.leaseUntil, ':previous': previous.token },
          }
      : { UpdateExpression: 'REMOVE holder, leaseUntil, lockToken', values: {} };
    await conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: runPk(tenantId, jobId), sk: LOCK_SK },
          UpdateExpression: restore.UpdateExpression,
          // Only what this message wrote: a later write (the run's worker extending it) stands.
          ConditionExpression: 'holder = :me AND lockToken = :token',
          ExpressionAttributeValues: { ':me': runId, ':token': token, ...restore.values },
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
          UpdateExpression: 'REMOVE holder, leaseUntil, lockToken',
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

  /** Replaces the run if it is still as expected (status, attempt, long key, claim, no report). */
  replaceIf(run: StoredRun, expected: RunExpectation, now: Date): Promise<boolean> {
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = { ':status': expected.status, ':attempt': expected.attempt };
    const conditions = ['#status = :status', 'attempt = :attempt'];
    if (expected.key !== undefined) {
      names['#long'] = 'long';
      names['#key'] = 'key';
      values[':key'] = expected.key;
      conditions.push('#long.#key = :key');
    }
    if (expected.claimToken !== undefined) {
      values[':token'] = expected.claimToken;
      conditions.push('claimToken = :token');
    }
    if (expected.unreported) conditions.push('attribute_not_exists(reported)');
    if (expected.watched) conditions.push('attribute_exists(watchAt)');
    return conditionally(() =>
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: this.item(run, now),
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      ),
    );
  }

  async heartbeat(
    tenantId: string,
    jobId: string,
    runId: string,
    attempt: number,
    beat: Heartbeat,
  ): Promise<LongWrite> {
    const sets = ['heartbeatAt = :at'];
    const values: Record<string, unknown> = { ':at': beat.at, ':running': 'running', ':attempt': attempt };
    if (beat.progress !== undefined) {
      sets.push('progress = :progress');
      values[':progress'] = beat.progress;
    }
    if (beat.message !== undefined) {
      sets.push('progressMessage = :message');
      values[':message'] = beat.message;
    }
    return this.longWrite(tenantId, jobId, runId, attempt, {
      UpdateExpression: `SET ${sets.join(', ')}`,
      ConditionExpression: '#status = :running AND attempt = :attempt AND attribute_not_exists(reported)',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: values,
    });
  }

  report(
    tenantId: string,
    jobId: string,
    runId: string,
    attempt: number,
    outcome: LongOutcome,
    now: Date,
  ): Promise<LongWrite> {
    return this.longWrite(tenantId, jobId, runId, attempt, {
      // Due to the sweep at once: if the settle message is lost, the sweep settles it.
      UpdateExpression: 'SET reported = :outcome, watchShard = :shard, watchAt = :now',
      ConditionExpression: '#status = :running AND attempt = :attempt AND attribute_not_exists(reported)',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':outcome': outcome,
        ':shard': watchShardOf(runId),
        ':now': now.toISOString(),
        ':running': 'running',
        ':attempt': attempt,
      },
    });
  }

  /** A conditional update of a long attempt; on refusal, says whether the attempt ended or never was. */
  private async longWrite(
    tenantId: string,
    jobId: string,
    runId: string,
    attempt: number,
    update: {
      UpdateExpression: string;
      ConditionExpression: string;
      ExpressionAttributeNames: Record<string, string>;
      ExpressionAttributeValues: Record<string, unknown>;
    },
  ): Promise<LongWrite> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: runPk(tenantId, jobId), sk: `${RUN_PREFIX}${runId}` },
          ...update,
        }),
      );
      return 'ok';
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      // Refusals are rare (a late callback): one read to say which.
      return endedAttempt(await this.get(tenantId, jobId, runId), attempt);
    }
  }

  rewatch(
    tenantId: string,
    jobId: string,
    runId: string,
    expected: { attempt: number; key: string },
    next: { watchAt: string; polls: number },
  ): Promise<boolean> {
    return conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: runPk(tenantId, jobId), sk: `${RUN_PREFIX}${runId}` },
          UpdateExpression: 'SET watchAt = :watchAt, #long.polls = :polls',
          ConditionExpression:
            '#status = :running AND attempt = :attempt AND #long.#key = :key AND attribute_not_exists(reported)',
          ExpressionAttributeNames: { '#status': 'status', '#long': 'long', '#key': 'key' },
          ExpressionAttributeValues: {
            ':watchAt': next.watchAt,
            ':polls': next.polls,
            ':running': 'running',
            ':attempt': expected.attempt,
            ':key': expected.key,
          },
        }),
      ),
    );
  }

  async dueWatches(
    shard: number,
    before: string,
    limit: number,
  ): Promise<{ tenantId: string; jobId: string; runId: string }[]> {
    const { Items } = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: WATCH_INDEX,
        KeyConditionExpression: 'watchShard = :shard AND watchAt <= :before',
        ExpressionAttributeValues: { ':shard': watchShardKey(shard), ':before': before },
        Limit: limit,
      }),
    );
    return (Items ?? []).flatMap((item) => {
      const pk = /^TENANT#(.*)#JOB#([^#]+)$/.exec(String(item.pk));
      const sk = String(item.sk);
      if (!pk || !sk.startsWith(RUN_PREFIX)) return [];
      return [{ tenantId: pk[1]!, jobId: pk[2]!, runId: sk.slice(RUN_PREFIX.length) }];
    });
  }

  /** The job's backfill line: occurrences waiting their turn, and the one in progress. */
  private backfillKey(tenantId: string, jobId: string) {
    return { pk: runPk(tenantId, jobId), sk: BACKFILL_SK };
  }

  async enqueueBackfill(tenantId: string, jobId: string, scheduledTimes: readonly string[]): Promise<void> {
    if (scheduledTimes.length === 0) return;
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: this.backfillKey(tenantId, jobId),
        UpdateExpression: 'SET pending = list_append(if_not_exists(pending, :empty), :times)',
        ExpressionAttributeValues: { ':empty': [], ':times': [...scheduledTimes] },
      }),
    );
  }

  async advanceBackfill(
    tenantId: string,
    jobId: string,
    finished: string | null,
  ): Promise<string | undefined> {
    for (let tries = 0; tries < 5; tries++) {
      const { Item } = await this.db.send(
        new GetCommand({
          TableName: this.tableName,
          Key: this.backfillKey(tenantId, jobId),
          ConsistentRead: true,
        }),
      );
      const current = Item?.current as string | undefined;
      const pending = (Item?.pending as string[] | undefined) ?? [];
      // Only the occurrence in progress moves the line on; with null, only an idle line starts.
      if (finished === null ? current !== undefined : current !== finished) return undefined;
      const next = pending[0];
      if (next === undefined && finished === null) return undefined; // an idle, empty line
      const values = {
        ...(finished === null ? {} : { ':finished': finished }),
        ...(next === undefined ? {} : { ':next': next }),
      };
      const moved = await conditionally(() =>
        this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: this.backfillKey(tenantId, jobId),
            UpdateExpression:
              next === undefined ? 'REMOVE #current' : 'SET #current = :next REMOVE pending[0]',
            ConditionExpression: `${finished === null ? 'attribute_not_exists(#current)' : '#current = :finished'}${
              next === undefined ? '' : ' AND pending[0] = :next'
            }`,
            ExpressionAttributeNames: { '#current': 'current' },
            ExpressionAttributeValues: values,
          }),
        ),
      );
      if (moved) return next;
    }
    return undefined;
  }

  async putAttemptPointer(key: string, pointer: AttemptPointer, now: Date): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...pointerKey(key),
          type: 'attemptPointer',
          ...pointer,
          ...expiryAttributes(this.expiry, this.expiresAt(now), pointerKey(key)),
        },
      }),
    );
  }

  async getAttemptPointer(key: string): Promise<AttemptPointer | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: pointerKey(key) }));
    if (!Item) return undefined;
    return {
      tenantId: String(Item.tenantId),
      jobId: String(Item.jobId),
      runId: String(Item.runId),
      attempt: Number(Item.attempt),
    };
  }

  async get(
    tenantId: string,
    jobId: string,
    runId: string,
    options?: ReadOptions,
  ): Promise<StoredRun | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: runPk(tenantId, jobId), sk: `${RUN_PREFIX}${runId}` },
        ConsistentRead: options?.consistent ?? true,
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
    query: { limit: number; cursor?: string; status?: RunStatus; maxEvaluated?: number },
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
      query.maxEvaluated,
    );
    return { items: page.items.map(fromItem), nextCursor: page.nextCursor };
  }
}

/** Why a write to attempt `attempt` was refused: the attempt ended (409), or it is not in progress (404). */
export function endedAttempt(run: StoredRun | undefined, attempt: number): LongWrite {
  // No such run, or a later attempt runs: this attempt's token has expired.
  if (!run || run.attempt !== attempt) return 'stale';
  if (ENDED.includes(run.status) || run.status === 'queued' || run.reported !== undefined) return 'ended';
  return 'stale';
}
