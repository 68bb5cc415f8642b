/** The emulator's stored state and request validation, shaped like the Scheduler API's. */
import type { ParsedSchedule } from '../../functions/domain/schedule/index.js';
import { isValidTimeZone, parseScheduleExpression } from '../../functions/domain/schedule/index.js';

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

const NAME = /^[0-9a-zA-Z-_.]+$/;

export function validateName(name: string, what = 'Name'): void {
  if (!name || name.length > 64 || !NAME.test(name)) {
    throw new ApiError(
      400,
      'ValidationException',
      `${what} must be 1-64 characters of [0-9a-zA-Z-_.], got "${name}"`,
    );
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates a Create/UpdateSchedule body; returns the parsed expression. */
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

export function validateScheduleBody(body: Record<string, unknown>): ParsedSchedule {
  const invalid = (message: string) => new ApiError(400, 'ValidationException', message);
  const expression = body.ScheduleExpression;
  if (typeof expression !== 'string' || expression.length === 0 || expression.length > 256) {
    throw invalid('ScheduleExpression is required (1-256 characters)');
  }
  const parsed = parsedExpression(expression);
  if (!parsed.ok) throw invalid(`Invalid Schedule Expression ${expression}: ${parsed.message}`);
  const timezone = body.ScheduleExpressionTimezone;
  if (timezone !== undefined && (typeof timezone !== 'string' || !isValidTimeZone(timezone))) {
    throw invalid(`ScheduleExpressionTimezone "${String(timezone)}" is not a valid time zone`);
  }
  const window = body.FlexibleTimeWindow;
  if (!isObject(window) || (window.Mode !== 'OFF' && window.Mode !== 'FLEXIBLE')) {
    throw invalid('FlexibleTimeWindow.Mode is required: OFF or FLEXIBLE');
  }
  if (window.Mode === 'FLEXIBLE') {
    const minutes = window.MaximumWindowInMinutes;
    if (typeof minutes !== 'number' || !Number.isInteger(minutes) || minutes < 1 || minutes > 1440) {
      throw invalid('FlexibleTimeWindow.MaximumWindowInMinutes must be 1-1440 when Mode is FLEXIBLE');
    }
  }
  const target = body.Target;
  if (!isObject(target)) throw invalid('Target is required');
  if (typeof target.Arn !== 'string' || target.Arn.length === 0) throw invalid('Target.Arn is required');
  if (typeof target.RoleArn !== 'string' || target.RoleArn.length === 0)
    throw invalid('Target.RoleArn is required');
  if (target.Input !== undefined && (typeof target.Input !== 'string' || target.Input.length > 8192)) {
    throw invalid('Target.Input must be a string of at most 8192 characters');
  }
  const retry = target.RetryPolicy;
  if (retry !== undefined) {
    if (!isObject(retry)) throw invalid('Target.RetryPolicy must be an object');
    const attempts = retry.MaximumRetryAttempts;
    if (attempts !== undefined && (typeof attempts !== 'number' || attempts < 0 || attempts > 185)) {
      throw invalid('Target.RetryPolicy.MaximumRetryAttempts must be 0-185');
    }
    const age = retry.MaximumEventAgeInSeconds;
    if (age !== undefined && (typeof age !== 'number' || age < 60 || age > 86_400)) {
      throw invalid('Target.RetryPolicy.MaximumEventAgeInSeconds must be 60-86400');
    }
  }
  if (body.State !== undefined && body.State !== 'ENABLED' && body.State !== 'DISABLED') {
    throw invalid('State must be ENABLED or DISABLED');
  }
  if (
    body.ActionAfterCompletion !== undefined &&
    body.ActionAfterCompletion !== 'NONE' &&
    body.ActionAfterCompletion !== 'DELETE'
  ) {
    throw invalid('ActionAfterCompletion must be NONE or DELETE');
  }
  for (const key of ['StartDate', 'EndDate'] as const) {
    if (body[key] !== undefined && typeof body[key] !== 'number') throw invalid(`${key} must be a timestamp`);
  }
  if (
    typeof body.StartDate === 'number' &&
    typeof body.EndDate === 'number' &&
    body.EndDate <= body.StartDate
  ) {
    throw invalid('The EndDate must be after the StartDate');
  }
  if (
    body.Description !== undefined &&
    (typeof body.Description !== 'string' || body.Description.length > 512)
  ) {
    throw invalid('Description must be at most 512 characters');
  }
  return parsed.schedule;
}
