/**
 * Whether tenants share the queues, on DynamoDB Local: the fact fair share at its default
 * waits for. Every process learns it within a minute, a race between two first tenants
 * still ends shared, and a deployment once shared stays so.
 */
import { DeleteItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { countCalls } from '../../bench/counter.js';
import { DynamoTenancy, TENANCY_READ_EVERY_MS } from '../../functions/adapters/tenancy.js';
import { createDocumentClient } from '../../functions/commons/clients.js';
import { RecordingLogger } from '../fakes/in-memory.js';
import { startLocalTables } from './support.js';

let dynamo: Awaited<ReturnType<typeof startLocalTables>>;
let raw: DynamoDBClient;
let tableName = '';
const counter = countCalls();
/** Every DynamoDB call since the last reset, refused conditional writes included. */
const calls = () => Object.values(counter.commands()).reduce((n, c) => n + c.calls, 0);
/** A worker process of its own: its own client (counted) and its own memory of what it read. */
let processOf: (logger?: RecordingLogger) => DynamoTenancy;
const now = new Date('2027-05-01T00:00:00.000Z');
const later = (ms: number) => new Date(now.getTime() + ms);

beforeAll(async () => {
  dynamo = await startLocalTables();
  const { config, tables } = dynamo;
  raw = new DynamoDBClient(config);
  tableName = tables.Runs;
  processOf = (logger) => {
    const db = createDocumentClient(config);
    counter.instrument(db);
    return new DynamoTenancy(db, tableName, logger);
  };
}, 90_000);
afterAll(async () => {
  await dynamo?.stop();
});

beforeEach(async () => {
  // Each case starts as a new deployment.
  await raw.send(
    new DeleteItemCommand({ TableName: tableName, Key: { pk: { S: 'SUNDIAL' }, sk: { S: 'TENANCY' } } }),
  );
  counter.reset();
});

describe('tenancy', () => {
  it('is not shared while one tenant runs, and reads nothing more within a minute', async () => {
    const worker = processOf();
    expect(await worker.shared(['acme', 'acme'], now)).toBe(false);
    const first = calls();
    for (let i = 1; i < 10; i++) expect(await worker.shared(['acme'], later(i * 1000))).toBe(false);
    expect(calls()).toBe(first);
    // A minute on it reads again, once.
    expect(await worker.shared(['acme'], later(TENANCY_READ_EVERY_MS))).toBe(false);
    expect(calls()).toBe(first + 1);
  });

  it('is shared from the batch that holds a second tenant, and stays so', async () => {
    const logger = new RecordingLogger();
    const worker = processOf(logger);
    expect(await worker.shared(['acme'], now)).toBe(false);
    expect(logger.lines).toEqual([]);
    expect(await worker.shared(['acme', 'globex'], later(1000))).toBe(true);
    // Said once, naming both.
    expect(logger.lines).toEqual([
      expect.objectContaining({
        level: 'info',
        extra: { firstTenantId: 'acme', tenantId: 'globex' },
      }),
    ]);
    counter.reset();
    expect(await worker.shared(['acme'], later(2000))).toBe(true);
    expect(await worker.shared(['acme'], later(10 * TENANCY_READ_EVERY_MS))).toBe(true);
    // Once shared, nothing is read or written again.
    expect(calls()).toBe(0);
    // A new process (a cold start) reads it.
    expect(await processOf().shared(['acme'], later(3000))).toBe(true);
  });

  it('tells another process within a minute', async () => {
    const a = processOf();
    const b = processOf();
    expect(await a.shared(['acme'], now)).toBe(false);
    expect(await b.shared(['globex'], later(1000))).toBe(true);
    // `a` trusts its read for a minute, then learns.
    expect(await a.shared(['acme'], later(TENANCY_READ_EVERY_MS - 1))).toBe(false);
    expect(await a.shared(['acme'], later(TENANCY_READ_EVERY_MS))).toBe(true);
  });

  it('ends shared when two processes record different first tenants at once', async () => {
    const workers = Array.from({ length: 6 }, () => processOf());
    const answers = await Promise.all(workers.map((w, i) => w.shared([i % 2 ? 'acme' : 'globex'], now)));
    // Whoever lost the race to be first learned at once that another tenant was.
    expect(answers.filter(Boolean).length).toBeGreaterThanOrEqual(3);
    const fresh = await Promise.all(workers.map((w) => w.shared(['acme'], later(TENANCY_READ_EVERY_MS))));
    expect(fresh).toEqual(Array(6).fill(true));
  });

  it('says nothing for a batch with no verified firing, and records nothing', async () => {
    const worker = processOf();
    expect(await worker.shared([], now)).toBe(false);
    expect(calls()).toBe(0);
    expect(await worker.shared(['globex'], now)).toBe(false);
  });
});
