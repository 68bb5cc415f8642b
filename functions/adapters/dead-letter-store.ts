/**
 * Dead letters, archived from the DLQs into the runs table under the tenant they belong to
 * (pk = TENANT#<tenant>#DEADLETTERS), so they can be listed per tenant and redriven by id.
 * A message too malformed to name its tenant is kept under the `_unknown` tenant.
 */
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { RunExpiry } from '../../lib/definitions.js';
import type { DeadLetter, DeadLetterRepository } from '../domain/ports.js';
import { conditionally, queryPage } from './dynamo.js';
import { expiryAttributes } from './record-expiry.js';

const pkOf = (tenantId: string) => `TENANT#${tenantId}#DEADLETTERS`;
const PREFIX = 'DL#';

function fromItem(item: Record<string, unknown>): DeadLetter {
  const { pk: _pk, sk: _sk, expiresAt: _e, expiryShard: _shard, ...rest } = item;
  return rest as unknown as DeadLetter;
}

export class DeadLetterStore implements DeadLetterRepository {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly retentionDays: number,
    private readonly expiry: RunExpiry = 'ttl',
  ) {}

  /** Idempotent per message: a redelivered DLQ message archives once. */
  async archive(letter: DeadLetter, now: Date): Promise<void> {
    const key = { pk: pkOf(letter.tenantId), sk: `${PREFIX}${letter.id}` };
    await conditionally(() =>
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...key,
            ...letter,
            ...expiryAttributes(
              this.expiry,
              Math.floor(now.getTime() / 1000) + this.retentionDays * 86_400,
              key,
            ),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
  }

  async get(tenantId: string, id: string): Promise<DeadLetter | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: pkOf(tenantId), sk: `${PREFIX}${id}` },
        ConsistentRead: true,
      }),
    );
    return Item ? fromItem(Item) : undefined;
  }

  /** Newest first. */
  async list(
    tenantId: string,
    query: { limit: number; cursor?: string; status?: DeadLetter['status'] },
  ): Promise<{ items: DeadLetter[]; nextCursor: string | null }> {
    const page = await queryPage(
      this.db,
      {
        TableName: this.tableName,
        pk: pkOf(tenantId),
        skPrefix: PREFIX,
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

  /** Marks a dead letter redriven, once: false if it was already. */
  markRedriven(tenantId: string, id: string, by: string, at: Date): Promise<boolean> {
    return conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: pkOf(tenantId), sk: `${PREFIX}${id}` },
          UpdateExpression: 'SET #status = :redriven, redrivenAt = :at, redrivenBy = :by',
          ConditionExpression: '#status = :dead',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':redriven': 'redriven',
            ':dead': 'dead',
            ':at': at.toISOString(),
            ':by': by,
          },
        }),
      ),
    );
  }
}
