/**
 * A Sundial made of the in-memory ports, for the use-case tests: one clock, the stores,
 * the queues, a scripted target, and jobs built as the job service would store them.
 */

import type { BreakerSettings } from '../../functions/domain/breaker.js';
import type { StoredJob } from '../../functions/domain/job.js';
import type { ExecuteDeps } from '../../functions/usecases/execute-firing.js';
import type { LongRunDeps, LongRunParts } from '../../functions/usecases/long-runs.js';
import type { Priority } from '../../lib/definitions.js';
import { ManualClock } from '../../local/manual-clock.js';
import {
  FakeLongTargets,
  FakeTarget,
  InMemoryBreakers,
  InMemoryFairShare,
  InMemoryFiringSigner,
  InMemoryJobs,
  InMemoryRuns,
  InMemorySchedules,
  RecordingLogger,
  RecordingMetrics,
  RecordingNotifier,
  RecordingQueue,
} from './in-memory.js';

export const TENANT = 'acme';
/** Where the local API listens: callback URLs are made on it. */
export const CALLBACK_BASE_URL = 'http://127.0.0.1:3000';
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;

/** A stored job as the job service writes one (defaults filled in), changed by `overrides`. */
export function aJob(overrides: Partial<StoredJob> = {}): StoredJob {
  const createdAt = overrides.createdAt ?? '2027-03-01T09:00:00.000Z';
  return {
    id: 'job_A',
    tenantId: TENANT,
    name: 'nightly report',
    description: null,
    schedule: {
      expression: 'cron(0/5 * * * ? *)',
      timezone: 'UTC',
      startAt: null,
      endAt: null,
      flexibleWindowMinutes: 0,
    },
    target: {
      type: 'http',
      url: 'https://reports.example.com/run',
      method: 'POST',
      headers: {},
      body: null,
      timeoutSeconds: 30,
    },
    dependsOn: [],
    retryPolicy: { maxAttempts: 1, initialDelaySeconds: 30, multiplier: 2, maxDelaySeconds: 900 },
    overlapPolicy: 'allow',
    misfireGraceSeconds: null,
    notify: { onFailure: [], secret: null },
    catchUp: 'none',
    catchUpWindowMinutes: 60,
    priority: 'default',
    state: 'enabled',
    tags: {},
    nextRunAt: null,
    createdAt,
    updatedAt: createdAt,
    version: 1,
    hasDependents: false,
    ...overrides,
  } as StoredJob;
}

export interface WorkerWorld {
  clock: ManualClock;
  jobs: InMemoryJobs;
  runs: InMemoryRuns;
  queue: RecordingQueue;
  target: FakeTarget;
  notifier: RecordingNotifier;
  metrics: RecordingMetrics;
  logger: RecordingLogger;
  fairShare: InMemoryFairShare;
  /** The circuit breakers (off unless `breaker` settings are given). */
  breakers: InMemoryBreakers;
  schedules: InMemorySchedules;
  /** The long targets (ECS, Step Functions, callback targets), the callback signer and base URL. */
  long: LongRunParts & { targets: FakeLongTargets; signer: InMemoryFiringSigner };
  /** What executeFiring is given. */
  deps: ExecuteDeps & LongRunDeps;
}

/**
 * The worker's world at `start`: every port in memory, the target answering 200 (taking
 * `targetMs` on the clock), retry jitter from `random` (0: the shortest delay), fair share
 * of `placesPerQueue` per tenant and queue (0: off).
 */
export function workerWorld(
  options: {
    start?: string;
    targetMs?: number;
    random?: () => number;
    placesPerQueue?: number;
    breaker?: BreakerSettings;
  } = {},
): WorkerWorld {
  const clock = new ManualClock(options.start ?? '2027-03-01T10:00:00.000Z');
  const jobs = new InMemoryJobs();
  const runs = new InMemoryRuns();
  const queue = new RecordingQueue();
  const target = new FakeTarget(clock, options.targetMs ?? 0);
  const notifier = new RecordingNotifier();
  const metrics = new RecordingMetrics();
  const logger = new RecordingLogger();
  const places = options.placesPerQueue ?? 0;
  const fairShare = new InMemoryFairShare((_p: Priority) => places);
  const breakers = new InMemoryBreakers();
  const signer = new InMemoryFiringSigner();
  const schedules = new InMemorySchedules({ clock, signer });
  const long = { targets: new FakeLongTargets(), signer, callbackBaseUrl: CALLBACK_BASE_URL };
  return {
    clock,
    jobs,
    runs,
    queue,
    target,
    notifier,
    metrics,
    logger,
    fairShare,
    breakers,
    schedules,
    long,
    deps: {
      jobs,
      runs,
      queue,
      callTarget: target.call,
      notifier,
      clock,
      logger,
      metrics,
      random: options.random ?? (() => 0),
      fairShare,
      long,
      ...(options.breaker ? { circuit: { store: breakers, settings: options.breaker } } : {}),
    },
  };
}
