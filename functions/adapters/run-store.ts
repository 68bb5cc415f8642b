/**
 * Runs in DynamoDB: pk = TENANT#<tenant>#JOB#<job>, sk = RUN#<runId>. A scheduled run's id
 * comes from its scheduled time, so `claim` is the conditional write that makes each
 * (job, scheduled time) run exactly once (invariant 2).
 */
import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ValidationError } from '../domain/errors.js';
import type { Run, RunStatus } from '../domain/run.js';
import { isConditionFailure } from './job-store.js';

const runPk = (tenantId: string, jobId: string) => `TENANT#${tenantId}#JOB#${jobId}`;
const RUN_PREFIX = 'RUN#';

export interface StoredRun extends Run {
  /** Until when the claiming worker owns a running run; a later claim may take it over. */
  leaseUntil?: string;
  claimToken?: string;
}

export type ClaimResult =
  | { claimed: true; run: StoredRun }
  | { claimed: false; existing: StoredRun | undefined };

function fromItem(item: Record<string, unknown>): StoredRun {
  const { pk: _pk, sk: _sk, expiresAt: _exp, ...run } = item;
  return run as unknown as StoredRun;
}

export class RunStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly retentionDays: number,
  ) {}

  private expiresAt(now: Date): number {
    return Math.floor(now.getTime() / 1000) + this.retentionDays * 86_400;
  }

  /**
   * Claims a run: succeeds if no record exists, or if a previous claim is still `running`
   * but its lease has expired (its worker died). Anything else is a duplicate delivery.
   */
  async claim(run: StoredRun, now: Date): Promise<ClaimResult> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: runPk(run.tenantId, run.jobId),
            sk: `${RUN_PREFIX}${run.id}`,
            ...run,
            expiresAt: this.expiresAt(now),
          },
          ConditionExpression: 'attribute_not_exists(pk) OR (#status = :running AND leaseUntil < :now)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':running': 'running', ':now': now.toISOString() },
        }),
      );
      return { claimed: true, run };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      return { claimed: false, existing: await this.get(run.tenantId, run.jobId, run.id) };
    }
  }

  /** Writes a run's outcome if this worker still holds the claim. */
  async finish(run: StoredRun, claimToken: string, now: Date): Promise<boolean> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: runPk(run.tenantId, run.jobId),
            sk: `${RUN_PREFIX}${run.id}`,
            ...run,
            expiresAt: this.expiresAt(now),
          },
          ConditionExpression: 'claimToken = :token',
          ExpressionAttributeValues: { ':token': claimToken },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
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

  /** Newest first. */
  async list(
    tenantId: string,
    jobId: string,
    query: { limit: number; cursor?: string; status?: RunStatus },
  ): Promise<{ items: StoredRun[]; nextCursor: string | null }> {
    const values: Record<string, unknown> = { ':pk': runPk(tenantId, jobId), ':prefix': RUN_PREFIX };
    if (query.status) values[':status'] = query.status;
    let startKey = query.cursor ? decodeCursor(tenantId, jobId, query.cursor) : undefined;
    const items: StoredRun[] = [];
    let evaluated = 0;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ...(query.status
            ? { FilterExpression: '#status = :status', ExpressionAttributeNames: { '#status': 'status' } }
            : {}),
          ExpressionAttributeValues: values,
          ScanIndexForward: false,
          ExclusiveStartKey: startKey,
          Limit: query.limit - items.length,
        }),
      );
      for (const item of page.Items ?? []) items.push(fromItem(item));
      evaluated += page.ScannedCount ?? 0;
      startKey = page.LastEvaluatedKey;
    } while (startKey && items.length < query.limit && evaluated < 1000);
    return {
      items,
      nextCursor: startKey ? Buffer.from(JSON.stringify({ sk: startKey.sk })).toString('base64url') : null,
    };
  }
}

function decodeCursor(tenantId: string, jobId: string, cursor: string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { sk?: unknown };
    if (typeof parsed.sk === 'string' && parsed.sk.startsWith(RUN_PREFIX)) {
      return { pk: runPk(tenantId, jobId), sk: parsed.sk };
    }
  } catch {
    // fall through
  }
  throw ValidationError.of('cursor', 'is not a cursor returned by this API');
}
