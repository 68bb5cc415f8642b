/**
 * The clock of tests that share one local runtime. Each test starts at a fresh instant that is
 * never earlier than anything the runtime has seen, so the schedules, leases, rate-limit
 * windows and message delays of earlier tests all lie behind it, whatever ran before.
 */
import { ManualClock } from '../../local/manual-clock.js';

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

const isLeap = (year: number) => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;

export class TestClock extends ManualClock {
  private startMs: number;

  constructor(initial: Date | string = '2026-11-23T00:00:00.000Z') {
    super(initial);
    this.startMs = this.now().getTime();
  }

  /** Where the current test started. */
  get start(): Date {
    return new Date(this.startMs);
  }

  /** The instant `ms` after the current test's start (the clock does not move). */
  after(ms: number): Date {
    return new Date(this.startMs + ms);
  }

  /**
   * Starts a test at midnight UTC, at least a day after the latest instant shown: past every
   * lease, delay and rate window of the tests before. Times of day are UTC's from here.
   */
  fresh(): Date {
    return this.startAt(this.freshThreshold());
  }

  /**
   * Starts a test whose expectations hang on the calendar (weekdays, time-zone rules) at the
   * instant of `reference`, moved to the first later year with the same calendar (the same
   * weekdays and leap day) that is fresh. Returns what moves the test's other instants,
   * written against `reference`, by as much: `2026-12-02T01:00:00Z` -> `2037-12-02T01:00:00.000Z`.
   * Time-zone rules as they stand apply to later years alike.
   */
  freshLike(reference: string): (instant: string) => string {
    const ref = new Date(reference);
    const threshold = this.freshThreshold();
    for (let year = new Date(threshold).getUTCFullYear(); ; year++) {
      const candidate = new Date(ref);
      candidate.setUTCFullYear(year);
      if (
        candidate.getTime() >= threshold &&
        candidate.getUTCDay() === ref.getUTCDay() &&
        isLeap(year) === isLeap(ref.getUTCFullYear())
      ) {
        const shift = this.startAt(candidate.getTime()).getTime() - ref.getTime();
        return (instant) => new Date(Date.parse(instant) + shift).toISOString();
      }
    }
  }

  /** Moves forward only: going back would replay what earlier tests left behind. */
  override set(instant: Date | string): void {
    const to = new Date(instant).getTime();
    if (to < this.now().getTime()) {
      throw new Error(`the test clock goes forward only: ${new Date(to).toISOString()} is before now`);
    }
    super.set(new Date(to));
  }

  override advance(ms: number): Date {
    if (ms < 0) throw new Error(`the test clock goes forward only: advance(${ms})`);
    return super.advance(ms);
  }

  /** The first midnight UTC a full day after now. */
  private freshThreshold(): number {
    return Math.ceil((this.now().getTime() + DAY) / DAY) * DAY;
  }

  private startAt(ms: number): Date {
    this.set(new Date(ms));
    this.startMs = ms;
    return this.start;
  }
}

/** A one-time schedule expression for an instant (UTC by default): `at(2026-12-20T00:01:00)`. */
export function atExpression(instant: Date): string {
  return `at(${instant.toISOString().slice(0, 19)})`;
}
