/**
 * The OpenAPI 3.1 document of the API, served at GET /v1/openapi.json without credentials.
 * The API serves it from functions/http/openapi.json, which test/unit/openapi.test.ts writes
 * from this module and holds equal to it, so that no function loads classic zod.
 *
 * Every schema in it is generated from the zod schemas the code uses: request bodies and
 * query parameters from the domain's and app.ts's (as inputs: a field with a default may be
 * left out), responses from schemas.ts (as outputs: every field is sent). Each named schema
 * becomes one component, and a schema zod has to share (JSON values, which nest) becomes one
 * too, so every `$ref` points at `#/components/...`. What this file declares by hand is the
 * HTTP around them: one entry per operation of app.ts (test/unit/openapi.test.ts holds the
 * two lists equal), its success statuses and headers; the error statuses follow from what
 * the operation takes (path parameters, a query, a body), whether it needs credentials, and
 * whether it writes (a passive region refuses every write with 409 region-passive).
 */
import * as z from 'zod';
import { jobInputSchema } from '../domain/job-input.js';
import { backfillBody } from '../usecases/backfill.js';
import { callbackBody, heartbeatBody } from '../usecases/callbacks.js';
import { ACCESS, MAX_BODY_BYTES, PATH_PARAMS } from './app.js';
import { PROBLEM_BASE } from './problem.js';
import {
  createKeyBody,
  idempotencyKey,
  listDeadLettersQuery,
  listJobsQuery,
  listRunsQuery,
  pageQuery,
  pauseBody,
  previewBody,
  redriveBody,
} from './requests.js';
import { apiSchemas, type ResponseName } from './schemas.js';

type Json = Record<string, unknown>;

const SCHEMAS = '#/components/schemas/';
const schemaRef = (name: string) => ({ $ref: `${SCHEMAS}${name}` });

/** Request bodies, by component name; emitted as inputs. */
const requestSchemas = () =>
  ({
    JobInput: jobInputSchema,
    JobPatch: apiSchemas().jobPatch,
    PreviewRequest: previewBody,
    CreateApiKeyRequest: createKeyBody,
    RedriveRequest: redriveBody,
    BackfillRequest: backfillBody,
    PauseRequest: pauseBody,
    CallbackRequest: callbackBody,
    HeartbeatRequest: heartbeatBody,
  }) satisfies Record<string, z.core.$ZodType>;
type RequestName = keyof ReturnType<typeof requestSchemas>;

/**
 * The answers of two-region deployments (issue 16), by component name; emitted as outputs
 * with the responses of schemas.ts.
 */
const regionSchemas = () => {
  const problem = apiSchemas().responses.Problem.shape;
  const regionName = z.string().describe('An AWS region, e.g. eu-west-1 (`local` on the local runtime).');
  return {
    Region: z
      .strictObject({
        region: regionName.describe('The region this API is in.'),
        activeRegion: regionName.describe('The region that fires jobs and takes writes now.'),
        active: z.boolean().describe('Whether this region is the active one (region = activeRegion).'),
        epoch: z
          .number()
          .int()
          .min(0)
          .describe('Grows by one at every failover or failback; 0 until the first.'),
        regions: z
          .array(regionName)
          .min(1)
          .describe("The deployment's regions, the home region first (one region: just this one)."),
      })
      .describe(
        'In a two-region deployment, which region this API is in and which one is active: writes ' +
          '(every POST, PATCH and DELETE) go to the active region; a passive region answers reads.',
      ),
    RegionPassiveProblem: z
      .strictObject({
        type: z.literal(`${PROBLEM_BASE}region-passive`),
        title: problem.title,
        status: z.literal(409),
        detail: problem.detail,
        region: regionName.describe('The region this request reached: passive, it takes no writes.'),
        activeRegion: regionName.describe('The active region: send the request to its API instead.'),
      })
      .describe(
        'A write sent to a passive region of a two-region deployment: nothing was changed. ' +
          "Send it to the active region's API (GET /v1/region names it too).",
      ),
  } satisfies Record<string, z.core.$ZodType>;
};
type RegionResponseName = keyof ReturnType<typeof regionSchemas>;

