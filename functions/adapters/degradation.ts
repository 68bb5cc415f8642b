/**
 * The degradation level over one item of the jobs table per region (`DEGRADATION#<region>`):
 * when each level 1..4 was last measured. Readers cache it for CACHE_MS; a measurement writes
 * only when it is past a threshold and that level was not written within REFRESH_MS, so the
 * calm path writes nothing and a busy one writes a few times a minute per process at most.
 */
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  DEGRADED_LEVELS,
  type DegradationLevel,
  type DegradationSettings,
  effectiveLevel,
  levelOfSignals,
  measured,
  type PressureSignals,
  type PressureState,
  secondsToStepDown,
} from '../domain/degradation.js';
import type { Clock, Degradation, Logger } from '../domain/ports.js';
import { conditionally } from './dynamo.js';

/** How long a read of the level is used for: a level change reaches every reader within this. */
export const DEGRADATION_CACHE_MS = 15_000;
/** A level measured again within this of its last write is not written again. */
export const DEGRADATION_REFRESH_MS = 30_000;

const key = (region: string) => ({ pk: `DEGRADATION#${region}`, sk: 'DEGRADATION' });
const attribute = (level: number) => `level${level}At`;

export class DegradationStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly region: string,
  ) {}

  async read(): Promise<PressureState> {
    // Eventually consistent: a level a second late is as good, at half the cost.
    const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: key(this.region) }));
    const state: PressureState = {};
    for (const k of DEGRADED_LEVELS) {
      const at = Item?.[attribute(k)];
      if (typeof at === 'number') state[k] = at;
    }
    return state;
  }

  /**
   * Records `level` (and every level below it) as measured at `now`, unless another process
   * recorded it since `freshAfter`: false then, nothing written.
   */
  async record(level: Exclude<DegradationLevel, 0>, now: Date, freshAfter: Date): Promise<boolean> {
    const names: Record<string, string> = {};
    const sets: string[] = [];
    for (const k of DEGRADED_LEVELS) {
      if (k > level) break;
      names[`#l${k}`] = attribute(k);
      sets.push(`#l${k} = :now`);
    }
    return conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key(this.region),
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: `attribute_not_exists(#l${level}) OR #l${level} <= :fresh`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ':now': now.getTime(), ':fresh': freshAfter.getTime() },
        }),
      ),
    );
  }
}

/** Where a process's throttled DynamoDB requests are counted (see `countThrottles`). */
export class ThrottleCounter {
  private readonly times: number[] = [];

  constructor(private readonly clock: Clock) {}

  record(): void {
    this.times.push(this.clock.now().getTime());
    if (this.times.length > 10_000) this.times.splice(0, this.times.length - 10_000);
  }

  /** Throttled requests within the last minute. */
  lastMinute(): number {
    const since = this.clock.now().getTime() - 60_000;
    while (this.times.length > 0 && this.times[0]! < since) this.times.shift();
    return this.times.length;
  }
}

/** The error names DynamoDB throttles with (the SDK retries them, then gives up). */
const THROTTLES = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
]);

/**
 * Counts every throttled attempt of a DynamoDB client, the ones its retries hid included:
 * the middleware sits inside the SDK's retry loop, so it sees each attempt's error.
 */
export function countThrottles(
  client: { middlewareStack: { add: (...args: never[]) => void } },
  counter: ThrottleCounter,
): void {
  const add = client.middlewareStack.add as unknown as (
    middleware: (next: (args: unknown) => Promise<unknown>) => (args: unknown) => Promise<unknown>,
    options: { step: 'finalizeRequest'; priority: 'low'; name: string },
  ) => void;
  add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        if (error instanceof Error && THROTTLES.has(error.name)) counter.record();
        throw error;
      }
    },
    { step: 'finalizeRequest', priority: 'low', name: 'sundialCountThrottles' },
  );
}

const counters = new WeakMap<object, ThrottleCounter>();

/** The client's throttle counter, installed on first use (the wirings of one process share a client). */
export function throttleCounterOf(
  client: { middlewareStack: { add: (...args: never[]) => void } },
  clock: Clock,
): ThrottleCounter {
  let counter = counters.get(client);
  if (!counter) {
    counter = new ThrottleCounter(clock);
    countThrottles(client, counter);
    counters.set(client, counter);
  }
  return counter;
}

export class CachedDegradation implements Degradation {
  private cached: { state: PressureState; readAt: number } | undefined;

  constructor(
    private readonly store: Pick<DegradationStore, 'read' | 'record'>,
    readonly settings: DegradationSettings,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly throttles?: ThrottleCounter,
  ) {}

  private async state(): Promise<PressureState> {
    const now = this.clock.now().getTime();
    if (this.cached && now - this.cached.readAt < DEGRADATION_CACHE_MS) return this.cached.state;
    try {
      const state = await this.store.read();
      this.cached = { state, readAt: now };
      return state;
    } catch (error) {
      // Not knowing the level must never stop a run or a request: the last one read, or calm.
      this.logger.warn('degradation level not read', { error: String(error) });
      return this.cached?.state ?? {};
    }
  }

  async level(): Promise<DegradationLevel> {
    return effectiveLevel(await this.state(), this.clock.now(), this.settings);
  }

  async status(): Promise<{ level: DegradationLevel; stepDownInSeconds: number }> {
    const state = await this.state();
    const now = this.clock.now();
    return {
      level: effectiveLevel(state, now, this.settings),
      stepDownInSeconds: secondsToStepDown(state, now, this.settings),
    };
  }

  async report(signals: PressureSignals): Promise<DegradationLevel> {
    const measuredLevel = levelOfSignals(
      { ...signals, dynamoThrottles: Math.max(signals.dynamoThrottles, this.throttles?.lastMinute() ?? 0) },
      this.settings,
    );
    if (measuredLevel === 0) return this.level();
    const state = await this.state();
    const now = this.clock.now();
    const lastWritten = state[measuredLevel];
    if (lastWritten === undefined || now.getTime() - lastWritten >= DEGRADATION_REFRESH_MS) {
      try {
        const wrote = await this.store.record(
          measuredLevel,
          now,
          new Date(now.getTime() - DEGRADATION_REFRESH_MS),
        );
        if (wrote) this.logger.warn('degradation level raised or held', { level: measuredLevel, ...signals });
      } catch (error) {
        this.logger.warn('degradation level not recorded', { level: measuredLevel, error: String(error) });
      }
    }
    // This process acts on what it measured at once; others see it within the cache time.
    const next = measured(state, measuredLevel, now);
    this.cached = { state: next, readAt: this.cached?.readAt ?? now.getTime() };
    return effectiveLevel(next, now, this.settings);
  }
}

/** No degradation at all (a test's or a tool's wiring): always calm. */
export const calmDegradation = (settings: DegradationSettings): Degradation => ({
  settings,
  level: async () => 0,
  status: async () => ({ level: 0, stepDownInSeconds: 0 }),
  report: async () => 0,
});
