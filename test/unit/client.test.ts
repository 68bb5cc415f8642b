/**
 * The typed client the CLI and the console share: requests as the API types them, refusals
 * as ApiError with the API's problem, and fire times as people read them (DST marked).
 */
import { describe, expect, it } from 'vitest';
import { describeFireTimes, duration, relative, wallTime } from '../../client/fire-times.js';
import { ApiError, createSundialClient, must } from '../../client/index.js';

/** A fetch that records each request and answers with `answer`. */
function recording(answer: (request: Request) => Response) {
  const requests: Request[] = [];
  return {
    requests,
    fetch: async (request: Request) => {
      requests.push(request);
      return answer(request);
    },
  };
}

const problem = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/problem+json', ...headers },
  });

describe('createSundialClient', () => {
  it('sends the key as a bearer token to the base URL, with path and query parameters', async () => {
    const { requests, fetch } = recording(
      () =>
        new Response('{"items":[],"nextCursor":null}', { headers: { 'content-type': 'application/json' } }),
    );
    // A base with /v1 or a trailing slash (as the stack's ApiUrl output is) works the same.
    for (const baseUrl of [
      'https://api.example.com/prod',
      'https://api.example.com/prod/',
      'https://api.example.com/prod/v1',
    ]) {
      const client = createSundialClient({ baseUrl, apiKey: 'sk_test', fetch });
      const page = await must(
        client.GET('/v1/jobs/{jobId}/runs', { params: { path: { jobId: 'job_1' }, query: { limit: 5 } } }),
      );
      expect(page).toEqual({ items: [], nextCursor: null });
    }
    for (const request of requests) {
      expect(request.url).toBe('https://api.example.com/prod/v1/jobs/job_1/runs?limit=5');
      expect(request.headers.get('authorization')).toBe('Bearer sk_test');
    }
  });

  it("throws the API's problem, with its fields and Retry-After, as ApiError", async () => {
    const { fetch } = recording(() =>
      problem(400, {
        type: 'https://sundial.dev/problems/validation',
        title: 'Bad Request',
        status: 400,
        detail: 'the request is invalid',
        errors: [{ field: 'schedule.expression', message: 'is not a valid expression' }],
      }),
    );
    const client = createSundialClient({ baseUrl: 'http://localhost:3000', apiKey: 'k', fetch });
    const error = await must(client.POST('/v1/schedules/preview', { body: { expression: 'nope' } })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ApiError);
    const apiError = error as ApiError;
    expect(apiError.status).toBe(400);
    expect(apiError.problem.errors).toEqual([
      { field: 'schedule.expression', message: 'is not a valid expression' },
    ]);
    expect(apiError.describe()).toBe(
      'Bad Request (400): the request is invalid\n  schedule.expression: is not a valid expression',
    );

    const limited = recording(() =>
      problem(
        429,
        { type: 'x', title: 'Too Many Requests', status: 429, detail: 'slow down' },
        { 'retry-after': '7' },
      ),
    );
    const slow = createSundialClient({ baseUrl: 'http://localhost:3000', fetch: limited.fetch });
    const refused = (await must(slow.GET('/v1/jobs')).catch((e: unknown) => e)) as ApiError;
    expect(refused.retryAfter).toBe(7);
  });

  it('says plainly what came when the answer is not a problem document (a proxy page, an empty 502)', async () => {
    const { fetch } = recording(() => new Response('<html>Bad Gateway</html>', { status: 502 }));
    const client = createSundialClient({ baseUrl: 'http://localhost:3000', fetch });
    const error = (await must(client.GET('/v1/health')).catch((e: unknown) => e)) as ApiError;
    expect(error.status).toBe(502);
    expect(error.problem.title).toBe('HTTP 502');
    expect(error.problem.detail).toContain('Bad Gateway');
  });
});

describe('fire times for people', () => {
  it('shows wall time and offset in a zone, seconds only when there are some', () => {
    expect(wallTime('2026-03-08T14:00:00Z', 'America/New_York')).toEqual({
      local: '2026-03-08 10:00',
      offset: '-04:00',
    });
    expect(wallTime('2026-03-08T14:00:00Z', 'UTC')).toEqual({ local: '2026-03-08 14:00', offset: '+00:00' });
    expect(wallTime('2026-03-08T14:00:30Z', 'Asia/Kathmandu')).toEqual({
      local: '2026-03-08 19:45:30',
      offset: '+05:45',
    });
  });

  it('marks the fire times a daylight-saving change moves, both ways, and no others', () => {
    // Daily at 09:00 New York: 14:00Z in winter, 13:00Z from 8 March (spring forward).
    const spring = describeFireTimes(
      ['2026-03-07T14:00:00Z', '2026-03-08T13:00:00Z', '2026-03-09T13:00:00Z'],
      'America/New_York',
    );
    expect(spring.map((f) => [f.local, f.dstChange])).toEqual([
      ['2026-03-07 09:00', false],
      ['2026-03-08 09:00', true],
      ['2026-03-09 09:00', false],
    ]);
    expect(spring[1]!.change).toBe('offset -05:00 → -04:00');
    // Sydney falls back on 5 April 2026 (+11:00 → +10:00); compared with the start too.
    const autumn = describeFireTimes(['2026-04-05T23:00:00Z'], 'Australia/Sydney', '2026-04-03T23:00:00Z');
    expect(autumn[0]).toMatchObject({
      local: '2026-04-06 09:00',
      dstChange: true,
      change: 'offset +11:00 → +10:00',
    });
    // A zone without daylight saving never marks one.
    const tokyo = describeFireTimes(
      ['2026-03-07T00:00:00Z', '2026-03-08T00:00:00Z'],
      'Asia/Tokyo',
      '2026-01-01T00:00:00Z',
    );
    expect(tokyo.some((f) => f.dstChange)).toBe(false);
  });

  it('says durations and distances in time briefly', () => {
    expect(duration(42)).toBe('42 ms');
    expect(duration(1234)).toBe('1.2 s');
    expect(duration(125_000)).toBe('2 min 5 s');
    expect(duration(2 * 3_600_000 + 5 * 60_000)).toBe('2 h 5 min');
    expect(duration(null)).toBe('-');
    const now = new Date('2026-01-01T00:00:00Z');
    expect(relative('2026-01-01T03:00:00Z', now)).toBe('in 3 h');
    expect(relative('2025-12-31T23:55:00Z', now)).toBe('5 min ago');
  });
});
