/**
 * The attacks of a hostile tenant, repeated against the local runtime so none can come
 * back: Sundial's own services as HTTP targets (DynamoDB Local, the KMS stand-in, fauxqs,
 * the API), SQS targets that send signed requests to any host, firings forged for another
 * tenant (invariants 8 and 9), and URL forms that embed internal IPv4 space. Each is
 * refused when the job is saved and again when a job stored before the fix is run.
 */
import { createServer, type Server } from 'node:http';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../functions/commons/clients.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/dynamodb-local.js';
import type { ApiClient, DeadLetter, Job, Page, Problem, Run } from '../support/api.js';
import { TestClock } from '../support/clock.js';
import {
  deleteAllJobs,
  listenForTargets,
  type ManualSuite,
  RecordingTarget,
  runNow as runNowOn,
  sendRaw as sendRawOn,
  settleFile,
  settleTest,
  startManualSuite,
  tenantClient,
} from './support.js';

const clock = new TestClock();
const target = new RecordingTarget();
let suite: ManualSuite;
/** Tenant B: the attacker. The suite's own client is tenant `dev`, the victim. */
let attacker: ApiClient;

beforeAll(async () => {
  await target.start();
  // The clock stands still within a test, and a test here makes many requests in its one second.
  suite = await startManualSuite(clock, { limits: { requestsPerSecond: 10_000 } });
  attacker = await tenantClient(suite.runtime, 'mallory', clock.now());
});
beforeEach(() => {
  clock.fresh();
  target.reset();
});
afterEach(async () => {
  await deleteAllJobs(attacker);
  await settleTest(suite);
});
afterAll(async () => {
  await settleFile(suite);
  await target.stop();
});

/** Every service of the runtime itself, as a URL a job could name. */
function ownServices(): Record<string, string> {
  const { endpoints, apiUrl } = suite.runtime;
  return { ...endpoints, api: apiUrl };
}

