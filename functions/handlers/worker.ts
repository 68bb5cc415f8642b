import { randomUUID } from 'node:crypto';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { WORKER_TIMEOUT_SECONDS } from '../../lib/definitions.js';
import { type FiringMessage, firingMessageSchema } from '../domain/firing-schema.js';
import { BatchBreakerReads } from '../usecases/batch-breakers.js';
import { BatchPlaces } from '../usecases/batch-places.js';
import { executeFiring } from '../usecases/execute-firing.js';
import type { WorkerServices } from '../wiring/worker.js';

type Checked =
  | { kind: 'firing'; firing: FiringMessage }
  | { kind: 'malformed' }
  | { kind: 'forged' }
  | { kind: 'error'; error: unknown };

/** Pooled places outlive the longest a worker invocation can run by this much. */
const POOL_LEASE_MARGIN_SECONDS = 30;

/** The worker over injected services: one firing per record, partial batch failures. */
export function createWorkerHandler(
  services: WorkerServices,
): (event: SQSEvent) => Promise<SQSBatchResponse> {
  const processor = new BatchProcessor(EventType.SQS);
  /** A record's firing when it is well formed and Sundial's; a reason to drop or fail it otherwise. */
  const check = async (record: SQSRecord): Promise<Checked> => {
    let body: unknown;
    try {
      body = JSON.parse(record.body);
    } catch {
      body = undefined;
    }
    const parsed = firingMessageSchema.safeParse(body);
    if (!parsed.success) return { kind: 'malformed' };
    if (!(await services.firingSigner.verify(parsed.data))) {
      services.logger.error('firing message rejected: not signed by Sundial', {
        messageId: record.messageId,
        namedTenantId: parsed.data.tenantId,
        namedJobId: parsed.data.jobId,
      });
      return { kind: 'forged' };
    }
    return { kind: 'firing', firing: parsed.data };
  };
  return async (event) => {
    // One measurement per batch, before its firings run, so they see the level it makes.
    // Calm batches write nothing (see Degradation.report).
    if (services.degradation && event.Records.length > 0) {
      await services.degradation.report({
        queueAgeSeconds: oldestAgeSeconds(event.Records, services.clock.now()),
        dynamoThrottles: 0,
      });
    }
    // Checked before any run starts, so the batch's tenants are known; a check that throws
    // (the signing key unreadable) fails its own record only.
    const checked = new Map(
      await Promise.all(
        event.Records.map(
          async (record) =>
            [
              record.messageId,
              await check(record).catch((error: unknown): Checked => ({ kind: 'error', error })),
            ] as const,
        ),
      ),
    );
    // Fair-share places a tenant at a time for the batch: one write to take, one to give back;
    // none while only one tenant has ever run, with the share at its default.
    const tenants = [...checked.values()].flatMap((c) => (c.kind === 'firing' ? [c.firing.tenantId] : []));
    const { fairShare, ...rest } = services;
    const places =
      fairShare && (await shared(services, tenants))
        ? new BatchPlaces(
            fairShare,
            tenants,
            randomUUID().slice(0, 13),
            (WORKER_TIMEOUT_SECONDS + POOL_LEASE_MARGIN_SECONDS) * 1000,
            services.logger,
          )
        : undefined;
    const deps = {
      ...rest,
      ...(places ? { fairShare: places } : {}),
      // The calm path's breaker read, once per tenant and target for the batch.
      ...(services.circuit
        ? { circuit: { ...services.circuit, store: new BatchBreakerReads(services.circuit.store) } }
        : {}),
    };
    const processRecord = async (record: SQSRecord): Promise<void> => {
      const checkedRecord = checked.get(record.messageId) ?? { kind: 'malformed' };
      if (checkedRecord.kind === 'error') throw checkedRecord.error;
      if (checkedRecord.kind === 'malformed') {
        // Not ours to guess at: fail it so SQS moves it to the DLQ after maxReceiveCount.
        services.logger.error('malformed firing message', { messageId: record.messageId });
        throw new Error('malformed firing message');
      }
      if (checkedRecord.kind === 'forged') {
        // Not sent by Sundial (invariant 8): a body naming a tenant proves nothing. Dropped,
        // not failed, so it can never become a dead letter of the tenant it names.
        services.metrics.rejected();
        return;
      }
      const { firing } = checkedRecord;
      try {
        const outcome = await executeFiring(deps, firing);
        if (outcome.result === 'retry') throw new Error(outcome.detail);
      } finally {
        await places?.settled(firing.tenantId);
      }
    };
    return processPartialResponse(event, processRecord, processor, { throwOnFullBatchFailure: false });
  };
}

/** Whether the batch's runs take fair-share places: when in doubt, they do. */
async function shared(services: WorkerServices, tenants: readonly string[]): Promise<boolean> {
  if (!services.tenancy) return true;
  return services.tenancy.shared(tenants, services.clock.now()).catch((error: unknown) => {
    services.logger.warn('could not tell whether tenants share the queues: fair share on', {
      error: String(error),
    });
    return true;
  });
}

/**
 * How long the batch's oldest message waited to be worked on: since SQS got it, or since it
 * was due when it was sent with a delay (a retry, a deferred firing). A throttled worker shows
 * here too: its messages wait on the queue, or come back after the visibility timeout, older.
 */
export function oldestAgeSeconds(records: readonly SQSRecord[], now: Date): number {
  let oldest = 0;
  for (const record of records) {
    const sent = Number(record.attributes.SentTimestamp);
    if (!Number.isFinite(sent)) continue;
    let due = sent;
    const notBefore = /"notBefore":"([^"]+)"/.exec(record.body)?.[1];
    if (notBefore) due = Math.max(due, Date.parse(notBefore) || 0);
    oldest = Math.max(oldest, (now.getTime() - due) / 1000);
  }
  return Math.floor(oldest);
}
