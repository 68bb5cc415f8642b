import type { Clock } from '../functions/commons/clock.js';

/** A clock that moves only when told: tests drive schedules minutes ahead in milliseconds. */
export class ManualClock implements Clock {
  private current: number;

  constructor(start: Date | string) {
    this.current = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  advance(ms: number): Date {
    this.current += ms;
    return this.now();
  }

  set(instant: Date | string): void {
    this.current = new Date(instant).getTime();
  }
}
