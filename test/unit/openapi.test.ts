/**
 * The OpenAPI document (GET /v1/openapi.json): valid OpenAPI 3.1, every reference resolved,
 * every operation of the API in it, served without credentials; and the TypeScript client
 * types generated from it (client/schema.ts) match what the code returns.
 * test/e2e/openapi-walkthrough.test.ts validates the real answers of a running API against it.
 */
import { execFileSync } from 'node:child_process';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsPlugin from 'ajv-formats';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import openapiTS, { astToString, type OpenAPI3 } from 'openapi-typescript';
import ts from 'typescript';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type * as z from 'zod';
import type { components } from '../../client/schema.js';
import { UnauthorizedError } from '../../functions/domain/auth.js';
import { computeNextRunAt } from '../../functions/domain/job.js';
import { type jobInputSchema, jobPatchSchema, validateJobInput } from '../../functions/domain/job-input.js';
import type { toPublicRun } from '../../functions/domain/run.js';
import { ACCESS, type ApiDeps, createApiApp } from '../../functions/http/app.js';
import { openApiDocument } from '../../functions/http/openapi.js';
import {
  listDeadLettersQuery,
  listJobsQuery,
  listRunsQuery,
  pageQuery,
} from '../../functions/http/requests.js';
import { apiSchemas, type ResponseBody, type ResponseSchemas } from '../../functions/http/schemas.js';
import type { redriveDeadLetters } from '../../functions/usecases/dead-letters.js';
import { toPublicJob } from '../../functions/usecases/jobs.js';

type Json = Record<string, unknown>;
const doc = openApiDocument() as Json & { paths: Record<string, Record<string, Json>> };
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'];

/** Every operation of the document, as `METHOD /template`, with its object. */
function documentedOperations(): [string, Json][] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, operation]): [string, Json] => [`${method.toUpperCase()} ${path}`, operation]),
  );
}

/** The node a local `$ref` (`#/a/b`) points at in the document, or undefined. */
function resolvePointer(ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return undefined;
    node = (node as Json)[key];
  }
  return node;
}

function allRefs(node: unknown, at = '#'): { ref: string; at: string }[] {
  if (Array.isArray(node)) return node.flatMap((item, i) => allRefs(item, `${at}/${i}`));
  if (typeof node !== 'object' || node === null) return [];
  return Object.entries(node).flatMap(([key, value]) =>
    key === '$ref' && typeof value === 'string' ? [{ ref: value, at }] : allRefs(value, `${at}/${key}`),
  );
}

/** The API over no services: enough for what answers before any is used. */
const app = createApiApp({
  authenticate: async () => {
    throw new UnauthorizedError('send Authorization: Bearer <API key or token>');
  },
} as unknown as ApiDeps);
const get = (path: string) =>
  app({ path, httpMethod: 'GET', headers: {} } as unknown as APIGatewayProxyEvent);

let validator: ((component: string, value: unknown) => string[]) | undefined;
/** Validates against the document's schemas (each compiled from the document itself). */
function documentValidator() {
  validator ??= compileValidator();
  return validator;
}

