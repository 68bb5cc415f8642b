/**
 * Dead letters: what the queues gave up on. Archived per tenant as they arrive, listed
 * through the API, and redriven onto their queue on request, recording who and when.
 */
import { type Priority, QUEUES } from '../../lib/definitions.js';
import { NotFoundError, ValidationError } from '../domain/errors.js';
import { type FiringMessage, runIdOf } from '../domain/firing.js';
import { firingMessageSchema } from '../domain/firing-schema.js';
import {
  type Clock,
  type DeadLetter,
  type DeadLetterRepository,
  type FiringQueue,
  type FiringSigner,
  type RunRepository,
  UNKNOWN_TENANT,
} from '../domain/ports.js';

export interface ArrivedDeadLetter {
  messageId: string;
  body: string;
  priority: Priority;
  receiveCount: number;
  /** Set by Scheduler when it dead-letters a firing it could not deliver. */
  errorMessage?: string;
}

export async function archiveDeadLetter(
  deps: {
    deadLetters: DeadLetterRepository;
    runs: Pick<RunRepository, 'get'>;
    clock: Clock;
    signer: FiringSigner;
  },
  arrived: ArrivedDeadLetter,
): Promise<DeadLetter> {
  const now = deps.clock.now();
  let parsed: ReturnType<typeof firingMessageSchema.safeParse> | undefined;
  try {
    parsed = firingMessageSchema.safeParse(JSON.parse(arrived.body));
  } catch {
    parsed = undefined;
  }
  const named = parsed?.success ? parsed.data : undefined;
  // A message Sundial did not sign is nobody's dead letter but the operator's (invariant 8):
  // a tenant cannot plant one in another tenant's list, for that tenant to redrive.
  const signed = named ? await deps.signer.verify(named) : false;
  const message = signed ? named : undefined;
  const runId = message ? runIdOf(message) : null;
  let reason: string;
  if (named && !signed) reason = 'rejected: the message names a job but was not signed by Sundial';
  else if (arrived.errorMessage) reason = `Scheduler could not deliver the firing: ${arrived.errorMessage}`;
  else if (!message) reason = 'the message is not a Sundial firing (malformed body)';
  else {
    const run = runId ? await deps.runs.get(message.tenantId, message.jobId, runId) : undefined;
    // The DLQ's own receive count includes the archiver's; the queue's limit is what ran out.
    const limit = QUEUES.find((q) => q.priority === arrived.priority)?.maxReceiveCount;
    reason = `not processed after ${limit} receives${run ? `; its run was ${run.status}` : ''}`;
  }
  const letter: DeadLetter = {
    id: arrived.messageId,
    tenantId: message?.tenantId ?? UNKNOWN_TENANT,
    jobId: message?.jobId ?? null,
    runId,
    priority: arrived.priority,
    body: arrived.body,
    reason,
    receiveCount: arrived.receiveCount,
    deadLetteredAt: now.toISOString(),
    status: 'dead',
    redrivenAt: null,
    redrivenBy: null,
  };
  await deps.deadLetters.archive(letter, now);
  return letter;
}

export async function redriveDeadLetters(
  deps: { deadLetters: DeadLetterRepository; queue: FiringQueue; clock: Clock; signer: FiringSigner },
  tenantId: string,
  ids: string[],
  by: string,
): Promise<{ redriven: string[]; alreadyRedriven: string[] }> {
  const letters: DeadLetter[] = [];
  for (const id of ids) {
    const letter = await deps.deadLetters.get(tenantId, id);
    if (!letter) throw new NotFoundError(`dead letter ${id}`);
    letters.push(letter);
  }
  const redriven: string[] = [];
  const alreadyRedriven: string[] = [];
  for (const letter of letters) {
    if (letter.status !== 'dead') {
      alreadyRedriven.push(letter.id);
      continue;
    }
    const message = parseFiring(letter.body);
    if (!message) {
      throw ValidationError.of('ids', `dead letter ${letter.id} has a malformed body and cannot be redriven`);
    }
    // The queue signs what it sends: a message Sundial never signed must not gain a MAC by
    // being redriven (invariant 8), whoever holds its dead letter.
    if (!(await deps.signer.verify(message))) {
      throw ValidationError.of(
        'ids',
        `dead letter ${letter.id} was not sent by Sundial and cannot be redriven`,
      );
    }
    // Send first, then mark: a crash in between can at worst send it twice, and a firing
    // delivered twice still makes one run; marking first could lose it.
    await deps.queue.send(letter.priority, message);
    if (!(await deps.deadLetters.markRedriven(tenantId, letter.id, by, deps.clock.now()))) {
      alreadyRedriven.push(letter.id);
      continue;
    }
    redriven.push(letter.id);
  }
  return { redriven, alreadyRedriven };
}

/** A firing message from a body, by the one schema; undefined when it is not one. */
function parseFiring(body: string): FiringMessage | undefined {
  try {
    const parsed = firingMessageSchema.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
