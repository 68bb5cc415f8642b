/**
 * Hard edges, by property: thousands of generated and mutated requests straight into the
 * API handler (over DynamoDB Local, as the api Lambda would get them from API Gateway).
 * Whatever arrives: never a 5xx, every error is problem+json, and a refused request
 * changes nothing in the tenant's data.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDocumentClient } from '../../functions/commons/clients.js';
import { createApiHandler } from '../../functions/handlers/api.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/dynamodb-local.js';
import { ManualClock } from '../../local/manual-clock.js';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.js';

const RUNS = 10_000;
const TENANT = 'fuzz';
const clock = new ManualClock('2026-11-23T00:00:00.000Z');
let runtime: LocalRuntime;
let handler: (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;
let key = '';
let jobId = '';

const validJob = {
  name: 'fuzzed',
  schedule: { expression: 'rate(1 hour)', timezone: 'Europe/Berlin' },
  target: {
    type: 'http',
    url: 'http://localhost:9/hook',
    method: 'POST',
    headers: { 'x-a': 'b' },
    body: '{}',
  },
  retryPolicy: { maxAttempts: 3, initialDelaySeconds: 10, multiplier: 2, maxDelaySeconds: 60 },
  overlapPolicy: 'skip',
  tags: { team: 'fuzz' },
};

beforeAll(async () => {
  // The clock never moves here: without a high rate limit every request would share one second.
  runtime = await startLocalRuntime({
    port: 0,
    clock,
    logLevel: 'SILENT',
    limits: { requestsPerSecond: 1_000_000 },
  });
  handler = createApiHandler(runtime.services);
  ({ secretKey: key } = await runtime.services.apiKeys.create(
    { tenantId: TENANT, name: 'fuzz', role: 'admin', createdBy: 'test' },
    clock.now(),
  ));
  const created = await handler(event('POST', '/v1/jobs', {}, JSON.stringify(validJob)));
  jobId = JSON.parse(created.body).id;
});

afterAll(async () => {
  await runtime?.stop();
});

function event(
  method: string,
  path: string,
  query: Record<string, string>,
  body: string | null,
  headers: Record<string, string> = {},
): APIGatewayProxyEvent {
  return {
    resource: '/{proxy+}',
    path,
    httpMethod: method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    multiValueHeaders: {},
    queryStringParameters: Object.keys(query).length > 0 ? query : null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body,
    isBase64Encoded: false,
    requestContext: {} as APIGatewayProxyEvent['requestContext'],
  };
}

/**
 * Everything the tenant has in the jobs table (jobs, edges, keys, audit), as one string;
 * not the rate-limit counters, which count every request by design.
 */
async function snapshot(): Promise<string> {
  const db = createDocumentClient({
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

const body = fc.oneof(
  { weight: 5, arbitrary: mutatedJob },
  { weight: 2, arbitrary: anyJson.map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: nasty },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.constant(`{"name":"${'x'.repeat(300_000)}"}`) },
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
);

const request = fc.record({
  operation,
  query: fc.dictionary(fc.constantFrom('limit', 'cursor', 'state', 'tag', 'status', 'x'), nasty, {
    maxKeys: 3,
  }),
  headers: fc.oneof(
    {
      weight: 9,
      arbitrary: fc.dictionary(fc.constantFrom('if-match', 'idempotency-key', 'content-type'), nasty, {
        maxKeys: 2,
      }),
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