type HeaderName = 'ETag' | 'Location' | 'IdempotentReplayed' | 'SundialDegraded';

interface Success {
  description: string;
  body?: ResponseName | RegionResponseName;
  headers?: HeaderName[];
}

interface Operation {
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  query?: { shape: z.core.$ZodShape };
  /** Request headers it reads, by parameter component name. */
  headers?: ('IdempotencyKey' | 'IfMatch')[];
  body?: RequestName;
  /** The body may be left out. */
  optionalBody?: boolean;
  responses: Record<number, Success>;
  /** Errors beyond those that follow from its inputs and credentials. */
  errors?: ('404' | '409' | '412' | '422' | '429' | '503')[];
}

/**
 * Every operation app.ts serves, keyed as in its ACCESS table. A function: app.ts imports this
 * module, so what it exports is only there once app.ts has loaded, when the document is built.
 */
const operations = (): Record<string, Operation> => ({
  'GET /v1/health': {
    operationId: 'getHealth',
    summary: 'Health of the API and what it depends on',
    tag: 'meta',
    responses: {
      200: { description: 'Every check passed.', body: 'Health' },
      503: { description: 'A check failed; `checks` says which.', body: 'Health' },
    },
  },
  'GET /v1/openapi.json': {
    operationId: 'getOpenApiDocument',
    summary: 'This document',
    tag: 'meta',
    responses: { 200: { description: 'The OpenAPI 3.1 document of the API.' } },
  },
  'GET /v1/region': {
    operationId: 'getRegion',
    summary: 'Which region this API is in, and which region is active',
    description:
      'In a two-region deployment (a standby region deployed with -c standbyRegion=<region>) one region ' +
      'is active at a time: it fires the jobs and takes every write. A passive region answers reads ' +
      'and refuses each write (POST, PATCH, DELETE, callbacks included) with 409 region-passive naming ' +
      'the active region. `sundial dr failover` moves the active region. A one-region deployment is ' +
      'always active, at epoch 0.',
    tag: 'regions',
    responses: { 200: { description: 'This region and the active one.', body: 'Region' } },
  },
  'POST /v1/schedules/preview': {
    operationId: 'previewSchedule',
    summary: 'The next fire times of a schedule expression',
    description:
      "Evaluated with EventBridge Scheduler's rules in the time zone given, daylight-saving changes included.",
    tag: 'schedules',
    body: 'PreviewRequest',
    responses: { 200: { description: 'The fire times, in order.', body: 'FireTimes' } },
  },
  'GET /v1/jobs': {
    operationId: 'listJobs',
    summary: "List the tenant's jobs",
    tag: 'jobs',
    query: listJobsQuery,
    responses: { 200: { description: 'A page of jobs.', body: 'JobPage' } },
  },
  'POST /v1/jobs': {
    operationId: 'createJob',
    summary: 'Create a job',
    description:
      'Its schedule is created with it. With an Idempotency-Key, a repeated request (same key, same body, ' +
      'within 24 hours) answers the job it made, with Idempotent-Replayed: true, and makes nothing.',
    tag: 'jobs',
    headers: ['IdempotencyKey'],
    body: 'JobInput',
    responses: {
      201: { description: 'The job.', body: 'Job', headers: ['ETag', 'Location', 'IdempotentReplayed'] },
    },
    errors: ['422', '503'],
  },
  'GET /v1/jobs/{jobId}': {
    operationId: 'getJob',
    summary: 'Get a job',
    tag: 'jobs',
    responses: { 200: { description: 'The job.', body: 'Job', headers: ['ETag'] } },
  },
  'PATCH /v1/jobs/{jobId}': {
    operationId: 'updateJob',
    summary: 'Change a job',
    description:
      'Send only what changes; schedule, target and notify merge one level deep. With If-Match (the ETag) ' +
      'the change is refused with 412 when the job has changed since.',
    tag: 'jobs',
    headers: ['IfMatch'],
    body: 'JobPatch',
    responses: { 200: { description: 'The changed job.', body: 'Job', headers: ['ETag'] } },
    errors: ['412'],
  },
  'DELETE /v1/jobs/{jobId}': {
    operationId: 'deleteJob',
    summary: 'Delete a job and its schedule',
    description: 'Refused with 409 while other jobs depend on it.',
    tag: 'jobs',
    responses: { 204: { description: 'Deleted.' } },
    errors: ['409'],
  },
  'POST /v1/jobs/{jobId}/pause': {
    operationId: 'pauseJob',
    summary: 'Pause a job: its schedule is disabled',
    description:
      'The body is optional; `reason` (at most 256 characters) is kept on the job as `pausedReason` until it is resumed. Pausing a paused job with a new reason changes only the reason.',
    tag: 'jobs',
    body: 'PauseRequest',
    optionalBody: true,
    responses: { 200: { description: 'The job, paused.', body: 'Job', headers: ['ETag'] } },
    errors: ['412'],
  },
  'POST /v1/jobs/{jobId}/resume': {
    operationId: 'resumeJob',
    summary: 'Resume a paused job',
    description: 'Occurrences missed while paused are run as its catchUp policy says.',
    tag: 'jobs',
    responses: { 200: { description: 'The job, enabled.', body: 'Job', headers: ['ETag'] } },
    errors: ['412'],
  },
  'POST /v1/jobs/{jobId}/runs': {
    operationId: 'runJobNow',
    summary: 'Run a job now',
    description: 'A manual run with its own id: it never takes the place of a scheduled occurrence.',
    tag: 'runs',
    responses: { 202: { description: 'The run, queued.', body: 'Run', headers: ['Location'] } },
  },
  'GET /v1/jobs/{jobId}/runs': {
    operationId: 'listRuns',
    summary: "A job's runs, newest first",
    tag: 'runs',
    description:
      'While Sundial is degraded to level 2 or more (GET /v1/health), pages are at most 20 runs (the ' +
      'deployment may set another size), read eventually consistent, with Sundial-Degraded: run-history; ' +
      'the cursor pages on as usual.',
    query: listRunsQuery,
    responses: { 200: { description: 'A page of runs.', body: 'RunPage', headers: ['SundialDegraded'] } },
  },
  'GET /v1/jobs/{jobId}/runs/{runId}': {
    operationId: 'getRun',
    summary: 'Get a run, with its attempts',
    tag: 'runs',
    responses: { 200: { description: 'The run.', body: 'Run', headers: ['SundialDegraded'] } },
  },
  'POST /v1/jobs/{jobId}/runs/{runId}/cancel': {
    operationId: 'cancelRun',
    summary: 'Cancel a queued run or a long run',
    description:
      "The run ends `cancelled` at once and is not retried; a long run's ECS task or Step Functions execution is stopped after, and a later callback answers 409. A run that has ended, or a synchronous call in flight (it ends within its timeoutSeconds), is a 409.",
    tag: 'runs',
    responses: { 202: { description: 'The run, cancelled.', body: 'Run', headers: ['Location'] } },
    errors: ['409'],
  },
  'POST /v1/jobs/{jobId}/backfill': {
    operationId: 'backfillJob',
    summary: 'Run every occurrence of the schedule in a past range',
    description:
      "One run per occurrence in [from, to), `trigger: backfill`, with the occurrence's own id: an occurrence that already ran is not run again, so a repeated backfill queues 0. With overlapPolicy `allow` they run at once within the tenant's fair share; otherwise one after another, in order. A range holding more than maxRuns (at most 1,000) occurrences is a 400 naming the count; a paused job, or one without a schedule, is a 409.",
    tag: 'runs',
    body: 'BackfillRequest',
    responses: { 202: { description: 'How many runs were queued.', body: 'BackfillResult' } },
    errors: ['409'],
  },
  'POST /v1/callbacks/{token}': {
    operationId: 'reportCallback',
    summary: "A long HTTP run's target reports its outcome",
    description:
      'The URL is the one the target was given in Sundial-Callback-Url; the token in it is the only credential, bound to one attempt of one run. 404: a token Sundial never made, or one of an attempt no longer in progress (expired). 409: the attempt has ended.',
    tag: 'callbacks',
    body: 'CallbackRequest',
    responses: { 204: { description: 'Recorded; the run ends (or is retried) accordingly.' } },
    errors: ['404', '409', '429'],
  },
  'POST /v1/callbacks/{token}/heartbeat': {
    operationId: 'heartbeatCallback',
    summary: 'A long run reports that it is alive, and how far along',
    description:
      'Resets the heartbeat timeout (heartbeatTimeoutSeconds) and shows progress and message on the run. The body may be left out. ECS containers heartbeat to $SUNDIAL_CALLBACK_URL/heartbeat.',
    tag: 'callbacks',
    body: 'HeartbeatRequest',
    optionalBody: true,
    responses: { 204: { description: 'Recorded.' } },
    errors: ['404', '409', '429'],
  },
  'GET /v1/dead-letters': {
    operationId: 'listDeadLetters',
    summary: 'Firings the queues gave up on, newest first',
    tag: 'dead letters',
    query: listDeadLettersQuery,
    responses: { 200: { description: 'A page of dead letters.', body: 'DeadLetterPage' } },
  },
  'POST /v1/dead-letters/redrive': {
    operationId: 'redriveDeadLetters',
    summary: 'Put dead letters back on their queue',
    description:
      'Each is sent once; one redriven before is listed in alreadyRedriven. An unknown id is a 404.',
    tag: 'dead letters',
    body: 'RedriveRequest',
    responses: { 200: { description: 'What was redriven.', body: 'RedriveResult' } },
    errors: ['404'],
  },
  'GET /v1/breakers': {
    operationId: 'listBreakers',
    summary: "The tenant's circuit breakers, one per target that has failed",
    description:
      'A target with no failure yet has no breaker (it is closed). Breakers are per tenant: another tenant failing at the same host never shows here.',
    tag: 'breakers',
    query: pageQuery,
    responses: { 200: { description: 'A page of breakers, by target.', body: 'BreakerPage' } },
  },
  'GET /v1/breakers/{breakerId}': {
    operationId: 'getBreaker',
    summary: 'One circuit breaker',
    tag: 'breakers',
    responses: { 200: { description: 'The breaker.', body: 'Breaker' } },
  },
  'POST /v1/breakers/{breakerId}/reset': {
    operationId: 'resetBreaker',
    summary: 'Close a circuit breaker now',
    description:
      'Closed, its failures forgotten: runs waiting on it are tried at their next look (at most the cool-down they were given). Audited as breaker.reset.',
    tag: 'breakers',
    responses: { 200: { description: 'The breaker, closed.', body: 'Breaker' } },
  },
  'GET /v1/keys': {
    operationId: 'listApiKeys',
    summary: "List the tenant's API keys, without the keys themselves",
    tag: 'keys',
    query: pageQuery,
    responses: { 200: { description: 'A page of API keys.', body: 'ApiKeyPage' } },
  },
  'POST /v1/keys': {
    operationId: 'createApiKey',
    summary: 'Create an API key',
    description: 'The key is in this answer and nowhere else: Sundial keeps only its hash.',
    tag: 'keys',
    body: 'CreateApiKeyRequest',
    responses: { 201: { description: 'The key.', body: 'CreatedApiKey', headers: ['Location'] } },
  },
  'DELETE /v1/keys/{keyId}': {
    operationId: 'revokeApiKey',
    summary: 'Revoke an API key',
    description: 'It stops working at once. A key already revoked is a 404.',
    tag: 'keys',
    responses: { 204: { description: 'Revoked.' } },
  },
  'GET /v1/tenant/signing-secret': {
    operationId: 'getSigningSecret',
    summary: "The tenant's signing secret for calls to HTTP targets",
    description: 'Made on first use. Each call to an HTTP target carries a Sundial-Signature made with it.',
    tag: 'tenant',
    responses: { 200: { description: 'The secret.', body: 'SigningSecret' } },
  },
  'POST /v1/tenant/signing-secret/rotate': {
    operationId: 'rotateSigningSecret',
    summary: 'Rotate the signing secret',
    description: 'Calls are signed with the previous secret too for 24 hours, so receivers can switch.',
    tag: 'tenant',
    responses: { 200: { description: 'The new secret, and the one it replaces.', body: 'SigningSecret' } },
  },
  'GET /v1/audit': {
    operationId: 'listAuditEntries',
    summary: 'Administrative actions, newest first',
    tag: 'audit',
    query: pageQuery,
    responses: { 200: { description: 'A page of audit entries.', body: 'AuditPage' } },
  },
});

