/**
 * Authentication, roles and tenant isolation over real HTTP against the local runtime:
 * API keys from the keys API, and JWTs signed by a local OIDC issuer whose JWKS the API
 * fetches, as it fetches Cognito's on AWS.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { type JWTPayload, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { verifySignature } from '../../functions/domain/signature.js';
import { createApiHandler } from '../../functions/handlers/api.js';
import { createWorkerHandler } from '../../functions/handlers/worker.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/dynamodb-local.js';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.js';
import type {
  ApiClient,
  ApiKey,
  AuditEntry,
  CreatedKey,
  Job,
  Page,
  Problem,
  Run,
  SigningSecret,
  ValidationProblem,
} from '../support/api.js';
import { TestClock } from '../support/clock.js';
import { apiGatewayEvent, sqsEventOf } from '../support/events.js';
import {
  apiClient,
  deleteAllJobs,
  RecordingTarget,
  startTestIssuer,
  type TestIssuer,
  tenantClient,
} from './support.js';

const clock = new TestClock();
let runtime: LocalRuntime;
let admin: ApiClient;
let issuer = '';
let stopIssuer: (() => Promise<void>) | undefined;
const receiver = new RecordingTarget();
let privateKey: TestIssuer['privateKey'];
const AUDIENCE = 'sundial-test-client';
const LIMITS = { maxJobs: 10, jobCreatesPerMinute: 15, requestsPerSecond: 40 };

beforeAll(async () => {
  await receiver.start();
  const testIssuer = await startTestIssuer('test-key');
  stopIssuer = testIssuer.stop;
  privateKey = testIssuer.privateKey;
  issuer = testIssuer.issuer;
  runtime = await startLocalRuntime({
    port: 0,
    clock,
    logLevel: 'SILENT',
    jwt: { issuer, audience: AUDIENCE, jwksUri: testIssuer.jwksUri },
    limits: LIMITS,
  });
  admin = apiClient(runtime.apiUrl, runtime.devApiKey);
});

// Each test on a day of its own, and so in rate-limit windows of its own.
beforeEach(() => {
  clock.fresh();
});

// What a test left queued is worked off, and the dev tenant has no jobs when the next begins.
afterEach(async () => {
  await runtime.drain();
  await deleteAllJobs(admin);
});

afterAll(async () => {
  await runtime?.stop();
  await receiver.stop();
  await stopIssuer?.();
});

/** A token from the local issuer; `claims` override the defaults of a valid operator token of tenant dev. */
async function token(claims: JWTPayload = {}, options: { issuer?: string; expiresInSeconds?: number } = {}) {
  // Issued at the runtime's clock, which the API checks times against.
  const now = Math.floor(clock.now().getTime() / 1000);
  return new SignJWT({ 'custom:tenant': 'dev', 'cognito:groups': ['operator'], aud: AUDIENCE, ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
    .setIssuer(options.issuer ?? issuer)
    .setSubject('user-123')
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresInSeconds ?? 300))
    .sign(privateKey);
}

async function keyFor(role: string, client = admin): Promise<string> {
  const res = await client<{ key: string }>('POST', '/v1/keys', { name: `${role}-key`, role });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.key;
}

const jobBody = (name: string) => ({
  name,
  schedule: { expression: 'rate(1 hour)' },
  target: { type: 'http', url: 'http://localhost:8009/hook' },
});

