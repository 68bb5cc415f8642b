/** Invariant 8 at the unit level: a MAC binds a firing to its tenant, job, trigger, run and attempt. */
import { describe, expect, it } from 'vitest';
import { FixedKeyFiringSigner } from '../../functions/adapters/firing-signer.js';

const signer = new FixedKeyFiringSigner(Buffer.alloc(32, 1));
const other = new FixedKeyFiringSigner(Buffer.alloc(32, 2));
const message = {
  v: 1 as const,
  tenantId: 'acme',
  jobId: 'job_1',
  trigger: 'retry',
  runId: 'run_1',
  attempt: 2,
  scheduledTime: '2027-01-01T00:00:00Z',
};

describe('firing MACs', () => {
  it('verify what the key signed, and only that', async () => {
    const signed = await signer.sign(message);
    expect(await signer.verify(signed)).toBe(true);
    expect(await other.verify(signed)).toBe(false);
    for (const change of [
      { tenantId: 'mallory' },
      { jobId: 'job_2' },
      { trigger: 'manual' },
      { runId: 'run_2' },
      { attempt: 3 },
      { mac: undefined },
      { mac: '' },
      { mac: `${signed.mac.slice(0, -1)}A` },
    ]) {
      expect(await signer.verify({ ...signed, ...change }), JSON.stringify(change)).toBe(false);
    }
  });

  it('leave out what Scheduler fills in or Sundial changes on the way: the time, a delay, a deferral count', async () => {
    const signed = await signer.sign(message);
    expect(
      await signer.verify({
        ...signed,
        scheduledTime: '2027-02-01T00:00:00Z',
        notBefore: 'x',
        deferrals: 3,
      } as typeof signed),
    ).toBe(true);
  });

  it('re-sign a message that already carries a MAC, replacing it', async () => {
    const once = await signer.sign(message);
    const again = await other.sign(once);
    expect(await other.verify(again)).toBe(true);
    expect(again.mac).not.toBe(once.mac);
  });
});
