/**
 * Long runs: the identities that name one attempt at its target (the attempt key, the
 * callback token), when a watched attempt is next looked at, and what its outcome makes of
 * the attempt. The sweep's cost per attempt is bounded: a few polls whatever the run's
 * length, the deadline, and a heartbeat check only when heartbeats are watched.
 */
import { createHash } from 'node:crypto';
import { ATTEMPT_KEY_PREFIX, WATCH_SHARDS } from '../../lib/definitions.js';
import type { FiringIdentity } from './ports.js';
import type { AttemptRecord, LongOutcome, StoredRun } from './run.js';

export interface AttemptIds {
  tenantId: string;
  jobId: string;
  runId: string;
  attempt: number;
}

/**
 * The attempt key: `sundial-` and 40 hex characters, a valid ECS startedBy and client token
 * and a Step Functions execution name. Derived, so a redelivered firing names the same task.
 */
export function attemptKey(ids: AttemptIds): string {
  const digest = createHash('sha256')
    .update([ids.tenantId, ids.jobId, ids.runId, String(ids.attempt)].join('\n'))
    .digest('hex');
  return `${ATTEMPT_KEY_PREFIX}${digest.slice(0, 40)}`;
}

/**
 * Whether the run's long attempt record is its current attempt's (it keeps the previous
 * attempt's until the next one has started): only then is the current attempt out.
 */
export function startedAttempt(run: StoredRun): boolean {
  return (
    run.long !== undefined &&
    run.long.key ===
      attemptKey({ tenantId: run.tenantId, jobId: run.jobId, runId: run.id, attempt: run.attempt })
  );
}

/** What a callback token's MAC covers: one attempt of one run, for callbacks only. */
export function callbackIdentity(ids: AttemptIds, mac?: string): FiringIdentity {
  return {
    v: 1,
    tenantId: ids.tenantId,
    jobId: ids.jobId,
    trigger: 'callback',
    runId: ids.runId,
    attempt: ids.attempt,
    ...(mac === undefined ? {} : { mac }),
  };
}

/** `<base64url of the attempt's ids>.<MAC>`: the MAC makes it unguessable, the ids findable. */
export function formatCallbackToken(ids: AttemptIds, mac: string): string {
  const body = Buffer.from(JSON.stringify([ids.tenantId, ids.jobId, ids.runId, ids.attempt])).toString(
    'base64url',
  );
  return `${body}.${mac}`;
}

/** The attempt a token names and its MAC, or null when it is not a token's shape. */
export function parseCallbackToken(token: string): { ids: AttemptIds; mac: string } | null {
  if (token.length > 1024) return null;
  const match = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!match) return null;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(match[1]!, 'base64url').toString('utf8'));
    if (!Array.isArray(parsed) || parsed.length !== 4) return null;
    const [tenantId, jobId, runId, attempt] = parsed as unknown[];
    if (typeof tenantId !== 'string' || typeof jobId !== 'string' || typeof runId !== 'string') return null;
    if (typeof attempt !== 'number' || !Number.isInteger(attempt) || attempt < 1) return null;
    return { ids: { tenantId, jobId, runId, attempt }, mac: match[2]! };
  } catch {
    return null;
  }
}

/** Seconds after an attempt starts when its ECS task or execution is described: a few, then the deadline. */
export const POLL_OFFSETS_SECONDS = [60, 300, 900, 3_600, 14_400, 43_200] as const;

/** The watch index shard of a run: spreads the sweep's reads and writes. */
export function watchShardOf(runId: string): string {
  const digest = createHash('sha256').update(runId).digest();
  return `W#${digest[0]! % WATCH_SHARDS}`;
}

export function watchShardKey(shard: number): string {
  return `W#${shard}`;
}

/** When the heartbeat check falls due, or null when heartbeats are not watched. */
export function heartbeatDeadline(run: StoredRun): number | null {
  const long = run.long;
  if (!long?.heartbeatTimeoutSeconds) return null;
  const last = Date.parse(run.heartbeatAt ?? long.startedAt);
  return last + long.heartbeatTimeoutSeconds * 1000;
}

/** When the next describe-call poll is due, or null when none is left (or the kind has none). */
export function nextPollAt(run: StoredRun): number | null {
  const long = run.long;
  if (!long || long.kind === 'callback' || !long.ref) return null;
  const offset = POLL_OFFSETS_SECONDS[long.polls];
  return offset === undefined ? null : Date.parse(long.startedAt) + offset * 1000;
}

/** When the sweep must next look at a running long attempt: its poll, its heartbeat or its deadline. */
export function nextWatchAt(run: StoredRun): string {
  const candidates = [Date.parse(run.deadlineAt ?? ''), heartbeatDeadline(run), nextPollAt(run)].filter(
    (t): t is number => typeof t === 'number' && Number.isFinite(t),
  );
  return new Date(Math.min(...candidates)).toISOString();
}

/** What an ended long attempt was, for the run's attempt history. */
export function longAttemptRecord(
  run: StoredRun,
  outcome: Pick<LongOutcome, 'error' | 'result'> & { status: AttemptRecord['status'] },
  finished: Date,
): AttemptRecord {
  const startedAt = run.long?.startedAt ?? run.startedAt ?? finished.toISOString();
  return {
    attempt: run.attempt,
    status: outcome.status,
    startedAt,
    finishedAt: finished.toISOString(),
    durationMs: Math.max(0, finished.getTime() - Date.parse(startedAt)),
    statusCode: outcome.result.statusCode ?? null,
    error: outcome.error,
  };
}
