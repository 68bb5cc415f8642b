/**
 * Record expiry in the runs table. Under `ttl` a record carries `expiresAt` and DynamoDB's
 * Time to Live deletes it; under `sweep` (a runs table with multi-Region strong consistency,
 * which has no TTL) it also carries `expiryShard`, which puts it in the sparse `byExpiry`
 * index that ExpirySweeper reads and deletes from.
 */
import { createHash } from 'node:crypto';
import { DeleteCommand, type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { EXPIRY_INDEX, EXPIRY_SHARDS, type RunExpiry } from '../../lib/definitions.js';
import type { RecordExpiry } from '../domain/ports.js';
import { conditionally } from './dynamo.js';

export const expiryShardKey = (shard: number) => `X#${shard}`;

/** A record's expiry attributes: `expiresAt`, and its shard of the index under `sweep`. */
export function expiryAttributes(
  expiry: RunExpiry,
  expiresAt: number,
  key: { pk: string; sk: string },
): { expiresAt: number; expiryShard?: string } {
  if (expiry === 'ttl') return { expiresAt };
  const digest = createHash('sha256').update(`${key.pk}\u0000${key.sk}`).digest();
  return { expiresAt, expiryShard: expiryShardKey(digest[0]! % EXPIRY_SHARDS) };
}

/** Deletes at most this many records at once: a sweep's writes stay a small burst. */
const DELETES_AT_ONCE = 16;

export class ExpirySweeper implements RecordExpiry {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async sweep(shard: number, now: Date, limit: number): Promise<{ due: number; deleted: number }> {
    const nowSeconds = Math.floor(now.getTime() / 1000);
    const { Items = [] } = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: EXPIRY_INDEX.indexName,
        KeyConditionExpression: '#shard = :shard AND #expires <= :now',
        ExpressionAttributeNames: {
          '#shard': EXPIRY_INDEX.partitionKey.name,
          '#expires': EXPIRY_INDEX.sortKey!.name,
        },
        ExpressionAttributeValues: { ':shard': expiryShardKey(shard), ':now': nowSeconds },
        Limit: limit,
      }),
    );
    let deleted = 0;
    const keys = Items.map((item) => ({ pk: String(item.pk), sk: String(item.sk) }));
    for (let i = 0; i < keys.length; i += DELETES_AT_ONCE) {
      const results = await Promise.all(
        keys.slice(i, i + DELETES_AT_ONCE).map((Key) =>
          // The index is eventually consistent: the condition keeps a record whose expiry was
          // moved on (or that was written again) since the index was read.
          conditionally(() =>
            this.db.send(
              new DeleteCommand({
                TableName: this.tableName,
                Key,
                ConditionExpression: '#expires <= :now',
                ExpressionAttributeNames: { '#expires': EXPIRY_INDEX.sortKey!.name },
                ExpressionAttributeValues: { ':now': nowSeconds },
              }),
            ),
          ),
        ),
      );
      deleted += results.filter(Boolean).length;
    }
    return { due: keys.length, deleted };
  }
}
