/**
 * Completion Lambda entry (work in progress: replaced by the real wiring in this change).
 * Receives ECS task and Step Functions execution state-change events from an EventBridge
 * rule, and a scheduled event every minute that sweeps long runs for deadlines and polls.
 */
export const handler = async (_event: unknown): Promise<void> => undefined;
