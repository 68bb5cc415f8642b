/**
 * The authenticator's hardening, with an injected clock: the failure limiter, the
 * refusal cache of the key store (reads counted on an in-memory table), the key format
 * check, and the token's exp, lifetime and Cognito token_use.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCEPTED_TTL_MS,
  ApiKeyStore,
  isWellFormedApiKey,
  RefusalCache,
} from '../../functions/adapters/api-key-store.js';
import { createAuthenticator, MAX_TOKEN_LIFETIME_SECONDS } from '../../functions/adapters/authenticator.js';
import { FailureLimiter, sourceKey, UnauthorizedError } from '../../functions/domain/auth.js';
import { QuotaExceededError } from '../../functions/domain/errors.js';

const T0 = Date.parse('2026-12-01T00:00:00.000Z');

/** A table of API key items, counting its reads. */
function memoryTable() {
  const items = new Map<string, Record<string, unknown>>();
  const calls = { reads: 0 };
  const db = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      const name = command.constructor.name;
      if (name === 'GetCommand') {
        calls.reads++;
        const key = command.input.Key as { pk: string; sk: string };
        return { Item: items.get(`${key.pk}|${key.sk}`) };
      }
      if (name === 'TransactWriteCommand') {
        type Write = {
          Put?: { Item: Record<string, string> };
          Update?: { Key: { pk: string; sk: string }; ExpressionAttributeValues: Record<string, string> };
        };
        for (const { Put, Update } of command.input.TransactItems as Write[]) {
          if (Put) items.set(`${Put.Item.pk}|${Put.Item.sk}`, { ...Put.Item });
          // Only a revocation updates a key.
          const item = Update && items.get(`${Update.Key.pk}|${Update.Key.sk}`);
          if (Update && item) item.revokedAt = Update.ExpressionAttributeValues[':now'];
        }
        return {};
      }
      throw new Error(`unexpected ${name}`);
    },
  } as unknown as DynamoDBDocumentClient;
  return { db, items, calls };
}

/** A key of the right shape that was never issued, with an id minted at `at`. */
function unknownKey(at = T0 - 3_600_000): string {
  return `sk_${ulid(at)}_${randomBytes(32).toString('base64url')}`;
}

