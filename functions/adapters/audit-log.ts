/**
 * The audit log: administrative actions (API keys, redrives) with who, what and when,
 * per tenant, newest first. Entries expire after a year.
 */
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { monotonicFactory } from 'ulid';
import { queryPage } from './dynamo.js';

export interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  /** What it was done to: a key id, dead-letter ids, … */
  target: string;
  details: Record<string, unknown>;
}

const RETENTION_SECONDS = 366 * 86_400;
/** Monotonic within a millisecond, so entries of one instant still list in the order made. */
const ulid = monotonicFactory();

export class AuditLog {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async record(tenantId: string, entry: Omit<AuditEntry, 'id' | 'at'>, now: Date): Promise<AuditEntry> {
    const at = now.toISOString();
    const full: AuditEntry = { id: ulid(now.getTime()), at, ...entry };
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: `TENANT#${tenantId}`,
          sk: `AUDIT#${at}#${full.id}`,
          type: 'audit',
          ...full,
          expiresAt: Math.floor(now.getTime() / 1000) + RETENTION_SECONDS,
        },
      }),
    );
    return full;
  }

  async list(tenantId: string, limit: number, cursor?: string) {
    const page = await queryPage(
      this.db,
      { TableName: this.tableName, pk: `TENANT#${tenantId}`, skPrefix: 'AUDIT#', ScanIndexForward: false },
      limit,
      cursor,
    );
    const items = page.items.map(
      ({ pk: _pk, sk: _sk, type: _type, expiresAt: _e, ...entry }) => entry as unknown as AuditEntry,
    );
    return { items, nextCursor: page.nextCursor };
  }
}
