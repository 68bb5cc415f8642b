/**
 * Fair share of the queues (one tenant cannot starve the rest): at most N runs of a tenant
 * are in progress on a queue at once. Each run holds a leased place in one item per tenant
 * and queue, taken before its claim and given back when it ends; a worker that dies loses
 * its place when the lease runs out. A tenant over its share has its message put back with
 * a delay, so the other tenants' messages behind it are worked on meanwhile.
 */
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Priority } from '../../lib/definitions.js';
import type { FairShare } from '../domain/ports.js';
import { conditionally } from './dynamo.js';

/** Places live in the runs table, beside the runs, in a partition of their own per tenant. */
const key = (tenantId: string, priority: Priority) => ({
  pk: `TENANT#${tenantId}#SHARE`,
  sk: `QUEUE#${priority}`,
});

export class DynamoFairShare implements FairShare {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** Places per tenant on each queue; 0 turns fair share off for that queue. */
    private readonly limitOf: (priority: Priority) => number,
  ) {}

  limit(priority: Priority): number {
    return this.limitOf(priority);
  }

  async take(
    tenantId: string,
    priority: Priority,
    holder: string,
    leaseUntil: Date,
    now: Date,
  ): Promise<boolean> {
    const limit = this.limitOf(priority);
    if (limit <= 0) return true;
    const Key = key(tenantId, priority);
    const names = { '#holder': holder };
    // Most takes find room: one conditional update, no read.
    for (let round = 0; round < 4; round++) {
      const added = await conditionally(() =>
        this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key,
            UpdateExpression: 'SET holders.#holder = :lease',
            ConditionExpression: 'size(holders) < :limit',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: { ':lease': leaseUntil.getTime(), ':limit': limit },
          }),
        ),
      ).catch((error: Error) => {
        // No item yet: there is no map to add to.
        if (error.name === 'ValidationException') return false;
        throw error;
      });
      if (added) return true;
      const holders = await this.holdersOrNewMap(Key);
      if (!holders) continue;
      // Made or emptied meanwhile: there is room again, so try the plain update once more.
      if (Object.keys(holders).length < limit) continue;
      const expired = Object.entries(holders).filter(([, lease]) => lease < now.getTime());
      if (expired.length === 0 || Object.keys(holders).length - expired.length >= limit) return false;
      // Clear places whose holders' leases ran out (their workers stopped), unchanged since
      // read, and take one, in one write.
      const expiredNames = Object.fromEntries(expired.map(([h], i) => [`#e${i}`, h]));
      const expiredValues = Object.fromEntries(expired.map(([, lease], i) => [`:e${i}`, lease]));
      const taken = await conditionally(() =>
        this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key,
            UpdateExpression: `REMOVE ${expired.map((_, i) => `holders.#e${i}`).join(', ')} SET holders.#holder = :lease`,
            ConditionExpression: expired.map((_, i) => `holders.#e${i} = :e${i}`).join(' AND '),
            ExpressionAttributeNames: { ...names, ...expiredNames },
            ExpressionAttributeValues: { ':lease': leaseUntil.getTime(), ...expiredValues },
          }),
        ),
      );
      if (taken) return true;
    }
    return false;
  }

  async takeAll(
    tenantId: string,
    priority: Priority,
    holders: readonly string[],
    leaseUntil: Date,
    _now: Date,
  ): Promise<boolean> {
    const limit = this.limitOf(priority);
    if (limit <= 0) return true;
    if (holders.length === 0) return true;
    if (holders.length > limit) return false;
    const Key = key(tenantId, priority);
    const names = Object.fromEntries(holders.map((h, i) => [`#h${i}`, h]));
    const update = () =>
      conditionally(() =>
        this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key,
            UpdateExpression: `SET ${holders.map((_, i) => `holders.#h${i} = :lease`).join(', ')}`,
            // Room for all of them: size + n <= limit.
            ConditionExpression: 'size(holders) <= :room',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: { ':lease': leaseUntil.getTime(), ':room': limit - holders.length },
          }),
        ),
      );
    for (let round = 0; round < 2; round++) {
      const added = await update().catch((error: Error) => {
        if (error.name === 'ValidationException') return false;
        throw error;
      });
      if (added) return true;
      if (round > 0) return false;
      // Full, or no item yet (the condition fails on a missing map), or made meanwhile by
      // another taker: try once more unless it is full.
      const held = await this.holdersOrNewMap(Key);
      if (held && Object.keys(held).length + holders.length > limit) return false;
    }
    return false;
  }

  /** The places' holders, read strongly; when there is no map yet, it is made (and undefined returned). */
  private async holdersOrNewMap(Key: ReturnType<typeof key>): Promise<Record<string, number> | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key, ConsistentRead: true }),
    );
    const holders = Item?.holders as Record<string, number> | undefined;
    if (holders) return holders;
    await conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key,
          UpdateExpression: 'SET holders = :empty',
          ConditionExpression: 'attribute_not_exists(holders)',
          ExpressionAttributeValues: { ':empty': {} },
        }),
      ),
    );
    return undefined;
  }

  async giveAll(tenantId: string, priority: Priority, holders: readonly string[]): Promise<void> {
    if (this.limitOf(priority) <= 0 || holders.length === 0) return;
    await conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key(tenantId, priority),
          UpdateExpression: `REMOVE ${holders.map((_, i) => `holders.#h${i}`).join(', ')}`,
          ConditionExpression: 'attribute_exists(holders)',
          ExpressionAttributeNames: Object.fromEntries(holders.map((h, i) => [`#h${i}`, h])),
        }),
      ),
    );
  }

  async give(tenantId: string, priority: Priority, holder: string): Promise<void> {
    if (this.limitOf(priority) <= 0) return;
    await conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key(tenantId, priority),
          UpdateExpression: 'REMOVE holders.#holder',
          ConditionExpression: 'attribute_exists(holders.#holder)',
          ExpressionAttributeNames: { '#holder': holder },
        }),
      ),
    );
  }
}
