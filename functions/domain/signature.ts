/**
 * Signatures on what Sundial sends (HTTP target calls and failure webhooks): HMAC-SHA256
 * over "<timestamp>.<body>", sent as `Sundial-Signature: t=<unix seconds>,v1=<hex>`. The
 * timestamp lets a receiver refuse replays; the body binds the signature to exactly these
 * bytes. While a secret is being rotated, one v1 per valid secret is sent.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'sundial-signature';

export function signatureHeader(secret: string | readonly string[], timestamp: number, body: string): string {
  const secrets = typeof secret === 'string' ? [secret] : secret;
  const macs = secrets.map(
    (s) => `v1=${createHmac('sha256', s).update(`${timestamp}.${body}`).digest('hex')}`,
  );
  return [`t=${timestamp}`, ...macs].join(',');
}

/** What a receiver runs: true when the header matches the body and is recent enough. */
export function verifySignature(
  secret: string,
  header: string,
  body: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  const parts = header.split(',').map((p) => p.split('=') as [string, string]);
  const timestamp = Number(parts.find(([k]) => k === 't')?.[1]);
  const given = parts.filter(([k]) => k === 'v1').map(([, v]) => Buffer.from(v ?? '', 'hex'));
  if (
    !Number.isInteger(timestamp) ||
    given.length === 0 ||
    Math.abs(nowSeconds - timestamp) > toleranceSeconds
  )
    return false;
  const expected = Buffer.from(signatureHeader(secret, timestamp, body).split('v1=')[1]!, 'hex');
  return given.some((g) => g.length === expected.length && timingSafeEqual(g, expected));
}
