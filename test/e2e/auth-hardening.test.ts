/**
 * The authenticator's hardening over real HTTP against the local runtime: tokens must
 * expire and carry the token_use that fits, and failed authentications are limited per
 * source address, DynamoDB reads with them. The local API Gateway takes the source from
 * the connection, so requests are sent from different loopback addresses (127.0.0.x) to
 * stand for different clients.
 */

import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { type JWTPayload, SignJWT } from 'jose';
import { ulid } from 'ulid';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.js';
import type { CreatedKey } from '../support/api.js';
import { TestClock } from '../support/clock.js';
import { startTestIssuer, type TestIssuer } from './support.js';

const AUDIENCE = 'sundial-hardening-client';
const clock = new TestClock();
let runtime: LocalRuntime;
let stopIssuer: (() => Promise<void>) | undefined;
let issuer = '';
let privateKey: TestIssuer['privateKey'];
/** DynamoDB GetItem calls of every client the runtime made. */
let getItems = 0;

beforeAll(async () => {
  const testIssuer = await startTestIssuer('k1');
  stopIssuer = testIssuer.stop;
  privateKey = testIssuer.privateKey;
  issuer = testIssuer.issuer;
  runtime = await startLocalRuntime({
    port: 0,
    // Nothing runs by itself under an injected clock: the only AWS calls are the requests'.
    clock,
    logLevel: 'SILENT',
    jwt: { issuer, audience: AUDIENCE, jwksUri: testIssuer.jwksUri },
    instrument: (client) => {
      const add = client.middlewareStack.add as unknown as (
        mw: (
          next: (args: unknown) => Promise<unknown>,
          context: { clientName?: string; commandName?: string },
        ) => (args: unknown) => Promise<unknown>,
        options: { step: string; name: string },
      ) => void;
      add(
        (next, context) => async (args) => {
          if (context.clientName?.startsWith('DynamoDB') && context.commandName === 'GetItemCommand')
            getItems++;
          return next(args);
        },
        { step: 'initialize', name: 'countGetItems' },
      );
    },
  });
});

// Each test in rate-limit windows of its own: tokens' times and the failure limit go by the runtime's clock.
beforeEach(() => {
  clock.fresh();
});

afterAll(async () => {
  await runtime?.stop();
  await stopIssuer?.();
});

/** GET /v1/jobs with `Authorization: Bearer <credential>`, sent from `from` (a loopback address). */
function get(
  credential: string,
  from = '127.0.0.1',
): Promise<{ status: number; headers: Record<string, unknown>; body: { detail?: string } }> {
  const url = new URL('/v1/jobs', runtime.apiUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'GET', localAddress: from, headers: { authorization: `Bearer ${credential}` } },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => {
          text += chunk.toString();
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text || '{}') }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** A valid operator ID token of tenant dev, as Cognito shapes one; `claims` override (undefined removes). */
function token(claims: JWTPayload = {}) {
  const now = Math.floor(clock.now().getTime() / 1000);
  const all: JWTPayload = {
    iss: issuer,
    sub: 'user-1',
    aud: AUDIENCE,
    token_use: 'id',
    iat: now,
    exp: now + 300,
    'custom:tenant': 'dev',
    'cognito:groups': ['operator'],
    ...claims,
  };
  for (const [k, v] of Object.entries(all)) if (v === undefined) delete all[k];
  return new SignJWT(all).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(privateKey);
}

/** A key of exactly the issued shape that no one issued (an id from an hour ago). */
const unknownKey = () => `sk_${ulid(Date.now() - 3_600_000)}_${randomBytes(32).toString('base64url')}`;

describe('tokens', () => {
  it('accepts an ID token with exp and token_use=id, and an access token by client_id', async () => {
    expect((await get(await token())).status).toBe(200);
    expect(
      (await get(await token({ aud: undefined, client_id: AUDIENCE, token_use: 'access' }))).status,
    ).toBe(200);
  });

  it('refuses a token without exp: 401', async () => {
    const res = await get(await token({ exp: undefined }));
    expect(res.status).toBe(401);
    expect(res.body.detail).toContain('"exp" claim');
  });

  it('refuses a token living more than 24 h: 401', async () => {
    const now = Math.floor(clock.now().getTime() / 1000);
    const res = await get(await token({ exp: now + 25 * 3600 }));
    expect(res.status).toBe(401);
    expect(res.body.detail).toMatch(/at most 86400 s/);
  });

  it('refuses an ID token (aud) that says token_use=access, and an access token that says id: 401', async () => {
    const asAccess = await get(await token({ token_use: 'access' }));
    expect(asAccess.status).toBe(401);
    expect(asAccess.body.detail).toContain(`token_use is "access"`);
    const asId = await get(await token({ aud: undefined, client_id: AUDIENCE, token_use: 'id' }));
    expect(asId.status).toBe(401);
  });
});

describe('failed authentications', () => {
  it('answers 429 after 20 unknown keys from one source, each 401 costing one read and each 429 none', async () => {
    const before = getItems;
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof get>> | undefined;
    for (let i = 0; i < 25; i++) {
      last = await get(unknownKey(), '127.0.0.2');
      statuses.push(last.status);
    }
    const reads = getItems - before;
    // 20 at once (the clock stands still): the first 20 are refused after a read, the rest without.
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(401));
    expect(statuses.slice(20)).toEqual(Array(5).fill(429));
    expect(reads).toBe(20);
    expect(last?.headers['retry-after']).toBe('1');
    expect(last?.headers['content-type']).toBe('application/problem+json');
    expect(last?.body.detail).toContain('too many failed authentications');

    // Refilled at 2 a second: half a second later one more attempt is checked, and the next is not.
    clock.advance(500);
    expect((await get(unknownKey(), '127.0.0.2')).status).toBe(401);
    expect((await get(unknownKey(), '127.0.0.2')).status).toBe(429);
    expect(getItems - before).toBe(21);

    // Only that source is held back: another one authenticates (and fails) as usual.
    expect((await get(runtime.devApiKey, '127.0.0.3')).status).toBe(200);
    expect((await get(unknownKey(), '127.0.0.3')).status).toBe(401);
  });

  it('costs nothing for a malformed key, and one read a minute for an unknown key presented again', async () => {
    const before = getItems;
    for (const bad of ['sk_nope', `sk_${ulid()}_short`, `sk_${'I'.repeat(26)}_${'A'.repeat(43)}`]) {
      expect((await get(bad, '127.0.0.4')).status).toBe(401);
    }
    expect(getItems - before).toBe(0);
    const again = unknownKey();
    for (let i = 0; i < 5; i++) expect((await get(again, '127.0.0.4')).status).toBe(401);
    expect(getItems - before).toBe(1);
  });

  it('still refuses a revoked key, and a new key works at once', async () => {
    const admin = runtime.devApiKey;
    const created = await new Promise<CreatedKey>((resolve, reject) => {
      const req = request(
        new URL('/v1/keys', runtime.apiUrl),
        {
          method: 'POST',
          localAddress: '127.0.0.5',
          headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => {
            text += c.toString();
          });
          res.on('end', () => resolve(JSON.parse(text)));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ name: 'fresh', role: 'viewer' }));
    });
    expect((await get(created.key, '127.0.0.5')).status).toBe(200);
    await runtime.services.apiKeys.revoke('dev', created.id, new Date());
    expect((await get(created.key, '127.0.0.5')).status).toBe(401);
    expect((await get(created.key, '127.0.0.5')).status).toBe(401);
  });
});
