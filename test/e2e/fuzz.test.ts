/**
 * Hard edges, by property: thousands of generated and mutated requests straight into the
 * API handler (over DynamoDB Local, as the api Lambda would get them from API Gateway).
 * Whatever arrives: never a 5xx, every error is problem+json, and a refused request
 * changes nothing in the tenant's data. Besides mutated jobs, the generators send what has
 * crashed the API before: prototype keys (`__proto__`, `constructor`, `prototype`) at any
 * depth, JSON nested thousands deep, broken percent-encoding and 1-5 KiB path parameters.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../functions/commons/clients.js';
import { createApiHandler } from '../../functions/handlers/api.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/dynamodb-local.js';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.js';
import type { Job } from '../support/api.js';
import { TestClock } from '../support/clock.js';
import { apiGatewayEvent } from '../support/events.js';
import { type ApiResponse, apiClient } from './support.js';

interface Refusal {
  errors?: { field: string }[];
}

const RUNS = 10_000;
const TENANT = 'fuzz';
const clock = new TestClock();
let runtime: LocalRuntime;
let handler: (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;
let key = '';
let jobId = '';
let db: ReturnType<typeof createDocumentClient> | undefined;

const validJob = {
  name: 'fuzzed',
  schedule: { expression: 'rate(1 hour)', timezone: 'Europe/Berlin' },
  target: {
    type: 'http',
    url: 'http://localhost:8009/hook',
    method: 'POST',
    headers: { 'x-a': 'b' },
    body: '{}',
  },
  retryPolicy: { maxAttempts: 3, initialDelaySeconds: 10, multiplier: 2, maxDelaySeconds: 60 },
  overlapPolicy: 'skip',
  tags: { team: 'fuzz' },
};
/** Targets whose fields hold opaque JSON, nested, for the generators to poison and deepen. */
const lambdaJob = {
  name: 'fuzzed-lambda',
  target: {
    type: 'lambda',
    functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:fuzz',
    payload: { report: { kind: 'daily', filters: [{ field: 'a', values: [1, 2] }] } },
  },
  tags: { team: 'fuzz' },
};
const eventBridgeJob = {
  name: 'fuzzed-events',
  target: {
    type: 'eventbridge',
    eventBusArn: 'arn:aws:events:us-east-1:000000000000:event-bus/default',
    source: 'com.example.fuzz',
    detailType: 'Fuzzed',
    detail: { order: { id: 1, lines: [{ sku: 'x', qty: 2 }] } },
  },
};

beforeAll(async () => {
  // The clock stands still within a test: without a high rate limit every request would share one second.
  runtime = await startLocalRuntime({
    port: 0,
    clock,
    logLevel: 'SILENT',
    limits: { requestsPerSecond: 1_000_000 },
  });
  handler = createApiHandler(runtime.services.api);
  ({ secretKey: key } = await runtime.services.apiKeys.create(
    { tenantId: TENANT, name: 'fuzz', role: 'admin', createdBy: 'test' },
    clock.now(),
  ));
  const created = await handler(event('POST', '/v1/jobs', {}, JSON.stringify(validJob)));
  jobId = JSON.parse(created.body).id;
});

beforeEach(() => {
  clock.fresh();
});

afterAll(async () => {
  db?.destroy();
  await runtime?.stop();
});

/** A request of the fuzz tenant, as API Gateway hands it to the api function. */
function event(
  method: string,
  path: string,
  query: Record<string, string>,
  body: string | null,
  headers: Record<string, string> = {},
): APIGatewayProxyEvent {
  return apiGatewayEvent({
    method,
    path,
    query,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body,
  });
}

/**
 * Everything the tenant has in the jobs table (jobs, edges, keys, audit), as one string;
 * not the rate-limit counters, which count every request by design.
 */
async function snapshot(): Promise<string> {
  // One client for the file: a new one per call (10,000 of them) costs a connection each time.
  db ??= createDocumentClient({
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    endpoint: runtime.endpoints.dynamodb,
  });
  const { Items = [] } = await db.send(
    new QueryCommand({
      TableName: runtime.config.jobsTableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `TENANT#${TENANT}` },
    }),
  );
  return JSON.stringify(Items.filter((item) => !String(item.sk).startsWith('RATE#')));
}

