import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { signatureHeader, verifySignature } from '../../functions/domain/signature.js';

const secret = 'whsec_0123456789abcdef';
const body = '{"type":"run.failed"}';

describe('webhook signatures', () => {
  it('is HMAC-SHA256 over "<timestamp>.<body>"', () => {
    // Computed independently: printf '1790000000.{"type":"run.failed"}' | openssl dgst -sha256 -hmac whsec_0123456789abcdef
    expect(signatureHeader(secret, 1_790_000_000, body)).toBe(
      't=1790000000,v1=be815ec67889b811ac2aaee824fd4f9ca71f21ec30c9dec814465d7dee5b313c',
    );
  });

  it('verifies a fresh signature and refuses tampering, other secrets and replays', () => {
    const header = signatureHeader(secret, 1_790_000_000, body);
    expect(verifySignature(secret, header, body, 1_790_000_010)).toBe(true);
    expect(verifySignature(secret, header, `${body} `, 1_790_000_010)).toBe(false);
    expect(verifySignature('whsec_another_secret!!', header, body, 1_790_000_010)).toBe(false);
    expect(verifySignature(secret, header, body, 1_790_000_000 + 301)).toBe(false);
    expect(verifySignature(secret, 'garbage', body, 1_790_000_000)).toBe(false);
  });

  it('carries one v1 per secret while a secret is rotated; either verifies', () => {
    const header = signatureHeader(['new-secret-0123456789', secret], 1_790_000_000, body);
    expect(header.split(',')).toHaveLength(3);
    expect(header).toContain('v1=be815ec67889b811ac2aaee824fd4f9ca71f21ec30c9dec814465d7dee5b313c');
    expect(verifySignature(secret, header, body, 1_790_000_000)).toBe(true);
    expect(verifySignature('new-secret-0123456789', header, body, 1_790_000_000)).toBe(true);
    expect(verifySignature('retired-secret-01234', header, body, 1_790_000_000)).toBe(false);
  });

  it("is verified by the README's snippet, rotation included", () => {
    const readme = readFileSync('README.md', 'utf8');
    const code = /```js\n([\s\S]*?function verify[\s\S]*?)```/.exec(readme)?.[1];
    expect(code).toBeDefined();
    const body = code!.replace(/^\s*import .*$/m, '');
    const verify = new Function('createHmac', 'timingSafeEqual', `${body}; return verify;`)(
      createHmac,
      timingSafeEqual,
    ) as (secret: string, header: string, rawBody: string) => boolean;
    vi.useFakeTimers({ now: 1_790_000_000_000 });
    try {
      const rotating = signatureHeader(['new-secret-0123456789', secret], 1_790_000_000, body);
      expect(verify(secret, rotating, body)).toBe(true);
      expect(verify('new-secret-0123456789', rotating, body)).toBe(true);
      expect(verify('another-secret-012345', rotating, body)).toBe(false);
      expect(verify(secret, rotating, `${body}x`)).toBe(false);
      vi.setSystemTime(1_790_000_000_000 + 301_000);
      expect(verify(secret, rotating, body)).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });
});
