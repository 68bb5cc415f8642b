/**
 * Each tenant's signing secret for HTTP target calls, KMS-encrypted in the jobs table
 * (`TENANT#<tenant>` / `SETTINGS#signing`). Made on first use; a rotation makes a new one
 * and keeps the previous valid for a day, and calls carry a signature by each valid secret,
 * so receivers can switch without missing a call.
 */
import { randomBytes } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ulid } from 'ulid';
import { conditionally } from './dynamo.js';
import type { SecretBox } from './secret-box.js';

interface StoredSecret {
  id: string;
  ciphertext: string;
  createdAt: string;
  /** Set when a newer secret replaced it; it signs until then. */
  retiresAt: string | null;
}

export interface SigningSecretView {
  id: string;
  secret: string;
  createdAt: string;
  previous: { id: string; retiresAt: string } | null;
}

const ROTATION_OVERLAP_MS = 24 * 3600 * 1000;
const CACHE_MS = 60_000;

export class SigningSecrets {
  private readonly cache = new Map<string, { until: number; secrets: Promise<string[]> }>();

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly box: SecretBox,
  ) {}

  private key(tenantId: string) {
    return { pk: `TENANT#${tenantId}`, sk: 'SETTINGS#signing' };
  }

  private context(tenantId: string, id: string) {
    return { tenantId, purpose: 'signing-secret', secretId: id };
  }

  private async load(tenantId: string): Promise<{ secrets: StoredSecret[]; version: number } | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: this.key(tenantId), ConsistentRead: true }),
    );
    return Item ? { secrets: Item.secrets as StoredSecret[], version: Item.version as number } : undefined;
  }

  /** Writes the secrets if nobody else did since `version` (0: none yet). */
  private save(tenantId: string, secrets: StoredSecret[], version: number): Promise<boolean> {
    return conditionally(() =>
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...this.key(tenantId), type: 'settings', secrets, version: version + 1 },
          ConditionExpression: version === 0 ? 'attribute_not_exists(pk)' : 'version = :v',
          ...(version === 0 ? {} : { ExpressionAttributeValues: { ':v': version } }),
        }),
      ),
    );
  }

  private async fresh(tenantId: string, now: Date): Promise<StoredSecret> {
    const id = `ss_${ulid(now.getTime())}`;
    const secret = `whsec_${randomBytes(32).toString('base64url')}`;
    return {
      id,
      ciphertext: await this.box.seal(secret, this.context(tenantId, id)),
      createdAt: now.toISOString(),
      retiresAt: null,
    };
  }

  /** The tenant's secrets, made on first use. */
  private async ensure(tenantId: string, now: Date): Promise<StoredSecret[]> {
    for (;;) {
      const stored = await this.load(tenantId);
      if (stored) return stored.secrets;
      // Made here or by a concurrent first use: either way, the next load finds it.
      await this.save(tenantId, [await this.fresh(tenantId, now)], 0);
    }
  }

  private async view(tenantId: string, secrets: StoredSecret[]): Promise<SigningSecretView> {
    const [current, previous] = secrets as [StoredSecret, StoredSecret | undefined];
    return {
      id: current.id,
      secret: await this.box.open(current.ciphertext, this.context(tenantId, current.id)),
      createdAt: current.createdAt,
      previous: previous?.retiresAt ? { id: previous.id, retiresAt: previous.retiresAt } : null,
    };
  }

  async current(tenantId: string, now: Date): Promise<SigningSecretView> {
    return this.view(tenantId, await this.ensure(tenantId, now));
  }

  async rotate(tenantId: string, now: Date): Promise<SigningSecretView> {
    for (;;) {
      await this.ensure(tenantId, now);
      const stored = (await this.load(tenantId))!;
      const [current] = stored.secrets as [StoredSecret];
      const retiring = { ...current, retiresAt: new Date(now.getTime() + ROTATION_OVERLAP_MS).toISOString() };
      const next = [await this.fresh(tenantId, now), retiring];
      if (await this.save(tenantId, next, stored.version)) {
        this.cache.delete(tenantId);
        return this.view(tenantId, next);
      }
    }
  }

  /** The secrets a call made now is signed with: the current one, and one still retiring. */
  forSigning(tenantId: string, now: Date): Promise<string[]> {
    const cached = this.cache.get(tenantId);
    if (cached && cached.until > now.getTime()) return cached.secrets;
    // The promise is cached, so a batch of calls for one tenant loads (or makes) it once.
    const secrets = this.ensure(tenantId, now).then((stored) =>
      Promise.all(
        stored
          .filter((s) => s.retiresAt === null || Date.parse(s.retiresAt) > now.getTime())
          .map((s) => this.box.open(s.ciphertext, this.context(tenantId, s.id))),
      ),
    );
    this.cache.set(tenantId, { until: now.getTime() + CACHE_MS, secrets });
    secrets.catch(() => this.cache.delete(tenantId));
    return secrets;
  }
}
