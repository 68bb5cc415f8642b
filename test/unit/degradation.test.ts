/**
 * Graceful degradation's level: how signals map to levels, how the level decays one step at a
 * time with nothing reported (the hysteresis), what a process writes (nothing when calm), and
 * that DynamoDB's throttles, hidden by the SDK's retries, are counted.
 */
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import {
  CachedDegradation,
  DEGRADATION_CACHE_MS,
  type DegradationStore,
  ThrottleCounter,
  throttleCounterOf,
} from '../../functions/adapters/degradation.js';
import {
  DEFAULT_DEGRADATION,
  effectiveLevel,
  levelOfSignals,
  measured,
  type PressureState,
  parseDegradationSettings,
  secondsToStepDown,
} from '../../functions/domain/degradation.js';
import { oldestAgeSeconds } from '../../functions/handlers/worker.js';
import { parseDegradationContext } from '../../lib/stage.js';
import { ManualClock } from '../../local/manual-clock.js';

const S = DEFAULT_DEGRADATION;
const T0 = new Date('2026-12-02T00:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const silent = { info() {}, warn() {}, error() {} };

describe('the level the signals call for', () => {
  it('rises with the queue age past each threshold (60, 180, 300, 600 s by default)', () => {
    const level = (queueAgeSeconds: number) => levelOfSignals({ queueAgeSeconds, dynamoThrottles: 0 }, S);
    expect([0, 60, 61, 180, 181, 300, 301, 600, 601, 5000].map(level)).toEqual([
      0, 0, 1, 1, 2, 2, 3, 3, 4, 4,
    ]);
  });

  it('goes to 4 when DynamoDB throttles a process 10 times in a minute, whatever the queues say', () => {
    expect(levelOfSignals({ queueAgeSeconds: 0, dynamoThrottles: 9 }, S)).toBe(0);
    expect(levelOfSignals({ queueAgeSeconds: 0, dynamoThrottles: 10 }, S)).toBe(4);
    // 0 turns the signal off.
    expect(
      levelOfSignals({ queueAgeSeconds: 0, dynamoThrottles: 99 }, { ...S, dynamoThrottlesPerMinute: 0 }),
    ).toBe(0);
  });
});

describe('the level over time', () => {
  it('steps down one level per 2 minutes not measured again, to 0, with no traffic', () => {
    const state = measured({}, 4, T0);
    const levels = [0, 119, 120, 239, 240, 360, 480, 10_000].map((s) => effectiveLevel(state, at(s), S));
    expect(levels).toEqual([4, 4, 3, 3, 2, 1, 0, 0]);
  });

  it('holds while measured again, and falls from where the last measurement left it (hysteresis)', () => {
    let state: PressureState = measured({}, 3, T0);
    // A lower reading does not pull the level down at once: 3 still counts for two minutes.
    state = measured(state, 1, at(60));
    expect(effectiveLevel(state, at(100), S)).toBe(3);
    expect(effectiveLevel(state, at(120), S)).toBe(2);
    // Level 1 measured at 60 s holds 1 until 180 s; level 3 decays to 1 at 240 s and 0 at 360 s.
    expect(effectiveLevel(state, at(300), S)).toBe(1);
    expect(effectiveLevel(state, at(360), S)).toBe(0);
  });

  it('says how long until it steps down: the Retry-After of what it refuses', () => {
    const state = measured({}, 4, T0);
    expect(secondsToStepDown(state, at(30), S)).toBe(90);
    expect(secondsToStepDown({}, at(30), S)).toBe(0);
    // Two levels count as 3: the level falls when the later of them does.
    const both = measured(measured({}, 4, T0), 3, at(100));
    expect(effectiveLevel(both, at(130), S)).toBe(3);
    expect(secondsToStepDown(both, at(130), S)).toBe(110);
  });
});

describe('the settings', () => {
  it('take the fields given and the defaults for the rest, and refuse bad ones naming the field', () => {
    expect(parseDegradationSettings(undefined)).toEqual(S);
    expect(parseDegradationSettings('{"stepDownSeconds":30}')).toEqual({ ...S, stepDownSeconds: 30 });
    expect(() => parseDegradationSettings('{"queueAgeSeconds":[60,60,300,600]}')).toThrow(/queueAgeSeconds/);
    expect(() => parseDegradationSettings('{"cheapPageSize":500}')).toThrow(/cheapPageSize/);
    expect(() => parseDegradationSettings('{"dependencyDelaySeconds":901}')).toThrow(
      /dependencyDelaySeconds/,
    );
    expect(() => parseDegradationSettings('[1')).toThrow(/not JSON/);
    expect(() => parseDegradationSettings('{"cheapPage":5}')).toThrow(/cheapPage is not a setting/);
    expect(() => parseDegradationSettings('{"queueAgeSeconds":[60,180,300]}')).toThrow(
      /queueAgeSeconds must be four integers from 1 to 86400/,
    );
    expect(() => parseDegradationSettings('[60]')).toThrow(/must be a JSON object/);
    // Every field at once, each at an end of its range.
    const edges = {
      queueAgeSeconds: [1, 2, 3, 86_400],
      dynamoThrottlesPerMinute: 0,
      stepDownSeconds: 3600,
      cheapPageSize: 1,
      lowPriorityDeferSeconds: 900,
      dependencyDelaySeconds: 1,
    };
    expect(parseDegradationSettings(JSON.stringify(edges))).toEqual(edges);
  });

  it('come from CDK context as JSON text or an object (cdk.json), checked at synth', () => {
    expect(parseDegradationContext(undefined)).toBeUndefined();
    expect(parseDegradationContext('{"cheapPageSize":10}')).toBe('{"cheapPageSize":10}');
    expect(parseDegradationContext({ stepDownSeconds: 60 })).toBe('{"stepDownSeconds":60}');
    expect(() => parseDegradationContext({ stepDownSeconds: 0 })).toThrow(/stepDownSeconds/);
  });
});

/** The store in memory, counting its reads and writes, with DynamoDB's condition. */
class MemoryStore implements Pick<DegradationStore, 'read' | 'record'> {
  state: PressureState = {};
  reads = 0;
  writes = 0;
  failReads = false;

  async read(): Promise<PressureState> {
    this.reads++;
    if (this.failReads) throw new Error('ProvisionedThroughputExceededException');
    return { ...this.state };
  }

  async record(level: 1 | 2 | 3 | 4, now: Date, freshAfter: Date): Promise<boolean> {
    const last = this.state[level];
    if (last !== undefined && last > freshAfter.getTime()) return false;
    this.writes++;
    this.state = measured(this.state, level, now);
    return true;
  }
}

describe('a process reporting and reading the level', () => {
  const setup = () => {
    const clock = new ManualClock(T0);
    const store = new MemoryStore();
    const throttles = new ThrottleCounter(clock);
    const degradation = new CachedDegradation(store, S, clock, silent, throttles);
    return { clock, store, throttles, degradation };
  };

  it('writes nothing while calm, and reads the level at most once per cache period', async () => {
    const { clock, store, degradation } = setup();
    for (let i = 0; i < 50; i++) {
      expect(await degradation.report({ queueAgeSeconds: 5, dynamoThrottles: 0 })).toBe(0);
      clock.advance(100);
    }
    expect(store.writes).toBe(0);
    expect(store.reads).toBe(1);
    clock.advance(DEGRADATION_CACHE_MS);
    await degradation.level();
    expect(store.reads).toBe(2);
  });

  it('writes a level past a threshold once, and again only after half a minute of it', async () => {
    const { clock, store, degradation } = setup();
    expect(await degradation.report({ queueAgeSeconds: 200, dynamoThrottles: 0 })).toBe(2);
    for (let i = 0; i < 20; i++) {
      clock.advance(1000);
      await degradation.report({ queueAgeSeconds: 200, dynamoThrottles: 0 });
    }
    expect(store.writes).toBe(1);
    clock.advance(10_000);
    await degradation.report({ queueAgeSeconds: 200, dynamoThrottles: 0 });
    expect(store.writes).toBe(2);
  });

  it('sees what another process wrote within the cache period, and the decay with no reads at all', async () => {
    const { clock, store, degradation } = setup();
    expect(await degradation.level()).toBe(0);
    store.state = measured({}, 4, clock.now());
    expect(await degradation.level()).toBe(0);
    clock.advance(DEGRADATION_CACHE_MS);
    expect(await degradation.status()).toEqual({ level: 4, stepDownInSeconds: 105 });
    clock.advance(S.stepDownSeconds * 1000);
    expect(await degradation.level()).toBe(3);
  });

  it('counts DynamoDB throttles among its signals', async () => {
    const { store, throttles, degradation } = setup();
    for (let i = 0; i < 10; i++) throttles.record();
    expect(await degradation.report({ queueAgeSeconds: 0, dynamoThrottles: 0 })).toBe(4);
    expect(store.state[4]).toBeDefined();
  });

  it('never fails a run or a request for a level it cannot read: calm, or the last one read', async () => {
    const { clock, store, degradation } = setup();
    store.failReads = true;
    expect(await degradation.level()).toBe(0);
    store.failReads = false;
    store.state = measured({}, 2, clock.now());
    clock.advance(DEGRADATION_CACHE_MS);
    expect(await degradation.level()).toBe(2);
    store.failReads = true;
    clock.advance(DEGRADATION_CACHE_MS);
    expect(await degradation.level()).toBe(2);
  });
});

describe('DynamoDB throttles', () => {
  it('are counted on every attempt, the ones the SDK retried and hid included', async () => {
    const clock = new ManualClock(T0);
    let calls = 0;
    const client = new DynamoDBClient({
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      maxAttempts: 3,
      // DynamoDB's answer to a throttled request, twice, then the item.
      requestHandler: {
        handle: async () => {
          calls++;
          const throttled = calls <= 2;
          const body = throttled
            ? '{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}'
            : '{"Item":{"pk":{"S":"a"}}}';
          const { Readable } = await import('node:stream');
          return {
            response: {
              statusCode: throttled ? 400 : 200,
              headers: { 'content-type': 'application/x-amz-json-1.0' },
              body: Readable.from([Buffer.from(body)]),
            },
          };
        },
      } as never,
    });
    const counter = throttleCounterOf(client, clock);
    // Installed once per client, however many wirings ask.
    expect(throttleCounterOf(client, clock)).toBe(counter);
    const out = await client.send(new GetItemCommand({ TableName: 't', Key: { pk: { S: 'a' } } }));
    expect(out.Item).toEqual({ pk: { S: 'a' } });
    expect(calls).toBe(3);
    expect(counter.lastMinute()).toBe(2);
    clock.advance(61_000);
    expect(counter.lastMinute()).toBe(0);
    client.destroy();
  }, 20_000);
});

describe('the queue age a worker measures', () => {
  const record = (sentSecondsAgo: number, body: Record<string, unknown> = {}) =>
    ({
      body: JSON.stringify({ v: 1, ...body }),
      attributes: { SentTimestamp: String(at(-sentSecondsAgo).getTime()) },
    }) as unknown as Parameters<typeof oldestAgeSeconds>[0][number];

  it("is the batch's oldest wait since SQS got the message, or since it was due when sent with a delay", () => {
    expect(oldestAgeSeconds([record(5), record(90), record(30)], T0)).toBe(90);
    // A retry sent 10 minutes ago to be due 20 s ago has waited 20 s, not 10 minutes.
    expect(oldestAgeSeconds([record(600, { notBefore: at(-20).toISOString() })], T0)).toBe(20);
    expect(oldestAgeSeconds([record(600, { notBefore: at(30).toISOString() })], T0)).toBe(0);
    expect(oldestAgeSeconds([], T0)).toBe(0);
  });
});
