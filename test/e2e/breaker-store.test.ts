/** The breaker store on DynamoDB Local: version-conditional writes, so concurrent workers agree; one tenant's partition only. */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOSED_BREAKER_TTL_SECONDS, DynamoBreakerStore } from '../../functions/adapters/breaker-store.js';
import { createDocumentClient } from '../../functions/commons/clients.js';
import { admit, afterFailure, DEFAULT_BREAKER_SETTINGS, newBreaker } from '../../functions/domain/breaker.js';
import { startLocalTables } from './support.js';

let dynamo: Awaited<ReturnType<typeof startLocalTables>>;
let store: DynamoBreakerStore;
let config: typeof dynamo.config;
let runsTable: string;
const now = new Date('2027-05-01T00:00:00.000Z');

beforeAll(async () => {
  dynamo = await startLocalTables();
  config = dynamo.config;
  const { tables } = dynamo;
  runsTable = tables.Runs;
  store = new DynamoBreakerStore(createDocumentClient(config), tables.Runs);
}, 90_000);
afterAll(async () => {
  await dynamo?.stop();
});

describe('the breaker store', () => {
  it('creates a breaker once, and of concurrent writers at one version exactly one wins', async () => {
    const first = afterFailure(
      undefined,
      'acme',
      'api.example.com',
      'h',
      'HTTP 500',
      DEFAULT_BREAKER_SETTINGS,
      now,
    );
    const creates = await Promise.all([store.save(first, 0), store.save({ ...first, failures: 7 }, 0)]);
    expect(creates.filter(Boolean)).toHaveLength(1);
    const read = (await store.get('acme', 'api.example.com', true))!;
    expect(read.version).toBe(1);
    const racers = Array.from({ length: 5 }, (_, i) =>
      store.save({ ...read, lastError: `racer ${i}`, version: 2 }, read.version),
    );
    expect((await Promise.all(racers)).filter(Boolean)).toHaveLength(1);
    expect(await store.save({ ...read, version: 2 }, read.version)).toBe(false);
  });

  it('lets one probe hold a half-open breaker', async () => {
    let b = newBreaker('acme', 'arn:aws:lambda:eu-west-1:123456789012:function:report', now);
    for (let i = 0; i < 5; i++)
      b = afterFailure(b, 'acme', b.target, `h${i}`, 'timeout', DEFAULT_BREAKER_SETTINGS, now);
    expect(await store.save(b, 0)).toBe(true);
    const later = new Date(Date.parse(b.retryAt!) + 1);
    const stored = (await store.get('acme', b.target, true))!;
    const probes = ['p1', 'p2', 'p3'].map((holder) => {
      const decision = admit(stored, holder, new Date(later.getTime() + 60_000), later);
      if (decision.kind !== 'probe') throw new Error('expected a probe');
      return store.save(decision.next, stored.version);
    });
    expect((await Promise.all(probes)).filter(Boolean)).toHaveLength(1);
    expect((await store.get('acme', b.target, true))?.state).toBe('half_open');
  });

  it("lists a tenant's breakers and no other tenant's", async () => {
    await store.save(newBreaker('globex', 'api.example.com', now), 0);
    const acme = await store.list('acme', { limit: 10 });
    expect(acme.items.map((b) => b.tenantId)).toEqual(['acme', 'acme']);
    expect((await store.list('globex', { limit: 10 })).items.map((b) => b.target)).toEqual([
      'api.example.com',
    ]);
    expect(await store.get('initech', 'api.example.com')).toBeUndefined();
    const page = await store.list('acme', { limit: 1 });
    expect(page.nextCursor).not.toBeNull();
    const rest = await store.list('acme', { limit: 1, cursor: page.nextCursor! });
    expect(rest.items.map((b) => b.target)).not.toEqual(page.items.map((b) => b.target));
  });

  it('lets a closed breaker expire 30 days after its last write, and never an open one', async () => {
    const raw = async (target: string) =>
      (
        await createDocumentClient(config).send(
          new GetCommand({ TableName: runsTable, Key: { pk: 'TENANT#ttl#BREAKER', sk: `TARGET#${target}` } }),
        )
      ).Item;
    const failing = afterFailure(
      undefined,
      'ttl',
      'closed.example.com',
      'h',
      'HTTP 500',
      DEFAULT_BREAKER_SETTINGS,
      now,
    );
    expect(failing.state).toBe('closed');
    expect(await store.save(failing, 0)).toBe(true);
    expect((await raw('closed.example.com'))?.expiresAt).toBe(
      now.getTime() / 1000 + CLOSED_BREAKER_TTL_SECONDS,
    );
    // Neither the API nor the worker sees the expiry.
    expect(await store.get('ttl', 'closed.example.com', true)).not.toHaveProperty('expiresAt');

    let open = failing;
    for (let i = 1; i < DEFAULT_BREAKER_SETTINGS.failureThreshold; i++) {
      open = afterFailure(open, 'ttl', 'closed.example.com', 'h', 'HTTP 500', DEFAULT_BREAKER_SETTINGS, now);
    }
    expect(open.state).toBe('open');
    expect(await store.save(open, failing.version)).toBe(true);
    expect(await raw('closed.example.com')).not.toHaveProperty('expiresAt');
  });
});
