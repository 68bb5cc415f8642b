/**
 * The worker's choice of fair share at its default, over the in-memory ports: no places while
 * one tenant has run, places once the queues are shared, and places whenever it cannot tell.
 */
import { describe, expect, it } from 'vitest';
import { firing } from '../../functions/domain/firing.js';
import type { Tenancy } from '../../functions/domain/ports.js';
import { createWorkerHandler } from '../../functions/handlers/worker.js';
import { aJob, TENANT, workerWorld } from '../fakes/world.js';
import { sqsEvent, sqsRecord } from '../support/events.js';

/** A batch of `n` firings of the tenant's jobs at one scheduled time, signed as Sundial signs them. */
async function batchOf(n: number, tenancy?: Tenancy) {
  const w = workerWorld({ placesPerQueue: 5 });
  const records = [];
  for (let i = 0; i < n; i++) {
    const job = w.jobs.seed(aJob({ id: `job-${i}` }));
    const message = await w.long.signer.sign({
      ...firing.scheduleTemplate(job),
      scheduledTime: w.clock.now().toISOString(),
    });
    records.push(sqsRecord(JSON.stringify(message)));
  }
  const handler = createWorkerHandler({
    ...w.deps,
    metrics: w.metrics,
    firingSigner: w.long.signer,
    ...(tenancy ? { tenancy } : {}),
  });
  const response = await handler(sqsEvent(records));
  return { w, response };
}

const asked: string[][] = [];
const tenancyThat = (answer: () => Promise<boolean>): Tenancy => ({
  shared: (tenants) => {
    asked.push([...tenants]);
    return answer();
  },
});

describe('fair share at its default', () => {
  it('takes no places while one tenant is all the queues have run', async () => {
    asked.length = 0;
    const { w, response } = await batchOf(
      3,
      tenancyThat(async () => false),
    );
    expect(response.batchItemFailures).toEqual([]);
    expect(w.target.calls).toHaveLength(3);
    expect(w.fairShare.writes).toBe(0);
    // Asked once for the batch, with each verified firing's tenant.
    expect(asked).toEqual([[TENANT, TENANT, TENANT]]);
  });

  it('takes the batch’s places once the queues are shared', async () => {
    const { w } = await batchOf(
      3,
      tenancyThat(async () => true),
    );
    expect(w.target.calls).toHaveLength(3);
    // One write to take the three places, one to give them back.
    expect(w.fairShare.writes).toBe(2);
  });

  it('takes places when it cannot tell, and says so', async () => {
    const { w } = await batchOf(
      3,
      tenancyThat(async () => {
        throw new Error('ProvisionedThroughputExceededException');
      }),
    );
    expect(w.target.calls).toHaveLength(3);
    expect(w.fairShare.writes).toBe(2);
    expect(
      w.logger.lines.some(
        (l) => l.level === 'warn' && l.message.startsWith('could not tell whether tenants share'),
      ),
    ).toBe(true);
  });

  it('takes places from the first run when a share is set (no tenancy to ask)', async () => {
    const { w } = await batchOf(3);
    expect(w.fairShare.writes).toBe(2);
  });
});
