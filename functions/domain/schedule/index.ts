// Placeholder until the evaluator lands; the signatures are the contract.
import type { FireTimeOptions, ParsedSchedule, ParseResult } from './types.js';

export type * from './types.js';

export function parseScheduleExpression(_expression: string): ParseResult {
  throw new Error('not implemented');
}

export function nextFireTimes(_schedule: ParsedSchedule, _options: FireTimeOptions): Date[] {
  throw new Error('not implemented');
}

export function isValidTimeZone(_timezone: string): boolean {
  throw new Error('not implemented');
}