const problemContent = (schema: string) => ({
  'application/problem+json': { schema: schemaRef(schema) },
});

/** Error responses, by status; operations refer to them. A function, as `operations`. */
const errorResponses = (): Record<string, { name: string; response: Json }> => ({
  '400': {
    name: 'BadRequest',
    response: {
      description: 'The request was refused; `errors` names each field and why. Nothing was changed.',
      content: problemContent('ValidationProblem'),
    },
  },
  '401': {
    name: 'Unauthorized',
    response: {
      description: 'No credential, or one that is malformed, unknown, revoked or expired.',
      headers: { 'WWW-Authenticate': { $ref: '#/components/headers/WWWAuthenticate' } },
      content: problemContent('Problem'),
    },
  },
  '403': {
    name: 'Forbidden',
    response: {
      description:
        "The caller's role is not enough for this operation, or its token names no tenant or role.",
      content: problemContent('Problem'),
    },
  },
  '404': {
    name: 'NotFound',
    response: { description: 'No such resource in this tenant.', content: problemContent('Problem') },
  },
  '409': {
    name: 'Conflict',
    response: {
      description:
        'The request contradicts another resource (e.g. other jobs depend on this one): a Problem. Or, ' +
        'in a two-region deployment, this region is passive and takes no writes: a RegionPassiveProblem ' +
        '(type …/region-passive) naming the active region, where the request should go.',
      content: {
        'application/problem+json': {
          schema: { oneOf: [schemaRef('Problem'), schemaRef('RegionPassiveProblem')] },
        },
      },
    },
  },
  /** 409 of a write that has no other conflict than the region's. */
  passive: {
    name: 'RegionPassive',
    response: {
      description:
        'In a two-region deployment, this region is passive and takes no writes; nothing was changed. ' +
        '`activeRegion` names the region to send it to (GET /v1/region says which too).',
      content: problemContent('RegionPassiveProblem'),
    },
  },
  '412': {
    name: 'PreconditionFailed',
    response: {
      description: 'The job changed since the version sent; `currentVersion` is its version now.',
      content: problemContent('VersionMismatchProblem'),
    },
  },
  '413': {
    name: 'PayloadTooLarge',
    response: {
      description: `The body is larger than ${MAX_BODY_BYTES} bytes.`,
      content: problemContent('Problem'),
    },
  },
  '422': {
    name: 'IdempotencyKeyReused',
    response: {
      description: 'This Idempotency-Key was used with a different body.',
      content: problemContent('Problem'),
    },
  },
  '429': {
    name: 'TooManyRequests',
    response: {
      description:
        "A tenant limit (requests per second, job creations per minute, jobs) or this address's budget " +
        'of failed authentications is spent; retry after Retry-After seconds. (Deployed, API Gateway ' +
        'throttles too, above the stage\'s rate: its 429 is `{"message": "Too Many Requests"}`, without ' +
        'Retry-After.)',
      headers: { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } },
      content: problemContent('Problem'),
    },
  },
  '503': {
    name: 'Degraded',
    response: {
      description:
        'Sundial is overloaded (graceful degradation, level 4) and accepts no new jobs for now; existing ' +
        'jobs keep running, and reads, updates and deletes are served. Retry after Retry-After seconds ' +
        '(`retryAfterSeconds` in the body too). Nothing was changed.',
      headers: { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } },
      content: problemContent('Problem'),
    },
  },
  '500': {
    name: 'InternalError',
    response: {
      description: 'The request failed; it is safe to retry (with the same Idempotency-Key).',
      content: problemContent('Problem'),
    },
  },
});

