/**
 * The console's pure logic, run in Node: hash routes and the API base, the PKCE challenge
 * and the Cognito URLs, and the run chart's scales.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { layoutChart, niceStep, summarize } from '../../console/src/chart.js';
import {
  authorizeUrl,
  base64url,
  challengeOf,
  isSafeSignInDomain,
  logoutUrl,
  parseCognito,
  randomToken,
  tokenExpiry,
  tokenRequest,
} from '../../console/src/pkce.js';
import { apiBaseFrom, consoleUrlFrom, href, parseRoute } from '../../console/src/routes.js';

describe('routes', () => {
  it('parses every page, ids decoded, and refuses what is not one', () => {
    expect(parseRoute('')).toMatchObject({ name: 'jobs' });
    expect(parseRoute('#/')).toMatchObject({ name: 'jobs' });
    const jobs = parseRoute('#/jobs?q=nightly&tag=team%3Abilling');
    expect(jobs.name === 'jobs' && [jobs.query.get('q'), jobs.query.get('tag')]).toEqual([
      'nightly',
      'team:billing',
    ]);
    expect(parseRoute('#/jobs/job_1')).toEqual({ name: 'job', jobId: 'job_1' });
    expect(parseRoute('#/jobs/job_1/runs/run_2')).toEqual({ name: 'run', jobId: 'job_1', runId: 'run_2' });
    expect(parseRoute('#/jobs/a%2Fb')).toEqual({ name: 'job', jobId: 'a/b' });
    expect(parseRoute('#/dead-letters')).toEqual({ name: 'dead-letters' });
    expect(parseRoute('#/breakers')).toEqual({ name: 'breakers' });
    expect(parseRoute('#/keys')).toEqual({ name: 'keys' });
    expect(parseRoute('#/audit')).toEqual({ name: 'audit' });
    expect(parseRoute('#/jobs/job_1/runs')).toEqual({ name: 'not-found', path: '/jobs/job_1/runs' });
    expect(parseRoute('#/keys/extra')).toMatchObject({ name: 'not-found' });
    expect(parseRoute('#/jobs/%E0%A4%A')).toEqual({ name: 'job', jobId: '%E0%A4%A' });
  });

  it('builds links that parse back to the same page', () => {
    expect(parseRoute(href.run('job 1', 'run/2'))).toEqual({ name: 'run', jobId: 'job 1', runId: 'run/2' });
    expect(href.jobs({ q: '', tag: 'team:data', state: '' })).toBe('#/jobs?tag=team%3Adata');
    expect(href.jobs()).toBe('#/jobs');
  });

  it('finds the API base up to /console/, keeping a stage prefix', () => {
    expect(apiBaseFrom('http://127.0.0.1:3000/console/#/jobs')).toBe('http://127.0.0.1:3000');
    expect(apiBaseFrom('https://x.execute-api.eu-west-1.amazonaws.com/prod/console/?code=1#/keys')).toBe(
      'https://x.execute-api.eu-west-1.amazonaws.com/prod',
    );
    expect(consoleUrlFrom('https://h.example/prod/console/?code=abc&state=x#/jobs')).toBe(
      'https://h.example/prod/console/',
    );
  });
});

describe('PKCE and Cognito', () => {
  it('derives the S256 challenge of RFC 7636 appendix B', async () => {
    expect(await challengeOf('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe(
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    );
  });

  it('makes verifiers of 43 base64url characters, each different', async () => {
    const a = randomToken();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(randomToken()).not.toBe(a);
    expect(await challengeOf(a)).toBe(createHash('sha256').update(a).digest('base64url'));
    expect(base64url(new Uint8Array([251, 255, 191]))).toBe('-_-_');
  });

  it('asks the hosted UI for a code with the challenge, and trades it with the verifier', () => {
    const config = {
      domain: 'https://acme.auth.eu-west-1.amazoncognito.com/',
      clientId: 'c1',
      region: 'eu-west-1',
    };
    const url = new URL(
      authorizeUrl(config, { redirectUri: 'https://h.example/prod/console/', state: 's', challenge: 'ch' }),
    );
    expect(url.origin + url.pathname).toBe('https://acme.auth.eu-west-1.amazoncognito.com/oauth2/authorize');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: 'code',
      client_id: 'c1',
      redirect_uri: 'https://h.example/prod/console/',
      scope: 'openid email',
      state: 's',
      code_challenge: 'ch',
      code_challenge_method: 'S256',
    });
    const token = tokenRequest(config, {
      code: 'k',
      redirectUri: 'https://h.example/prod/console/',
      verifier: 'v',
    });
    expect(token.url).toBe('https://acme.auth.eu-west-1.amazoncognito.com/oauth2/token');
    expect(Object.fromEntries(token.body)).toEqual({
      grant_type: 'authorization_code',
      client_id: 'c1',
      code: 'k',
      redirect_uri: 'https://h.example/prod/console/',
      code_verifier: 'v',
    });
  });

  it('reads config.json and a token expiry defensively', () => {
    expect(parseCognito(null)).toBeNull();
    expect(parseCognito({ domain: 'http://insecure', clientId: 'c' })).toBeNull();
    expect(
      parseCognito({ domain: 'https://d.auth.r.amazoncognito.com', clientId: 'c', region: 'r' }),
    ).toEqual({
      domain: 'https://d.auth.r.amazoncognito.com',
      clientId: 'c',
      region: 'r',
    });
    // A local stand-in for the hosted UI, on this machine's loopback (RFC 8252 §8.3).
    expect(parseCognito({ domain: 'http://127.0.0.1:8123', clientId: 'c', region: 'local' })).toEqual({
      domain: 'http://127.0.0.1:8123',
      clientId: 'c',
      region: 'local',
    });
    expect(parseCognito({ domain: 'http://localhost:9000', clientId: 'c' })?.domain).toBe(
      'http://localhost:9000',
    );
    expect(parseCognito({ domain: 'https://d.auth.r.amazoncognito.com' })).toBeNull();
    const payload = Buffer.from(JSON.stringify({ exp: 1_900_000_000, email: 'a@b.c' })).toString('base64url');
    expect(tokenExpiry(`h.${payload}.sig`)).toBe(1_900_000_000);
    expect(tokenExpiry('not-a-jwt')).toBeUndefined();
  });
});

describe('the sign-in domain', () => {
  it('is https, or plain http on the loopback only', () => {
    for (const ok of [
      'https://acme.auth.eu-west-1.amazoncognito.com',
      'https://login.example.com/',
      'http://127.0.0.1:8123',
      'http://127.0.0.1',
      'http://localhost:3000',
      'http://LOCALHOST:3000',
      'http://[::1]:8080',
    ]) {
      expect(isSafeSignInDomain(ok), ok).toBe(true);
    }
    for (const refused of [
      'http://insecure',
      'http://example.com',
      'http://10.0.0.1',
      'http://127.0.0.2',
      'http://127.0.0.1.evil.example',
      'http://localhost.evil.example',
      'http://evil.example/?http://127.0.0.1',
      'http://127.0.0.1@evil.example',
      'https://user:pw@login.example.com',
      'ftp://127.0.0.1',
      'javascript:alert(1)',
      '//127.0.0.1',
      'not a url',
      '',
    ]) {
      expect(isSafeSignInDomain(refused), refused).toBe(false);
      expect(parseCognito({ domain: refused, clientId: 'c' }), refused).toBeNull();
    }
  });

  it('ends the hosted session at /logout, coming back to the console', () => {
    const url = new URL(
      logoutUrl(
        { domain: 'https://acme.auth.eu-west-1.amazoncognito.com/', clientId: 'c1', region: 'eu-west-1' },
        { logoutUri: 'https://h.example/prod/console/' },
      ),
    );
    expect(url.origin + url.pathname).toBe('https://acme.auth.eu-west-1.amazoncognito.com/logout');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: 'c1',
      logout_uri: 'https://h.example/prod/console/',
    });
  });
});

describe('the run chart', () => {
  const box = { width: 700, height: 200, left: 50, right: 10, top: 10, bottom: 30 };
  const run = (id: string, at: string, durationMs: number | null, status = 'succeeded') => ({
    id,
    status,
    scheduledAt: at,
    durationMs,
  });

  it('rounds the duration axis to 1, 2 or 5 × 10^k', () => {
    expect([0, 0.3, 1, 1.5, 3, 7, 120, 2400].map(niceStep)).toEqual([1, 0.5, 1, 2, 5, 10, 200, 5000]);
  });

  it('places runs by time and duration inside the box, oldest left', () => {
    const layout = layoutChart(
      [
        run('b', '2026-01-01T01:00:00Z', 900, 'failed'),
        run('a', '2026-01-01T00:00:00Z', 300),
        run('c', '2026-01-01T02:00:00Z', null, 'skipped'),
      ],
      box,
    );
    expect(layout.points.map((p) => p.id)).toEqual(['a', 'b', 'c']);
    expect(layout.points.map((p) => p.x)).toEqual([50, 370, 690]);
    expect(layout.yMax).toBe(1000);
    expect(layout.yTicks.map((t) => t.value)).toEqual([0, 500, 1000]);
    expect(layout.baseline).toBe(170);
    expect(layout.points[1]!.y).toBeCloseTo(170 - 0.9 * 160);
    // No duration: on the baseline.
    expect(layout.points[2]!.y).toBe(170);
  });

  it('centres a single run and survives no runs or no durations', () => {
    const one = layoutChart([run('a', '2026-01-01T00:00:00Z', 5)], box);
    expect(one.points[0]!.x).toBe(370);
    expect(layoutChart([], box)).toMatchObject({ points: [], yMax: 1 });
    expect(layoutChart([run('a', '2026-01-01T00:00:00Z', null, 'queued')], box).yMax).toBe(1);
  });

  it('says what it shows in words', () => {
    expect(summarize([{ status: 'succeeded' }, { status: 'timed_out' }, { status: 'succeeded' }])).toBe(
      '3 runs: 2 succeeded, 1 timed out',
    );
    expect(summarize([])).toBe('0 runs');
  });
});
