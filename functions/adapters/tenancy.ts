/**
 * Whether more than one tenant's runs have been worked on, over one item of the runs table:
 * the first tenant whose runs the worker saw, and `sharedAt` once another's were. `sharedAt`
 * is never removed, so a deployment that was ever shared stays shared.
 *
 * Why: fair share (fair-share.ts) writes a tenant's places twice per batch, 0.2 write units a
 * run at batch 10, and caps a tenant at N runs in progress. A deployment one team uses has
 * nobody to be fair to: the writes are 4% of its bill bought for nobody, and the cap only
 * slows that team's own work. So when the share is left at its default, the worker takes
 * places only once a second tenant has run.
 *
 * Cost: a process reads the item at most once per READ_EVERY_MS while it is not shared, and
 * writes it once in the deployment's life per fact (the first tenant, then the second);
 * nothing once it is shared.
 */
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Logger, Tenancy } from '../domain/ports.js';
import { conditionally } from './dynamo.js';

/** How long a process trusts its read that the deployment is not shared. */
export const TENANCY_READ_EVERY_MS = 60_000;

const KEY = { pk: 'SUNDIAL', sk: 'TENANCY' };

interface Known {
  first?: string;
  shared: boolean;
  readAt: number;
}

export class DynamoTenancy implements Tenancy {
  private known?: Known;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly logger?: Logger,
  ) {}

  async shared(tenants: readonly string[], now: Date): Promise<boolean> {
    if (this.known?.shared) return true;
    const [someone] = tenants;
    if (someone === undefined) return false;
    if (!this.known || now.getTime() - this.known.readAt >= TENANCY_READ_EVERY_MS) {
      this.known = await this.read(now, false);
      if (this.known.shared) return true;
    }
    let first = this.known.first;
    if (first === undefined) {
      const recorded = await conditionally(() =>
        this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: KEY,
            UpdateExpression: 'SET firstTenant = :t, firstAt = :now',
            ConditionExpression: 'attribute_not_exists(firstTenant)',
            ExpressionAttributeValues: { ':t': someone, ':now': now.toISOString() },
          }),
        ),
      );
      // Another process recorded a first tenant meanwhile: read which, strongly.
      this.known = recorded
        ? { first: someone, shared: false, readAt: now.getTime() }
        : await this.read(now, true);
      if (this.known.shared) return true;
      first = this.known.first ?? someone;
    }
    const second = tenants.find((t) => t !== first);
    if (second === undefined) return false;
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: KEY,
        UpdateExpression: 'SET sharedAt = if_not_exists(sharedAt, :now)',
        ExpressionAttributeValues: { ':now': now.toISOString() },
      }),
    );
    this.known = { first, shared: true, readAt: now.getTime() };
    // Once in a deployment's life (or a few times, if processes see it at once): say why
    // fair share began.
    this.logger?.info('a second tenant ran: the queues are shared, fair share is on', {
      firstTenantId: first,
      tenantId: second,
    });
    return true;
  }

  private async read(now: Date, consistent: boolean): Promise<Known> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: KEY, ConsistentRead: consistent }),
    );
    return {
      ...(typeof Item?.firstTenant === 'string' ? { first: Item.firstTenant } : {}),
      shared: typeof Item?.sharedAt === 'string',
      readAt: now.getTime(),
    };
  }
}
