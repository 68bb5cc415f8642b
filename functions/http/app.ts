/**
 * The API: API Gateway (REST, proxy integration) events in, JSON or problem+json out.
 * Routing and HTTP concerns only; behaviour lives in the use cases.
 */

import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { ApiKeyStore } from '../adapters/api-key-store.js';
import type { AuditLog } from '../adapters/audit-log.js';
import type { Authenticate } from '../adapters/authenticator.js';
import type { RateLimiter } from '../adapters/rate-limiter.js';
import type { SigningSecrets } from '../adapters/signing-secrets.js';
import type { TenantLimits } from '../commons/config.js';
import { ForbiddenError, hasRole, type Principal, type Role, UnauthorizedError } from '../domain/auth.js';
import { breakerTargetFromId, toPublicBreaker } from '../domain/breaker.js';
import { DEGRADATION_STEPS, DEGRADED_LEVELS } from '../domain/degradation.js';
import {
  ConflictError,
  DegradedError,
  IdempotencyConflictError,
  NotFoundError,
  PreconditionFailedError,
  QuotaExceededError,
  RegionPassiveError,
  ValidationError,
} from '../domain/errors.js';
import { computeNextRunAt, JOB_ID, validateSchedule, zodIssuesToFieldErrors } from '../domain/job.js';
import { jsonPath, walkJson } from '../domain/json-walk.js';
import type {
  BreakerStore,
  Clock,
  DeadLetterRepository,
  Degradation,
  FiringQueue,
  FiringSigner,
  Logger,
  RegionGate,
  RunMetrics,
  RunRepository,
} from '../domain/ports.js';
import { toPublicRun } from '../domain/run.js';
import { nextFireTimes } from '../domain/schedule/index.js';
import type * as z from '../domain/zod.js';
import { cancelRun } from '../usecases/cancel.js';
import { resetBreaker } from '../usecases/circuit.js';
import { type JobService, toPublicJob } from '../usecases/jobs.js';
import { runNow } from '../usecases/run-now.js';
import { json, problem } from './problem.js';

export interface ApiDeps {
  jobs: JobService;
  runs: RunRepository;
  /** Where manual runs and redriven dead letters are queued. */
  queue: FiringQueue;
  /** Checks a dead letter was Sundial's before it is redriven (invariant 8). */
  firingSigner: FiringSigner;
  deadLetters: DeadLetterRepository;
  /** The tenant's circuit breakers per target (issue 17). */
  breakers: BreakerStore;
  clock: Clock;
  logger: Logger;
  /** Cheap dependency checks for /v1/health; each resolves or throws. */
  healthChecks: Record<string, () => Promise<void>>;
  /** Who calls: from the Authorization header (API key or token). */
  authenticate: Authenticate;
  apiKeys: ApiKeyStore;
  audit: AuditLog;
  rateLimiter: RateLimiter;
  limits: TenantLimits;
  signingSecrets: SigningSecrets;
  /** Which region is active: a passive one refuses every write (issue 16). */
  region?: RegionGate;
  /** The deployment's regions, home first (one for a one-region deployment). */
  regions?: readonly string[];
  /** The degradation level (issue 17): cheaper run history from 2, no job creation at 4. */
  degradation?: Degradation;
  /** Counts what the degradation steps did. */
  metrics?: Pick<RunMetrics, 'degraded'>;
}

/** At degradation level 2 a status filter reads at most this many runs for one page. */
export const CHEAP_EVALUATED_PER_PAGE = 100;
/** Tells a client its run history came by the cheaper path (eventually consistent, small pages). */
export const DEGRADED_HEADER = 'sundial-degraded';

/**
 * The least role each operation needs; anything not listed needs admin (closed by default).
 * Only health and the OpenAPI document (it describes the API, not its data) answer without
 * credentials.
 */