describe('FailureLimiter', () => {
  it('allows 20 failures per source, then says when to retry; refills at 20 per 10 s', () => {
    const limiter = new FailureLimiter();
    for (let i = 0; i < 20; i++) expect(limiter.take('203.0.113.7', T0)).toBeNull();
    expect(limiter.take('203.0.113.7', T0)).toBe(1);
    expect(limiter.take('203.0.113.7', T0 + 400)).toBe(1);
    expect(limiter.take('203.0.113.7', T0 + 500)).toBeNull(); // one refilled in 0.5 s
    expect(limiter.take('203.0.113.7', T0 + 500)).toBe(1);
    for (let i = 0; i < 20; i++) expect(limiter.take('203.0.113.7', T0 + 10_500)).toBeNull();
    expect(limiter.take('203.0.113.7', T0 + 10_500)).not.toBeNull();
  });

  it('keys each source apart, and requests without one share a bucket', () => {
    const limiter = new FailureLimiter({ capacity: 2, windowMs: 10_000 });
    limiter.take('198.51.100.1', T0);
    limiter.take('198.51.100.1', T0);
    expect(limiter.take('198.51.100.1', T0)).toBe(5);
    expect(limiter.take('198.51.100.2', T0)).toBeNull();
    expect(limiter.take(undefined, T0)).toBeNull();
    expect(limiter.take('', T0)).toBeNull();
    expect(limiter.take(undefined, T0)).toBe(5);
  });

  it('gives back the reservation of an attempt that authenticated, dropping a full bucket', () => {
    const limiter = new FailureLimiter({ capacity: 3 });
    for (let i = 0; i < 10; i++) {
      expect(limiter.take('192.0.2.1', T0)).toBeNull();
      limiter.refund('192.0.2.1', T0);
    }
    expect(limiter.size).toBe(0);
  });

  it('holds at most maxSources buckets, evicting the least recently seen', () => {
    const limiter = new FailureLimiter({ capacity: 1, maxSources: 3 });
    for (const ip of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) limiter.take(ip, T0);
    expect(limiter.take('10.0.0.1', T0)).toBe(10); // seen again: now the most recent
    limiter.take('10.0.0.4', T0); // evicts 10.0.0.2
    expect(limiter.size).toBe(3);
    expect(limiter.take('10.0.0.2', T0)).toBeNull(); // forgotten, so a fresh bucket (evicts 10.0.0.3)
    expect(limiter.take('10.0.0.1', T0)).toBe(10);
    for (let i = 0; i < 1000; i++) limiter.take(`10.1.${i >> 8}.${i & 255}`, T0);
    expect(limiter.size).toBe(3);
  });

  it('buckets IPv6 by /64, IPv4-mapped addresses as IPv4, and no address as *', () => {
    expect(sourceKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(sourceKey('::1')).toBe('0:0:0:0::/64');
    expect(sourceKey('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(sourceKey('203.0.113.9')).toBe('203.0.113.9');
    expect(sourceKey(undefined)).toBe('*');
    expect(sourceKey('  ')).toBe('*');
  });
});

describe('RefusalCache', () => {
  it('remembers a refusal for its TTL only', () => {
    const cache = new RefusalCache(60_000, 10);
    cache.add('a', T0);
    expect(cache.has('a', T0 + 59_999)).toBe(true);
    expect(cache.has('a', T0 + 60_000)).toBe(false);
    expect(cache.size).toBe(0);
  });

  it('holds at most maxEntries, the oldest going first', () => {
    const cache = new RefusalCache(60_000, 3);
    for (const [i, k] of ['a', 'b', 'c', 'd'].entries()) cache.add(k, T0 + i);
    expect(cache.size).toBe(3);
    expect(cache.has('a', T0 + 10)).toBe(false);
    expect(cache.has('d', T0 + 10)).toBe(true);
  });
});

describe('API key format', () => {
  it('accepts exactly what ApiKeyStore.create issues', async () => {
    const { db } = memoryTable();
    const store = new ApiKeyStore(db, 'jobs');
    for (let i = 0; i < 50; i++) {
      const { secretKey } = await store.create(
        { tenantId: 'dev', name: 'k', role: 'viewer', createdBy: 'test' },
        new Date(T0 + i),
      );
      expect(isWellFormedApiKey(secretKey), secretKey).toBe(true);
    }
    const good = unknownKey();
    const [, id, secret] = /^sk_(.{26})_(.{43})$/.exec(good)!;
    for (const bad of [
      'sk_nope',
      `sk_${id}_${secret}x`, // too long
      `sk_${id!.slice(1)}_${secret}`, // id too short
      `sk_${id!.replace(/^./, 'I')}_${secret}`, // I is not Crockford base32
      `sk_8${id!.slice(1)}_${secret}`, // beyond the 48-bit time of a ULID
      `sk_${id}_${secret!.slice(0, 42)}B`, // last character carries bits 32 bytes cannot have
      `sk_${id}_${secret!.slice(0, 42)}=`,
      `SK_${id}_${secret}`,
    ]) {
      expect(isWellFormedApiKey(bad), bad).toBe(false);
    }
  });
});

describe('ApiKeyStore.verify', () => {
  it('reads nothing for a malformed key, and once per minute for an unknown one', async () => {
    const { db, calls } = memoryTable();
    let now = T0;
    const store = new ApiKeyStore(db, 'jobs', { now: () => now });
    expect(await store.verify('sk_nope')).toBeNull();
    expect(calls.reads).toBe(0);
    const key = unknownKey();
    for (let i = 0; i < 5; i++) expect(await store.verify(key)).toBeNull();
    expect(calls.reads).toBe(1);
    now += 60_000;
    expect(await store.verify(key)).toBeNull();
    expect(calls.reads).toBe(2);
  });

  it('does not remember a miss for an id minted within 5 minutes (an eventually consistent read)', async () => {
    const { db, calls } = memoryTable();
    const store = new ApiKeyStore(db, 'jobs', { now: () => T0 });
    for (const at of [T0 - 60_000, T0 + 60_000]) {
      const key = unknownKey(at);
      await store.verify(key);
      await store.verify(key);
    }
    expect(calls.reads).toBe(4);
  });

  it('accepts a verified key again for ACCEPTED_TTL_MS without a read, and forgets it at once when revoked here', async () => {
    const { db, items, calls } = memoryTable();
    let now = T0;
    const store = new ApiKeyStore(db, 'jobs', { now: () => now });
    const { key, secretKey } = await store.create(
      { tenantId: 'dev', name: 'k', role: 'operator', createdBy: 'test' },
      new Date(T0),
    );
    expect(await store.verify(secretKey)).toEqual({
      tenantId: 'dev',
      role: 'operator',
      subject: `key:${key.id}`,
    });
    for (let i = 0; i < 10; i++) expect(await store.verify(secretKey)).not.toBeNull();
    expect(store.recentlyAccepted(secretKey)?.subject).toBe(`key:${key.id}`);
    expect(calls.reads).toBe(1);
    // Revoked by another instance: this one learns of it when its acceptance runs out.
    items.get(`APIKEY#${key.id}|APIKEY`)!.revokedAt = new Date(T0).toISOString();
    expect(await store.verify(secretKey)).not.toBeNull();
    now += ACCEPTED_TTL_MS;
    expect(store.recentlyAccepted(secretKey)).toBeUndefined();
    expect(await store.verify(secretKey)).toBeNull();
    expect(await store.verify(secretKey)).toBeNull(); // revocation is final: remembered
    expect(calls.reads).toBe(2);
    // A wrong secret for a real id is remembered by the whole key, not the id.
    const other = await store.create(
      { tenantId: 'dev', name: 'k2', role: 'viewer', createdBy: 'test' },
      new Date(T0),
    );
    const wrong = `sk_${other.key.id}_${'A'.repeat(43)}`;
    expect(await store.verify(wrong)).toBeNull();
    expect(await store.verify(wrong)).toBeNull();
    expect(store.recentlyAccepted(wrong)).toBeUndefined();
    expect(await store.verify(other.secretKey)).not.toBeNull();
    expect(calls.reads).toBe(4);
  });

  it('stops accepting a key at once when this instance revokes it', async () => {
    const { db } = memoryTable();
    const store = new ApiKeyStore(db, 'jobs', { now: () => T0 });
    const { key, secretKey } = await store.create(
      { tenantId: 'dev', name: 'k', role: 'admin', createdBy: 'test' },
      new Date(T0),
    );
    expect(await store.verify(secretKey)).not.toBeNull();
    expect(await store.revoke('dev', key.id, new Date(T0))).toBe(true);
    expect(store.recentlyAccepted(secretKey)).toBeUndefined();
    expect(await store.verify(secretKey)).toBeNull();
  });
});

describe('createAuthenticator with API keys', () => {
  it('answers 429 after 20 failures from one source, reading the table at most 20 times', async () => {
    const { db, calls } = memoryTable();
    let now = T0;
    const store = new ApiKeyStore(db, 'jobs', { now: () => now });
    const authenticate = createAuthenticator(store, undefined, { now: () => now });
    const outcomes: string[] = [];
    for (let i = 0; i < 25; i++) {
      outcomes.push(
        await authenticate(`Bearer ${unknownKey()}`, '203.0.113.5').then(
          () => 'ok',
          (e: Error) => e.name,
        ),
      );
    }
    expect(outcomes.slice(0, 20)).toEqual(Array(20).fill('UnauthorizedError'));
    expect(outcomes.slice(20)).toEqual(Array(5).fill('QuotaExceededError'));
    expect(calls.reads).toBe(20);
    const limited = await authenticate(`Bearer ${unknownKey()}`, '203.0.113.5').catch((e) => e);
    expect(limited).toBeInstanceOf(QuotaExceededError);
    expect(limited.retryAfterSeconds).toBe(1);
    // Another source is not affected; a malformed key is refused (401) at no cost.
    await expect(authenticate(`Bearer ${unknownKey()}`, '203.0.113.6')).rejects.toThrow(UnauthorizedError);
    await expect(authenticate('Bearer sk_nope', '203.0.113.5')).rejects.toThrow('malformed');
    expect(calls.reads).toBe(21);
    // The window passes: reads again.
    now += 10_000;
    await expect(authenticate(`Bearer ${unknownKey()}`, '203.0.113.5')).rejects.toThrow(UnauthorizedError);
    expect(calls.reads).toBe(22);
  });

  it('holds concurrent attempts to the budget too', async () => {
    const { db, calls } = memoryTable();
    const authenticate = createAuthenticator(new ApiKeyStore(db, 'jobs', { now: () => T0 }), undefined, {
      now: () => T0,
    });
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, () => authenticate(`Bearer ${unknownKey()}`, undefined)),
    );
    expect(
      results.filter((r) => r.status === 'rejected' && r.reason instanceof QuotaExceededError),
    ).toHaveLength(20);
    expect(calls.reads).toBe(20);
  });

  it('lets a valid key through without spending the budget', async () => {
    const { db } = memoryTable();
    const store = new ApiKeyStore(db, 'jobs', { now: () => T0 });
    const limiter = new FailureLimiter();
    const authenticate = createAuthenticator(store, undefined, { now: () => T0, limiter });
    const { secretKey } = await store.create(
      { tenantId: 'dev', name: 'k', role: 'admin', createdBy: 'test' },
      new Date(T0),
    );
    for (let i = 0; i < 50; i++) await authenticate(`Bearer ${secretKey}`, '192.0.2.8');
    expect(limiter.size).toBe(0);
  });

  it('lets a burst of 100 concurrent requests with one valid key through, with one read', async () => {
    const { db, calls } = memoryTable();
    const store = new ApiKeyStore(db, 'jobs', { now: () => T0 });
    const authenticate = createAuthenticator(store, undefined, { now: () => T0 });
    const { secretKey } = await store.create(
      { tenantId: 'dev', name: 'k', role: 'viewer', createdBy: 'test' },
      new Date(T0),
    );
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, () => authenticate(`Bearer ${secretKey}`, '192.0.2.9')),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(100);
    expect(calls.reads).toBe(1);
  });

  it('shares one check among concurrent requests with the same bad key: one read, one failure spent', async () => {
    const { db, calls } = memoryTable();
    const limiter = new FailureLimiter();
    const authenticate = createAuthenticator(new ApiKeyStore(db, 'jobs', { now: () => T0 }), undefined, {
      now: () => T0,
      limiter,
    });
    const bad = unknownKey();
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, () => authenticate(`Bearer ${bad}`, '192.0.2.10')),
    );
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof UnauthorizedError)).toBe(true);
    expect(calls.reads).toBe(1);
    // 19 of the source's 20 failures are left.
    const more = await Promise.allSettled(
      Array.from({ length: 20 }, () => authenticate(`Bearer ${unknownKey()}`, '192.0.2.10')),
    );
    expect(
      more.filter((r) => r.status === 'rejected' && r.reason instanceof QuotaExceededError),
    ).toHaveLength(1);
  });
});

