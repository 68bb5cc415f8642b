/**
 * Per-tenant rate limits as atomic DynamoDB counters: one item per tenant, limit and
 * window, incremented only while under the limit, gone by TTL after the window.
 */
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { conditionally } from './dynamo.js';

export class RateLimiter {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Counts one event in the current window; returns the seconds to wait when over `limit`. */
  async take(
    tenantId: string,
    name: string,
    limit: number,
    windowSeconds: number,
    now: Date,
  ): Promise<{ allowed: true } | { allowed: false; retryAfterSeconds: number }> {
    const nowSeconds = now.getTime() / 1000;
    const window = Math.floor(nowSeconds / windowSeconds);
    const allowed = await conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: `TENANT#${tenantId}`, sk: `RATE#${name}#${window}` },
          UpdateExpression: 'ADD used :one SET expiresAt = :expires',
          ConditionExpression: 'attribute_not_exists(used) OR used < :limit',
          ExpressionAttributeValues: {
            ':one': 1,
            ':limit': limit,
            ':expires': (window + 2) * windowSeconds,
          },
        }),
      ),
    );
    if (allowed) return { allowed: true };
    return {
      allowed: false,
      retryAfterSeconds: Math.max(1, Math.ceil((window + 1) * windowSeconds - nowSeconds)),
    };
  }
}
