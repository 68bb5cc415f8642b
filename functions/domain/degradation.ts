/**
 * Graceful degradation (issue 17): when the system is overloaded Sundial gives things up in
 * a fixed order, and takes them back by itself when the pressure goes. The level is 0..4 and
 * the steps are cumulative:
 *
 * 1. low-priority firings are deferred (put back with a delay, never lost);
 * 2. run-history reads take a cheaper path (eventually consistent, small pages);
 * 3. dependency triggering is delayed (dependents fire late, never lost);
 * 4. job creation is refused (503 with Retry-After); reads, updates, deletes and runs go on.
 *
 * The level goes up at once when a process measures a signal past a threshold, and comes
 * down one step for every `stepDownSeconds` it is not measured again: that decay is the
 * hysteresis (a signal hovering at a threshold does not flap), and it needs no traffic and
 * no write to happen.
 */
import { isPlainObject } from './json-walk.js';

export type DegradationLevel = 0 | 1 | 2 | 3 | 4;
export const DEGRADED_LEVELS = [1, 2, 3, 4] as const;
export type DegradedLevel = (typeof DEGRADED_LEVELS)[number];

/** Each step by name, in the order they are taken (level 1 first). */
export const DEGRADATION_STEP_NAMES = [
  'low-priority-deferred',
  'run-history-cheap',
  'dependents-delayed',
  'creates-refused',
] as const;

/** What each level gives up, in the order it is given up. */
export const DEGRADATION_STEPS: Record<DegradedLevel, { step: string; description: string }> = {
  1: { step: 'low-priority-deferred', description: 'low-priority firings are deferred' },
  2: { step: 'run-history-cheap', description: 'run history is read eventually consistent, in small pages' },
  3: { step: 'dependents-delayed', description: 'dependency runs are triggered after a delay' },
  4: { step: 'creates-refused', description: 'job creation is refused (503)' },
};

export interface DegradationSettings {
  /** The age (seconds) of the messages workers receive from which levels 1, 2, 3 and 4 start. */
  queueAgeSeconds: [number, number, number, number];
  /** Throttled DynamoDB requests seen by one process within a minute from which level 4 starts; 0: not a signal. */
  dynamoThrottlesPerMinute: number;
  /** A level not measured again for this long steps down by one. */
  stepDownSeconds: number;
  /** Run-history page size from level 2. */
  cheapPageSize: number;
  /** How long a low-priority firing is put back for from level 1 (the longest wait, jittered). */
  lowPriorityDeferSeconds: number;
  /** How long dependency runs wait from level 3. */
  dependencyDelaySeconds: number;
}

export const DEFAULT_DEGRADATION: DegradationSettings = {
  queueAgeSeconds: [60, 180, 300, 600],
  dynamoThrottlesPerMinute: 10,
  stepDownSeconds: 120,
  cheapPageSize: 20,
  lowPriorityDeferSeconds: 60,
  dependencyDelaySeconds: 60,
};

/**
 * What an operator may set, each field's range (every field optional: the rest keep their
 * defaults). Checked by hand, not with zod: every function reads them at cold start (issue 17).
 */
const SETTING_RANGES: Record<Exclude<keyof DegradationSettings, 'queueAgeSeconds'>, [number, number]> = {
  dynamoThrottlesPerMinute: [0, 1_000_000],
  stepDownSeconds: [1, 3600],
  cheapPageSize: [1, 100],
  // Under SQS's 15-minute message delay, so one send is one wait.
  lowPriorityDeferSeconds: [1, 900],
  dependencyDelaySeconds: [1, 900],
};
const QUEUE_AGE_RANGE: [number, number] = [1, 86_400];