export const ACCESS: Record<string, Role | 'public'> = {
  'GET /v1/health': 'public',
  'GET /v1/openapi.json': 'public',
  'GET /v1/region': 'viewer',
  'POST /v1/schedules/preview': 'viewer',
  'GET /v1/jobs': 'viewer',
  'POST /v1/jobs': 'operator',
  'GET /v1/jobs/{jobId}': 'viewer',
  'PATCH /v1/jobs/{jobId}': 'operator',
  'DELETE /v1/jobs/{jobId}': 'operator',
  'POST /v1/jobs/{jobId}/pause': 'operator',
  'POST /v1/jobs/{jobId}/resume': 'operator',
  'POST /v1/jobs/{jobId}/runs': 'operator',
  'GET /v1/jobs/{jobId}/runs': 'viewer',
  'GET /v1/jobs/{jobId}/runs/{runId}': 'viewer',
  'POST /v1/jobs/{jobId}/runs/{runId}/cancel': 'operator',
  'POST /v1/jobs/{jobId}/backfill': 'operator',
  // A long run's target reports here with no credential but the unguessable URL itself.
  'POST /v1/callbacks/{token}': 'public',
  'POST /v1/callbacks/{token}/heartbeat': 'public',
  'GET /v1/dead-letters': 'viewer',
  'POST /v1/dead-letters/redrive': 'operator',
  'GET /v1/breakers': 'viewer',
  'GET /v1/breakers/{breakerId}': 'viewer',
  'POST /v1/breakers/{breakerId}/reset': 'operator',
  'GET /v1/keys': 'admin',
  'POST /v1/keys': 'admin',
  'DELETE /v1/keys/{keyId}': 'admin',
  'GET /v1/audit': 'admin',
  'GET /v1/tenant/signing-secret': 'admin',
  'POST /v1/tenant/signing-secret/rotate': 'admin',
};
/** POSTs that change nothing: a passive region answers them too. */
const READ_ONLY_POSTS = new Set(['/v1/schedules/preview']);
export const MAX_BODY_BYTES = 256 * 1024;
/**
 * JSON nested deeper than this is refused as it is parsed, before a validator (zod recurses)
 * or JSON.stringify walks it and overflows the stack. Far more than any request needs.
 */
const MAX_BODY_DEPTH = 64;
/**
 * Object keys JavaScript gives a meaning: `__proto__` is dropped or swaps an object's
 * prototype when copied, and an own `constructor` makes the DynamoDB marshaller take the
 * object for a class instance. Neither can be stored as sent, so neither is accepted.
 */
const RESERVED_KEYS = new Set(['__proto__', 'constructor']);

/**
 * What each path parameter can be; anything else names nothing that can exist and is a 404
 * before any lookup (DynamoDB refuses keys over 1 KiB with an error, not a miss).
 */
export const PATH_PARAMS: Record<string, { resource: string; pattern: RegExp }> = {
  jobId: { resource: 'job', pattern: JOB_ID },
  // run_20261123T010000000Z, with _m<hex> (manual) or _d (dependency) after it.
  runId: { resource: 'run', pattern: /^run_[0-9A-Za-z_]{1,128}$/ },
  // A ULID.
  keyId: { resource: 'key', pattern: /^[0-9A-Za-z]{1,64}$/ },
  // <base64url of the attempt's ids>.<MAC>
  token: { resource: 'callback', pattern: /^[A-Za-z0-9_-]{1,1000}\.[A-Za-z0-9_-]{43}$/ },
  // brk_<base64url of the target>
  breakerId: { resource: 'breaker', pattern: /^brk_[A-Za-z0-9_-]{1,2048}$/ },
};

/** Callbacks and heartbeats per second from one address: a target reports rarely. */
export const CALLBACKS_PER_SECOND = 20;
/** Where the tokens are: never written to a log line, in full or in part. */
const redact = (path: string) => path.replace(/^\/v1\/callbacks\/[^/]+/, '/v1/callbacks/<token>');

type Handler = (req: Request) => Promise<APIGatewayProxyResult>;
interface Request {
  event: APIGatewayProxyEvent;
  principal: Principal;
  params: Record<string, string>;
  headers: Record<string, string>;
  query: Record<string, string>;
  body: () => unknown;
}

interface Route {
  template: string;
  pattern: RegExp;
  keys: string[];
  methods: Partial<Record<string, Handler>>;
}

function route(path: string, methods: Partial<Record<string, Handler>>): Route {
  const keys: string[] = [];
  const pattern = new RegExp(
    `^${path.replace(/\{(\w+)\}/g, (_m, key: string) => {
      if (!Object.hasOwn(PATH_PARAMS, key))
        throw new Error(`path parameter {${key}} has no PATH_PARAMS entry`);
      keys.push(key);
      return '([^/]+)';
    })}/?$`,
  );
  return { template: path, pattern, keys, methods };
}

