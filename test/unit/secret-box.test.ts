/** Secrets at rest: KMS-sealed, bound to their tenant and owner, opened only with the same context. */
import { KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SecretBox } from '../../functions/adapters/secret-box.js';
import { lazy, ready } from '../../functions/commons/lazy.js';
import { LocalKms } from '../../local/kms-emulator.js';

let kms: LocalKms;
let client: KMSClient;

beforeAll(async () => {
  kms = await new LocalKms('arn:aws:kms:us-east-1:000000000000:key/test').start();
  client = new KMSClient({
    region: 'us-east-1',
    endpoint: kms.endpoint,
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
});

afterAll(async () => {
  client.destroy();
  await kms.stop();
});

describe('SecretBox over the KMS API', () => {
  it('seals so that the plaintext is not in the ciphertext, and opens with the same context', async () => {
    const box = new SecretBox(ready(client), kms.keyArn);
    const sealed = await box.seal('Bearer s3cr3t', { tenantId: 'acme', jobId: 'job_1' });
    expect(Buffer.from(sealed, 'base64').toString('latin1')).not.toContain('s3cr3t');
    expect(await box.open(sealed, { tenantId: 'acme', jobId: 'job_1' })).toBe('Bearer s3cr3t');
  });

  it("refuses to open a ciphertext moved to another tenant's or job's context", async () => {
    const box = new SecretBox(ready(client), kms.keyArn);
    const sealed = await box.seal('Bearer s3cr3t', { tenantId: 'acme', jobId: 'job_1' });
    await expect(box.open(sealed, { tenantId: 'globex', jobId: 'job_1' })).rejects.toThrow(
      /invalid ciphertext/,
    );
    await expect(box.open(sealed, { tenantId: 'acme', jobId: 'job_2' })).rejects.toThrow(
      /invalid ciphertext/,
    );
  });

  it('makes its KMS client at the first secret, once, and opens a kept secret without KMS', async () => {
    const make = vi.fn(async () => client);
    const send = vi.spyOn(client, 'send');
    const box = new SecretBox(lazy(make), kms.keyArn);
    expect(make).not.toHaveBeenCalled();
    const sealed = await box.seal('whsec_1', { tenantId: 'acme' });
    expect(await box.open(sealed, { tenantId: 'acme' })).toBe('whsec_1');
    expect(await box.open(sealed, { tenantId: 'acme' })).toBe('whsec_1');
    expect(make).toHaveBeenCalledTimes(1);
    // One Encrypt and one Decrypt: the second open was the cache's.
    expect(send).toHaveBeenCalledTimes(2);
    send.mockRestore();
  });
});