const HEADERS: Record<string, Json> = {
  ETag: {
    description: 'The version of the job, quoted: send it back as If-Match.',
    required: true,
    schema: { type: 'string', pattern: '^"[0-9]+"$', examples: ['"3"'] },
  },
  Location: {
    description: 'The path of what was made.',
    required: true,
    schema: { type: 'string', format: 'uri-reference' },
  },
  IdempotentReplayed: {
    description: 'Present when the answer is a replay of an earlier request with the same Idempotency-Key.',
    schema: { type: 'string', enum: ['true'] },
  },
  SundialDegraded: {
    description:
      'Present (`run-history`) when Sundial is degraded and served this read by its cheaper path: ' +
      'eventually consistent, in smaller pages.',
    schema: { type: 'string', enum: ['run-history'] },
  },
  RetryAfter: {
    description: 'Seconds to wait before trying again.',
    required: true,
    schema: { type: 'integer', minimum: 0 },
  },
  WWWAuthenticate: {
    description: 'How to authenticate.',
    required: true,
    schema: { type: 'string', enum: ['Bearer'] },
  },
};
/** Response header names as sent, by header component. */
const HEADER_NAMES: Record<HeaderName, string> = {
  ETag: 'ETag',
  Location: 'Location',
  IdempotentReplayed: 'Idempotent-Replayed',
  SundialDegraded: 'Sundial-Degraded',
};

