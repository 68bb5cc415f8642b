/**
 * Putting an EventBridge target's event (targets.ts): a module of its own, so that it and the
 * EventBridge client are loaded only when a job of that type first runs.
 */
import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { TargetOutcome } from '../domain/ports.js';
import type { EventBridgeTarget } from '../domain/target.js';

export async function putEvent(
  eventBridge: EventBridgeClient,
  target: EventBridgeTarget,
  abortSignal: AbortSignal,
): Promise<TargetOutcome> {
  const response = await eventBridge.send(
    new PutEventsCommand({
      Entries: [
        {
          EventBusName: target.eventBusArn,
          Source: target.source,
          DetailType: target.detailType,
          Detail: JSON.stringify(target.detail),
        },
      ],
    }),
    { abortSignal },
  );
  const entry = response.Entries?.[0];
  if ((response.FailedEntryCount ?? 0) > 0 || !entry?.EventId) {
    return {
      kind: 'rejected',
      type: 'put_events_failed',
      message:
        `the event was not accepted: ${entry?.ErrorCode ?? 'unknown'} ${entry?.ErrorMessage ?? ''}`.trim(),
      statusCode: null,
      bodyExcerpt: null,
    };
  }
  return { kind: 'delivered', statusCode: null, bodyExcerpt: JSON.stringify({ eventId: entry.EventId }) };
}