function compileValidator() {
  const addFormats = addFormatsPlugin as unknown as typeof addFormatsPlugin.default;
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  // The document's own keywords: containers of schemas, not schema keywords.
  ajv.addVocabulary(['openapi', 'info', 'servers', 'paths', 'components', 'security', 'tags']);
  ajv.addSchema(doc, 'openapi.json');
  return (component: string, value: unknown) => {
    const validate = ajv.getSchema(`openapi.json#/components/schemas/${component}`)!;
    return validate(value) ? [] : ajv.errorsText(validate.errors).split(', ');
  };
}

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('resolves every $ref to a place in the document', async () => {
    const refs = allRefs(doc);
    expect(refs.length).toBeGreaterThan(100);
    const broken = refs.filter(({ ref }) => resolvePointer(ref) === undefined);
    expect(broken).toEqual([]);
    // No JSON Schema of its own: each schema's ids and dialect are the document's.
    expect(JSON.stringify(doc)).not.toMatch(/"\$(id|schema|defs)"/);
    const validator = new Validator();
    await validator.validate(structuredClone(doc));
    expect(() => validator.resolveRefs()).not.toThrow();
  });

  it("describes every operation of app.ts's route table, and no other", () => {
    const served = [...app.operations].sort();
    expect(served.length).toBeGreaterThan(20);
    expect(
      documentedOperations()
        .map(([key]) => key)
        .sort(),
    ).toEqual(served);
    // Each route has its role: a route missing from ACCESS would need admin unannounced.
    expect(Object.keys(ACCESS).sort()).toEqual(served);
  });

  it('gives each operation a unique operationId, a summary and its success answer', () => {
    const operations = documentedOperations();
    const ids = operations.map(([, operation]) => operation.operationId);
    expect(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z]+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const [key, operation] of operations) {
      expect(operation.summary, key).toEqual(expect.any(String));
      const statuses = Object.keys(operation.responses as Json);
      expect(
        statuses.some((s) => /^2\d\d$/.test(s)),
        key,
      ).toBe(true);
    }
  });

  it('needs a credential for exactly the operations ACCESS does not make public', () => {
    const schemes = Object.keys((doc.components as { securitySchemes: Json }).securitySchemes);
    expect(schemes.sort()).toEqual(['apiKey', 'jwt']);
    expect(doc.security).toEqual([{ apiKey: [] }, { jwt: [] }]);
    for (const [key, operation] of documentedOperations()) {
      const access = ACCESS[key];
      expect(operation['x-sundial-role'], key).toBe(access);
      const responses = Object.keys(operation.responses as Json);
      if (access === 'public') {
        expect(operation.security, key).toEqual([]);
        expect(responses, key).not.toContain('401');
      } else {
        expect(operation.security, key).toBeUndefined();
        expect(responses, key).toEqual(expect.arrayContaining(['401', '403', '429']));
      }
    }
  });

  it('documents the headers the API sends and reads', () => {
    const responses = (doc.components as { responses: Record<string, Json> }).responses;
    expect(Object.keys(responses.TooManyRequests!.headers as Json)).toEqual(['Retry-After']);
    expect(Object.keys(responses.Unauthorized!.headers as Json)).toEqual(['WWW-Authenticate']);
    const create = doc.paths['/v1/jobs']!.post as { responses: Record<string, Json>; parameters: Json[] };
    expect(Object.keys(create.responses['201']!.headers as Json)).toEqual([
      'ETag',
      'Location',
      'Idempotent-Replayed',
    ]);
    expect(create.parameters).toContainEqual({ $ref: '#/components/parameters/IdempotencyKey' });
    const patch = doc.paths['/v1/jobs/{jobId}']!.patch as { parameters: Json[]; responses: Json };
    expect(patch.parameters).toContainEqual({ $ref: '#/components/parameters/IfMatch' });
    expect(Object.keys(patch.responses)).toContain('412');
    expect(doc.servers).toEqual(expect.arrayContaining([expect.objectContaining({ url: '/' })]));
  });

  it("documents a passive region's refusal of every write, and GET /v1/region, as such a region answers", async () => {
    const writes = documentedOperations().filter(([key]) => !key.startsWith('GET '));
    expect(writes.length).toBeGreaterThan(10);
    for (const [key, operation] of writes)
      expect(Object.keys(operation.responses as Json), key).toContain('409');
    // A passive region of a two-region deployment, with an admin's credential.
    const passive = createApiApp({
      authenticate: async () => ({ tenantId: 'tenant-a', subject: 'key:1', role: 'admin' }),
      rateLimiter: { take: async () => ({ allowed: true, retryAfterSeconds: 0 }) },
      limits: { requestsPerSecond: 100 },
      clock: { now: () => new Date('2027-03-01T00:00:00.000Z') },
      region: {
        region: 'us-west-2',
        multiRegion: true,
        current: async () => ({ active: false, activeRegion: 'eu-west-1', epoch: 3 }),
        invalidate: () => undefined,
      },
      regions: ['eu-west-1', 'us-west-2'],
    } as unknown as ApiDeps);
    const send = (httpMethod: string, path: string) =>
      passive({ path, httpMethod, headers: {}, body: '{}' } as unknown as APIGatewayProxyEvent);
    const validate = documentValidator();
    const region = await send('GET', '/v1/region');
    expect(region.statusCode).toBe(200);
    const body = JSON.parse(region.body);
    expect(body).toEqual({
      region: 'us-west-2',
      activeRegion: 'eu-west-1',
      active: false,
      epoch: 3,
      regions: ['eu-west-1', 'us-west-2'],
    });
    expect(validate('Region', body)).toEqual([]);
    // A public callback and an admin's write alike: refused before anything else is read.
    for (const [method, path] of [
      ['POST', '/v1/callbacks/cb_anything'],
      ['DELETE', '/v1/jobs/job_01JD6Z0000000000000000000'],
    ] as const) {
      const refused = await send(method, path);
      expect(refused.statusCode, path).toBe(409);
      const problem = JSON.parse(refused.body);
      expect(problem).toMatchObject({ region: 'us-west-2', activeRegion: 'eu-west-1' });
      expect(validate('RegionPassiveProblem', problem)).toEqual([]);
      expect(validate('Problem', problem)).not.toEqual([]);
    }
  });

  it('is served without credentials, and is the same document', async () => {
    const served = await get('/v1/openapi.json');
    expect(served.statusCode).toBe(200);
    expect(JSON.parse(served.body)).toEqual(doc);
    expect((await get('/v1/jobs')).statusCode).toBe(401);
  });

  it('documents the query parameters each list reads, from the schemas that read them', () => {
    const queries = {
      listJobs: listJobsQuery,
      listRuns: listRunsQuery,
      listDeadLetters: listDeadLettersQuery,
      listApiKeys: pageQuery,
      listAuditEntries: pageQuery,
    };
    for (const [id, query] of Object.entries(queries)) {
      const [, operation] = documentedOperations().find(([, o]) => o.operationId === id)!;
      const names = (operation.parameters as Json[]).filter((p) => p.in === 'query').map((p) => p.name);
      expect(names, id).toEqual(Object.keys(query.shape));
    }
  });

  it('documents the PATCH body with the keys the API accepts', () => {
    expect(Object.keys(apiSchemas().jobPatch.shape).sort()).toEqual(Object.keys(jobPatchSchema.shape).sort());
    // Each with a shape: none fell back to the patch schema's "anything" (z.unknown()).
    const fields = (doc.components as { schemas: Record<string, { properties: Json }> }).schemas.JobPatch!
      .properties;
    expect(Object.entries(fields).filter(([, schema]) => Object.keys(schema as Json).length === 0)).toEqual(
      [],
    );
    const validate = documentValidator();
    expect(validate('JobPatch', { target: { url: 'https://example.com/b' }, schedule: null })).toEqual([]);
    expect(validate('JobPatch', { schedule: { timezone: 'Europe/Berlin' }, version: 3 })).toEqual([]);
    expect(validate('JobPatch', { id: 'job_1' })).not.toEqual([]);
  });

  describe('describes a job as toPublicJob shows it', () => {
    const now = new Date('2026-11-23T10:00:00.000Z');
    const targets = {
      http: {
        type: 'http',
        url: 'https://reports.example.com/run',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      },
      lambda: {
        type: 'lambda',
        functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:report',
        payload: { nested: [1, 'two', { three: null }] },
      },
      sqs: {
        type: 'sqs',
        queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/reports',
        body: 'hello',
        messageAttributes: { kind: 'report' },
      },
      eventbridge: {
        type: 'eventbridge',
        eventBusArn: 'arn:aws:events:eu-west-1:123456789012:event-bus/default',
        source: 'com.example.reports',
        detailType: 'Report due',
        detail: { team: 'billing', ids: [1, 2] },
      },
    };

    it.each(Object.entries(targets))('with an %s target', (_type, target) => {
      const body = {
        name: 'nightly-report',
        schedule: { expression: 'cron(0 2 ? * MON-FRI *)', timezone: 'Europe/Berlin' },
        target,
        tags: { team: 'billing' },
      };
      const validate = documentValidator();
      expect(validate('JobInput', body)).toEqual([]);
      const { input } = validateJobInput(body, now);
      const stored = {
        ...input,
        id: 'job_01JD6Z0000000000000000000',
        tenantId: 'tenant-a',
        nextRunAt: null,
        createdAt: now.toISOString(),
        updatedAt: now.toISOString(),
        version: 1,
        ...(target.type === 'http' ? { secretHeaders: { names: ['authorization'], ciphertext: 'x' } } : {}),
      };
      const lastRun = {
        id: 'run_20261123T010000000Z',
        status: 'succeeded',
        scheduledAt: '2026-11-23T01:00:00.000Z',
        finishedAt: '2026-11-23T01:00:01.250Z',
      };
      const shown = {
        ...toPublicJob(stored as Parameters<typeof toPublicJob>[0], lastRun),
        nextRunAt: computeNextRunAt(stored, now),
      };
      expect(validate('Job', shown)).toEqual([]);
      expect(validate('Job', { ...shown, tenantId: 'tenant-a' })).not.toEqual([]);
    });
  });
});