let cached: Json | undefined;

export function openApiDocument(): Json {
  cached ??= build();
  return cached;
}

function build(): Json {
  const paths: Record<string, Json> = {};
  const errors = errorResponses();
  for (const [key, operation] of Object.entries(operations())) {
    const [method, path] = key.split(' ') as [string, string];
    const access = ACCESS[key] ?? 'admin';
    paths[path] ??= {};
    paths[path][method.toLowerCase()] = operationObject(method, path, operation, access, errors);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Sundial API',
      version: '1.0.0',
      summary: 'Serverless job scheduler on EventBridge Scheduler, SQS, Lambda and DynamoDB.',
      description:
        'Jobs call a target (HTTP, Lambda, SQS, EventBridge) on a schedule; every firing is recorded as a ' +
        'run. Errors are RFC 9457 problem details (application/problem+json). Lists are pages: pass ' +
        '`nextCursor` back as `cursor` until it is null.',
    },
    servers: [
      {
        url: '/',
        description:
          'The host serving this document, e.g. the local runtime (npm start) at http://localhost:3000.',
      },
      {
        url: 'https://{apiId}.execute-api.{region}.amazonaws.com/{stage}',
        description:
          'A deployed stack: its ApiUrl output (printed by cdk deploy) is this URL. The stage is part of ' +
          "the path there, which the first server (the host's root) leaves out.",
        variables: {
          apiId: { default: 'abcdef1234', description: 'The REST API id, from the ApiUrl output.' },
          region: { default: 'eu-west-1', description: 'The region the stack is deployed in.' },
          stage: { default: 'prod', enum: ['dev', 'prod'], description: 'The stage deployed.' },
        },
      },
    ],
    security: [{ apiKey: [] }, { jwt: [] }],
    tags: [
      { name: 'jobs' },
      { name: 'runs' },
      { name: 'schedules' },
      { name: 'dead letters' },
      {
        name: 'breakers',
        description:
          'Circuit breakers per tenant and target: after repeated failures a target is not called for a cool-down; runs wait, queued, with the reason.',
      },
      { name: 'keys' },
      { name: 'tenant' },
      { name: 'audit' },
      {
        name: 'regions',
        description:
          "Two-region deployments: which region is active. Moving it is the deployment's business, not a " +
          "tenant's: `sundial dr` does it with AWS credentials on the regions' tables, not through this API.",
      },
      { name: 'meta' },
    ],
    paths,
    components: {
      schemas: componentSchemas(),
      parameters: parameterComponents(),
      headers: HEADERS,
      responses: Object.fromEntries(Object.values(errors).map((e) => [e.name, e.response])),
      securitySchemes: {
        apiKey: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'sk_<id>_<secret>',
          description:
            'An API key, sent as `Authorization: Bearer sk_…`. Made with POST /v1/keys or `npm run create-key`.',
        },
        jwt: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            "An ID or access token of the configured OIDC issuer (by default the stack's Cognito user pool), " +
            'sent as `Authorization: Bearer <token>`; it names the tenant (claim custom:tenant) and the role ' +
            '(cognito:groups: viewer, operator or admin).',
        },
      },
    },
  };
}