/** Sundial's tables, read and written directly, behind the API. */
function rawDb() {
  return createDocumentClient({
    endpoint: suite.runtime.endpoints.dynamodb,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
}

/** Rewrites a stored job's target in the table, as a job saved before these fixes would be. */
async function storeTarget(tenantId: string, jobId: string, stored: Record<string, unknown>): Promise<void> {
  const db = rawDb();
  await db.send(
    new UpdateCommand({
      TableName: suite.runtime.config.jobsTableName,
      Key: { pk: `TENANT#${tenantId}`, sk: `JOB#${jobId}` },
      UpdateExpression: 'SET #target = :target',
      ExpressionAttributeNames: { '#target': 'target' },
      ExpressionAttributeValues: { ':target': stored },
    }),
  );
  db.destroy();
}

/** Puts a message straight on one of Sundial's queues, as if its queue policy were bypassed. */
const sendRaw = (queueUrl: string, body: unknown) => sendRawOn(suite.runtime, queueUrl, body);

const runNow = (api: ApiClient, jobId: string) => runNowOn(api, suite.runtime, jobId);

const httpJob = (url: string, extra: Record<string, unknown> = {}) => ({
  name: 'probe',
  target: { type: 'http', url, method: 'POST', ...extra },
});

describe("Sundial's own services as HTTP targets (critical 1)", () => {
  it('refuses at save a Scan of the jobs table through DynamoDB Local, and a key minted with PutItem', async () => {
    const dynamodb = suite.runtime.endpoints.dynamodb;
    const scan = await attacker<Problem>(
      'POST',
      '/v1/jobs',
      httpJob(`${dynamodb}/`, {
        headers: { 'x-amz-target': 'DynamoDB_20120810.Scan', 'content-type': 'application/x-amz-json-1.0' },
        body: JSON.stringify({ TableName: suite.runtime.config.jobsTableName }),
      }),
    );
    expect(scan.status).toBe(400);
    expect(scan.body.errors?.[0]).toMatchObject({ field: 'target.url' });
    const mint = await attacker<Problem>(
      'POST',
      '/v1/jobs',
      httpJob(dynamodb.replace('127.0.0.1', 'localhost'), {
        headers: { 'x-amz-target': 'DynamoDB_20120810.PutItem' },
        body: JSON.stringify({
          TableName: suite.runtime.config.jobsTableName,
          Item: {
            pk: { S: 'APIKEY#x' },
            sk: { S: 'APIKEY#x' },
            tenantId: { S: 'dev' },
            role: { S: 'admin' },
          },
        }),
      }),
    );
    expect(mint.status).toBe(400);
    expect((await attacker<Page<Job>>('GET', '/v1/jobs')).body.items).toHaveLength(0);
  });

  it('refuses every own service at save, on every loopback spelling, as it refuses any closed port', async () => {
    const refusal = async (url: string) => {
      const res = await attacker<Problem>('POST', '/v1/jobs', httpJob(url));
      expect(res.status, url).toBe(400);
      expect(res.body.errors?.[0]?.field).toBe('target.url');
      return res.body.errors?.[0]?.message;
    };
    for (const [name, endpoint] of Object.entries(ownServices())) {
      const { port } = new URL(endpoint);
      for (const host of [
        '127.0.0.1',
        'localhost',
        '[::1]',
        '127.1',
        '[::ffff:127.0.0.1]',
        '[::127.0.0.1]',
      ]) {
        // The same answer as for a port where nothing of Sundial's runs: no map of the emulators.
        expect(await refusal(`http://${host}:${port}/`), `${name} at ${host}`).toBe(
          await refusal(`http://${host}:9/`),
        );
      }
    }
  });

  it('refuses the same calls when a job stored before the fix runs: the emulator is never reached', async () => {
    const job = await attacker<Job>('POST', '/v1/jobs', httpJob(`${target.url}/ok`));
    expect(job.status).toBe(201);
    const table = suite.runtime.config.jobsTableName;
    const scan = { operation: 'Scan', body: { TableName: table } };
    const mint = {
      operation: 'PutItem',
      body: {
        TableName: table,
        Item: { pk: { S: 'APIKEY#minted' }, sk: { S: 'APIKEY#minted' }, role: { S: 'admin' } },
      },
    };
    for (const endpoint of Object.values(ownServices())) {
      for (const { operation, body } of [scan, mint]) {
        await storeTarget('mallory', job.body.id, {
          type: 'http',
          url: `${endpoint}/`,
          method: 'POST',
          headers: { 'x-amz-target': `DynamoDB_20120810.${operation}` },
          body: JSON.stringify(body),
          timeoutSeconds: 5,
        });
        const run = await runNow(attacker, job.body.id);
        expect(run.status, `${operation} at ${endpoint}`).toBe('failed');
        expect(run.error).toMatchObject({ type: 'target_not_allowed' });
        expect(run.result?.bodyExcerpt ?? '').not.toContain('Items');
      }
    }
    // Nothing was minted.
    const db = rawDb();
    const { Item } = await db.send(
      new GetCommand({ TableName: table, Key: { pk: 'APIKEY#minted', sk: 'APIKEY#minted' } }),
    );
    db.destroy();
    expect(Item).toBeUndefined();
  });

  it('still calls a developer server on the documented local target ports (8000-8999)', async () => {
    const job = await attacker<Job>('POST', '/v1/jobs', httpJob(`${target.url}/ok`));
    expect(job.status).toBe(201);
    expect(await runNow(attacker, job.body.id)).toMatchObject({ status: 'succeeded' });
    const outside = await attacker<Problem>('POST', '/v1/jobs', httpJob('http://127.0.0.1:9999/'));
    expect(outside.status).toBe(400);
  });
});

describe('URL forms that embed internal IPv4 space (low 8)', () => {
  it.each([
    'http://[::127.0.0.1]:8080/',
    'http://[::7f00:1]:8080/',
    'http://[::a9fe:a9fe]/latest/meta-data/',
    'http://[64:ff9b:1::a9fe:a9fe]/latest/meta-data/',
  ])('refuses %s as a target and as a webhook', async (url) => {
    const asTarget = await attacker<Problem>('POST', '/v1/jobs', httpJob(url));
    expect(asTarget.status).toBe(400);
    expect(asTarget.body.errors?.[0]?.field).toBe('target.url');
    const asHook = await attacker<Problem>('POST', '/v1/jobs', {
      ...httpJob(`${target.url}/ok`),
      notify: { onFailure: [{ url }], secret: 'attack-webhook-secret-0123456789' },
    });
    expect(asHook.status).toBe(400);
    expect(asHook.body.errors?.[0]?.field).toBe('notify.onFailure.0.url');
  });
});

describe('SQS targets on other hosts (high 2)', () => {
  let decoy: Server;
  let decoyHits = 0;
  let decoyUrl = '';
  beforeAll(async () => {
    // Stands in for a host that collects whatever a signed SQS request would carry.
    decoy = createServer((req, res) => {
      decoyHits++;
      req.resume();
      res.writeHead(200).end('<SendMessageResponse/>');
    });
    decoyUrl = `http://127.0.0.1:${await listenForTargets(decoy)}`;
  });
  afterAll(() => new Promise<void>((resolve) => decoy.close(() => resolve())));

  it('refuses at save a queue URL on any host but the SQS endpoint, even with an allowed queue name', async () => {
    for (const queueUrl of [
      'http://169.254.169.254/000000000000/x',
      `${decoyUrl}/000000000000/team-inbox`,
      'https://sqs.eu-west-1.amazonaws.com/000000000000/team-inbox',
    ]) {
      const res = await attacker<Problem>('POST', '/v1/jobs', {
        name: 'sqs',
        target: { type: 'sqs', queueUrl, body: 'x' },
      });
      expect(res.status, queueUrl).toBe(400);
      expect(res.body.errors?.[0]?.field).toBe('target.queueUrl');
    }
  });

  it('never sends a signed request to the host of a stored queue URL', async () => {
    const { QueueUrl } = await suite.runtime.clients.sqs.send(
      new CreateQueueCommand({ QueueName: 'mallory-inbox' }),
    );
    const job = await attacker<Job>('POST', '/v1/jobs', {
      name: 'sqs',
      target: { type: 'sqs', queueUrl: QueueUrl, body: 'x' },
    });
    expect(job.status).toBe(201);
    expect(await runNow(attacker, job.body.id)).toMatchObject({ status: 'succeeded' });
    await storeTarget('mallory', job.body.id, {
      type: 'sqs',
      queueUrl: `${decoyUrl}/000000000000/mallory-inbox`,
      body: 'x',
      messageAttributes: {},
      messageGroupId: null,
      timeoutSeconds: 5,
    });
    const run = await runNow(attacker, job.body.id);
    expect(run).toMatchObject({ status: 'failed', error: { type: 'target_not_allowed' } });
    expect(decoyHits).toBe(0);
  });
});

describe('firings forged for another tenant (high 3, invariants 8 and 9)', () => {
  it("refuses Sundial's own queues and DLQs as SQS targets, though the allowlist covers the account", async () => {
    for (const q of Object.values(suite.runtime.queues)) {
      for (const queueUrl of [q.url, q.dlqUrl]) {
        const res = await attacker<Problem>('POST', '/v1/jobs', {
          name: 'inject',
          target: { type: 'sqs', queueUrl, body: '{"v":1,"tenantId":"dev"}' },
        });
        expect(res.status, queueUrl).toBe(400);
        expect(res.body.errors?.[0]).toMatchObject({ field: 'target.queueUrl' });
        expect(res.body.errors?.[0]?.message).toMatch(/part of Sundial itself/);
      }
    }
  });

  it("never runs a firing that names the victim's job without Sundial's signature, nor one signed with another key", async () => {
    const victim = await suite.api<Job>('POST', '/v1/jobs', httpJob(`${target.url}/victim`));
    expect(victim.status).toBe(201);
    const before = suite.runtime.metrics.counts.FiringsRejected ?? 0;
    const forged = {
      v: 1,
      tenantId: 'dev',
      jobId: victim.body.id,
      trigger: 'manual',
      scheduledTime: clock.now().toISOString(),
      runId: 'run_forged',
    };
    for (const body of [forged, { ...forged, mac: 'A'.repeat(43) }]) {
      await sendRaw(suite.runtime.queues.default.url, body);
    }
    await suite.runtime.drain();
    expect(target.callsTo('/victim')).toHaveLength(0);
    expect(suite.runtime.metrics.counts.FiringsRejected).toBe(before + 2);
    const runs = await suite.api<Page<Run>>('GET', `/v1/jobs/${victim.body.id}/runs`);
    expect(runs.body.items).toHaveLength(0);
    // The same message signed by Sundial runs: the check is the signature, not the shape.
    const signed = await suite.runtime.services.firingSigner.sign({
      ...forged,
      v: 1 as const,
      runId: 'run_real',
    });
    await sendRaw(suite.runtime.queues.default.url, signed);
    await suite.runtime.drain();
    expect(target.callsTo('/victim')).toHaveLength(1);
  });

  it("plants no dead letter in the victim's list, so the victim's redrive cannot run it", async () => {
    const victim = await suite.api<Job>('POST', '/v1/jobs', httpJob(`${target.url}/victim-dlq`));
    const planted = JSON.stringify({
      v: 1,
      tenantId: 'dev',
      jobId: victim.body.id,
      trigger: 'manual',
      scheduledTime: clock.now().toISOString(),
      runId: 'run_planted',
    });
    await sendRaw(suite.runtime.queues.default.dlqUrl, planted);
    await suite.runtime.drain();
    const letters = await suite.api<Page<DeadLetter>>('GET', '/v1/dead-letters');
    expect(letters.body.items).toHaveLength(0);
    // The operator can still see it, as what it is.
    const operator = await suite.runtime.services.deadLetterStore.list('_unknown', { limit: 50 });
    expect(operator.items.find((l) => l.body === planted)?.reason).toMatch(/not signed by Sundial/);
    expect(target.callsTo('/victim-dlq')).toHaveLength(0);
  });
});

describe('the local API gateway (low 7)', () => {
  it('passes a query parameter or header named like an Object member through as data, not a 502', async () => {
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const res = await fetch(`${suite.runtime.apiUrl}/v1/jobs?${name}=1&${name}=2`, {
        headers: { authorization: `Bearer ${suite.runtime.devApiKey}`, [name]: 'x' },
      });
      expect(res.status, name).toBeLessThan(500);
    }
  });
});

describe('jobs saved before these rules (nothing that worked stops working)', () => {
  it('can still be paused and resumed, and must meet the rules on their next edit', async () => {
    const job = await attacker<Job>('POST', '/v1/jobs', {
      ...httpJob(`${target.url}/legacy`),
      schedule: { expression: 'rate(1 hour)' },
    });
    expect(job.status).toBe(201);
    // As stored by an older version: a credential in plain headers, now refused at save.
    await storeTarget('mallory', job.body.id, {
      type: 'http',
      url: `${target.url}/legacy`,
      method: 'POST',
      headers: { authorization: 'Bearer old' },
      body: null,
      timeoutSeconds: 5,
    });
    expect((await attacker('POST', `/v1/jobs/${job.body.id}/pause`)).status).toBe(200);
    expect((await attacker('POST', `/v1/jobs/${job.body.id}/resume`)).status).toBe(200);
    const edit = await attacker<Problem>('PATCH', `/v1/jobs/${job.body.id}`, { name: 'renamed' });
    expect(edit.status).toBe(400);
    expect(edit.body.errors?.[0]?.field).toBe('target.headers.authorization');
  });
});
