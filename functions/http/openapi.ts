/** The OpenAPI 3.1 document, with request schemas generated from the same zod schemas that validate. */
import * as z from 'zod';
import { jobInputSchema } from '../domain/job.js';
import { RUN_STATUSES } from '../domain/run.js';

const problemSchema = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail'],
  properties: {
    type: { type: 'string', format: 'uri' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    errors: {
      type: 'array',
      items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } },
    },
  },
};

const runSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    jobId: { type: 'string' },
    scheduledAt: { type: 'string', format: 'date-time' },
    trigger: { type: 'string', enum: ['schedule', 'manual', 'retry', 'dependency', 'catch_up'] },
    status: { type: 'string', enum: [...RUN_STATUSES] },
    attempt: { type: 'integer' },
    startedAt: { type: ['string', 'null'], format: 'date-time' },
    finishedAt: { type: ['string', 'null'], format: 'date-time' },
    durationMs: { type: ['integer', 'null'] },
    result: {
      type: ['object', 'null'],
      properties: { statusCode: { type: 'integer' }, bodyExcerpt: { type: 'string' } },
    },
    error: {
      type: ['object', 'null'],
      properties: { type: { type: 'string' }, message: { type: 'string' } },
    },
    skipReason: { type: ['string', 'null'] },
  },
};

const problems = (...codes: number[]) =>
  Object.fromEntries(
    codes.map((code) => [
      String(code),
      {
        description: 'problem',
        content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
      },
    ]),
  );

const ok = (description: string, schema: object) => ({
  description,
  content: { 'application/json': { schema } },
});

const jobId = { name: 'jobId', in: 'path', required: true, schema: { type: 'string' } };
const page = [
  { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 } },
  { name: 'cursor', in: 'query', schema: { type: 'string' } },
];

let cached: object | undefined;

export function openApiDocument(): object {
  cached ??= build();
  return cached;
}

