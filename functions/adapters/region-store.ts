/**
 * The active-region item and the regions' heartbeats, in the (replicated) jobs table. Reads
 * are strongly consistent within a region: what another region wrote arrives by replication.
 */
import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import {
  ACTIVE_SK,
  type Heartbeat,
  heartbeatSk,
  initialState,
  REGION_PK,
  type RegionState,
} from '../domain/region.js';
import { conditionally } from './dynamo.js';

export class RegionStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly regions: readonly string[],
  ) {}

  async state(): Promise<RegionState> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: REGION_PK, sk: ACTIVE_SK },
        ConsistentRead: true,
      }),
    );
    if (!Item) return initialState(this.regions);
    return {
      activeRegion: String(Item.activeRegion),
      epoch: Number(Item.epoch),
      changedAt: (Item.changedAt as string | undefined) ?? null,
      changedBy: (Item.changedBy as string | undefined) ?? null,
      previousRegion: (Item.previousRegion as string | undefined) ?? null,
      reason: (Item.reason as string | undefined) ?? null,
    };
  }

  /** Writes `next` if the item is still at `expectedEpoch` (0: absent); false if another change won. */
  write(next: RegionState, expectedEpoch: number): Promise<boolean> {
    return conditionally(() =>
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: REGION_PK, sk: ACTIVE_SK, type: 'region', ...next },
          ConditionExpression: expectedEpoch === 0 ? 'attribute_not_exists(pk) OR epoch = :e' : 'epoch = :e',
          ExpressionAttributeValues: { ':e': expectedEpoch },
        }),
      ),
    );
  }

  /** This region's own heartbeat: no other region ever writes it. */
  async beat(heartbeat: Heartbeat): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: REGION_PK, sk: heartbeatSk(heartbeat.region), type: 'heartbeat', ...heartbeat },
      }),
    );
  }

  async heartbeats(): Promise<Heartbeat[]> {
    const { Items = [] } = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :hb)',
        ExpressionAttributeValues: { ':pk': REGION_PK, ':hb': 'HEARTBEAT#' },
        ConsistentRead: true,
      }),
    );
    return Items.map((item) => ({
      region: String(item.region),
      at: String(item.at),
      role: item.role === 'active' ? 'active' : 'passive',
      epoch: Number(item.epoch ?? 0),
      change: (item.change as Heartbeat['change']) ?? null,
    }));
  }
}
