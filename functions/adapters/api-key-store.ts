/**
 * API keys for services. A key is `sk_<id>_<secret>`: the id finds it, the secret proves
 * it. Only the SHA-256 of the secret is stored (a random 256-bit secret needs no slow
 * hash), and the whole key is shown once, at creation.
 *
 * Two items per key, written together: `APIKEY#<id>` to look a presented key up without
 * knowing its tenant, and `TENANT#<tenant>` / `KEY#<id>` to list a tenant's keys.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { ulid } from 'ulid';
import type { Principal, Role } from '../domain/auth.js';
import { conditionally, queryPage } from './dynamo.js';

export interface ApiKey {
  id: string;
  tenantId: string;
  name: string;
  role: Role;
  createdAt: string;
  createdBy: string;
  revokedAt: string | null;
}

const KEY_FORMAT = /^sk_([0-9A-HJKMNP-TV-Z]{26})_([A-Za-z0-9_-]{43})$/;
const lookupKey = (id: string) => ({ pk: `APIKEY#${id}`, sk: 'APIKEY' });
const listingKey = (tenantId: string, id: string) => ({ pk: `TENANT#${tenantId}`, sk: `KEY#${id}` });
const hashOf = (secret: string) => createHash('sha256').update(secret).digest();

export function isApiKey(token: string): boolean {
  return token.startsWith('sk_');
}

export class ApiKeyStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Creates a key; the returned `secretKey` is the only time the key is ever visible. */
  async create(
    fields: Pick<ApiKey, 'tenantId' | 'name' | 'role' | 'createdBy'>,
    now: Date,
  ): Promise<{ key: ApiKey; secretKey: string }> {
    const id = ulid(now.getTime());
    const secret = randomBytes(32).toString('base64url');
    const key: ApiKey = { id, ...fields, createdAt: now.toISOString(), revokedAt: null };
    await this.db.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: this.tableName,
              Item: { ...lookupKey(id), type: 'apikey', ...key, secretHash: hashOf(secret).toString('hex') },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          {
            Put: {
              TableName: this.tableName,
              Item: { ...listingKey(fields.tenantId, id), type: 'apikey', ...key },
            },
          },
        ],
      }),
    );
    return { key, secretKey: `sk_${id}_${secret}` };
  }

  /** The principal a presented key stands for, or null when it is unknown, wrong or revoked. */
  async verify(presented: string): Promise<Principal | null> {
    const match = KEY_FORMAT.exec(presented);
    if (!match) return null;
    const [, id, secret] = match as unknown as [string, string, string];
    const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: lookupKey(id) }));
    if (!Item || Item.revokedAt) return null;
    const expected = Buffer.from(String(Item.secretHash), 'hex');
    const given = hashOf(secret);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
    return { tenantId: Item.tenantId as string, role: Item.role as Role, subject: `key:${id}` };
  }

  async list(
    tenantId: string,
    limit: number,
    cursor?: string,
  ): Promise<{ items: ApiKey[]; nextCursor: string | null }> {
    const page = await queryPage(
      this.db,
      { TableName: this.tableName, pk: `TENANT#${tenantId}`, skPrefix: 'KEY#' },
      limit,
      cursor,
    );
    return { items: page.items.map(toKey), nextCursor: page.nextCursor };
  }

  /** Revokes one of the tenant's keys; false when the tenant has no such live key. */
  revoke(tenantId: string, id: string, now: Date): Promise<boolean> {
    const update = (key: Record<string, string>) => ({
      Update: {
        TableName: this.tableName,
        Key: key,
        UpdateExpression: 'SET revokedAt = :now',
        // The tenant check is on both items: a key id alone reaches nothing of another tenant.
        ConditionExpression: 'attribute_exists(pk) AND tenantId = :tenant AND revokedAt = :null',
        ExpressionAttributeValues: { ':now': now.toISOString(), ':tenant': tenantId, ':null': null },
      },
    });
    return conditionally(() =>
      this.db.send(
        new TransactWriteCommand({
          TransactItems: [update(lookupKey(id)), update(listingKey(tenantId, id))],
        }),
      ),
    );
  }
}

function toKey(item: Record<string, unknown>): ApiKey {
  return {
    id: item.id as string,
    tenantId: item.tenantId as string,
    name: item.name as string,
    role: item.role as Role,
    createdAt: item.createdAt as string,
    createdBy: item.createdBy as string,
    revokedAt: (item.revokedAt as string | null) ?? null,
  };
}