function build(): object {
  const jobInput = z.toJSONSchema(jobInputSchema, { io: 'input', target: 'draft-2020-12' });
  const job = { $ref: '#/components/schemas/Job' };
  const jobList = {
    type: 'object',
    properties: { items: { type: 'array', items: job }, nextCursor: { type: ['string', 'null'] } },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Sundial API',
      version: '1.0.0',
      description: 'Serverless job scheduler on EventBridge Scheduler.',
    },
    paths: {
      '/v1/jobs': {
        post: {
          summary: 'Create a job',
          parameters: [{ name: 'Idempotency-Key', in: 'header', schema: { type: 'string', maxLength: 255 } }],
          requestBody: {
            required: true,
            content: { 'application/json': { schema: { $ref: '#/components/schemas/JobInput' } } },
          },
          responses: { '201': ok('created', job), ...problems(400, 413, 422) },
        },
        get: {
          summary: 'List jobs',
          parameters: [
            ...page,
            { name: 'state', in: 'query', schema: { type: 'string', enum: ['enabled', 'paused'] } },
            { name: 'tag', in: 'query', schema: { type: 'string' }, description: 'key:value' },
          ],
          responses: { '200': ok('a page of jobs', jobList), ...problems(400) },
        },
      },
      '/v1/jobs/{jobId}': {
        parameters: [jobId],
        get: {
          summary: 'Get a job',
          responses: { '200': ok('the job; ETag carries its version', job), ...problems(404) },
        },
        patch: {
          summary: 'Change a job (objects merge one level deep)',
          parameters: [{ name: 'If-Match', in: 'header', schema: { type: 'string' } }],
          requestBody: { content: { 'application/json': { schema: { type: 'object' } } } },
          responses: { '200': ok('the changed job', job), ...problems(400, 404, 412) },
        },
        delete: {
          summary: 'Delete a job and its schedule (409 while other jobs depend on it)',
          responses: { '204': { description: 'deleted' }, ...problems(404, 409) },
        },
      },
      '/v1/jobs/{jobId}/pause': {
        parameters: [jobId],
        post: {
          summary: 'Pause (schedule disabled)',
          responses: { '200': ok('the job', job), ...problems(404) },
        },
      },
      '/v1/jobs/{jobId}/resume': {
        parameters: [jobId],
        post: { summary: 'Resume', responses: { '200': ok('the job', job), ...problems(404) } },
      },
      '/v1/jobs/{jobId}/runs': {
        parameters: [jobId],
        post: {
          summary: 'Run now: queue a manual run with its own id',
          responses: { '202': ok('the queued run', { $ref: '#/components/schemas/Run' }), ...problems(404) },
        },
        get: {
          summary: 'Run history, newest first',
          parameters: [
            ...page,
            { name: 'status', in: 'query', schema: { type: 'string', enum: [...RUN_STATUSES] } },
          ],
          responses: {
            '200': ok('a page of runs', {
              type: 'object',
              properties: {
                items: { type: 'array', items: { $ref: '#/components/schemas/Run' } },
                nextCursor: { type: ['string', 'null'] },
              },
            }),
            ...problems(400, 404),
          },
        },
      },
      '/v1/jobs/{jobId}/runs/{runId}': {
        parameters: [jobId, { name: 'runId', in: 'path', required: true, schema: { type: 'string' } }],
        get: {
          summary: 'One run',
          responses: { '200': ok('the run', { $ref: '#/components/schemas/Run' }), ...problems(404) },
        },
      },
      '/v1/schedules/preview': {
        post: {
          summary: 'Next fire times of an expression',
          requestBody: {
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['expression'],
                  properties: {
                    expression: { type: 'string' },
                    timezone: { type: 'string', default: 'UTC' },
                    startAt: { type: ['string', 'null'], format: 'date-time' },
                    endAt: { type: ['string', 'null'], format: 'date-time' },
                    count: { type: 'integer', minimum: 1, maximum: 100, default: 10 },
                  },
                },
              },
            },
          },
          responses: {
            '200': ok('fire times', {
              type: 'object',
              properties: { fireTimes: { type: 'array', items: { type: 'string', format: 'date-time' } } },
            }),
            ...problems(400),
          },
        },
      },
      '/v1/health': {
        get: {
          summary: 'Health (no credentials needed)',
          security: [],
          responses: {
            '200': ok('healthy', {
              type: 'object',
              properties: { status: { type: 'string' }, checks: { type: 'object' } },
            }),
            '503': { description: 'a dependency is failing' },
          },
        },
      },
      '/v1/openapi.json': {
        get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1' } } },
      },
      '/v1/dead-letters': {
        get: {
          summary: 'Firings the queues gave up on (viewer)',
          parameters: page,
          responses: { '200': ok('a page', { type: 'object' }) },
        },
      },
      '/v1/dead-letters/redrive': {
        post: {
          summary: 'Put chosen dead letters back on their queue (operator)',
          requestBody: {
            content: {
              'application/json': {
                schema: { type: 'object', properties: { ids: { type: 'array', items: { type: 'string' } } } },
              },
            },
          },
          responses: { '200': ok('what was redriven', { type: 'object' }), ...problems(400, 404) },
        },
      },
      '/v1/keys': {
        post: {
          summary: 'Create an API key (admin); the key is in this answer only',
          requestBody: {
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['name', 'role'],
                  properties: { name: { type: 'string' }, role: { enum: ['viewer', 'operator', 'admin'] } },
                },
              },
            },
          },
          responses: { '201': ok('the key, once', { type: 'object' }), ...problems(400, 403) },
        },
        get: {
          summary: 'List API keys without secrets (admin)',
          parameters: page,
          responses: { '200': ok('a page', { type: 'object' }) },
        },
      },
      '/v1/keys/{keyId}': {
        parameters: [{ name: 'keyId', in: 'path', required: true, schema: { type: 'string' } }],
        delete: {
          summary: 'Revoke an API key (admin)',
          responses: { '204': { description: 'revoked' }, ...problems(404) },
        },
      },
      '/v1/tenant/signing-secret': {
        get: {
          summary: "The tenant's signing secret for target calls (admin)",
          responses: { '200': ok('the secret', { type: 'object' }) },
        },
      },
      '/v1/tenant/signing-secret/rotate': {
        post: {
          summary: 'Rotate the signing secret; the previous one signs 24 h more (admin)',
          responses: { '200': ok('the new secret', { type: 'object' }) },
        },
      },
      '/v1/audit': {
        get: {
          summary: 'Administrative actions, newest first (admin)',
          parameters: page,
          responses: { '200': ok('a page', { type: 'object' }) },
        },
      },
    },
    // Every operation but health needs a credential: an API key (sk_…) or an OIDC ID token.
    security: [{ bearer: [] }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'API key (sk_…) or OIDC ID token' },
      },
      schemas: {
        JobInput: jobInput,
        Job: {
          allOf: [
            { $ref: '#/components/schemas/JobInput' },
            {
              type: 'object',
              properties: {
                id: { type: 'string' },
                nextRunAt: { type: ['string', 'null'], format: 'date-time' },
                lastRun: { type: ['object', 'null'] },
                createdAt: { type: 'string', format: 'date-time' },
                updatedAt: { type: 'string', format: 'date-time' },
                version: { type: 'integer' },
              },
            },
          ],
        },
        Run: runSchema,
        Problem: problemSchema,
      },
    },
  };
}