describe('createAuthenticator with tokens', () => {
  const COGNITO = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Test';
  const CLIENT = 'app-client-id';
  let server: Server;
  let jwksUri = '';
  let privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  const NOW = T0;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    server = createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    jwksUri = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/jwks.json`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const seconds = (ms: number) => Math.floor(ms / 1000);
  /** A Cognito-style ID token, valid for an hour from NOW; `claims` override (undefined removes). */
  const sign = (claims: JWTPayload = {}, issuer = COGNITO) => {
    const all: JWTPayload = {
      iss: issuer,
      sub: 'user-1',
      aud: CLIENT,
      token_use: 'id',
      iat: seconds(NOW),
      exp: seconds(NOW) + 3600,
      'custom:tenant': 'dev',
      'cognito:groups': ['viewer'],
      ...claims,
    };
    for (const [k, v] of Object.entries(all)) if (v === undefined) delete all[k];
    return new SignJWT(all).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(privateKey);
  };
  const authenticator = (issuer = COGNITO) =>
    createAuthenticator(
      new ApiKeyStore(memoryTable().db, 'jobs'),
      { issuer, audience: CLIENT, jwksUri },
      { now: () => NOW },
    );
  const outcome = async (token: string, issuer = COGNITO) =>
    authenticator(issuer)(`Bearer ${token}`, '192.0.2.1').then(
      (p) => `ok ${p.role}`,
      (e: Error) => `${e.name}: ${e.message}`,
    );

  it('accepts a Cognito ID token by aud and an access token by client_id', async () => {
    expect(await outcome(await sign())).toBe('ok viewer');
    expect(await outcome(await sign({ aud: undefined, client_id: CLIENT, token_use: 'access' }))).toBe(
      'ok viewer',
    );
  });

  it('refuses a token without exp', async () => {
    expect(await outcome(await sign({ exp: undefined }))).toMatch(/^UnauthorizedError: .*"exp" claim/);
  });

  it('refuses a token living longer than 24 h, by iat or, without iat, from now', async () => {
    const day = MAX_TOKEN_LIFETIME_SECONDS;
    expect(await outcome(await sign({ exp: seconds(NOW) + day }))).toBe('ok viewer');
    expect(await outcome(await sign({ iat: seconds(NOW) - 3600, exp: seconds(NOW) + day }))).toMatch(
      /^UnauthorizedError: the token lives 90000 s/,
    );
    expect(await outcome(await sign({ iat: undefined, exp: seconds(NOW) + day }))).toBe('ok viewer');
    expect(await outcome(await sign({ iat: undefined, exp: seconds(NOW) + day + 3600 }))).toMatch(
      /^UnauthorizedError: the token expires 90000 s from now/,
    );
    // An iat in the future gains nothing.
    expect(
      await outcome(await sign({ iat: seconds(NOW) + 30 * day, exp: seconds(NOW) + 30 * day + 60 })),
    ).toMatch(/^UnauthorizedError: /);
  });

  it('refuses a Cognito token whose token_use does not fit the claim naming the client', async () => {
    const mismatch = /^UnauthorizedError: the token's token_use is/;
    expect(await outcome(await sign({ token_use: 'access' }))).toMatch(mismatch); // aud, access
    expect(await outcome(await sign({ aud: undefined, client_id: CLIENT, token_use: 'id' }))).toMatch(
      mismatch,
    );
    expect(await outcome(await sign({ token_use: undefined }))).toMatch(/token_use is missing/); // cognito-idp issuer
    expect(await outcome(await sign({ token_use: 'refresh' }))).toMatch(mismatch);
    expect(await outcome(await sign({ aud: 'other-client' }))).toBe(
      'UnauthorizedError: the token is for another audience',
    );
  });

  it('checks token_use only for Cognito tokens: another issuer may omit it', async () => {
    const issuer = 'https://login.example.com';
    expect(await outcome(await sign({ token_use: undefined }, issuer), issuer)).toBe('ok viewer');
    expect(await outcome(await sign({ token_use: 'access' }, issuer), issuer)).toMatch(/token_use/);
  });

  it('counts refused tokens against the source, then answers 429', async () => {
    const authenticate = authenticator();
    const bad = await sign({ exp: undefined });
    for (let i = 0; i < 20; i++)
      await expect(authenticate(`Bearer ${bad}`, '192.0.2.9')).rejects.toThrow(UnauthorizedError);
    await expect(authenticate(`Bearer ${await sign()}`, '192.0.2.9')).rejects.toThrow(QuotaExceededError);
    await expect(authenticate(`Bearer ${await sign()}`, '192.0.2.10')).resolves.toMatchObject({
      tenantId: 'dev',
    });
  });
});
