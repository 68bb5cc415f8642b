/**
 * API keys for services. A key is `sk_<id>_<secret>`: the id finds it, the secret proves
 * it. Only the SHA-256 of the secret is stored (a random 256-bit secret needs no slow
 * hash), and the whole key is shown once, at creation.
 *
 * Two items per key, written together: `APIKEY#<id>` to look a presented key up without
 * knowing its tenant, and `TENANT#<tenant>` / `KEY#<id>` to list a tenant's keys.
 *
 * Refusing costs little: a value that cannot be a key this module issued is refused
 * without a read, and a refused key is remembered for a minute (`RefusalCache`), so
 * presenting it again costs no read either. Accepting costs little too: a key verified in
 * the last `ACCEPTED_TTL_MS` is accepted again without a read, so a caller's steady stream
 * of requests costs one read per instance every few seconds, not one per request.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { decodeTime, ulid } from 'ulid';
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

/**
 * What `create` issues, exactly: `sk_`, a ULID (26 Crockford base32 characters, the first
 * 0-7 as a 48-bit time allows), `_`, and 32 random bytes in unpadded base64url: 43
 * characters, the last carrying 2 bits of the secret and 4 zero bits, so one of 16.
 */
const KEY_FORMAT = /^sk_([0-7][0-9A-HJKMNP-TV-Z]{25})_([A-Za-z0-9_-]{42}[AEIMQUYcgkosw048])$/;
/**
 * A lookup that finds no key whose id was minted this close to now (either side, for
 * clock skew) is not remembered: the read is eventually consistent, and the key may have
 * been created a moment ago and not have reached the replica read yet.
 */
const RECENT_ID_MS = 5 * 60_000;
const lookupKey = (id: string) => ({ pk: `APIKEY#${id}`, sk: 'APIKEY' });
const listingKey = (tenantId: string, id: string) => ({ pk: `TENANT#${tenantId}`, sk: `KEY#${id}` });
const hashOf = (secret: string) => createHash('sha256').update(secret).digest();

/**
 * How long a verified key is accepted again without reading it: the most a revocation can
 * take to reach an API instance other than the one that revoked it (that one forgets the
 * key at once). API Gateway's own authorizer cache defaults to 300 s; this is far shorter.
 */
export const ACCEPTED_TTL_MS = 10_000;
/** Keys kept accepted per instance; the oldest goes first. */
const MAX_ACCEPTED = 1_000;

export function isApiKey(token: string): boolean {
  return token.startsWith('sk_');
}

/** Whether `token` has the exact shape of a key `create` issues: checked before any read. */
export function isWellFormedApiKey(token: string): boolean {
  return KEY_FORMAT.test(token);
}

/**
 * Keys recently refused (by the SHA-256 of the whole presented key, never the key itself),
 * each for `ttlMs`, at most `maxEntries` (the oldest goes first). Only refusals are kept,
 * and each is final: an unknown value stays unknown (ids and secrets are random, so a
 * value refused now cannot become the key someone creates next; an id minted moments ago
 * is not remembered, see RECENT_ID_MS), a revoked key is never un-revoked, and a key's
 * secret never changes.
 */
export class RefusalCache {
  private readonly entries = new Map<string, number>();

  constructor(
    readonly ttlMs = 60_000,
    readonly maxEntries = 1_000,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  has(fingerprint: string, now: number): boolean {
    const expires = this.entries.get(fingerprint);
    if (expires === undefined) return false;
    if (expires > now) return true;
    this.entries.delete(fingerprint);
    return false;
  }

  add(fingerprint: string, now: number): void {
    this.entries.delete(fingerprint);
    // Every entry lives as long, so insertion order is also expiry order.
    while (this.entries.size >= this.maxEntries) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
    this.entries.set(fingerprint, now + this.ttlMs);
  }
}

export class ApiKeyStore {
  private readonly refusals: RefusalCache;
  private readonly now: () => number;
  /** Verified keys, by the SHA-256 of the whole presented key: the principal and until when. */
  private readonly accepted = new Map<string, { principal: Principal; until: number }>();

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    options: { refusals?: RefusalCache; now?: () => number } = {},
  ) {
    this.refusals = options.refusals ?? new RefusalCache();
    this.now = options.now ?? Date.now;
  }

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

  /** The principal of a key verified in the last `ACCEPTED_TTL_MS`, without a read; else undefined. */
  recentlyAccepted(presented: string): Principal | undefined {
    const fingerprint = hashOf(presented).toString('base64url');
    const entry = this.accepted.get(fingerprint);
    if (!entry) return undefined;
    if (entry.until > this.now()) return entry.principal;
    this.accepted.delete(fingerprint);
    return undefined;
  }

  /** The principal a presented key stands for, or null when it is unknown, wrong or revoked. */
  async verify(presented: string): Promise<Principal | null> {
    const match = KEY_FORMAT.exec(presented);
    if (!match) return null;
    const [, id, secret] = match as unknown as [string, string, string];
    const fingerprint = hashOf(presented).toString('base64url');
    const now = this.now();
    const recent = this.recentlyAccepted(presented);
    if (recent) return recent;
    if (this.refusals.has(fingerprint, now)) return null;
    const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: lookupKey(id) }));
    if (!Item) {
      if (Math.abs(now - decodeTime(id)) > RECENT_ID_MS) this.refusals.add(fingerprint, now);
      return null;
    }
    const expected = Buffer.from(String(Item.secretHash), 'hex');
    const given = hashOf(secret);
    if (Item.revokedAt || expected.length !== given.length || !timingSafeEqual(expected, given)) {
      this.refusals.add(fingerprint, now);
      return null;
    }
    const principal = { tenantId: Item.tenantId as string, role: Item.role as Role, subject: `key:${id}` };
    this.accepted.delete(fingerprint);
    while (this.accepted.size >= MAX_ACCEPTED)
      this.accepted.delete(this.accepted.keys().next().value as string);
    this.accepted.set(fingerprint, { principal, until: now + ACCEPTED_TTL_MS });
    return principal;
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
    // This instance stops accepting the key at once; others within ACCEPTED_TTL_MS.
    for (const [fingerprint, entry] of this.accepted)
      if (entry.principal.subject === `key:${id}`) this.accepted.delete(fingerprint);
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