describe('authentication', () => {
  it('answers only health and the OpenAPI document without credentials; everything else is 401 problem+json', async () => {
    const anonymous = apiClient(runtime.apiUrl);
    expect((await anonymous('GET', '/v1/health')).status).toBe(200);
    expect((await anonymous('GET', '/v1/openapi.json')).status).toBe(200);
    for (const [method, path] of [
      ['GET', '/v1/jobs'],
      ['POST', '/v1/jobs'],
      ['GET', '/v1/jobs/job_x'],
      ['DELETE', '/v1/jobs/job_x'],
      ['POST', '/v1/jobs/job_x/runs'],
      ['GET', '/v1/dead-letters'],
      ['GET', '/v1/keys'],
      ['GET', '/v1/audit'],
      ['POST', '/v1/schedules/preview'],
    ] as const) {
      const res = await anonymous<Problem>(method, path, method === 'POST' ? jobBody('x') : undefined);
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
    }
    expect((await admin<{ items: unknown[] }>('GET', '/v1/jobs')).body.items).toEqual([]);
  });

  it('refuses a malformed, unknown or wrong key', async () => {
    const [, id] = runtime.devApiKey.split('_');
    for (const credential of ['sk_nope', `sk_${id}_${'A'.repeat(43)}`, 'Basic abc']) {
      const res = await apiClient(runtime.apiUrl)('GET', '/v1/jobs', undefined, {
        authorization: `Bearer ${credential}`,
      });
      expect(res.status, credential).toBe(401);
    }
  });

  it('shows a new key once, lists keys without secrets, and a revoked key stops working', async () => {
    const created = await admin<CreatedKey>('POST', '/v1/keys', {
      name: 'billing-service',
      role: 'operator',
    });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^sk_[0-9A-Z]{26}_[A-Za-z0-9_-]{43}$/);
    const service = apiClient(runtime.apiUrl, created.body.key);
    expect((await service('GET', '/v1/jobs')).status).toBe(200);

    const listed = await admin<Page<ApiKey>>('GET', '/v1/keys?limit=100');
    const entry = listed.body.items.find((k) => k.id === created.body.id);
    expect(entry).toMatchObject({ name: 'billing-service', role: 'operator', revokedAt: null });
    // The secret part: everything after `sk_<ULID>_` (base64url, so it may hold `_` itself).
    const secret = created.body.key.slice('sk_'.length + 26 + 1);
    expect(secret).toHaveLength(43);
    expect(JSON.stringify(listed.body)).not.toContain(secret);
    expect(Object.keys(entry ?? {}).sort()).toEqual([
      'createdAt',
      'createdBy',
      'id',
      'name',
      'revokedAt',
      'role',
    ]);

    expect((await admin('DELETE', `/v1/keys/${created.body.id}`)).status).toBe(204);
    expect((await service('GET', '/v1/jobs')).status).toBe(401);
    expect((await admin('DELETE', `/v1/keys/${created.body.id}`)).status).toBe(404);

    const audit = await admin<Page<AuditEntry>>('GET', '/v1/audit');
    expect(audit.body.items.slice(0, 2)).toMatchObject([
      { action: 'key.revoke', target: created.body.id },
      { action: 'key.create', target: created.body.id },
    ]);
  });

  it('accepts a token from the configured issuer and refuses forged, expired and foreign ones', async () => {
    const asUser = async (t: string) =>
      apiClient(runtime.apiUrl)<Problem>('GET', '/v1/jobs', undefined, { authorization: `Bearer ${t}` });
    expect((await asUser(await token())).status).toBe(200);
    expect((await asUser(await token({}, { issuer: 'https://evil.example.com' }))).status).toBe(401);
    expect((await asUser(await token({ aud: 'another-app' }))).status).toBe(401);
    expect((await asUser(await token({}, { expiresInSeconds: -60 }))).status).toBe(401);
    const valid = await token();
    const [header, payload] = valid.split('.');
    const forged = Buffer.from(
      JSON.stringify({
        ...JSON.parse(Buffer.from(payload!, 'base64url').toString()),
        'custom:tenant': 'other',
      }),
    ).toString('base64url');
    expect((await asUser(`${header}.${forged}.${valid.split('.')[2]}`)).status).toBe(401);
    // Signed and valid, but naming no tenant or no role: authenticated, not allowed.
    expect((await asUser(await token({ 'custom:tenant': undefined }))).status).toBe(403);
    expect((await asUser(await token({ 'cognito:groups': ['reporting'] }))).status).toBe(403);
  });
});