function operationObject(
  method: string,
  path: string,
  operation: Operation,
  access: string,
  errorResponses: Record<string, { name: string }>,
): Json {
  const pathParams = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  const isPublic = access === 'public';
  const errors = new Set<string>(operation.errors);
  if (pathParams.length > 0) errors.add('404');
  // A path parameter's broken percent-encoding, a query or a body can each be refused.
  if (pathParams.length > 0 || operation.query || operation.body) errors.add('400');
  if (operation.body) errors.add('413');
  if (!isPublic) for (const status of ['401', '403', '429', '500']) errors.add(status);
  // A passive region refuses every write, public callbacks included (app.ts).
  const passive = method !== 'GET' && !errors.has('409');

  const responses: Record<string, Json> = {};
  for (const [status, success] of Object.entries(operation.responses)) {
    responses[status] = {
      description: success.description,
      ...(success.headers
        ? {
            headers: Object.fromEntries(
              success.headers.map((h) => [HEADER_NAMES[h], { $ref: `#/components/headers/${h}` }]),
            ),
          }
        : {}),
      ...(success.body
        ? { content: { 'application/json': { schema: schemaRef(success.body) } } }
        : status === '204'
          ? {}
          : { content: { 'application/json': { schema: { type: 'object' } } } }),
    };
  }
  for (const status of [...errors].sort()) {
    responses[status] = { $ref: `#/components/responses/${errorResponses[status]!.name}` };
  }
  if (passive) responses['409'] = { $ref: `#/components/responses/${errorResponses.passive!.name}` };

  return {
    operationId: operation.operationId,
    summary: operation.summary,
    description: [operation.description, isPublic ? 'Needs no credentials.' : `Needs the ${access} role.`]
      .filter(Boolean)
      .join(' '),
    tags: [operation.tag],
    'x-sundial-role': access,
    ...(isPublic ? { security: [] } : {}),
    parameters: [
      ...pathParams.map((name) => ({ $ref: `#/components/parameters/${name}` })),
      ...(operation.headers ?? []).map((name) => ({ $ref: `#/components/parameters/${name}` })),
      ...(operation.query ? queryParameters(operation.query) : []),
    ],
    ...(operation.body
      ? {
          requestBody: {
            required: !operation.optionalBody,
            content: { 'application/json': { schema: schemaRef(operation.body) } },
          },
        }
      : {}),
    responses,
  };
}