// Values that have broken parsers before: empty, huge, unicode, numbers-as-strings, nesting.
const nasty = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '0',
    '-1',
    '1e309',
    'null',
    'true',
    '[]',
    '{}',
    '../..',
    '%00',
    '\u0000',
    '💥',
    'x'.repeat(5000),
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
);
const anyJson = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  nasty,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
);

/** A valid job with one field, at any depth, replaced by something arbitrary, or removed. */
const mutatedJob = fc
  .tuple(
    fc.constantFrom(
      'name',
      'description',
      'schedule',
      'schedule.expression',
      'schedule.timezone',
      'schedule.startAt',
      'schedule.endAt',
      'schedule.flexibleWindowMinutes',
      'target',
      'target.type',
      'target.url',
      'target.method',
      'target.headers',
      'target.timeoutSeconds',
      'retryPolicy.maxAttempts',
      'retryPolicy.multiplier',
      'overlapPolicy',
      'priority',
      'state',
      'tags',
      'dependsOn',
      'notify',
      'catchUp',
      'misfireGraceSeconds',
      'tenantId',
      'id',
    ),
    fc.option(anyJson, { nil: undefined }),
  )
  .map(([path, value]) => {
    const job = structuredClone(validJob) as Record<string, unknown>;
    const parts = path.split('.');
    let at = job;
    for (const part of parts.slice(0, -1)) {
      at[part] ??= {};
      at = at[part] as Record<string, unknown>;
    }
    if (value === undefined) delete at[parts.at(-1)!];
    else at[parts.at(-1)!] = value;
    return JSON.stringify(job);
  });

/** Keys JavaScript gives a meaning on every object: they have crashed the API before. */
const prototypeKey = fc.constantFrom('__proto__', 'constructor', 'prototype');

/** Sets `key` as an own property: plain assignment of `__proto__` would swap the prototype instead. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * A valid job with a prototype key planted in one of its objects, at any depth (the body,
 * tags, target.headers, target.payload, target.detail, inside arrays, ...).
 */
const poisonedJob = fc
  .tuple(
    fc.constantFrom(validJob, lambdaJob, eventBridgeJob),
    fc.array(fc.nat(), { maxLength: 6 }),
    prototypeKey,
    fc.oneof(anyJson, fc.constant({ type: 'lambda' }), fc.constant({ polluted: true })),
  )
  .map(([base, route, key, value]) => {
    const job = structuredClone(base) as Record<string, unknown>;
    let at: unknown = job;
    for (const step of route) {
      const children = Object.values(at as object).filter((v) => typeof v === 'object' && v !== null);
      if (children.length === 0) break;
      at = children[step % children.length];
    }
    const holder: Record<string, unknown> = {};
    if (Array.isArray(at)) at.push(holder);
    setOwn(Array.isArray(at) ? holder : (at as Record<string, unknown>), key, value);
    return JSON.stringify(job);
  });

/** JSON nested around DynamoDB's 32-level limit or thousands deep, as the body or inside a job. */
const deepBody = fc
  .tuple(
    fc.oneof(fc.integer({ min: 28, max: 80 }), fc.integer({ min: 1_000, max: 20_000 })),
    fc.constantFrom('array', 'object'),
    fc.constantFrom(
      '(body)',
      'validJob.tags',
      'validJob.target.headers',
      'validJob.schedule',
      'lambdaJob.target.payload',
      'eventBridgeJob.target.detail.order',
    ),
  )
  .map(([depth, kind, where]) => {
    const nested =
      kind === 'array'
        ? `${'['.repeat(depth)}${']'.repeat(depth)}`
        : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    if (where === '(body)') return nested;
    const [base, ...path] = where.split('.');
    const job = structuredClone({ validJob, lambdaJob, eventBridgeJob }[base!]) as Record<string, unknown>;
    let at = job;
    for (const part of path.slice(0, -1)) at = at[part] as Record<string, unknown>;
    at[path.at(-1)!] = '__DEEP__';
    return JSON.stringify(job).replace('"__DEEP__"', nested);
  });

