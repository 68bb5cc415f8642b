/** The emulator's stored state and request validation, shaped like the Scheduler API's. */
import type { ParsedSchedule } from '../../functions/domain/schedule/index.js';
import { isValidTimeZone, parseScheduleExpression } from '../../functions/domain/schedule/index.js';
import {
  ScheduleInput,
  type Shape,
  TARGET_INPUT_MAX_BYTES,
  violationMessage,
  violations,
} from './api-model.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type:
      | 'ValidationException'
      | 'ResourceNotFoundException'
      | 'ConflictException'
      | 'InternalServerException',
    message: string,
  ) {
    super(message);
  }
}

export interface TargetModel {
  Arn: string;
  RoleArn: string;
  Input?: string;
  RetryPolicy?: { MaximumRetryAttempts?: number; MaximumEventAgeInSeconds?: number };
  DeadLetterConfig?: { Arn?: string };
  SqsParameters?: { MessageGroupId?: string };
  [other: string]: unknown;
}

export interface ScheduleModel {
  Name: string;
  GroupName: string;
  Arn: string;
  ScheduleExpression: string;
  ScheduleExpressionTimezone?: string;
  StartDate?: number; // epoch seconds, as on the wire
  EndDate?: number;
  Description?: string;
  State: 'ENABLED' | 'DISABLED';
  FlexibleTimeWindow: { Mode: 'OFF' | 'FLEXIBLE'; MaximumWindowInMinutes?: number };
  Target: TargetModel;
  ActionAfterCompletion: 'NONE' | 'DELETE';
  KmsKeyArn?: string;
  CreationDate: number;
  LastModificationDate: number;
}

/** A firing on its way to the target: waiting for its (flexible) time or a retry. */
export interface PendingDelivery {
  scheduledTime: number;
  deliverAt: number;
  attempt: number;
  /** The default notification's event id: one per firing, the same on each retry. */
  eventId?: string;
  /** Why the previous attempt failed, so a retry failing the same way is not logged again. */
  lastError?: string;
}

export interface StoredSchedule {
  model: ScheduleModel;
  parsed: ParsedSchedule;
  createdAtMs: number;
  /** Occurrences at or before this instant have been handled. */
  evaluatedUntil: number;
  /** The first occurrence after `evaluatedUntil`, once computed (Infinity: none); unset after an update. */
  nextDueAt?: number;
  pending: PendingDelivery[];
}

const invalid = (message: string) => new ApiError(400, 'ValidationException', message);

/** Refuses `input` with AWS's ValidationException when it breaks a constraint of `shape`. */
export function validate(shape: Shape, input: Record<string, unknown>): void {
  const found = violations(shape, input);
  if (found.length > 0) throw invalid(violationMessage(found));
}

/**
 * Parsed expressions are read-only, so schedules with the same expression share one: a
 * parsed cron holds its fields as sets (about 6 KB), which 100,000 schedules would repeat.
 */
const parsedExpressions = new Map<string, ReturnType<typeof parseScheduleExpression>>();
function parsedExpression(expression: string): ReturnType<typeof parseScheduleExpression> {
  let parsed = parsedExpressions.get(expression);
  if (!parsed) {
    parsed = parseScheduleExpression(expression);
    parsedExpressions.set(expression, parsed);
  }
  return parsed;
}

/**
 * Validates a Create/UpdateSchedule request (the body with the URI's Name): first every
 * constraint of the API model, then what the service checks beyond it. Returns the parsed
 * expression.
 */
export function validateScheduleBody(name: string, body: Record<string, unknown>): ParsedSchedule {
  validate(ScheduleInput, { ...body, Name: name });
  const expression = body.ScheduleExpression as string;
  const parsed = parsedExpression(expression);
  if (!parsed.ok) throw invalid(`Invalid Schedule Expression ${expression}: ${parsed.message}`);
  const timezone = body.ScheduleExpressionTimezone;
  if (typeof timezone === 'string' && !isValidTimeZone(timezone)) {
    throw invalid(`ScheduleExpressionTimezone "${timezone}" is not a valid time zone`);
  }
  const window = body.FlexibleTimeWindow as { Mode: string; MaximumWindowInMinutes?: number };
  if (window.Mode === 'FLEXIBLE' && window.MaximumWindowInMinutes === undefined) {
    throw invalid('FlexibleTimeWindow.MaximumWindowInMinutes must be 1-1440 when Mode is FLEXIBLE');
  }
  const target = body.Target as TargetModel;
  if (target.Input !== undefined && Buffer.byteLength(target.Input, 'utf8') > TARGET_INPUT_MAX_BYTES) {
    throw invalid('Target.Input must be at most 256 KB');
  }
  if (
    typeof body.StartDate === 'number' &&
    typeof body.EndDate === 'number' &&
    body.EndDate <= body.StartDate
  ) {
    throw invalid('The EndDate must be after the StartDate');
  }
  return parsed.schedule;
}