/** A zod schema as a standalone JSON Schema, without the dialect line. */
function fieldSchema(schema: z.core.$ZodType, io: 'input' | 'output'): Json {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io });
  return rest;
}

const QUERY_DESCRIPTIONS: Record<string, string> = {
  limit: 'Items per page.',
  cursor: "The previous page's nextCursor.",
  state: 'Only jobs in this state.',
  status: 'Only those with this status.',
  tag: 'Only jobs with this tag, as key:value, e.g. team:billing.',
};

/** A query's fields as query parameters; a field with a default or optional is not required. */
function queryParameters(query: { shape: z.core.$ZodShape }): Json[] {
  return Object.entries(query.shape).map(([name, field]) => ({
    name,
    in: 'query',
    required: !z.safeParse(field, undefined).success,
    ...(QUERY_DESCRIPTIONS[name] ? { description: QUERY_DESCRIPTIONS[name] } : {}),
    // As the API reads it: a query string's numbers are coerced.
    schema: fieldSchema(field, 'output'),
  }));
}

function parameterComponents(): Record<string, Json> {
  const path = Object.fromEntries(
    Object.entries(PATH_PARAMS).map(([name, { resource, pattern }]) => [
      name,
      {
        name,
        in: 'path',
        required: true,
        description: `The ${resource}'s id. Anything that cannot be one is a 404.`,
        schema: { type: 'string', pattern: pattern.source },
      },
    ]),
  );
  return {
    ...path,
    IdempotencyKey: {
      name: 'Idempotency-Key',
      in: 'header',
      description: 'Makes a retried create safe: the same key and body within 24 hours answer the same job.',
      schema: fieldSchema(idempotencyKey, 'input'),
    },
    IfMatch: {
      name: 'If-Match',
      in: 'header',
      description: "The job's ETag: the change is made only if the job is still at that version.",
      schema: { type: 'string', pattern: '^(?:W/)?"?[0-9]+"?$', examples: ['"3"'] },
    },
  };
}

