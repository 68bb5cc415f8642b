/**
 * The callback side of long HTTP runs: a target reports its outcome or a heartbeat to the
 * URL it was given. The token in the URL is the only credential: a MAC over one attempt of
 * one run, made with the deployment's firing key. A token Sundial never made, or one of an
 * attempt no longer in progress, is a 404; an attempt that has ended is a 409.
 */

import { ConflictError, NotFoundError } from '../domain/errors.js';
import { firing } from '../domain/firing.js';
import { type AttemptIds, callbackIdentity, parseCallbackToken } from '../domain/long-run.js';
import type {
  Clock,
  FiringQueue,
  FiringSigner,
  JobRepository,
  Logger,
  RunRepository,
} from '../domain/ports.js';
import { type StoredRun, TERMINAL_STATUSES } from '../domain/run.js';
import * as z from '../domain/zod.js';

export interface CallbackDeps {
  runs: RunRepository;
  jobs: Pick<JobRepository, 'get'>;
  queue: FiringQueue;
  signer: FiringSigner;
  clock: Clock;
  logger: Logger;
}

const MAX_OUTPUT_BYTES = 65_536;

export const callbackBody = z.strictObject({
  status: z.enum(['succeeded', 'failed'], { error: 'is required: "succeeded" or "failed"' }),
  output: z
    .optional(z.json())
    .check(
      z.refine(
        (o) => o === undefined || Buffer.byteLength(JSON.stringify(o), 'utf8') <= MAX_OUTPUT_BYTES,
        'must be at most 64 KiB as JSON',
      ),
    ),
  error: z.optional(z.strictObject({ message: z.string().check(z.minLength(1), z.maxLength(1024)) })),
});

export const heartbeatBody = z.strictObject({
  progress: z.optional(
    z.number().check(z.minimum(0, 'must be from 0 to 1'), z.maximum(1, 'must be from 0 to 1')),
  ),
  message: z.optional(z.string().check(z.maxLength(256, 'must be at most 256 characters'))),
});

/** The attempt a token names, if Sundial made it; 404 otherwise (nothing says which part failed). */
export async function attemptOfToken(deps: Pick<CallbackDeps, 'signer'>, token: string): Promise<AttemptIds> {
  const parsed = parseCallbackToken(token);
  if (!parsed || !(await deps.signer.verify(callbackIdentity(parsed.ids, parsed.mac)))) {
    throw new NotFoundError('callback: no such callback URL');
  }
  return parsed.ids;
}

/** The run of a token's attempt, if that attempt can still be reported to. */
async function openAttempt(deps: CallbackDeps, ids: AttemptIds): Promise<StoredRun> {
  const run = await deps.runs.get(ids.tenantId, ids.jobId, ids.runId);
  // A later attempt runs (or none ever did): this attempt's URL has expired.
  if (!run || run.attempt !== ids.attempt) throw new NotFoundError('callback: this callback URL has expired');
  if (TERMINAL_STATUSES.has(run.status) || run.status === 'queued' || run.reported) {
    throw new ConflictError(
      `run ${run.id} attempt ${ids.attempt} has already ended (${run.reported ? 'reported' : run.status})`,
    );
  }
  return run;
}

export async function reportOutcome(
  deps: CallbackDeps,
  token: string,
  body: z.infer<typeof callbackBody>,
): Promise<void> {
  const ids = await attemptOfToken(deps, token);
  const run = await openAttempt(deps, ids);
  if (run.long && run.long.kind !== 'callback') {
    throw new ConflictError(
      `run ${run.id} ends when its ${run.long.kind === 'ecs' ? 'ECS task stops' : 'execution ends'}; send heartbeats to …/heartbeat`,
    );
  }
  const now = deps.clock.now();
  const written = await deps.runs.report(
    ids.tenantId,
    ids.jobId,
    ids.runId,
    ids.attempt,
    {
      status: body.status,
      error:
        body.status === 'failed'
          ? { type: 'callback', message: body.error?.message ?? 'the target reported a failure' }
          : null,
      result: {},
      ...(body.output !== undefined ? { output: body.output } : {}),
    },
    now,
  );
  if (written === 'stale') throw new NotFoundError('callback: this callback URL has expired');
  if (written === 'ended')
    throw new ConflictError(`run ${ids.runId} attempt ${ids.attempt} has already ended`);
  // The worker settles it now; the sweep does if this message is lost (the report made it due).
  const job = await deps.jobs.get(ids.tenantId, ids.jobId);
  await deps.queue.send(
    job?.priority ?? 'default',
    firing.settle({
      tenantId: ids.tenantId,
      jobId: ids.jobId,
      id: ids.runId,
      scheduledAt: run.scheduledAt,
      attempt: ids.attempt,
    }),
  );
  deps.logger.info('long attempt reported its outcome', { ...ids, status: body.status });
}

export async function recordHeartbeat(
  deps: CallbackDeps,
  token: string,
  body: z.infer<typeof heartbeatBody>,
): Promise<void> {
  const ids = await attemptOfToken(deps, token);
  await openAttempt(deps, ids);
  const written = await deps.runs.heartbeat(ids.tenantId, ids.jobId, ids.runId, ids.attempt, {
    at: deps.clock.now().toISOString(),
    progress: body.progress,
    message: body.message,
  });
  if (written === 'stale') throw new NotFoundError('callback: this callback URL has expired');
  if (written === 'ended')
    throw new ConflictError(`run ${ids.runId} attempt ${ids.attempt} has already ended`);
}