describe('the document the API serves', () => {
  it('is committed as functions/http/openapi.json (npx vitest run test/unit/openapi.test.ts -u rewrites it)', async () => {
    const formatted = execFileSync(
      'node_modules/.bin/biome',
      ['format', '--stdin-file-path=functions/http/openapi.json'],
      { input: JSON.stringify(doc), encoding: 'utf8' },
    );
    await expect(formatted).toMatchFileSnapshot('../../functions/http/openapi.json');
  });
});

describe('the client types generated from the document', () => {
  it('are committed as client/schema.ts (npx vitest run test/unit/openapi.test.ts -u rewrites it)', async () => {
    const ast = await openapiTS(structuredClone(doc) as unknown as OpenAPI3, {
      // A field with a default may be left out of a request; responses list every field as required.
      defaultNonNullable: false,
      silent: true,
      // openapi-typescript writes a JSON value, an array of itself among its forms, as a type
      // TypeScript refuses (openapi-ts/openapi-typescript#1603); a recursive alias it accepts.
      inject:
        'type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };',
      transform: (_schema, { path }) =>
        path === '#/components/schemas/JsonValue'
          ? ts.factory.createTypeReferenceNode('JsonValue')
          : undefined,
    });
    const banner =
      '// Generated by test/unit/openapi.test.ts from GET /v1/openapi.json with openapi-typescript;\n' +
      '// the typed client (client/index.ts) of the CLI and the console is built on it.\n' +
      '// Do not edit: run `npx vitest run test/unit/openapi.test.ts -u` after changing the API.\n\n';
    const formatted = execFileSync(
      'node_modules/.bin/biome',
      ['format', '--stdin-file-path=client/schema.ts'],
      { input: banner + astToString(ast), encoding: 'utf8' },
    );
    await expect(formatted).toMatchFileSnapshot('../../client/schema.ts');
  });

  it('agree with the zod response schemas and with what the code returns (tsc checks these)', () => {
    // No generated type gave up (openapi-typescript made the recursive JSON value `any` once).
    expectTypeOf<Typed>().toEqualTypeOf<{ [N in keyof Typed]: true }>();
    // Every response's generated type is its zod schema's type (a `false` names one that is not).
    expectTypeOf<ZodMatches>().toEqualTypeOf<{ [N in keyof ZodMatches]: true }>();
    // What a client may send is what the API's schemas take.
    expectTypeOf<Schemas['JobInput']>().toEqualTypeOf<z.input<typeof jobInputSchema>>();
    expectTypeOf<Schemas['JobPatch']>().toExtend<z.input<typeof jobPatchSchema>>();

    // A client generated from the document accepts what the code sends, as the code types it.
    expectTypeOf<Sent['Run']>().toExtend<Schemas['Run']>();
    expectTypeOf<Sent['ApiKey']>().toExtend<Schemas['ApiKey']>();
    expectTypeOf<Sent['CreatedApiKey']>().toExtend<Schemas['CreatedApiKey']>();
    expectTypeOf<Sent['DeadLetter']>().toExtend<Schemas['DeadLetter']>();
    expectTypeOf<Sent['AuditEntry']>().toExtend<Schemas['AuditEntry']>();
    expectTypeOf<Sent['SigningSecret']>().toExtend<Schemas['SigningSecret']>();
    expectTypeOf<Sent['RedriveResult']>().toExtend<Schemas['RedriveResult']>();
    // PublicJob types its target as the input's (secretHeaders, no secretHeaderNames) and
    // RunSummary its status as any string; neither is what is sent, so those two are left to
    // the walkthrough, which validates the real answers.
    expectTypeOf<Omit<Sent['Job'], 'target' | 'lastRun'>>().toExtend<
      Omit<Schemas['Job'], 'target' | 'lastRun'>
    >();
  });
});

type Schemas = components['schemas'];
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Item<T> = T extends Promise<{ items: (infer I)[] }> ? I : never;
type Typed = { [N in keyof Schemas]: 0 extends 1 & Schemas[N] ? false : true };
type ZodMatches = { [N in keyof ResponseSchemas]: Same<ResponseBody<N>, Schemas[N]> };

/** What the API sends, as the code's own types say (see app.ts). */
type Sent = {
  Run: ReturnType<typeof toPublicRun>;
  ApiKey: Omit<Item<ReturnType<ApiDeps['apiKeys']['list']>>, 'tenantId'>;
  CreatedApiKey: Omit<Awaited<ReturnType<ApiDeps['apiKeys']['create']>>['key'], 'tenantId'> & { key: string };
  DeadLetter: Omit<Item<ReturnType<ApiDeps['deadLetters']['list']>>, 'tenantId'>;
  AuditEntry: Item<ReturnType<ApiDeps['audit']['list']>>;
  SigningSecret: Awaited<ReturnType<ApiDeps['signingSecrets']['current']>>;
  RedriveResult: Awaited<ReturnType<typeof redriveDeadLetters>>;
  Job: ReturnType<typeof toPublicJob> & { nextRunAt: string | null };
};
