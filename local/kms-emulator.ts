/**
 * A local stand-in for AWS KMS's Encrypt and Decrypt (the JSON 1.1 protocol the SDK's
 * KMSClient speaks), so secrets are encrypted locally as on AWS: AES-256-GCM under a key
 * made at start, with the encryption context bound as additional data.
 *
 * Two local "regions" can share one key as an AWS KMS multi-Region key and its replica do: the
 * replica has the same key material, so a ciphertext made in one region opens in the other, and its
 * ARN differs only by region (https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-keys-overview.html).
 * Give both emulators the same 32-byte key material for that; without it each makes its own.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

const MAGIC = Buffer.from('SLK1');

export class LocalKms {
  private readonly key: Buffer;
  private server: Server | undefined;
  endpoint = '';

  constructor(
    readonly keyArn: string,
    keyMaterial?: Buffer,
  ) {
    if (keyMaterial && keyMaterial.length !== 32) {
      throw new Error(`key material must be 32 bytes (AES-256), got ${keyMaterial.length}`);
    }
    // A copy: the caller's buffer may be reused or zeroed after.
    this.key = keyMaterial ? Buffer.from(keyMaterial) : randomBytes(32);
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error) =>
        reply(res, 500, { __type: 'KMSInternalException', message: String(error) }),
      );
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.endpoint = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    return this;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as {
      Plaintext?: string;
      CiphertextBlob?: string;
      EncryptionContext?: Record<string, string>;
    };
    const aad = Buffer.from(JSON.stringify(Object.entries(body.EncryptionContext ?? {}).sort()));
    switch (req.headers['x-amz-target']) {
      case 'TrentService.Encrypt': {
        const iv = randomBytes(12);
        const cipher = createCipheriv('aes-256-gcm', this.key, iv).setAAD(aad);
        const sealed = Buffer.concat([
          cipher.update(Buffer.from(body.Plaintext ?? '', 'base64')),
          cipher.final(),
        ]);
        const blob = Buffer.concat([MAGIC, iv, cipher.getAuthTag(), sealed]);
        return reply(res, 200, {
          CiphertextBlob: blob.toString('base64'),
          KeyId: this.keyArn,
          EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        });
      }
      case 'TrentService.Decrypt': {
        const blob = Buffer.from(body.CiphertextBlob ?? '', 'base64');
        try {
          if (!blob.subarray(0, 4).equals(MAGIC)) throw new Error('not ours');
          const decipher = createDecipheriv('aes-256-gcm', this.key, blob.subarray(4, 16)).setAAD(aad);
          decipher.setAuthTag(blob.subarray(16, 32));
          const plain = Buffer.concat([decipher.update(blob.subarray(32)), decipher.final()]);
          return reply(res, 200, { Plaintext: plain.toString('base64'), KeyId: this.keyArn });
        } catch {
          // Wrong key, wrong context or tampered: KMS says only this.
          return reply(res, 400, { __type: 'InvalidCiphertextException', message: 'invalid ciphertext' });
        }
      }
      default:
        return reply(res, 400, {
          __type: 'UnsupportedOperationException',
          message: `${req.headers['x-amz-target']}`,
        });
    }
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

function reply(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(body));
}