describe('safe HTTP targets', () => {
  it('refuses, at create and update, targets and webhooks that reach internal addresses', async () => {
    const metadata = await admin<ValidationProblem>('POST', '/v1/jobs', {
      ...jobBody('metadata'),
      target: { type: 'http', url: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/' },
      notify: { onFailure: [{ url: 'http://10.0.0.1/hook' }], secret: 'a-webhook-secret-of-length' },
    });
    expect(metadata.status).toBe(400);
    expect(metadata.body.errors.map((e) => e.field)).toEqual(['target.url', 'notify.onFailure.0.url']);
    expect(metadata.body.errors[0]?.message).toContain('169.254.169.254 is an internal');

    const job = await admin<Job>('POST', '/v1/jobs', jobBody('moves-inside'));
    const moved = await admin<Problem>('PATCH', `/v1/jobs/${job.body.id}`, {
      target: { url: 'http://[fd00:ec2::254]/' },
    });
    expect(moved.status).toBe(400);
    expect((await admin<Job>('GET', `/v1/jobs/${job.body.id}`)).body.target.url).toBe(
      'http://localhost:8009/hook',
    );
    expect((await admin('DELETE', `/v1/jobs/${job.body.id}`)).status).toBe(204);
  });
});

describe('the first admin', () => {
  it('comes from npm run create-key, which writes a key straight into the jobs table', async () => {
    const run = (args: string[]) =>
      promisify(execFile)('npx', ['tsx', 'tools/create-api-key.ts', ...args], {
        env: {
          ...process.env,
          AWS_ENDPOINT_URL_DYNAMODB: runtime.endpoints.dynamodb,
          AWS_REGION: LOCAL_REGION,
          AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        },
      });
    const { stdout } = await run([
      '--table',
      runtime.config.jobsTableName,
      '--tenant',
      'acme',
      '--role',
      'admin',
    ]);
    const acme = apiClient(runtime.apiUrl, stdout.trim());
    const keys = await acme<Page<ApiKey>>('GET', '/v1/keys');
    expect(keys.status).toBe(200);
    expect(keys.body.items).toMatchObject([{ role: 'admin', createdBy: 'create-key' }]);
    await expect(run(['--table', runtime.config.jobsTableName, '--tenant', 'Not A Tenant'])).rejects.toThrow(
      /--tenant is required/,
    );
  });
});

describe('roles', () => {
  it('lets viewers read, operators change and run, and only admins manage keys (403 otherwise)', async () => {
    const viewer = apiClient(runtime.apiUrl, await keyFor('viewer'));
    const operator = apiClient(runtime.apiUrl, await keyFor('operator'));

    const denied = await viewer<Problem>('POST', '/v1/jobs', jobBody('by-viewer'));
    expect(denied.status).toBe(403);
    expect(denied.body.detail).toBe('POST /v1/jobs needs the operator role; this caller is viewer');

    const job = await operator<Job>('POST', '/v1/jobs', jobBody('by-operator'));
    expect(job.status).toBe(201);
    expect((await viewer('GET', `/v1/jobs/${job.body.id}`)).status).toBe(200);
    expect((await viewer('GET', `/v1/jobs/${job.body.id}/runs`)).status).toBe(200);
    expect((await viewer('POST', `/v1/jobs/${job.body.id}/pause`)).status).toBe(403);
    expect((await viewer('POST', `/v1/jobs/${job.body.id}/runs`)).status).toBe(403);
    expect((await viewer('DELETE', `/v1/jobs/${job.body.id}`)).status).toBe(403);
    expect((await operator('POST', `/v1/jobs/${job.body.id}/pause`)).status).toBe(200);
    expect((await operator('POST', `/v1/jobs/${job.body.id}/runs`)).status).toBe(202);

    expect((await operator('POST', '/v1/keys', { name: 'x', role: 'admin' })).status).toBe(403);
    expect((await operator('GET', '/v1/keys')).status).toBe(403);
    expect((await operator('GET', '/v1/audit')).status).toBe(403);
    // A JWT's role comes from its groups: the highest one named.
    const fromToken = apiClient(runtime.apiUrl, await token({ 'cognito:groups': ['viewer'] }));
    expect((await fromToken('POST', '/v1/jobs', jobBody('by-token-viewer'))).status).toBe(403);
    expect((await operator('DELETE', `/v1/jobs/${job.body.id}`)).status).toBe(204);
  });
});

describe('tenant isolation', () => {
  it("answers 404 for every operation on another tenant's job, run, key and dead letter", async () => {
    const other = await tenantClient(runtime, 'other', clock.now());
    const mine = await admin<Job>('POST', '/v1/jobs', jobBody('mine'));
    const run = await admin<Run>('POST', `/v1/jobs/${mine.body.id}/runs`);
    await runtime.drain();
    const id = mine.body.id;
    // A dead letter of the owner's job, as the archiver records it.
    await runtime.services.deadLetterStore.archive(
      {
        id: 'dl_isolation',
        tenantId: 'dev',
        jobId: id,
        runId: run.body.id,
        priority: 'default',
        body: '{}',
        reason: 'test',
        receiveCount: 5,
        deadLetteredAt: clock.now().toISOString(),
        status: 'dead',
        redrivenAt: null,
        redrivenBy: null,
      },
      clock.now(),
    );
    expect(
      (await admin<{ items: { id: string }[] }>('GET', '/v1/dead-letters')).body.items.map((l) => l.id),
    ).toContain('dl_isolation');

    for (const [method, path, body] of [
      ['GET', `/v1/jobs/${id}`],
      ['PATCH', `/v1/jobs/${id}`, { name: 'taken' }],
      ['DELETE', `/v1/jobs/${id}`],
      ['POST', `/v1/jobs/${id}/pause`],
      ['POST', `/v1/jobs/${id}/resume`],
      ['POST', `/v1/jobs/${id}/runs`],
      ['GET', `/v1/jobs/${id}/runs`],
      ['GET', `/v1/jobs/${id}/runs/${run.body.id}`],
      ['DELETE', `/v1/keys/${runtime.devApiKey.split('_')[1]}`],
      ['POST', '/v1/dead-letters/redrive', { ids: ['dl_isolation'] }],
    ] as const) {
      const res = await other<Problem>(method, path, body);
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    expect((await other<{ items: unknown[] }>('GET', '/v1/jobs')).body.items).toEqual([]);
    expect((await other<{ items: unknown[] }>('GET', '/v1/dead-letters')).body.items).toEqual([]);
    expect((await other<Page<ApiKey>>('GET', '/v1/keys')).body.items).toHaveLength(1);
    // Another tenant's job cannot be a dependency either: to this tenant it does not exist.
    const dependent = await other<Problem>('POST', '/v1/jobs', { ...jobBody('dep'), dependsOn: [id] });
    expect(dependent.status).toBe(400);

    // And nothing changed for the owner; the dev key still works.
    const still = await admin<Job>('GET', `/v1/jobs/${id}`);
    expect(still.body).toMatchObject({ name: 'mine', state: 'enabled' });
    expect((await admin<{ items: unknown[] }>('GET', `/v1/jobs/${id}/runs`)).body.items).toHaveLength(1);
    // A tenant in the request body is not a field: the tenant only ever comes from the credential.
    const smuggled = await other<Problem>('POST', '/v1/jobs', { ...jobBody('smuggled'), tenantId: 'dev' });
    expect(smuggled.status).toBe(400);
  });
});

describe('quotas and rate limits', () => {
  const tenant = (name: string) => tenantClient(runtime, name, clock.now());

  it('caps the jobs a tenant has: 429 past the maximum, room again after a delete', async () => {
    const api = await tenant('quota-jobs');
    const ids: string[] = [];
    for (let i = 0; i < LIMITS.maxJobs; i++)
      ids.push((await api<Job>('POST', '/v1/jobs', jobBody(`j${i}`))).body.id);
    const over = await api<Problem>('POST', '/v1/jobs', jobBody('one-too-many'));
    expect(over.status).toBe(429);
    expect(over.headers.get('content-type')).toBe('application/problem+json');
    expect(over.headers.get('retry-after')).toBe('60');
    expect(over.body.detail).toBe(`the tenant has its maximum of ${LIMITS.maxJobs} jobs; delete some first`);
    expect((await api<{ items: unknown[] }>('GET', '/v1/jobs?limit=100')).body.items).toHaveLength(
      LIMITS.maxJobs,
    );
    expect((await api('DELETE', `/v1/jobs/${ids[0]}`)).status).toBe(204);
    expect((await api('POST', '/v1/jobs', jobBody('room-again'))).status).toBe(201);
  });

  it('holds the job quota under concurrent creates: the counter is atomic', async () => {
    const api = await tenant('quota-race');
    const results = await Promise.all(
      Array.from({ length: 14 }, (_, i) => api('POST', '/v1/jobs', jobBody(`race-${i}`))),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(LIMITS.maxJobs);
    expect(results.filter((r) => r.status === 429)).toHaveLength(14 - LIMITS.maxJobs);
    expect((await api<{ items: unknown[] }>('GET', '/v1/jobs?limit=100')).body.items).toHaveLength(
      LIMITS.maxJobs,
    );
  });

  it('limits job creations per minute', async () => {
    const api = await tenant('quota-rate');
    for (let i = 0; i < LIMITS.jobCreatesPerMinute; i++) {
      const created = await api<Job>('POST', '/v1/jobs', jobBody(`c${i}`));
      expect(created.status).toBe(201);
      expect((await api('DELETE', `/v1/jobs/${created.body.id}`)).status).toBe(204);
      if (i % 10 === 9) clock.advance(1000); // stay under the per-second limit
    }
    const over = await api<Problem>('POST', '/v1/jobs', jobBody('too-fast'));
    expect(over.status).toBe(429);
    expect(over.body.detail).toBe(
      `the tenant's limit of ${LIMITS.jobCreatesPerMinute} job creations per minute is reached`,
    );
    const wait = Number(over.headers.get('retry-after'));
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60);
    clock.advance(wait * 1000);
    expect((await api('POST', '/v1/jobs', jobBody('later'))).status).toBe(201);
  });

  it('limits API requests per second per tenant, without touching other tenants', async () => {
    const api = await tenant('quota-rps');
    const neighbour = await tenant('quota-neighbour');
    for (let i = 0; i < LIMITS.requestsPerSecond; i++)
      expect((await api('GET', '/v1/jobs')).status).toBe(200);
    const over = await api<Problem>('GET', '/v1/jobs');
    expect(over.status).toBe(429);
    expect(over.headers.get('retry-after')).toBe('1');
    expect((await neighbour('GET', '/v1/jobs')).status).toBe(200);
    clock.advance(1000);
    expect((await api('GET', '/v1/jobs')).status).toBe(200);
  });
});

describe('signed calls and secret headers', () => {
  it('signs every HTTP call with the tenant secret, sends secret headers, and never shows them', async () => {
    const first = await admin<SigningSecret>('GET', '/v1/tenant/signing-secret');
    expect(first.body.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect((await admin<SigningSecret>('GET', '/v1/tenant/signing-secret')).body.id).toBe(first.body.id);

    const created = await admin<Job>('POST', '/v1/jobs', {
      name: 'signed',
      target: {
        type: 'http',
        url: `${receiver.url}/signed`,
        body: '{"report":"daily"}',
        headers: { 'x-plain': 'visible' },
        secretHeaders: { authorization: 'Bearer s3cr3t-token' },
      },
    });
    expect(created.status).toBe(201);
    expect(created.body.target.secretHeaderNames).toEqual(['authorization']);
    expect(created.body.target).not.toHaveProperty('secretHeaders');
    for (const shown of [created.body, (await admin('GET', `/v1/jobs/${created.body.id}`)).body]) {
      expect(JSON.stringify(shown)).not.toContain('s3cr3t');
    }
    // At rest it is a KMS ciphertext bound to this tenant and job.
    const stored = await runtime.services.jobStore.get('dev', created.body.id);
    expect(JSON.stringify(stored)).not.toContain('s3cr3t');

    const run = await admin<Run>('POST', `/v1/jobs/${created.body.id}/runs`);
    await runtime.drain();
    const [call] = receiver.callsTo('/signed');
    expect(call?.headers.authorization).toBe('Bearer s3cr3t-token');
    expect(call?.headers['x-plain']).toBe('visible');
    expect(call?.headers['idempotency-key']).toBe(run.body.id);
    const now = Math.floor(clock.now().getTime() / 1000);
    const signature = String(call?.headers['sundial-signature']);
    expect(verifySignature(first.body.secret, signature, '{"report":"daily"}', now)).toBe(true);
    expect(verifySignature(first.body.secret, signature, '{"report":"tampered"}', now)).toBe(false);

    // A change that does not send secret headers keeps them; sending {} clears them.
    await admin('PATCH', `/v1/jobs/${created.body.id}`, { target: { headers: {} } });
    await admin('POST', `/v1/jobs/${created.body.id}/runs`);
    await runtime.drain();
    expect(receiver.callsTo('/signed')[1]?.headers.authorization).toBe('Bearer s3cr3t-token');
    const cleared = await admin<Job>('PATCH', `/v1/jobs/${created.body.id}`, {
      target: { secretHeaders: {} },
    });
    expect(cleared.body.target.secretHeaderNames).toEqual([]);
    await admin('POST', `/v1/jobs/${created.body.id}/runs`);
    await runtime.drain();
    expect(receiver.callsTo('/signed')[2]?.headers.authorization).toBeUndefined();
    await admin('DELETE', `/v1/jobs/${created.body.id}`);
  });

  it('rotates the secret: both sign for a day, then only the new one', async () => {
    const before = (await admin<SigningSecret>('GET', '/v1/tenant/signing-secret')).body;
    const rotated = await admin<SigningSecret>('POST', '/v1/tenant/signing-secret/rotate');
    expect(rotated.status).toBe(200);
    expect(rotated.body.id).not.toBe(before.id);
    expect(rotated.body.previous?.id).toBe(before.id);
    const audit = await admin<Page<AuditEntry>>('GET', '/v1/audit');
    expect(audit.body.items[0]).toMatchObject({ action: 'signing-secret.rotate', target: rotated.body.id });

    const job = await admin<Job>('POST', '/v1/jobs', {
      name: 'rotating',
      target: { type: 'http', url: `${receiver.url}/rotating` },
    });
    const signatureOfNextCall = async () => {
      await admin('POST', `/v1/jobs/${job.body.id}/runs`);
      await runtime.drain();
      const calls = receiver.callsTo('/rotating');
      return {
        header: String(calls.at(-1)?.headers['sundial-signature']),
        now: Math.floor(clock.now().getTime() / 1000),
      };
    };
    const during = await signatureOfNextCall();
    expect(verifySignature(rotated.body.secret, during.header, '', during.now)).toBe(true);
    expect(verifySignature(before.secret, during.header, '', during.now)).toBe(true);

    clock.advance(25 * 3600 * 1000);
    const after = await signatureOfNextCall();
    expect(verifySignature(rotated.body.secret, after.header, '', after.now)).toBe(true);
    expect(verifySignature(before.secret, after.header, '', after.now)).toBe(false);
    await admin('DELETE', `/v1/jobs/${job.body.id}`);
  });

  it('logs with the correlation id, and never a secret header value or signing secret', async () => {
    const lines: string[] = [];
    const record = (message: string, ...extra: Record<string, unknown>[]) => {
      lines.push(JSON.stringify([message, ...extra]));
    };
    const services = runtime.servicesWith({ logger: { info: record, warn: record, error: record } });
    const api = createApiHandler(services.api);
    const worker = createWorkerHandler(services.worker);
    const request = (method: string, path: string, body?: unknown) =>
      api(
        apiGatewayEvent({
          method,
          path,
          headers: { authorization: `Bearer ${runtime.devApiKey}` },
          body: body === undefined ? null : JSON.stringify(body),
          requestId: 'req-logged-1',
        }),
      );
    const created = await request('POST', '/v1/jobs', {
      name: 'logged',
      target: {
        type: 'http',
        url: `${receiver.url}/fail-logged`,
        secretHeaders: { authorization: 'Bearer never-in-logs-7f3a' },
      },
      retryPolicy: { maxAttempts: 2, initialDelaySeconds: 1, maxDelaySeconds: 1 },
    });
    const { id } = JSON.parse(created.body) as { id: string };
    await request('POST', `/v1/jobs/${id}/runs`);
    // This worker takes the message, fails against the target (500), and logs the retry.
    const { Messages = [] } = await runtime.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: runtime.queues.default.url, MaxNumberOfMessages: 10 }),
    );
    expect(Messages).toHaveLength(1);
    await worker(sqsEventOf(Messages, runtime.queues.default.arn));
    const { secret } = JSON.parse((await request('GET', '/v1/tenant/signing-secret')).body) as SigningSecret;
    expect(receiver.callsTo('/fail-logged')[0]?.headers.authorization).toBe('Bearer never-in-logs-7f3a');
    // The worker's lines carry the API request that asked for the run.
    const failedLine = lines.find((l) => l.includes('attempt failed'));
    expect(JSON.parse(failedLine ?? '[]')[1]).toMatchObject({
      correlationId: 'req-logged-1',
      jobId: id,
      tenantId: 'dev',
    });
    expect(lines.join('\n')).not.toContain('never-in-logs-7f3a');
    expect(lines.join('\n')).not.toContain(secret);
    clock.advance(5000);
    await runtime.drain();
    await admin('DELETE', `/v1/jobs/${id}`);
  });

  it('gives each tenant its own secret, and only admins see it', async () => {
    const signingOther = await tenantClient(runtime, 'signing-other', clock.now());
    const theirs = (await signingOther<SigningSecret>('GET', '/v1/tenant/signing-secret')).body;
    const ours = (await admin<SigningSecret>('GET', '/v1/tenant/signing-secret')).body;
    expect(theirs.secret).not.toBe(ours.secret);
    const operator = apiClient(runtime.apiUrl, await keyFor('operator'));
    expect((await operator('GET', '/v1/tenant/signing-secret')).status).toBe(403);
    expect((await operator('POST', '/v1/tenant/signing-secret/rotate')).status).toBe(403);
  });
});
