/**
 * Proves a firing message is Sundial's (invariant 8): every message Sundial puts on its
 * queues, and every schedule's input, carries a MAC over the tenant, job and run it names,
 * made with a per-deployment key that only Sundial's roles can open (it is stored in the
 * jobs table, sealed with the secrets key). A body naming a tenant is not enough to run
 * that tenant's job: the worker and the dead-letter archiver check the MAC first.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { FiringIdentity, FiringSigner, SecretSealer } from '../domain/ports.js';
import { isConditionFailure } from './dynamo.js';

/**
 * The bytes a MAC is made over. The scheduled time of a schedule's firing is filled in by
 * Scheduler, so it is not covered; the tenant, the job, the trigger and the run are.
 */
export function macInput(message: FiringIdentity): string {
  return ['sundial-firing', message.v, message.tenantId, message.jobId, message.trigger]
    .concat(message.runId ?? '', message.attempt === undefined ? '' : String(message.attempt))
    .join('\n');
}

export function firingMac(key: Buffer, message: FiringIdentity): string {
  return createHmac('sha256', key).update(macInput(message)).digest('base64url');
}

/** Signs and checks with a key at hand. */
export class FixedKeyFiringSigner implements FiringSigner {
  constructor(private readonly key: Buffer) {}

  async sign<T extends FiringIdentity>(message: T): Promise<T & { mac: string }> {
    const { mac: _old, ...rest } = message;
    return { ...(rest as T), mac: firingMac(this.key, rest) };
  }

  async verify(message: FiringIdentity): Promise<boolean> {
    if (typeof message.mac !== 'string' || message.mac.length === 0) return false;
    const expected = Buffer.from(firingMac(this.key, message));
    const given = Buffer.from(message.mac);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

const KEY_ITEM = { pk: 'SUNDIAL', sk: 'FIRING_KEY' };
const CONTEXT = { purpose: 'sundial-firing-messages' };

/** The deployment's firing key, made on first use and kept in memory for the process. */
export class KeyedFiringSigner implements FiringSigner {
  private signer: Promise<FixedKeyFiringSigner> | undefined;

  /**
   * `mayCreate`: whether this process may make the key when none is stored. In a two-region
   * deployment only the active region makes it: a passive one waits for it to replicate, so
   * the two regions can never each make a key and have one replace the other (last writer
   * wins), which would make every firing signed with the lost one refused.
   */
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly box: SecretSealer,
    private readonly mayCreate: () => Promise<boolean> = async () => true,
  ) {}

  async sign<T extends FiringIdentity>(message: T): Promise<T & { mac: string }> {
    return (await this.load()).sign(message);
  }

  async verify(message: FiringIdentity): Promise<boolean> {
    if (typeof message.mac !== 'string' || message.mac.length === 0) return false;
    return (await this.load()).verify(message);
  }

  private load(): Promise<FixedKeyFiringSigner> {
    this.signer ??= this.readOrCreate().then(
      (key) => new FixedKeyFiringSigner(key),
      (error) => {
        this.signer = undefined; // a failed load is retried by the next message
        throw error;
      },
    );
    return this.signer;
  }

  private async readOrCreate(): Promise<Buffer> {
    const read = async () => {
      const { Item } = await this.db.send(
        new GetCommand({ TableName: this.tableName, Key: KEY_ITEM, ConsistentRead: true }),
      );
      return typeof Item?.sealed === 'string'
        ? Buffer.from(await this.box.open(Item.sealed, CONTEXT), 'base64')
        : null;
    };
    const existing = await read();
    if (existing) return existing;
    if (!(await this.mayCreate())) {
      throw new Error('the firing key has not replicated to this passive region yet; retried later');
    }
    const sealed = await this.box.seal(randomBytes(32).toString('base64'), CONTEXT);
    try {
      // UpdateItem, not PutItem: every function that signs may update the jobs table already.
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: KEY_ITEM,
          UpdateExpression: 'SET #type = :type, sealed = :sealed',
          ConditionExpression: 'attribute_not_exists(pk)',
          ExpressionAttributeNames: { '#type': 'type' },
          ExpressionAttributeValues: { ':type': 'firingKey', ':sealed': sealed },
        }),
      );
    } catch (error) {
      // Another process made it first: everyone uses that one.
      if (!isConditionFailure(error)) throw error;
    }
    const made = await read();
    if (!made) throw new Error('the firing key could not be read back');
    return made;
  }
}