/** The request schemas: loaded at the first request with a query or a body. */
const requests = () => import('./requests.js');
/** Long runs' callbacks: only HTTP jobs that call back use them. */
const callbacks = () => import('../usecases/callbacks.js');

function parseOrThrow<T>(schema: z.ZodMiniType<T>, value: unknown, prefix = ''): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ValidationError(zodIssuesToFieldErrors(parsed.error, prefix));
  return parsed.data;
}

function etag(version: number): string {
  return `"${version}"`;
}

function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const match = /^(?:W\/)?"?(\d+)"?$/.exec(header.trim());
  if (!match) throw ValidationError.of('If-Match', 'must be the ETag of the job, e.g. "3"');
  return Number(match[1]);
}

/** The API's handler, and every operation it serves as `METHOD /template` (the OpenAPI document's test reads them). */
export type ApiApp = ((event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>) & {
  readonly operations: readonly string[];
};

export function createApiApp(deps: ApiDeps): ApiApp {
  /** One more event against a limit (a tenant's, or an address's), or 429 with Retry-After. */
  const limit = async (
    key: string,
    name: string,
    max: number,
    windowSeconds: number,
    refusal: string,
    options: { lease?: boolean } = {},
  ) => {
    const taken = await deps.rateLimiter.take(key, name, max, windowSeconds, deps.clock.now(), options);
    if (!taken.allowed) throw new QuotaExceededError(refusal, taken.retryAfterSeconds);
  };
  const audit = (req: Request, action: string, target: string, details: Record<string, unknown> = {}) =>
    deps.audit.record(
      req.principal.tenantId,
      { actor: req.principal.subject, action, target, details },
      deps.clock.now(),
    );

  const callbackDeps = {
    runs: deps.runs,
    jobs: { get: (tenantId: string, jobId: string) => deps.jobs.get(tenantId, jobId).catch(() => undefined) },
    queue: deps.queue,
    signer: deps.firingSigner,
    clock: deps.clock,
    logger: deps.logger,
  };
  /** Callbacks carry no tenant until their token is checked: they are limited by address. */
  const limitCallbacks = (req: Request) =>
    limit(
      '_callbacks',
      `ip#${req.event.requestContext?.identity?.sourceIp ?? 'unknown'}`,
      CALLBACKS_PER_SECOND,
      1,
      `at most ${CALLBACKS_PER_SECOND} callbacks per second from one address`,
    );

  // nextRunAt is computed and lastRun read (one single-item Query) as the job is shown, so
  // the worker writes nothing to the job per run and nextRunAt never shows a time past.
  // A job just created has no run yet: no read for it.
  const present = async (job: Parameters<typeof toPublicJob>[0], fresh = false) => ({
    ...toPublicJob(job, fresh ? null : await deps.runs.latest(job.tenantId, job.id)),
    nextRunAt: computeNextRunAt(job, deps.clock.now()),
  });
  const jobResponse = async (
    status: number,
    job: Parameters<typeof toPublicJob>[0],
    headers: Record<string, string> = {},
    fresh = false,
  ) => json(status, await present(job, fresh), { etag: etag(job.version), ...headers });

  /** The level, what it gives up, and when it steps down: what operators see on /v1/health. */
  const degradationView = async () => {
    if (!deps.degradation) return undefined;
    const { level, stepDownInSeconds } = await deps.degradation.status();
    return {
      level,
      steps: DEGRADED_LEVELS.filter((k) => k <= level).map((k) => DEGRADATION_STEPS[k].step),
      stepDownInSeconds,
    };
  };
  /** From level 2: run reads take the cheaper path (eventually consistent, pages capped). */
  const cheapReads = async () => ((await deps.degradation?.level()) ?? 0) >= 2;

  const routes: Route[] = [
    route('/v1/health', {
      GET: async () => {
        const checks: Record<string, string> = {};
        let healthy = true;
        await Promise.all(
          Object.entries(deps.healthChecks).map(async ([name, check]) => {
            try {
              await check();
              checks[name] = 'ok';
            } catch (error) {
              healthy = false;
              checks[name] = 'failing';
              deps.logger.error('health check failed', { check: name, error: String(error) });
            }
          }),
        );
        const degradation = await degradationView();
        return json(healthy ? 200 : 503, {
          status: healthy ? 'ok' : 'unhealthy',
          checks,
          ...(degradation ? { degradation } : {}),
        });
      },
    }),
    // Its own chunk, loaded when the document is first asked for: no other request needs it.
    route('/v1/openapi.json', {
      // The document openapi.ts builds, committed (a unit test holds the two equal): building
      // it takes classic zod, whose code would otherwise be loaded at every cold start.
      GET: async () => json(200, (await import('./openapi.json', { with: { type: 'json' } })).default),
    }),
    route('/v1/region', {
      GET: async () => {
        const gate = deps.region;
        const region = gate?.region ?? 'local';
        const current = gate ? await gate.current() : { active: true, activeRegion: region, epoch: 0 };
        return json(200, {
          region,
          activeRegion: current.activeRegion,
          active: current.active,
          epoch: current.epoch,
          regions: deps.regions ?? [region],
        });
      },
    }),
    route('/v1/schedules/preview', {
      POST: async (req) => {
        const body = parseOrThrow((await requests()).previewBody, req.body());
        const now = deps.clock.now();
        const schedule = validateSchedule({ ...body, flexibleWindowMinutes: 0 }, now, '', false);
        const fireTimes = nextFireTimes(schedule, {
          timezone: body.timezone,
          after: now,
          count: body.count,
          createdAt: now,
          ...(body.startAt ? { startAt: new Date(body.startAt) } : {}),
          ...(body.endAt ? { endAt: new Date(body.endAt) } : {}),
        });
        return json(200, { fireTimes: fireTimes.map((d) => d.toISOString()) });
      },
    }),
    route('/v1/jobs', {
      POST: async (req) => {
        // Degradation's last step: no new jobs (everything else goes on), before any work.
        if (deps.degradation) {
          const { level, stepDownInSeconds } = await deps.degradation.status();
          if (level >= 4) {
            deps.metrics?.degraded?.('creates-refused');
            throw new DegradedError(
              'Sundial is overloaded and is not accepting new jobs for now; existing jobs keep running',
              stepDownInSeconds,
            );
          }
        }
        const key = req.headers['idempotency-key'];
        const parsedKey =
          key === undefined
            ? undefined
            : parseOrThrow((await requests()).idempotencyKey, key, 'Idempotency-Key');
        const { job, replayed } = await deps.jobs.create(req.principal.tenantId, req.body(), parsedKey);
        return jobResponse(
          201,
          job,
          { location: `/v1/jobs/${job.id}`, ...(replayed ? { 'idempotent-replayed': 'true' } : {}) },
          !replayed,
        );
      },
      GET: async (req) => {
        const q = parseOrThrow((await requests()).listJobsQuery, req.query);
        const [tagKey, ...tagValue] = q.tag?.split(':') ?? [];
        const page = await deps.jobs.list(req.principal.tenantId, {
          limit: q.limit,
          ...(q.cursor ? { cursor: q.cursor } : {}),
          ...(q.state ? { state: q.state } : {}),
          ...(tagKey ? { tag: { key: tagKey, value: tagValue.join(':') } } : {}),
        });
        return json(200, {
          items: await Promise.all(page.items.map((job) => present(job))),
          nextCursor: page.nextCursor,
        });
      },
    }),
    route('/v1/jobs/{jobId}', {
      GET: async (req) => jobResponse(200, await deps.jobs.get(req.principal.tenantId, req.params.jobId!)),
      PATCH: async (req) => {
        const ifMatch = parseIfMatch(req.headers['if-match']);
        return jobResponse(
          200,
          await deps.jobs.update(req.principal.tenantId, req.params.jobId!, req.body(), ifMatch),
        );
      },
      DELETE: async (req) => {
        await deps.jobs.delete(req.principal.tenantId, req.params.jobId!);
        return { statusCode: 204, headers: {}, body: '' };
      },
    }),
    route('/v1/jobs/{jobId}/pause', {
      POST: async (req) => {
        // The body is optional: a pause may say why.
        const { reason } = req.event.body?.trim()
          ? parseOrThrow((await requests()).pauseBody, req.body())
          : {};
        return jobResponse(
          200,
          await deps.jobs.setState(req.principal.tenantId, req.params.jobId!, 'paused', reason),
        );
      },
    }),
    route('/v1/jobs/{jobId}/resume', {
      POST: async (req) =>
        jobResponse(200, await deps.jobs.setState(req.principal.tenantId, req.params.jobId!, 'enabled')),
    }),
    route('/v1/jobs/{jobId}/runs', {
      POST: async (req) => {
        const run = await runNow(
          { jobs: deps.jobs, runs: deps.runs, queue: deps.queue, clock: deps.clock },
          req.principal.tenantId,
          req.params.jobId!,
          req.event.requestContext?.requestId,
        );
        return json(202, toPublicRun(run), { location: `/v1/jobs/${run.jobId}/runs/${run.id}` });
      },
      GET: async (req) => {
        const q = parseOrThrow((await requests()).listRunsQuery, req.query);
        const { tenantId } = req.principal;
        const cheap = await cheapReads();
        // Both at once: the job's read only makes an unknown job a 404.
        const [, page] = await Promise.all([
          deps.jobs.get(tenantId, req.params.jobId!, cheap ? { consistent: false } : undefined),
          deps.runs.list(tenantId, req.params.jobId!, {
            // The cursor carries on either way: a client pages through the same history, in smaller steps.
            limit: cheap ? Math.min(q.limit, deps.degradation!.settings.cheapPageSize) : q.limit,
            ...(q.cursor ? { cursor: q.cursor } : {}),
            ...(q.status ? { status: q.status } : {}),
            ...(cheap ? { maxEvaluated: CHEAP_EVALUATED_PER_PAGE } : {}),
          }),
        ]);
        if (cheap) deps.metrics?.degraded?.('run-history-cheap');
        return json(
          200,
          { items: page.items.map(toPublicRun), nextCursor: page.nextCursor },
          cheap ? { [DEGRADED_HEADER]: 'run-history' } : {},
        );
      },
    }),
    route('/v1/dead-letters', {
      GET: async (req) => {
        const q = parseOrThrow((await requests()).listDeadLettersQuery, req.query);
        const page = await deps.deadLetters.list(req.principal.tenantId, {
          limit: q.limit,
          ...(q.cursor ? { cursor: q.cursor } : {}),
          ...(q.status ? { status: q.status } : {}),
        });
        return json(200, {
          items: page.items.map(({ tenantId: _t, ...letter }) => letter),
          nextCursor: page.nextCursor,
        });
      },
    }),
    route('/v1/breakers', {
      GET: async (req) => {
        const q = parseOrThrow((await requests()).pageQuery, req.query);
        const page = await deps.breakers.list(req.principal.tenantId, {
          limit: q.limit,
          ...(q.cursor ? { cursor: q.cursor } : {}),
        });
        return json(200, { items: page.items.map(toPublicBreaker), nextCursor: page.nextCursor });
      },
    }),
    route('/v1/breakers/{breakerId}', {
      GET: async (req) => {
        const target = breakerTargetFromId(req.params.breakerId!);
        // Looked up under the caller's tenant only: another tenant's breaker is not found.
        const breaker = target ? await deps.breakers.get(req.principal.tenantId, target, true) : undefined;
        if (!breaker) throw new NotFoundError(`breaker ${req.params.breakerId}`);
        return json(200, toPublicBreaker(breaker));
      },
    }),
    route('/v1/breakers/{breakerId}/reset', {
      POST: async (req) => {
        const target = breakerTargetFromId(req.params.breakerId!);
        const breaker = target
          ? await resetBreaker({ store: deps.breakers, clock: deps.clock }, req.principal.tenantId, target)
          : undefined;
        if (!breaker) throw new NotFoundError(`breaker ${req.params.breakerId}`);
        await audit(req, 'breaker.reset', req.params.breakerId!, { target: breaker.target });
        return json(200, toPublicBreaker(breaker));
      },
    }),
    route('/v1/dead-letters/redrive', {
      POST: async (req) => {
        const { ids } = parseOrThrow((await requests()).redriveBody, req.body());
        const { redriveDeadLetters } = await import('../usecases/dead-letters.js');
        const result = await redriveDeadLetters(
          { deadLetters: deps.deadLetters, queue: deps.queue, clock: deps.clock, signer: deps.firingSigner },
          req.principal.tenantId,
          ids,
          req.principal.subject,
        );
        await audit(req, 'dead-letters.redrive', ids.join(','), { ...result });
        return json(200, result);
      },
    }),
    route('/v1/keys', {
      POST: async (req) => {
        const body = parseOrThrow((await requests()).createKeyBody, req.body());
        const { key, secretKey } = await deps.apiKeys.create(
          {
            tenantId: req.principal.tenantId,
            name: body.name,
            role: body.role,
            createdBy: req.principal.subject,
          },
          deps.clock.now(),
        );
        await audit(req, 'key.create', key.id, { name: key.name, role: key.role });
        const { tenantId: _t, ...shown } = key;
        // The only time the key is visible: it is stored as a hash.
        return json(201, { ...shown, key: secretKey }, { location: `/v1/keys/${key.id}` });
      },
      GET: async (req) => {
        const q = parseOrThrow((await requests()).pageQuery, req.query);
        const page = await deps.apiKeys.list(req.principal.tenantId, q.limit, q.cursor);
        return json(200, {
          items: page.items.map(({ tenantId: _t, ...key }) => key),
          nextCursor: page.nextCursor,
        });
      },
    }),
    route('/v1/keys/{keyId}', {
      DELETE: async (req) => {
        if (!(await deps.apiKeys.revoke(req.principal.tenantId, req.params.keyId!, deps.clock.now()))) {
          throw new NotFoundError(`key ${req.params.keyId}`);
        }
        await audit(req, 'key.revoke', req.params.keyId!);
        return { statusCode: 204, headers: {}, body: '' };
      },
    }),
    route('/v1/tenant/signing-secret', {
      GET: async (req) =>
        json(200, await deps.signingSecrets.current(req.principal.tenantId, deps.clock.now())),
    }),
    route('/v1/tenant/signing-secret/rotate', {
      POST: async (req) => {
        const rotated = await deps.signingSecrets.rotate(req.principal.tenantId, deps.clock.now());
        await audit(req, 'signing-secret.rotate', rotated.id, { previous: rotated.previous?.id ?? null });
        return json(200, rotated);
      },
    }),
    route('/v1/audit', {
      GET: async (req) => {
        const q = parseOrThrow((await requests()).pageQuery, req.query);
        return json(200, await deps.audit.list(req.principal.tenantId, q.limit, q.cursor));
      },
    }),
    route('/v1/jobs/{jobId}/runs/{runId}/cancel', {
      POST: async (req) => {
        const { tenantId } = req.principal;
        const job = await deps.jobs.get(tenantId, req.params.jobId!);
        const run = await cancelRun(
          { runs: deps.runs, queue: deps.queue, clock: deps.clock },
          job,
          req.params.runId!,
          req.principal.subject,
        );
        await audit(req, 'run.cancel', `${job.id}/${run.id}`, { status: 'cancelled' });
        return json(202, toPublicRun(run), { location: `/v1/jobs/${run.jobId}/runs/${run.id}` });
      },
    }),
    route('/v1/jobs/{jobId}/backfill', {
      POST: async (req) => {
        const { backfill, backfillBody } = await import('../usecases/backfill.js');
        const body = parseOrThrow(backfillBody, req.body());
        const job = await deps.jobs.get(req.principal.tenantId, req.params.jobId!);
        const result = await backfill(
          { runs: deps.runs, queue: deps.queue, clock: deps.clock },
          job,
          body,
          req.event.requestContext?.requestId,
        );
        await audit(req, 'job.backfill', job.id, { from: body.from, to: body.to, ...result });
        return json(202, { runs: result.runs });
      },
    }),
    route('/v1/callbacks/{token}', {
      POST: async (req) => {
        await limitCallbacks(req);
        const { callbackBody, reportOutcome } = await callbacks();
        await reportOutcome(callbackDeps, req.params.token!, parseOrThrow(callbackBody, req.body()));
        return { statusCode: 204, headers: {}, body: '' };
      },
    }),
    route('/v1/callbacks/{token}/heartbeat', {
      POST: async (req) => {
        await limitCallbacks(req);
        const { heartbeatBody, recordHeartbeat } = await callbacks();
        const body = req.event.body ? parseOrThrow(heartbeatBody, req.body()) : {};
        await recordHeartbeat(callbackDeps, req.params.token!, body);
        return { statusCode: 204, headers: {}, body: '' };
      },
    }),
    route('/v1/jobs/{jobId}/runs/{runId}', {
      GET: async (req) => {
        const { tenantId } = req.principal;
        const cheap = await cheapReads();
        const read = cheap ? { consistent: false } : undefined;
        const [, run] = await Promise.all([
          deps.jobs.get(tenantId, req.params.jobId!, read),
          deps.runs.get(tenantId, req.params.jobId!, req.params.runId!, read),
        ]);
        if (!run) throw new NotFoundError(`run ${req.params.runId}`);
        if (cheap) deps.metrics?.degraded?.('run-history-cheap');
        return json(200, toPublicRun(run), cheap ? { [DEGRADED_HEADER]: 'run-history' } : {});
      },
    }),
  ];

  const handle = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    const path = event.path ?? '/';
    const method = (event.httpMethod ?? 'GET').toUpperCase();
    try {
      for (const r of routes) {
        const match = r.pattern.exec(path);
        if (!match) continue;
        const handler = Object.hasOwn(r.methods, method) ? r.methods[method] : undefined;
        if (!handler) {
          const allow = Object.keys(r.methods).join(', ');
          return problem(
            405,
            'method-not-allowed',
            'Method not allowed',
            `${method} is not allowed on ${redact(path)}; use ${allow}`,
            {},
            { allow },
          );
        }
        // Null-prototype records: a client's key (`__proto__`, `constructor`) is only ever data.
        const headers: Record<string, string> = Object.create(null);
        for (const [k, v] of Object.entries(event.headers ?? {}))
          if (v !== undefined) headers[k.toLowerCase()] = v;
        const access = ACCESS[`${method} ${r.template}`] ?? 'admin';
        const principal: Principal =
          access === 'public'
            ? { tenantId: '', subject: 'anonymous', role: 'viewer' }
            : await deps.authenticate(headers.authorization, event.requestContext?.identity?.sourceIp);
        if (access !== 'public' && !hasRole(principal, access)) {
          throw new ForbiddenError(
            `${method} ${r.template} needs the ${access} role; this caller is ${principal.role}`,
          );
        }
        if (access !== 'public') {
          await limit(
            principal.tenantId,
            'requests',
            deps.limits.requestsPerSecond,
            1,
            `the tenant's limit of ${deps.limits.requestsPerSecond} API requests per second is reached`,
            { lease: true },
          );
        }
        // A passive region answers reads; every write belongs to the active region (issue 16).
        if (
          method !== 'GET' &&
          method !== 'HEAD' &&
          !READ_ONLY_POSTS.has(r.template) &&
          deps.region?.multiRegion
        ) {
          const { active, activeRegion } = await deps.region.current();
          if (!active) throw new RegionPassiveError(deps.region.region, activeRegion);
        }
        const params = parsePathParams(r.keys, match);
        const query: Record<string, string> = Object.create(null);
        for (const [k, v] of Object.entries(event.queryStringParameters ?? {}))
          if (v !== undefined) query[k] = v;
        return await handler({
          event,
          principal,
          params,
          headers,
          query,
          body: () => parseBody(event),
        });
      }
      return problem(404, 'not-found', 'Not found', `no resource at ${method} ${redact(path)}`);
    } catch (error) {
      return toProblem(error, deps.logger, redact(path), method);
    }
  };
  const operations = routes.flatMap((r) => Object.keys(r.methods).map((m) => `${m} ${r.template}`));
  return Object.assign(handle, { operations });
}