/** The settings from their JSON form (`DEGRADATION_SETTINGS`, `-c degradation=`); throws naming the field. */
export function parseDegradationSettings(value: unknown): DegradationSettings {
  let raw = value;
  if (typeof value === 'string') {
    if (value.trim() === '') return DEFAULT_DEGRADATION;
    try {
      raw = JSON.parse(value);
    } catch {
      throw new Error('degradation settings are not JSON');
    }
  }
  if (raw === undefined || raw === null) return DEFAULT_DEGRADATION;
  const fail = (message: string): never => {
    throw new Error(`degradation settings: ${message}`);
  };
  if (!isPlainObject(raw)) fail('(value) must be a JSON object of settings');
  const settings: DegradationSettings = { ...DEFAULT_DEGRADATION };
  for (const [key, v] of Object.entries(raw as Record<string, unknown>)) {
    if (key === 'queueAgeSeconds') {
      const [min, max] = QUEUE_AGE_RANGE;
      if (!Array.isArray(v) || v.length !== 4 || !v.every((n) => inRange(n, min, max)))
        fail(`queueAgeSeconds must be four integers from ${min} to ${max}`);
      const ages = v as number[];
      if (!ages.every((n, i) => i === 0 || n > ages[i - 1]!))
        fail('queueAgeSeconds must rise: level 1 < 2 < 3 < 4');
      settings.queueAgeSeconds = ages as DegradationSettings['queueAgeSeconds'];
    } else if (Object.hasOwn(SETTING_RANGES, key)) {
      const field = key as keyof typeof SETTING_RANGES;
      const [min, max] = SETTING_RANGES[field];
      if (!inRange(v, min, max)) fail(`${key} must be an integer from ${min} to ${max}`);
      settings[field] = v as number;
    } else {
      fail(`${key} is not a setting (${['queueAgeSeconds', ...Object.keys(SETTING_RANGES)].join(', ')})`);
    }
  }
  return settings;
}

function inRange(value: unknown, min: number, max: number): value is number {
  return Number.isInteger(value) && (value as number) >= min && (value as number) <= max;
}

/** What a process measured: the oldest message it received, and its throttled DynamoDB requests in the last minute. */
export interface PressureSignals {
  queueAgeSeconds: number;
  dynamoThrottles: number;
}

/** The level these signals call for. */
export function levelOfSignals(signals: PressureSignals, settings: DegradationSettings): DegradationLevel {
  let level: DegradationLevel = 0;
  for (const [i, threshold] of settings.queueAgeSeconds.entries()) {
    if (signals.queueAgeSeconds > threshold) level = (i + 1) as DegradationLevel;
  }
  // The table itself is saturated: shed everything the steps can shed.
  if (settings.dynamoThrottlesPerMinute > 0 && signals.dynamoThrottles >= settings.dynamoThrottlesPerMinute)
    level = 4;
  return level;
}

/** When each level was last measured (epoch ms), as stored. */
export type PressureState = Partial<Record<DegradedLevel, number>>;

/**
 * The level now: each level measured at t counts as itself until t + stepDown, one less until
 * t + 2 stepDown, and so on; the highest counts. A level 4 measured once and never again is
 * 3 two minutes later, then 2, 1 and 0: one step at a time, with no traffic.
 */
export function effectiveLevel(
  state: PressureState,
  now: Date,
  settings: DegradationSettings,
): DegradationLevel {
  let level = 0;
  for (const k of DEGRADED_LEVELS) {
    const at = state[k];
    if (at === undefined) continue;
    const steps = Math.floor(Math.max(0, now.getTime() - at) / (settings.stepDownSeconds * 1000));
    level = Math.max(level, k - steps);
  }
  return level as DegradationLevel;
}

/** The state after measuring `level` at `now`: that level and every one below it, just measured. */
export function measured(state: PressureState, level: DegradationLevel, now: Date): PressureState {
  const next = { ...state };
  for (const k of DEGRADED_LEVELS) if (k <= level) next[k] = Math.max(next[k] ?? 0, now.getTime());
  return next;
}

/** Seconds until the level steps down by one (a Retry-After for what it refuses). */
export function secondsToStepDown(state: PressureState, now: Date, settings: DegradationSettings): number {
  const level = effectiveLevel(state, now, settings);
  if (level === 0) return 0;
  const step = settings.stepDownSeconds * 1000;
  // The level drops once every level that counts as it has dropped: the latest boundary ahead.
  let latest = 0;
  for (const k of DEGRADED_LEVELS) {
    const at = state[k];
    if (at === undefined) continue;
    const elapsed = Math.max(0, now.getTime() - at);
    if (k - Math.floor(elapsed / step) !== level) continue;
    latest = Math.max(latest, step - (elapsed % step));
  }
  return Math.max(1, Math.ceil(latest / 1000));
}
