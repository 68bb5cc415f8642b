/**
 * The per-tenant request limit on DynamoDB Local: never past the limit, however many API
 * instances count it, and, with leases, about one write per ten requests at a busy
 * instance's rate, refusing no earlier than about 90 % of the limit when spread out.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RateLimiter } from '../../functions/adapters/rate-limiter.js';
import { createDocumentClient } from '../../functions/commons/clients.js';
import { startLocalTables } from './support.js';

let dynamo: Awaited<ReturnType<typeof startLocalTables>>;
let db: DynamoDBDocumentClient;
let table = '';
/** UpdateItem calls the limiters made. */
let writes = 0;
const T0 = Date.parse('2027-05-01T00:00:00.000Z');
const at = (second: number, ms = 0) => new Date(T0 + second * 1000 + ms);

beforeAll(async () => {
  dynamo = await startLocalTables();
  table = dynamo.tables.Jobs;
  db = createDocumentClient(dynamo.config);
  db.middlewareStack.add(
    (next) => async (args) => {
      writes++;
      return next(args);
    },
    { step: 'initialize', name: 'countWrites' },
  );
}, 90_000);
afterAll(async () => {
  db?.destroy();
  await dynamo?.stop();
});

/** `n` takes in second `second`, `concurrency` at a time; how many were allowed. */
async function burst(limiter: RateLimiter, tenant: string, n: number, second: number, lease: boolean) {
  let allowed = 0;
  for (let i = 0; i < n; i += 10) {
    const taken = await Promise.all(
      Array.from({ length: Math.min(10, n - i) }, (_, j) =>
        limiter.take(tenant, 'requests', 100, 1, at(second, i + j), { lease }),
      ),
    );
    allowed += taken.filter((t) => t.allowed).length;
  }
  return allowed;
}

describe('RateLimiter', () => {
  it('counts every event without a lease, and says when to retry once over', async () => {
    const limiter = new RateLimiter(db, table);
    for (let i = 0; i < 5; i++)
      expect((await limiter.take('t1', 'creates', 5, 60, at(0))).allowed).toBe(true);
    expect(await limiter.take('t1', 'creates', 5, 60, at(15))).toEqual({
      allowed: false,
      retryAfterSeconds: 45,
    });
    expect((await limiter.take('t1', 'creates', 5, 60, at(60))).allowed).toBe(true);
  });

  it('with leases, a busy instance writes about once per ten requests and stops exactly at the limit', async () => {
    const limiter = new RateLimiter(db, table);
    expect(await burst(limiter, 't2', 100, 10, true)).toBe(100);
    const before = writes;
    expect(await burst(limiter, 't2', 100, 11, true)).toBe(100);
    expect(writes - before).toBeLessThanOrEqual(15);
    expect(await burst(limiter, 't2', 20, 11, true)).toBe(0);
    const refused = await limiter.take('t2', 'requests', 100, 1, at(11, 500), { lease: true });
    expect(refused).toEqual({ allowed: false, retryAfterSeconds: 1 });
    // Another tenant's counter is its own.
    expect(await burst(limiter, 't3', 10, 11, true)).toBe(10);
  });

  it('never lets instances together past the limit, and refuses none of them below 90 % of it', async () => {
    const instances = Array.from({ length: 4 }, () => new RateLimiter(db, table));
    // A second at 88 % of the limit, spread over four instances: nobody is refused.
    for (const second of [20, 21]) {
      const allowed = await Promise.all(instances.map((limiter) => burst(limiter, 't4', 22, second, true)));
      expect(allowed).toEqual([22, 22, 22, 22]);
    }
    // Twice the limit: exactly the limit gets through.
    const allowed = await Promise.all(instances.map((limiter) => burst(limiter, 't4', 50, 22, true)));
    expect(allowed.reduce((a, b) => a + b, 0)).toBe(100);
  });
});
