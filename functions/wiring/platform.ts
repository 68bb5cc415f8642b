/**
 * What a function's wiring gets besides its configuration and its AWS clients: the clock,
 * the logger, where run metrics go, and the seams the local runtime and the tests use. On
 * Lambda: the system clock, Powertools, no seams.
 */
import type {
  Clock,
  FiringQueue,
  Logger,
  RunMetrics,
  ScheduleWriter,
  TargetCaller,
} from '../domain/ports.js';

export interface Platform {
  clock: Clock;
  logger: Logger;
  /** Where run metrics go (CloudWatch EMF on Lambda). */
  runMetrics?: RunMetrics;
  /**
   * Ports of Sundial's own services on this machine (the local runtime): never targets.
   * On AWS Sundial's own endpoints are not on the machine a function runs on.
   */
  ownPorts?: readonly number[];
  /** Parts swapped in locally: a clock-driven delay line, a crashing Scheduler, a fake HTTP target. */
  seams?: {
    schedules?: ScheduleWriter;
    callHttpTarget?: TargetCaller;
    firingQueue?: FiringQueue;
  };
}
