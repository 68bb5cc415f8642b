/**
 * Sundial's typed client: openapi-fetch over the types generated from GET /v1/openapi.json
 * (client/schema.ts), so the CLI and the console never hand-write a request or response shape.
 * Runs in Node (>= 18, global fetch) and in browsers alike.
 *
 *   const sundial = createSundialClient({ baseUrl: 'http://localhost:3000', apiKey });
 *   const jobs = await must(sundial.GET('/v1/jobs', { params: { query: { state: 'active' } } }));
 */
import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './schema.js';

export type { components, paths } from './schema.js';
export type Schemas = components['schemas'];
export type Job = Schemas['Job'];
export type JobInput = Schemas['JobInput'];
export type JobPatch = Schemas['JobPatch'];
export type Run = Schemas['Run'];
export type RunSummary = Schemas['RunSummary'];
export type DeadLetter = Schemas['DeadLetter'];
export type ApiKey = Schemas['ApiKey'];
export type CreatedApiKey = Schemas['CreatedApiKey'];
export type AuditEntry = Schemas['AuditEntry'];
export type Problem = Schemas['Problem'];

export type SundialClient = Client<paths, 'application/json'>;

export interface SundialClientOptions {
  /** Where the API is, e.g. `http://localhost:3000` or the stack's ApiUrl without `/v1`. */
  baseUrl: string;
  /** An API key (`sk_…`) or a bearer token (a Cognito ID token); sent as `Authorization: Bearer`. */
  apiKey?: string;
  /** For tests and browsers that wrap fetch. */
  fetch?: (request: Request) => Promise<Response>;
  /** Sent with every request, e.g. a User-Agent naming the CLI. */
  headers?: Record<string, string>;
}

export function createSundialClient(options: SundialClientOptions): SundialClient {
  return createClient<paths, 'application/json'>({
    // openapi-fetch joins the base and the path ("/v1/…"); a trailing slash would double up.
    baseUrl: options.baseUrl.replace(/\/+$/, '').replace(/\/v1$/, ''),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    headers: {
      ...options.headers,
      ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
    },
  });
}

/** What the API refused, with its problem+json body (field errors included). */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  /** `Retry-After` in seconds, when the API sent one (429, 503). */
  readonly retryAfter: number | undefined;

  constructor(status: number, problem: Problem, retryAfter?: number) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }

  /** `detail`, then one line per refused field: `  target.url: must be https`. */
  describe(): string {
    const fields = (this.problem.errors ?? []).map((e) => `  ${e.field}: ${e.message}`);
    return [`${this.problem.title} (${this.status}): ${this.problem.detail}`, ...fields].join('\n');
  }
}

/** The body of a successful answer, or an ApiError carrying the API's problem. */
export async function must<T>(
  pending: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await pending;
  if (response.ok) return data as T;
  const retryAfter = Number(response.headers.get('retry-after'));
  throw new ApiError(
    response.status,
    toProblem(response.status, error),
    Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
  );
}

function toProblem(status: number, error: unknown): Problem {
  if (error && typeof error === 'object' && 'detail' in error) return error as Problem;
  // Not the API's own answer (a proxy's HTML page, an empty 502): said as plainly as it came.
  const text = typeof error === 'string' ? error.slice(0, 200) : '';
  return {
    type: 'about:blank',
    title: `HTTP ${status}`,
    status,
    detail: text || 'the server answered without a problem document',
  };
}