const body = fc.oneof(
  { weight: 5, arbitrary: mutatedJob },
  { weight: 2, arbitrary: anyJson.map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: nasty },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.constant(`{"name":"${'x'.repeat(300_000)}"}`) },
  { weight: 3, arbitrary: poisonedJob },
  { weight: 2, arbitrary: deepBody },
);

const segment = fc.oneof(
  fc.constant('JOB'),
  nasty.map(encodeURIComponent),
  fc.constantFrom('runs', 'pause', 'keys'),
);
const path = fc.oneof(
  fc.constantFrom(
    '/v1/jobs',
    '/v1/jobs/JOB',
    '/v1/jobs/JOB/pause',
    '/v1/jobs/JOB/resume',
    '/v1/jobs/JOB/runs',
    '/v1/jobs/JOB/runs/run_x',
    '/v1/schedules/preview',
    '/v1/dead-letters',
    '/v1/dead-letters/redrive',
    '/v1/keys',
    '/v1/keys/KEY',
    '/v1/audit',
    '/v1/health',
  ),
  fc.array(segment, { maxLength: 4 }).map((s) => `/v1/${s.join('/')}`),
);

/** Escapes that decode to no UTF-8 text (truncated, overlong, lone surrogate, not hex). */
const brokenPercent = fc.oneof(
  fc.constantFrom(
    '%E0%A4%A',
    '%C0',
    '%',
    '%%',
    '%G0',
    '%FF',
    '%ED%A0%80',
    '%C0%AF',
    '%E0%80%80',
    '%F4%90%80%80',
  ),
  fc
    .tuple(fc.constantFrom('job_', 'run_', ''), fc.constantFrom('%E0%A4%A', '%C0', '%', '%ZZ'))
    .map(([prefix, bad]) => `${prefix}x${bad}`),
);
/** Path segments of 1-5 KiB: over DynamoDB's 1 KiB and 2 KiB key limits. */
const longSegment = fc
  .tuple(
    fc.constantFrom('', 'job_', 'run_'),
    fc.integer({ min: 1_024, max: 5_120 }),
    fc.constantFrom('a', 'Z', '0', '_', '%41', '%C3%A9'),
  )
  .map(([prefix, length, unit]) => prefix + unit.repeat(Math.ceil(length / unit.length)));
/** Every route with a path parameter, each method it answers. */
const PARAM_ROUTES = [
  ['GET', '/v1/jobs/{jobId}'],
  ['PATCH', '/v1/jobs/{jobId}'],
  ['DELETE', '/v1/jobs/{jobId}'],
  ['POST', '/v1/jobs/{jobId}/pause'],
  ['POST', '/v1/jobs/{jobId}/resume'],
  ['POST', '/v1/jobs/{jobId}/runs'],
  ['GET', '/v1/jobs/{jobId}/runs'],
  ['GET', '/v1/jobs/{jobId}/runs/{runId}'],
  ['DELETE', '/v1/keys/{keyId}'],
] as const;
/** A route with one of its parameters hostile, the others real (or plausible). */
const hostileParam = fc
  .tuple(fc.constantFrom(...PARAM_ROUTES), fc.nat(), fc.oneof(brokenPercent, longSegment))
  .map(([[method, template], pick, hostile]) => {
    const params = template.match(/\{\w+\}/g) ?? [];
    const chosen = params[pick % params.length]!;
    const filled = template.replace(chosen, hostile);
    return [
      method,
      filled.replace('{jobId}', 'JOB').replace('{runId}', 'run_x').replace('{keyId}', 'KEY'),
    ] as const;
  });

