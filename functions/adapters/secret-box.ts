/**
 * Secrets at rest (signing secrets, secret target headers) are KMS-encrypted, bound to
 * their tenant and owner by the encryption context, so a ciphertext copied to another
 * tenant's item does not decrypt. Decryptions are cached in memory: a run does not pay
 * a KMS call for a secret its worker has already opened. The KMS client and its SDK code are
 * loaded at the first secret sealed or opened (commons/lazy.ts), not at cold start.
 */

import type { KMSClient } from '@aws-sdk/client-kms';
import type { Lazy } from '../commons/lazy.js';
import type { SecretSealer } from '../domain/ports.js';

const CACHE_LIMIT = 1000;

export class SecretBox implements SecretSealer {
  private readonly cache = new Map<string, string>();

  constructor(
    private readonly kms: Lazy<KMSClient>,
    private readonly keyId: string,
  ) {}

  async seal(plaintext: string, context: Record<string, string>): Promise<string> {
    const [kms, { EncryptCommand }] = await Promise.all([this.kms(), import('@aws-sdk/client-kms')]);
    const { CiphertextBlob } = await kms.send(
      new EncryptCommand({
        KeyId: this.keyId,
        Plaintext: Buffer.from(plaintext, 'utf8'),
        EncryptionContext: context,
      }),
    );
    return Buffer.from(CiphertextBlob!).toString('base64');
  }

  async open(ciphertext: string, context: Record<string, string>): Promise<string> {
    const cacheKey = `${JSON.stringify(Object.entries(context).sort())}:${ciphertext}`;
    const cached = this.cache.get(cacheKey);
    if (cached !== undefined) return cached;
    const [kms, { DecryptCommand }] = await Promise.all([this.kms(), import('@aws-sdk/client-kms')]);
    const { Plaintext } = await kms.send(
      new DecryptCommand({ CiphertextBlob: Buffer.from(ciphertext, 'base64'), EncryptionContext: context }),
    );
    const plaintext = Buffer.from(Plaintext!).toString('utf8');
    if (this.cache.size >= CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(cacheKey, plaintext);
    return plaintext;
  }
}
