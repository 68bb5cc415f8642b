/**
 * The circuit breakers in the runs table (operational state of this region, beside the runs
 * and fair-share places): pk = TENANT#<tenant>#BREAKER, sk = TARGET#<target>. Every write is
 * conditional on the version read, so concurrent workers agree on one state.
 */
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Breaker } from '../domain/breaker.js';
import type { BreakerStore, Page } from '../domain/ports.js';
import { conditionally, queryPage } from './dynamo.js';

const pk = (tenantId: string) => `TENANT#${tenantId}#BREAKER`;
const SK_PREFIX = 'TARGET#';
/**
 * A closed breaker is kept this long after its last write, then left to the runs table's
 * Time to Live: a target that stopped failing (or that the tenant stopped using) leaves no
 * item behind. An open or half-open breaker never expires.
 */
export const CLOSED_BREAKER_TTL_SECONDS = 30 * 24 * 3600;

function fromItem(item: Record<string, unknown>): Breaker {
  const { pk: _pk, sk: _sk, expiresAt: _expiresAt, ...breaker } = item;
  return breaker as unknown as Breaker;
}

/** Epoch seconds when a breaker written now may go, or none while it is not closed. */
function expiryOf(breaker: Breaker): { expiresAt?: number } {
  if (breaker.state !== 'closed') return {};
  return { expiresAt: Math.floor(Date.parse(breaker.updatedAt) / 1000) + CLOSED_BREAKER_TTL_SECONDS };
}

export class DynamoBreakerStore implements BreakerStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(tenantId: string, target: string, consistent = false): Promise<Breaker | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: pk(tenantId), sk: `${SK_PREFIX}${target}` },
        ConsistentRead: consistent,
      }),
    );
    return Item ? fromItem(Item) : undefined;
  }

  save(breaker: Breaker, expectedVersion: number): Promise<boolean> {
    return conditionally(() =>
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: pk(breaker.tenantId),
            sk: `${SK_PREFIX}${breaker.target}`,
            ...breaker,
            ...expiryOf(breaker),
          },
          ...(expectedVersion === 0
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : {
                ConditionExpression: 'version = :expected',
                ExpressionAttributeValues: { ':expected': expectedVersion },
              }),
        }),
      ),
    );
  }

  async list(tenantId: string, query: { limit: number; cursor?: string }): Promise<Page<Breaker>> {
    const page = await queryPage(
      this.db,
      { TableName: this.tableName, pk: pk(tenantId), skPrefix: SK_PREFIX },
      query.limit,
      query.cursor,
    );
    return { items: page.items.map(fromItem), nextCursor: page.nextCursor };
  }
}