/** Mostly real operations (so the validators are reached), sometimes anything at all. */
const operation = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      ['POST', '/v1/jobs'],
      ['POST', '/v1/jobs'],
      ['PATCH', '/v1/jobs/JOB'],
      ['PATCH', '/v1/jobs/JOB'],
      ['GET', '/v1/jobs'],
      ['GET', '/v1/jobs/JOB/runs'],
      ['POST', '/v1/schedules/preview'],
      ['POST', '/v1/jobs/JOB/runs'],
      ['POST', '/v1/dead-letters/redrive'],
      ['GET', '/v1/dead-letters'],
      ['POST', '/v1/keys'],
      ['GET', '/v1/audit'],
    ),
  },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('GET', 'POST', 'PATCH', 'DELETE', 'PUT', 'HEAD'), path) },
  { weight: 1, arbitrary: hostileParam },
);

const request = fc.record({
  operation,
  query: fc.dictionary(
    fc.constantFrom('limit', 'cursor', 'state', 'tag', 'status', 'x', '__proto__', 'constructor'),
    nasty,
    {
      maxKeys: 3,
    },
  ),
  headers: fc.oneof(
    {
      weight: 9,
      arbitrary: fc.dictionary(
        fc.constantFrom('if-match', 'idempotency-key', 'content-type', '__proto__', 'constructor'),
        nasty,
        {
          maxKeys: 2,
        },
      ),
    },
    // Now and then a broken credential: 401, never a crash.
    { weight: 1, arbitrary: nasty.map((authorization) => ({ authorization })) },
  ),
  body,
});

it(`answers ${RUNS} generated requests without a 5xx, errors as problem+json, refusals changing nothing`, async () => {
  let before = await snapshot();
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      const [method, template] = r.operation as readonly [string, string];
      const target = template.replace('JOB', jobId);
      const response = await handler(event(method, target, r.query, r.body, r.headers));
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
      expect(response.statusCode, `${method} ${target}`).toBeLessThan(500);
      const after = await snapshot();
      if (response.statusCode >= 400) {
        expect(response.headers?.['content-type']).toBe('application/problem+json');
        const problem = JSON.parse(response.body);
        expect(problem).toMatchObject({
          status: response.statusCode,
          type: expect.any(String),
          title: expect.any(String),
        });
        expect(typeof problem.detail).toBe('string');
        if (response.statusCode === 400) {
          expect(problem.errors, `${method} ${target} 400 names no field`).toEqual(
            expect.arrayContaining([{ field: expect.any(String), message: expect.any(String) }]),
          );
        }
        expect(after, `${method} ${target} answered ${response.statusCode} but changed data`).toBe(before);
      }
      if (method === 'DELETE' && target === `/v1/jobs/${jobId}` && response.statusCode === 204) {
        // Keep a job to aim at.
        jobId = JSON.parse((await handler(event('POST', '/v1/jobs', {}, JSON.stringify(validJob)))).body).id;
        before = await snapshot();
      } else before = after;
    }),
    { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? 20261124) },
  );
  // The generator reached the validators, not only the router and the authenticator.
  console.info('fuzz statuses', Object.fromEntries([...statuses].sort(([a], [b]) => a - b)));
  expect(statuses.get(400) ?? 0).toBeGreaterThan(RUNS / 10);
}, 600_000);

/**
 * The attacks the generators above were extended for, each sent over HTTP through the local
 * API Gateway: a 4xx problem+json naming the field, and nothing changed.
 */
