/** DynamoDB helpers shared by the stores: paged queries with opaque cursors, conditional writes. */
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { ValidationError } from '../domain/errors.js';

/** Bounds the items one list request may read when a filter discards most of them. */
const MAX_EVALUATED_PER_PAGE = 1000;

/** A failed condition, alone or as the reason a transaction was cancelled. */
export function isConditionFailure(error: unknown): boolean {
  if (error instanceof TransactionCanceledException) {
    return (error.CancellationReasons ?? []).some((r) => r.Code === 'ConditionalCheckFailed');
  }
  return (
    error instanceof ConditionalCheckFailedException ||
    (error as Error)?.name === 'ConditionalCheckFailedException'
  );
}

/** Runs a conditional write; false when its condition did not hold. */
export async function conditionally(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

/**
 * One page of a partition: up to `limit` items that pass the filter, and a cursor when
 * more may follow. The cursor holds only the sort key; the partition always comes from
 * the caller (so a cursor can never reach another tenant's items).
 */
export async function queryPage(
  db: DynamoDBDocumentClient,
  input: Omit<QueryCommandInput, 'ExclusiveStartKey' | 'Limit'> & { pk: string; skPrefix: string },
  limit: number,
  cursor: string | undefined,
  maxEvaluated = MAX_EVALUATED_PER_PAGE,
): Promise<{ items: Record<string, unknown>[]; nextCursor: string | null }> {
  const { pk, skPrefix, ...query } = input;
  let startKey = cursor ? decodeCursor(pk, skPrefix, cursor) : undefined;
  const items: Record<string, unknown>[] = [];
  let evaluated = 0;
  do {
    const page = await db.send(
      new QueryCommand({
        ...query,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ...query.ExpressionAttributeValues, ':pk': pk, ':prefix': skPrefix },
        ExclusiveStartKey: startKey,
        Limit: limit - items.length,
      }),
    );
    items.push(...(page.Items ?? []));
    evaluated += page.ScannedCount ?? 0;
    startKey = page.LastEvaluatedKey;
  } while (startKey && items.length < limit && evaluated < maxEvaluated);
  return {
    items,
    nextCursor: startKey
      ? Buffer.from(JSON.stringify({ sk: startKey.sk }), 'utf8').toString('base64url')
      : null,
  };
}

function decodeCursor(pk: string, skPrefix: string, cursor: string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { sk?: unknown };
    if (typeof parsed.sk === 'string' && parsed.sk.startsWith(skPrefix)) return { pk, sk: parsed.sk };
  } catch {
    // not ours: fall through to the validation error
  }
  throw ValidationError.of('cursor', 'is not a cursor returned by this API');
}
