/**
 * Public types of the schedule-expression module. EventBridge Scheduler syntax:
 * cron(min hour day-of-month month day-of-week year), rate(n unit), at(yyyy-mm-ddThh:mm:ss).
 * No AWS SDK here: the API, the worker and the local Scheduler emulator all share it.
 */

export interface CronSchedule {
  kind: 'cron';
  /** The expression as given, e.g. `cron(0 2 ? * MON-FRI *)`. */
  expression: string;
  /** Parsed field data; the shape is internal to the evaluator. */
  fields: unknown;
}

export interface RateSchedule {
  kind: 'rate';
  expression: string;
  value: number;
  unit: 'minutes' | 'hours' | 'days';
  /** Interval in milliseconds. */
  intervalMs: number;
}

export interface AtSchedule {
  kind: 'at';
  expression: string;
  /** Wall-clock date-time in the schedule's time zone, `yyyy-mm-ddThh:mm:ss`. */
  localDateTime: string;
}

export type ParsedSchedule = CronSchedule | RateSchedule | AtSchedule;

export type ParseResult = { ok: true; schedule: ParsedSchedule } | { ok: false; message: string };

export interface FireTimeOptions {
  /** IANA time zone in which cron and at() are evaluated; rate() ignores it. Default UTC. */
  timezone?: string;
  /** No fire time before this instant (EventBridge StartDate). */
  startAt?: Date;
  /** No fire time after this instant (EventBridge EndDate). */
  endAt?: Date;
  /** Return fire times strictly after this instant. */
  after: Date;
  /** Maximum number of fire times to return. */
  count: number;
  /**
   * rate() only: the instant the schedule was created. Rate schedules fire at
   * anchor + k * interval where anchor is startAt if given, else this.
   */
  createdAt?: Date;
}