class PayloadTooLargeError extends Error {}

/**
 * The path parameters, percent-decoded and checked against what such an id can be: a
 * malformed escape is a 400 naming the parameter, an id that cannot exist a 404.
 */
function parsePathParams(keys: string[], match: RegExpExecArray): Record<string, string> {
  const params: Record<string, string> = Object.create(null);
  for (const [i, key] of keys.entries()) {
    const raw = match[i + 1]!;
    let value: string;
    try {
      value = decodeURIComponent(raw);
    } catch {
      throw ValidationError.of(key, 'is not valid percent-encoding: each %XX must form UTF-8 text');
    }
    const { resource, pattern } = PATH_PARAMS[key]!;
    if (!pattern.test(value)) throw new NotFoundError(`${resource} ${shorten(value)}`);
    params[key] = value;
  }
  return params;
}

/** A client's string, cut to a length fit for an error message. */
function shorten(value: string, max = 80): string {
  return value.length <= max ? value : `${value.slice(0, max)}… (${value.length} characters)`;
}

/**
 * Refuses JSON that nests deeper than MAX_BODY_DEPTH or uses a reserved key, naming where.
 * Iterative, so the nesting it refuses cannot overflow its own stack.
 */
function checkJsonShape(body: unknown): void {
  const refusal = walkJson(body, (node): ValidationError | undefined => {
    const { value, depth, key, parent } = node;
    if (parent && !Array.isArray(parent.value) && RESERVED_KEYS.has(key)) {
      return ValidationError.of(
        jsonPath(node).join('.'),
        `"${key}" is a reserved name and cannot be used as a key (JavaScript gives it a meaning on every object)`,
      );
    }
    if (typeof value === 'object' && value !== null && depth > MAX_BODY_DEPTH) {
      return ValidationError.of('(body)', `nests deeper than ${MAX_BODY_DEPTH} levels of objects and arrays`);
    }
    return undefined;
  });
  if (refusal) throw refusal;
}

