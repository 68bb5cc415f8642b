/**
 * SQS message delays driven by an injected clock. Under a manual clock, a retry due in ten
 * minutes must wait for the test to move time, not for ten real minutes; this holds such
 * messages and hands them to the queue once the clock reaches them.
 */
import type { FiringMessage } from '../functions/domain/firing.js';
import type { Clock, FiringQueue } from '../functions/domain/ports.js';
import type { Priority } from '../lib/definitions.js';

export class DelayLine implements FiringQueue {
  private held: { priority: Priority; message: FiringMessage; dueAt: number }[] = [];

  constructor(
    private readonly queue: FiringQueue,
    private readonly clock: Clock,
  ) {}

  async send(priority: Priority, message: FiringMessage): Promise<void> {
    const dueAt = message.notBefore ? Date.parse(message.notBefore) : 0;
    if (dueAt <= this.clock.now().getTime()) await this.queue.send(priority, message);
    else this.held.push({ priority, message, dueAt });
  }

  /** Sends every held message that is due; returns how many. */
  async release(): Promise<number> {
    const now = this.clock.now().getTime();
    const due = this.held.filter((h) => h.dueAt <= now).sort((a, b) => a.dueAt - b.dueAt);
    this.held = this.held.filter((h) => h.dueAt > now);
    for (const h of due) await this.queue.send(h.priority, h.message);
    return due.length;
  }

  get pending(): number {
    return this.held.length;
  }
}
