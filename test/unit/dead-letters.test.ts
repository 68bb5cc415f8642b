/**
 * Redriving dead letters over in-memory ports: a letter goes back on its queue once, and a
 * message Sundial never signed cannot gain a MAC by being redriven (invariant 8).
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../functions/domain/errors.js';
import { firing } from '../../functions/domain/firing.js';
import type { DeadLetter } from '../../functions/domain/ports.js';
import { redriveDeadLetters } from '../../functions/usecases/dead-letters.js';
import { ManualClock } from '../../local/manual-clock.js';
import { InMemoryDeadLetters, InMemoryFiringSigner, RecordingQueue } from '../fakes/in-memory.js';

const TENANT = 'acme';
const job = { tenantId: TENANT, id: 'job_01' };

function world() {
  const signer = new InMemoryFiringSigner();
  const deadLetters = new InMemoryDeadLetters();
  const queue = new RecordingQueue(signer);
  const clock = new ManualClock('2027-05-01T00:00:00.000Z');
  return { signer, deadLetters, queue, clock, deps: { deadLetters, queue, clock, signer } };
}

const letter = (id: string, body: string): DeadLetter => ({
  id,
  tenantId: TENANT,
  jobId: job.id,
  runId: null,
  priority: 'default',
  body,
  reason: 'not processed after 5 receives',
  receiveCount: 6,
  deadLetteredAt: '2027-04-30T00:00:00.000Z',
  status: 'dead',
  redrivenAt: null,
  redrivenBy: null,
});

describe('redriving dead letters', () => {
  it('sends a signed firing back to its queue once and records who redrove it', async () => {
    const w = world();
    const signed = await w.signer.sign(firing.catchUp(job, new Date('2027-04-30T00:00:00.000Z')));
    await w.deadLetters.archive(letter('dl-1', JSON.stringify(signed)), w.clock.now());

    expect(await redriveDeadLetters(w.deps, TENANT, ['dl-1'], 'ops@acme')).toEqual({
      redriven: ['dl-1'],
      alreadyRedriven: [],
    });
    expect(await redriveDeadLetters(w.deps, TENANT, ['dl-1'], 'ops@acme')).toEqual({
      redriven: [],
      alreadyRedriven: ['dl-1'],
    });
    expect(w.queue.take('default')).toHaveLength(1);
    expect((await w.deadLetters.get(TENANT, 'dl-1'))?.redrivenBy).toBe('ops@acme');
  });

  it('refuses a letter whose message Sundial never signed, and sends nothing', async () => {
    const w = world();
    const forged = { ...firing.catchUp(job, new Date('2027-04-30T00:00:00.000Z')), mac: 'f'.repeat(64) };
    await w.deadLetters.archive(letter('dl-forged', JSON.stringify(forged)), w.clock.now());
    await w.deadLetters.archive(
      letter('dl-unsigned', JSON.stringify(firing.catchUp(job, new Date()))),
      w.clock.now(),
    );

    for (const id of ['dl-forged', 'dl-unsigned']) {
      const refused = redriveDeadLetters(w.deps, TENANT, [id], 'ops@acme');
      await expect(refused).rejects.toBeInstanceOf(ValidationError);
      await expect(refused).rejects.toThrow(/not sent by Sundial/);
      expect((await w.deadLetters.get(TENANT, id))?.status).toBe('dead');
    }
    expect(w.queue.take()).toHaveLength(0);
  });

  it('refuses a letter whose body is not a firing message', async () => {
    const w = world();
    await w.deadLetters.archive(letter('dl-junk', '{"hello":'), w.clock.now());
    await expect(redriveDeadLetters(w.deps, TENANT, ['dl-junk'], 'ops@acme')).rejects.toThrow(
      /malformed body/,
    );
    expect(w.queue.take()).toHaveLength(0);
  });
});