describe('refuses the inputs that once answered 5xx', () => {
  const api = () => apiClient(runtime.apiUrl, key);
  const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
  const withRaw = (job: object, field: string, raw: string) =>
    JSON.stringify({ ...job, [field]: '__RAW__' }).replace('"__RAW__"', raw);
  const withTarget = (target: object, field: string, raw: string) =>
    JSON.stringify({ name: 'attack', target: { ...target, [field]: '__RAW__' } }).replace('"__RAW__"', raw);
  const http = validJob.target;
  const lambda = lambdaJob.target;
  const events = eventBridgeJob.target;

  const jobCount = (items: string) =>
    (JSON.parse(items) as { sk: string }[]).filter((item) => item.sk.startsWith('JOB#')).length;

  async function expectRefused(
    method: string,
    path: string,
    body: string | undefined,
    status: number,
    field?: string,
    send: (method: string, path: string, body?: string) => Promise<ApiResponse<Refusal>> = api(),
  ): Promise<void> {
    const before = await snapshot();
    const response = await send(method, path.replace('JOB', jobId), body);
    expect(response.status, `${method} ${path.slice(0, 80)}`).toBe(status);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(response.body).toMatchObject({
      type: expect.any(String),
      title: expect.any(String),
      status,
      detail: expect.any(String),
    });
    if (field !== undefined) expect(response.body.errors?.map((e) => e.field)).toContain(field);
    const after = await snapshot();
    expect(jobCount(after)).toBe(jobCount(before));
    expect(after).toBe(before);
  }

  it.each([
    ['tags.constructor', 'POST', '/v1/jobs', withRaw(validJob, 'tags', '{"constructor":"x"}')],
    ['tags.__proto__', 'POST', '/v1/jobs', withRaw(validJob, 'tags', '{"__proto__":"x"}')],
    ['tags.prototype', 'POST', '/v1/jobs', withRaw(validJob, 'tags', '{"prototype":"x"}')],
    ['target.headers.constructor', 'POST', '/v1/jobs', withTarget(http, 'headers', '{"constructor":"x"}')],
    ['target.headers.__proto__', 'POST', '/v1/jobs', withTarget(http, 'headers', '{"__proto__":"x"}')],
    [
      'target.payload.constructor',
      'POST',
      '/v1/jobs',
      withTarget(lambda, 'payload', '{"constructor":{"a":1}}'),
    ],
    [
      'target.payload.a.0.__proto__',
      'POST',
      '/v1/jobs',
      withTarget(lambda, 'payload', '{"a":[{"__proto__":{"polluted":true}}]}'),
    ],
    ['target.detail.constructor', 'POST', '/v1/jobs', withTarget(events, 'detail', '{"constructor":"x"}')],
    ['constructor', 'POST', '/v1/jobs', withRaw(validJob, 'constructor', '{"name":"x"}')],
    ['tags.constructor', 'PATCH', '/v1/jobs/JOB', '{"tags":{"constructor":"x"}}'],
    ['target.headers.constructor', 'PATCH', '/v1/jobs/JOB', '{"target":{"headers":{"constructor":"x"}}}'],
    ['target.__proto__', 'PATCH', '/v1/jobs/JOB', '{"target":{"__proto__":{"type":"lambda"}}}'],
  ])('a prototype key at %s (%s %s) → 400 naming it', async (field, method, path, body) => {
    await expectRefused(method, path, body, 400, field);
  });

  it('stores "prototype" inside a payload as sent: opaque JSON, harmless as a key', async () => {
    const payload = { prototype: { a: 1 }, nested: [{ prototype: 'x' }] };
    const created = await api()<Job>('POST', '/v1/jobs', {
      name: 'prototype-payload',
      target: { ...lambda, payload },
    });
    expect(created.status).toBe(201);
    const read = await api()<Job>('GET', `/v1/jobs/${created.body.id}`);
    expect(read.body.target.payload).toEqual(payload);
    expect((await api()('DELETE', `/v1/jobs/${created.body.id}`)).status).toBe(204);
  });

  it.each([
    ['GET', '/v1/jobs/%E0%A4%A', 'jobId'],
    ['PATCH', '/v1/jobs/%C0', 'jobId'],
    ['DELETE', '/v1/jobs/job_%FF', 'jobId'],
    ['POST', '/v1/jobs/%ED%A0%80/pause', 'jobId'],
    ['POST', '/v1/jobs/%/runs', 'jobId'],
    ['GET', '/v1/jobs/JOB/runs/%E0%A4%A', 'runId'],
    ['DELETE', '/v1/keys/%C0', 'keyId'],
  ])('broken percent-encoding: %s %s → 400 naming %s', async (method, path, field) => {
    await expectRefused(method, path, method === 'PATCH' ? '{"name":"x"}' : undefined, 400, field);
  });

  it.each([
    ['GET', `/v1/jobs/${'j'.repeat(1_100)}`],
    ['GET', `/v1/jobs/job_${'A'.repeat(3_000)}`],
    ['PATCH', `/v1/jobs/${'j'.repeat(1_100)}`],
    ['DELETE', `/v1/jobs/${'j'.repeat(5_000)}`],
    ['POST', `/v1/jobs/${'j'.repeat(1_100)}/pause`],
    ['POST', `/v1/jobs/${'j'.repeat(1_100)}/resume`],
    ['POST', `/v1/jobs/${'j'.repeat(1_100)}/runs`],
    ['GET', `/v1/jobs/${'j'.repeat(1_100)}/runs`],
    ['GET', `/v1/jobs/JOB/runs/${'r'.repeat(3_000)}`],
    ['GET', `/v1/jobs/JOB/runs/run_${'1'.repeat(3_000)}`],
    ['DELETE', `/v1/keys/${'k'.repeat(3_000)}`],
  ])('an id too long to exist: %s (%#) → 404 before any lookup', async (method, path) => {
    await expectRefused(method, path, method === 'PATCH' ? '{"name":"x"}' : undefined, 404);
  });

  it.each([
    ['(body)', 'POST', '/v1/jobs', deep(5_000)],
    ['(body)', 'POST', '/v1/jobs', `${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`],
    ['(body)', 'POST', '/v1/jobs', withTarget(lambda, 'payload', deep(5_000))],
    ['(body)', 'POST', '/v1/jobs', withTarget(events, 'detail', `{"a":${deep(5_000)}}`)],
    [
      '(body)',
      'PATCH',
      '/v1/jobs/JOB',
      JSON.stringify({ tags: '__RAW__' }).replace('"__RAW__"', deep(5_000)),
    ],
    ['(body)', 'POST', '/v1/schedules/preview', deep(5_000)],
    ['(body)', 'POST', '/v1/dead-letters/redrive', `{"ids":${deep(5_000)}}`],
    ['(body)', 'POST', '/v1/keys', `{"name":${deep(5_000)}}`],
    // Within the body's limit but past what DynamoDB nests in the stored job.
    ['target.payload', 'POST', '/v1/jobs', withTarget(lambda, 'payload', deep(30))],
    ['target.detail', 'POST', '/v1/jobs', withTarget(events, 'detail', `{"a":${deep(29)}}`)],
  ])('JSON nested deep, refused as %s: %s %s (%#) → 400', async (field, method, path, body) => {
    await expectRefused(method, path, body, 400, field);
  });

  it.each([
    ['target.detail.prototype', withTarget(events, 'detail', '{"prototype":9007199254740992}')],
    ['target.payload.n', withTarget(lambda, 'payload', '{"n":1e300}')],
    ['target.payload.0', withTarget(lambda, 'payload', '[-1e-200]')],
  ])('a number DynamoDB cannot store as sent, at %s → 400 naming it', async (field, body) => {
    await expectRefused('POST', '/v1/jobs', body, 400, field);
  });

  it('still stores a payload nested as deep as DynamoDB allows, idempotency record included', async () => {
    const created = await api()<Job>('POST', '/v1/jobs', withTarget(lambda, 'payload', deep(29)), {
      'idempotency-key': 'deepest-payload',
    });
    expect(created.status).toBe(201);
    expect((await api()('DELETE', `/v1/jobs/${created.body.id}`)).status).toBe(204);
  });

  it('refuses a tag filter longer than a tag can be (straight to the handler: HTTP servers cap URLs)', async () => {
    const direct = async (method: string, path: string) => {
      const [pathname, search] = path.split('?');
      const response = await handler(
        event(method, pathname!, Object.fromEntries(new URLSearchParams(search)), null),
      );
      return {
        status: response.statusCode,
        headers: new Headers(response.headers as Record<string, string>),
        body: JSON.parse(response.body) as Refusal,
      };
    };
    await expectRefused('GET', `/v1/jobs?tag=${'k'.repeat(70_000)}:v`, undefined, 400, 'tag', direct);
  });
});
