/**
 * Sundial's API as the tests see it: the response bodies, written once as plain interfaces
 * (what the API sends, field for field), and a small client.
 */

export type RunStatus =
  | 'queued'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'skipped'
  | 'missed'
  | 'timed_out'
  | 'cancelled';

export interface FieldError {
  field: string;
  message: string;
}

/** An RFC 9457 problem+json body. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldError[];
  /** Sent with 412: the version the job is at. */
  currentVersion?: number;
}

/** A 400: the fields that were refused, and why. */
export interface ValidationProblem extends Problem {
  errors: FieldError[];
}

/** A job's target as shown: its type's fields, secret header values never among them. */
export interface JobTarget {
  type: string;
  url?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string | null;
  timeoutSeconds?: number;
  /** The names of the write-only secret headers (http). */
  secretHeaderNames?: string[];
  functionArn?: string;
  payload?: unknown;
  queueUrl?: string;
  eventBusArn?: string;
  [field: string]: unknown;
}

export interface RunSummary {
  id: string;
  status: RunStatus;
  scheduledAt: string;
  [field: string]: unknown;
}

export interface Job {
  id: string;
  name: string;
  description?: string | null;
  schedule: {
    expression: string;
    timezone: string;
    startAt: string | null;
    endAt: string | null;
    flexibleWindowMinutes: number;
  } | null;
  target: JobTarget;
  dependsOn: string[];
  retryPolicy: Record<string, unknown>;
  overlapPolicy: string;
  misfireGraceSeconds: number | null;
  notify: { onFailure: { url: string }[]; secretSet: boolean };
  catchUp: string;
  catchUpWindowMinutes: number;
  priority: string;
  state: 'enabled' | 'paused';
  pausedReason: string | null;
  tags: Record<string, string>;
  nextRunAt: string | null;
  lastRun: RunSummary | null;
  createdAt: string;
  updatedAt: string;
  version: number;
}

export interface Attempt {
  attempt: number;
  status: 'succeeded' | 'failed' | 'timed_out' | 'cancelled';
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  statusCode: number | null;
  error: { type: string; message: string } | null;
}

export interface Run {
  id: string;
  jobId: string;
  scheduledAt: string;
  trigger: string;
  status: RunStatus;
  attempt: number;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  result: {
    statusCode: number | null;
    bodyExcerpt: string;
    exitCode?: number | null;
    taskArn?: string;
    executionArn?: string;
    logs?: { group: string; stream: string; region: string };
  } | null;
  error: { type: string; message: string } | null;
  skipReason: string | null;
  attempts: Attempt[];
  nextAttemptAt: string | null;
  /** Why a queued run waits (an open circuit); null otherwise. */
  waitReason: string | null;
  deadlineAt: string | null;
  heartbeatAt: string | null;
  progress: number | null;
  progressMessage: string | null;
  output: unknown;
  cancelledBy: string | null;
}

/** Every list answers a page of items and the cursor of the next one. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface DeadLetter {
  id: string;
  jobId: string | null;
  runId: string | null;
  priority: string;
  body: string;
  reason: string;
  receiveCount: number;
  deadLetteredAt: string;
  status: 'dead' | 'redriven';
  redrivenAt: string | null;
  redrivenBy: string | null;
}

export interface RedriveResult {
  redriven: string[];
  alreadyRedriven: string[];
}

export interface ApiKey {
  id: string;
  name: string;
  role: string;
  createdAt: string;
  createdBy: string;
  revokedAt: string | null;
}

/** The answer to creating a key: the only time its secret is shown. */
export interface CreatedKey extends ApiKey {
  key: string;
}

export interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  target: string;
  details: Record<string, unknown>;
}

export interface SigningSecret {
  id: string;
  secret: string;
  createdAt: string;
  previous: { id: string; retiresAt: string } | null;
}

export interface Preview {
  fireTimes: string[];
}

export interface Health {
  status: 'ok' | 'unhealthy';
  checks: Record<string, string>;
  /** Graceful degradation: the level (0 calm .. 4), the steps in force, when it steps down. */
  degradation?: { level: number; steps: string[]; stepDownInSeconds: number };
}

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

export type ApiClient = <T = Record<string, unknown>>(
  method: string,
  path: string,
  body?: unknown,
  headers?: Record<string, string>,
) => Promise<ApiResponse<T>>;

/** Calls the API; with a credential, as `Authorization: Bearer <credential>` (a header given per call wins). */
export function apiClient(baseUrl: string, credential?: string): ApiClient {
  return async <T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiResponse<T>> => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(credential ? { authorization: `Bearer ${credential}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: (text ? JSON.parse(text) : {}) as T };
  };
}
