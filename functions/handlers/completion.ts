/**
 * The completion function over injected services: an ECS task or Step Functions execution
 * state-change event settles the attempt it names; a scheduled event sweeps the runs due
 * for a look (deadlines, heartbeats, polls, cancels to finish).
 */
import { ATTEMPT_KEY_PREFIX, EXPIRY_SHARDS, WATCH_SHARDS } from '../../lib/definitions.js';
import { ecsOutcome, executionOutcome } from '../adapters/long-targets.js';
import { completeFromEvent, sweepWatches } from '../usecases/long-runs.js';
import { sweepExpired } from '../usecases/record-expiry.js';
import type { CompletionServices } from '../wiring/completion.js';

/** An EventBridge event as the rule delivers it (the fields Sundial reads). */
export interface CompletionEvent {
  source?: string;
  'detail-type'?: string;
  detail?: Record<string, unknown>;
}

/** A sweep leaves this much of the function's time unused, so it never times out mid-write. */
const SWEEP_BUDGET_MS = 40_000;

export function createCompletionHandler(services: CompletionServices) {
  return async (event: CompletionEvent): Promise<{ detail: string }> => {
    const detail = event.detail ?? {};
    if (event.source === 'aws.ecs' && event['detail-type'] === 'ECS Task State Change') {
      const key = detail.startedBy;
      if (typeof key !== 'string' || !key.startsWith(ATTEMPT_KEY_PREFIX))
        return { detail: 'not Sundial’s task' };
      const outcome = ecsOutcome(detail as Parameters<typeof ecsOutcome>[0]);
      if (!outcome) return { detail: 'task still running' };
      return completeFromEvent(services, key, outcome);
    }
    if (event.source === 'aws.states' && event['detail-type'] === 'Step Functions Execution Status Change') {
      const key = detail.name;
      if (typeof key !== 'string' || !key.startsWith(ATTEMPT_KEY_PREFIX))
        return { detail: 'not Sundial’s execution' };
      const outcome = executionOutcome(detail as Parameters<typeof executionOutcome>[0]);
      if (!outcome) return { detail: 'execution still running' };
      return completeFromEvent(services, key, outcome);
    }
    // The schedule rule's event (or anything else): a sweep, bounded in time. A passive
    // region sweeps nothing: the runs are the active region's, which sweeps them from its
    // replica of the same index (two sweeps writing one run would race across regions).
    if (services.region?.multiRegion && !(await services.region.current()).active) {
      return { detail: 'swept 0 (passive region)' };
    }
    // The level each minute, traffic or not: its alarms see it rise and fall. Reporting it also
    // counts the DynamoDB throttles this function met.
    if (services.degradation) {
      const level = await services.degradation.report({ queueAgeSeconds: 0, dynamoThrottles: 0 });
      services.metrics.degradationLevel?.(level);
    }
    const started = Date.now();
    const stopBy = () => Date.now() - started > SWEEP_BUDGET_MS;
    const result = await sweepWatches(services, { shards: WATCH_SHARDS, stopBy });
    if (result.looked > 0) services.logger.info('completion sweep finished', result);
    if (!services.expiry) return { detail: `swept ${result.looked}` };
    // Retention without TTL, in the time the runs left: expired records can wait a minute.
    const expired = await sweepExpired(services.expiry, {
      now: services.clock.now(),
      shards: EXPIRY_SHARDS,
      stopBy,
    });
    if (expired.due > 0) services.logger.info('expired records deleted', expired);
    return { detail: `swept ${result.looked}, expired ${expired.deleted}` };
  };
}
