/** The circuit breaker's state machine (functions/domain/breaker.ts), on an injected clock. */
import { describe, expect, it } from 'vitest';
import {
  admit,
  afterFailure,
  afterSuccess,
  type Breaker,
  breakerId,
  breakerTargetFromId,
  breakerTargetOf,
  coolDownSeconds,
  DEFAULT_BREAKER_SETTINGS,
  failureOf,
  probeReleased,
} from '../../functions/domain/breaker.js';
import type { Target } from '../../functions/domain/target.js';
import { ManualClock } from '../../local/manual-clock.js';
import { outcomes } from '../fakes/in-memory.js';

const settings = DEFAULT_BREAKER_SETTINGS;
const TARGET = 'api.example.com';

/** The breaker after `n` failures, one second apart, starting at the clock's time. */
function failed(clock: ManualClock, n: number, start?: Breaker): Breaker | undefined {
  let b = start;
  for (let i = 0; i < n; i++) {
    b = afterFailure(b, 'acme', TARGET, `h${i}`, 'HTTP 500', settings, clock.now());
    clock.advance(1000);
  }
  return b;
}

describe('the breaker state machine', () => {
  it('stays closed below the threshold and opens at it, with a cool-down of 60 s', () => {
    const clock = new ManualClock('2027-03-01T10:00:00.000Z');
    const four = failed(clock, 4)!;
    expect(four).toMatchObject({ state: 'closed', failures: 4, lastError: 'HTTP 500' });
    expect(admit(four, 'x', clock.now(), clock.now())).toEqual({ kind: 'pass' });
    const five = failed(clock, 1, four)!;
    expect(five).toMatchObject({
      state: 'open',
      failures: 5,
      openedAt: '2027-03-01T10:00:04.000Z',
      retryAt: '2027-03-01T10:01:04.000Z',
    });
    const wait = admit(five, 'x', clock.now(), clock.now());
    expect(wait).toEqual({
      kind: 'wait',
      until: new Date('2027-03-01T10:01:04.000Z'),
      reason:
        'circuit open for api.example.com after 5 consecutive failures; next try at 2027-03-01T10:01:04.000Z',
    });
  });

  it('lets exactly one probe through after the cool-down; the others wait for it', () => {
    const clock = new ManualClock('2027-03-01T10:00:00.000Z');
    const open = failed(clock, 5)!;
    clock.set(open.retryAt!);
    const lease = new Date(clock.now().getTime() + 60_000);
    const first = admit(open, 'probe-1', lease, clock.now());
    expect(first.kind).toBe('probe');
    const halfOpen = (first as { next: Breaker }).next;
    expect(halfOpen).toMatchObject({
      state: 'half_open',
      probe: { holder: 'probe-1' },
      version: open.version + 1,
    });
    expect(admit(halfOpen, 'probe-2', lease, clock.now())).toMatchObject({ kind: 'wait', until: lease });
    // A lost probe frees itself when its lease runs out.
    clock.set(new Date(lease.getTime() + 1));
    expect(admit(halfOpen, 'probe-2', lease, clock.now()).kind).toBe('probe');
  });

  it('opens again for longer when the probe fails, doubling up to the maximum', () => {
    const clock = new ManualClock('2027-03-01T10:00:00.000Z');
    let b = failed(clock, 5)!;
    const cools: number[] = [];
    for (let i = 0; i < 6; i++) {
      clock.set(b.retryAt!);
      const probe = admit(b, `p${i}`, new Date(clock.now().getTime() + 60_000), clock.now()) as {
        next: Breaker;
      };
      b = afterFailure(probe.next, 'acme', TARGET, `p${i}`, 'timeout', settings, clock.now());
      expect(b.state).toBe('open');
      cools.push((Date.parse(b.retryAt!) - clock.now().getTime()) / 1000);
    }
    expect(cools).toEqual([120, 240, 480, 900, 900, 900]);
    expect(coolDownSeconds(settings, 1)).toBe(60);
  });

  it('closes and forgets on a success, and a success on a calm breaker writes nothing', () => {
    const clock = new ManualClock('2027-03-01T10:00:00.000Z');
    const open = failed(clock, 5)!;
    const closed = afterSuccess(open, clock.now())!;
    expect(closed).toMatchObject({ state: 'closed', failures: 0, opens: 0, retryAt: null, probe: null });
    expect(closed.closedAt).toBe(clock.now().toISOString());
    expect(afterSuccess(closed, clock.now())).toBeNull();
    expect(afterSuccess(undefined, clock.now())).toBeNull();
    // After a recovery, it takes the full threshold again to open.
    expect(failed(clock, 4, closed)!.state).toBe('closed');
  });

  it('keeps an open breaker open for a late failure of an attempt let through before it opened', () => {
    const clock = new ManualClock('2027-03-01T10:00:00.000Z');
    const open = failed(clock, 5)!;
    const late = afterFailure(open, 'acme', TARGET, 'late', 'HTTP 503', settings, clock.now());
    expect(late).toMatchObject({ state: 'open', failures: 6, retryAt: open.retryAt });
  });

  it('frees an unused probe so the next attempt may probe at once', () => {
    const clock = new ManualClock('2027-03-01T10:00:00.000Z');
    const open = failed(clock, 5)!;
    clock.set(open.retryAt!);
    const { next } = admit(open, 'p', new Date(clock.now().getTime() + 60_000), clock.now()) as {
      next: Breaker;
    };
    expect(probeReleased(next, 'someone-else', clock.now())).toBeNull();
    const released = probeReleased(next, 'p', clock.now())!;
    expect(admit(released, 'q', clock.now(), clock.now()).kind).toBe('probe');
  });
});