function parseBody(event: APIGatewayProxyEvent): unknown {
  const raw = event.body
    ? event.isBase64Encoded
      ? Buffer.from(event.body, 'base64').toString('utf8')
      : event.body
    : '';
  if (Buffer.byteLength(raw, 'utf8') > MAX_BODY_BYTES) throw new PayloadTooLargeError();
  if (raw.trim() === '') throw ValidationError.of('(body)', 'a JSON object is required');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw) as unknown;
  } catch (error) {
    throw ValidationError.of('(body)', `is not valid JSON: ${(error as Error).message}`);
  }
  checkJsonShape(parsed);
  return parsed;
}

function toProblem(error: unknown, logger: Logger, path: string, method: string): APIGatewayProxyResult {
  if (error instanceof ValidationError) {
    return problem(400, 'validation', 'Invalid request', error.message, { errors: error.errors });
  }
  if (error instanceof UnauthorizedError) {
    return problem(401, 'unauthorized', 'Unauthorized', error.message, {}, { 'www-authenticate': 'Bearer' });
  }
  if (error instanceof ForbiddenError) return problem(403, 'forbidden', 'Forbidden', error.message);
  if (error instanceof NotFoundError) return problem(404, 'not-found', 'Not found', error.message);
  if (error instanceof PreconditionFailedError) {
    return problem(412, 'version-mismatch', 'Version mismatch', error.message, {
      currentVersion: error.currentVersion,
    });
  }
  if (error instanceof QuotaExceededError) {
    return problem(
      429,
      'quota-exceeded',
      'Too many requests',
      error.message,
      {},
      {
        'retry-after': String(error.retryAfterSeconds),
      },
    );
  }
  if (error instanceof RegionPassiveError) {
    return problem(409, 'region-passive', 'Passive region', error.message, {
      region: error.region,
      activeRegion: error.activeRegion,
    });
  }
  if (error instanceof ConflictError) return problem(409, 'conflict', 'Conflict', error.message);
  if (error instanceof DegradedError) {
    return problem(
      503,
      'degraded',
      'Degraded',
      error.message,
      { retryAfterSeconds: error.retryAfterSeconds },
      { 'retry-after': String(error.retryAfterSeconds) },
    );
  }
  if (error instanceof IdempotencyConflictError) {
    return problem(422, 'idempotency-key-reused', 'Idempotency-Key reused', error.message);
  }
  if (error instanceof PayloadTooLargeError) {
    return problem(
      413,
      'payload-too-large',
      'Payload too large',
      `request bodies are limited to ${MAX_BODY_BYTES} bytes`,
    );
  }
  logger.error('unhandled error', {
    path,
    method,
    error: error instanceof Error ? error.stack : String(error),
  });
  return problem(
    500,
    'internal',
    'Internal error',
    'the request failed; it is safe to retry with the same Idempotency-Key',
  );
}