/**
 * The named schemas, as components: responses as outputs, requests as inputs. zod puts a
 * schema it must share but has no name for (a nesting JSON value) in a `__shared` entry's
 * `$defs`, referred to as `…/__shared#/$defs/schemaN`; each becomes a component of its own.
 */
function componentSchemas(): Record<string, Json> {
  const components: Record<string, Json> = {};
  const shared: Json[] = [];
  const passes: [Record<string, z.core.$ZodType>, 'input' | 'output'][] = [
    [{ ...apiSchemas().responses, ...regionSchemas() }, 'output'],
    [requestSchemas(), 'input'],
  ];
  for (const [schemas, io] of passes) {
    const registry = z.registry<{ id: string }>();
    for (const [id, schema] of Object.entries(schemas)) registry.add(schema, { id });
    const emitted = z.toJSONSchema(registry, { target: 'draft-2020-12', io, uri: (id) => `${SCHEMAS}${id}` });
    const { __shared, ...named } = emitted.schemas as Record<string, Json>;
    const defs = (__shared?.$defs ?? {}) as Record<string, Json>;
    // Each shared definition gets the name of the first identical one, or a new one.
    const names = new Map<string, string>();
    for (const [def, schema] of Object.entries(defs)) {
      const shape = JSON.stringify(
        rewriteRefs(schema, (ref) => (ref.endsWith(`/$defs/${def}`) ? '#self' : ref)),
      );
      let index = shared.findIndex((s) => JSON.stringify(s) === shape);
      if (index < 0) index = shared.push(JSON.parse(shape) as Json) - 1;
      names.set(def, sharedName(shared[index]!, index));
    }
    const local = (ref: string) => {
      const def = /^#\/components\/schemas\/__shared#\/\$defs\/(\w+)$/.exec(ref)?.[1];
      return def ? `${SCHEMAS}${names.get(def)}` : ref;
    };
    for (const [id, schema] of Object.entries(named)) {
      if (Object.hasOwn(components, id)) throw new Error(`two schemas are named ${id}`);
      const { $schema: _dialect, $id: _id, ...body } = rewriteRefs(schema, local) as Json;
      components[id] = body;
    }
  }
  for (const [index, schema] of shared.entries()) {
    const name = sharedName(schema, index);
    components[name] = rewriteRefs(schema, (ref) => (ref === '#self' ? `${SCHEMAS}${name}` : ref)) as Json;
  }
  return components;
}

/** Any JSON value is `JsonValue`; another shared schema is named by its place. */
function sharedName(schema: Json, index: number): string {
  // Any JSON value as zod emits it on its own, where `#` refers to itself.
  const jsonValue = JSON.stringify(rewriteRefs(fieldSchema(z.json(), 'output'), () => '#self'));
  return JSON.stringify(schema) === jsonValue ? 'JsonValue' : `Shared${index}`;
}

/** A copy of a JSON Schema with every `$ref` mapped. */
function rewriteRefs(node: unknown, map: (ref: string) => string): unknown {
  if (Array.isArray(node)) return node.map((item) => rewriteRefs(item, map));
  if (typeof node !== 'object' || node === null) return node;
  return Object.fromEntries(
    Object.entries(node).map(([key, value]) => [
      key,
      key === '$ref' && typeof value === 'string' ? map(value) : rewriteRefs(value, map),
    ]),
  );
}