describe('what counts as a failure', () => {
  it('counts errors, timeouts, 5xx and 429, and not another 4xx (the caller’s fault)', () => {
    expect(failureOf(outcomes.http(500))).toBe('HTTP 500');
    expect(failureOf(outcomes.http(503))).toBe('HTTP 503');
    expect(failureOf(outcomes.http(429))).toBe('HTTP 429');
    expect(failureOf({ kind: 'timeout', message: 'no answer within 30 s' })).toBe('no answer within 30 s');
    expect(failureOf({ kind: 'error', message: 'ECONNREFUSED' })).toBe('ECONNREFUSED');
    expect(failureOf(outcomes.rejected('FunctionError', 'Unhandled'))).toBe('FunctionError: Unhandled');
    expect(failureOf(outcomes.http(404))).toBeNull();
    expect(failureOf(outcomes.http(401))).toBeNull();
    expect(
      failureOf({
        kind: 'rejected',
        type: 'AccessDeniedException',
        message: 'no',
        statusCode: 403,
        bodyExcerpt: null,
      }),
    ).toBeNull();
    expect(failureOf(outcomes.ok())).toBeNull();
    expect(failureOf(outcomes.delivered())).toBeNull();
  });
});

describe('which target a breaker guards', () => {
  const http = (url: string): Target =>
    ({ type: 'http', url, method: 'GET', headers: {}, body: null, timeoutSeconds: 30 }) as Target;

  it('is the lowercased host and port of an HTTP target, whatever the path', () => {
    expect(breakerTargetOf(http('https://API.Example.com/a/b?c=1'))).toBe('api.example.com');
    expect(breakerTargetOf(http('https://api.example.com:8443/x'))).toBe('api.example.com:8443');
    expect(breakerTargetOf(http('http://127.0.0.1:8080/fail'))).toBe('127.0.0.1:8080');
  });

  it('is the ARN of an AWS target', () => {
    const fn = 'arn:aws:lambda:eu-west-1:123456789012:function:report';
    expect(breakerTargetOf({ type: 'lambda', functionArn: fn } as Target)).toBe(fn);
    const sm = 'arn:aws:states:eu-west-1:123456789012:stateMachine:etl';
    expect(breakerTargetOf({ type: 'stepfunctions', stateMachineArn: sm } as Target)).toBe(sm);
  });

  it('has a URL-safe id that names it back, and refuses an id that is not one', () => {
    const arn = 'arn:aws:lambda:eu-west-1:123456789012:function:report';
    expect(breakerId(arn)).toMatch(/^brk_[A-Za-z0-9_-]+$/);
    expect(breakerTargetFromId(breakerId(arn))).toBe(arn);
    expect(breakerTargetFromId('brk_')).toBeNull();
    expect(breakerTargetFromId('job_123')).toBeNull();
  });
});
