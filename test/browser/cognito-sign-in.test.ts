/**
 * The console's hosted sign-in in a real browser: the OAuth2 authorization code flow with
 * PKCE against a fake authorization server standing in for Cognito's hosted UI (on the
 * loopback), whose ID tokens the local runtime accepts. Signs in as an operator of tenant
 * dev, checks the token the page keeps and sends, refuses a tampered `state`, and signs out
 * through the hosted UI's /logout. The page may talk to the runtime and that server only.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { SignJWT } from 'jose';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSundialClient, must, type SundialClient } from '../../client/index.js';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.js';
import { NOWHERE, startTestIssuer, type TestIssuer } from '../e2e/support.js';
import { type Browser, checkA11y, chromiumPath, openBrowser, poll } from './browser.js';

const CLIENT_ID = 'sundial-console-test-client';
const EMAIL = 'operator@example.test';
const CREDENTIAL = 'sundial.credential';
const SIGN_IN_BUTTON = 'Sign in with your organisation account';

interface IssuedCode {
  challenge: string;
  redirectUri: string;
}

/**
 * Cognito's hosted UI as the console sees it: /oauth2/authorize (a user who is signed in
 * already: straight back with a code), /oauth2/token (the code for an ID token, checked
 * against its PKCE challenge, once) and /logout. What it finds wrong lands in `problems`
 * and is answered 400, as Cognito would.
 */
class FakeAuthorizationServer {
  readonly problems: string[] = [];
  readonly authorizeCalls: URLSearchParams[] = [];
  readonly tokenCalls: { form: URLSearchParams; origin: string | undefined; status: number }[] = [];
  readonly logoutCalls: URLSearchParams[] = [];
  readonly idTokens: string[] = [];
  /** The next authorize sends the browser back with this `state` instead of the one asked for. */
  tamperNextState: string | undefined;
  /** Set once the runtime is up: the only redirect and logout URI the client has. */
  consoleUrl = '';
  domain = '';
  private readonly codes = new Map<string, IssuedCode>();
  private server: Server | undefined;

  constructor(private readonly issuer: TestIssuer) {}

  private get consoleOrigin(): string {
    return new URL(this.consoleUrl).origin;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req).then(
        ({ status, headers, body }) => res.writeHead(status, headers).end(body),
        (error: unknown) => {
          this.problems.push(`the fake server failed: ${String(error)}`);
          res.writeHead(500).end();
        },
      );
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.domain = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private refuse(what: string, status = 400, headers: Record<string, string> = {}) {
    this.problems.push(what);
    return {
      status,
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ error: 'invalid_request', error_description: what }),
    };
  }

  private async handle(
    req: IncomingMessage,
  ): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    const url = new URL(req.url ?? '/', this.domain);
    const body = await new Promise<string>((resolve, reject) => {
      let text = '';
      req.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      req.on('end', () => resolve(text));
      req.on('error', reject);
    });

    if (req.method === 'GET' && url.pathname === '/oauth2/authorize') {
      const q = url.searchParams;
      this.authorizeCalls.push(q);
      if (q.get('response_type') !== 'code') return this.refuse(`response_type ${q.get('response_type')}`);
      if (q.get('client_id') !== CLIENT_ID) return this.refuse(`client_id ${q.get('client_id')}`);
      if (q.get('redirect_uri') !== this.consoleUrl)
        return this.refuse(`redirect_uri ${q.get('redirect_uri')}`);
      if (q.get('code_challenge_method') !== 'S256')
        return this.refuse(`code_challenge_method ${q.get('code_challenge_method')}`);
      const challenge = q.get('code_challenge') ?? '';
      if (!/^[A-Za-z0-9_-]{43}$/.test(challenge)) return this.refuse(`code_challenge ${challenge}`);
      const state = q.get('state');
      if (!state) return this.refuse('no state');
      if (!(q.get('scope') ?? '').split(' ').includes('openid'))
        return this.refuse(`scope ${q.get('scope')}`);
      const code = randomBytes(24).toString('base64url');
      this.codes.set(code, { challenge, redirectUri: this.consoleUrl });
      const back = new URL(this.consoleUrl);
      back.searchParams.set('code', code);
      back.searchParams.set('state', this.tamperNextState ?? state);
      this.tamperNextState = undefined;
      return { status: 302, headers: { location: back.toString(), 'cache-control': 'no-store' }, body: '' };
    }

    if (url.pathname === '/oauth2/token') {
      // The browser's fetch, from the console's origin: Cognito's token endpoint answers it with CORS.
      const cors = { 'access-control-allow-origin': this.consoleOrigin, vary: 'Origin' };
      if (req.method === 'OPTIONS') {
        return {
          status: 204,
          headers: {
            ...cors,
            'access-control-allow-methods': 'POST',
            'access-control-allow-headers': 'content-type, authorization',
          },
          body: '',
        };
      }
      const origin = req.headers.origin;
      const form = new URLSearchParams(body);
      const answer = (status: number, json: unknown) => {
        this.tokenCalls.push({ form, origin, status });
        return {
          status,
          headers: { ...cors, 'content-type': 'application/json', 'cache-control': 'no-store' },
          body: JSON.stringify(json),
        };
      };
      const fail = (what: string, error = 'invalid_request') => {
        this.problems.push(what);
        return answer(400, { error, error_description: what });
      };
      if (req.method !== 'POST') return fail(`token endpoint called with ${req.method}`);
      if (!/^application\/x-www-form-urlencoded\b/.test(req.headers['content-type'] ?? ''))
        return fail(`content-type ${req.headers['content-type']}`);
      if (origin !== this.consoleOrigin) return fail(`origin ${origin}`);
      if (form.get('grant_type') !== 'authorization_code')
        return fail(`grant_type ${form.get('grant_type')}`, 'unsupported_grant_type');
      if (form.get('client_id') !== CLIENT_ID)
        return fail(`client_id ${form.get('client_id')}`, 'invalid_client');
      const code = form.get('code') ?? '';
      const issued = this.codes.get(code);
      // A code is good once.
      this.codes.delete(code);
      if (!issued) return fail(`unknown or used code ${code}`, 'invalid_grant');
      if (form.get('redirect_uri') !== issued.redirectUri)
        return fail(`redirect_uri ${form.get('redirect_uri')}`, 'invalid_grant');
      const verifier = form.get('code_verifier') ?? '';
      if (createHash('sha256').update(verifier).digest('base64url') !== issued.challenge)
        return fail('code_verifier does not match the code_challenge', 'invalid_grant');
      const now = Math.floor(Date.now() / 1000);
      const idToken = await new SignJWT({
        iss: this.issuer.issuer,
        sub: 'user-operator-1',
        aud: CLIENT_ID,
        token_use: 'id',
        iat: now,
        exp: now + 3600,
        email: EMAIL,
        'custom:tenant': 'dev',
        'cognito:groups': ['operator'],
      })
        .setProtectedHeader({ alg: 'RS256', kid: this.issuer.kid })
        .sign(this.issuer.privateKey);
      this.idTokens.push(idToken);
      return answer(200, {
        id_token: idToken,
        access_token: randomBytes(32).toString('base64url'),
        token_type: 'Bearer',
        expires_in: 3600,
      });
    }

    if (req.method === 'GET' && url.pathname === '/logout') {
      const q = url.searchParams;
      this.logoutCalls.push(q);
      if (q.get('client_id') !== CLIENT_ID) return this.refuse(`logout client_id ${q.get('client_id')}`);
      if (q.get('logout_uri') !== this.consoleUrl) return this.refuse(`logout_uri ${q.get('logout_uri')}`);
      return { status: 302, headers: { location: this.consoleUrl, 'cache-control': 'no-store' }, body: '' };
    }

    return this.refuse(`${req.method} ${url.pathname}: no such endpoint`, 404);
  }
}

let issuer: TestIssuer;
let authServer: FakeAuthorizationServer;
let runtime: LocalRuntime;
let api: SundialClient;
let browser: Browser;
let page: Page;
let consoleUrl: string;

function storedCredential(): Promise<unknown> {
  return page.evaluate(`JSON.parse(sessionStorage.getItem(${JSON.stringify(CREDENTIAL)}) ?? 'null')`);
}

async function signInPage(): Promise<void> {
  await page.getByRole('heading', { level: 1, name: 'Sign in to Sundial' }).waitFor();
}

/** After a hosted sign-out: /logout called `count` times, the browser back on the console, loaded. */
async function backFromLogout(count: number): Promise<void> {
  await poll(() => authServer.logoutCalls.length).toBe(count);
  await page.waitForURL((url) => url.href === consoleUrl);
  await signInPage();
}

beforeAll(async () => {
  chromiumPath(); // fails at once, naming the fix, when Chromium is missing
  issuer = await startTestIssuer('console-k1');
  authServer = await new FakeAuthorizationServer(issuer).start();
  runtime = await startLocalRuntime({
    port: 0,
    logLevel: 'SILENT',
    jwt: { issuer: issuer.issuer, audience: CLIENT_ID, jwksUri: issuer.jwksUri },
    consoleSignIn: { domain: authServer.domain, clientId: CLIENT_ID },
  });
  consoleUrl = `${runtime.apiUrl}/console/`;
  authServer.consoleUrl = consoleUrl;
  api = createSundialClient({ baseUrl: runtime.apiUrl, apiKey: runtime.devApiKey });
  await must(
    api.POST('/v1/jobs', {
      body: {
        name: 'quarterly-close',
        description: 'Closes the books once a year; never reached in this test.',
        schedule: { expression: 'cron(0 9 1 1 ? *)', timezone: 'UTC' },
        target: { type: 'http', url: `${NOWHERE}/close`, method: 'POST' },
        tags: { team: 'finance' },
      },
    }),
  );

  browser = await openBrowser({ profilePrefix: 'sundial-cognito-' });
  page = browser.page;
});

afterAll(async () => {
  await browser?.close();
  await runtime?.stop();
  await authServer?.stop();
  await issuer?.stop();
});

describe('the console signed in with the hosted UI (authorization code + PKCE)', () => {
  it('offers the hosted sign-in, accessibly, with a CSP allowing exactly that origin', async () => {
    const response = await page.goto(consoleUrl);
    expect(response?.headers()['content-security-policy']).toContain(
      `connect-src 'self' ${authServer.domain};`,
    );
    await signInPage();
    await page.getByRole('button', { name: SIGN_IN_BUTTON }).waitFor();
    await checkA11y(page, 'sign-in (with the hosted UI)');
  });

  it('signs in as an operator of tenant dev, the ID token kept for the tab and sent as bearer', async () => {
    const jobsAnswer = page.waitForResponse(
      (r) =>
        r.url().startsWith(runtime.apiUrl) &&
        new URL(r.url()).pathname === '/v1/jobs' &&
        r.request().method() === 'GET',
    );
    await page.getByRole('button', { name: SIGN_IN_BUTTON }).click();
    await page.getByRole('heading', { level: 1, name: 'Jobs' }).waitFor();
    await page.getByRole('row', { name: /quarterly-close/ }).waitFor();
    await poll(() => page.getByRole('row', { name: /quarterly-close/ }).textContent()).toContain(
      'team:finance',
    );

    // The round trip: one authorize with a challenge, one code traded once with its verifier.
    expect(authServer.problems).toEqual([]);
    expect(authServer.authorizeCalls).toHaveLength(1);
    expect(authServer.tokenCalls.map((c) => c.status)).toEqual([200]);
    expect(authServer.tokenCalls[0]!.origin).toBe(new URL(runtime.apiUrl).origin);
    expect(authServer.idTokens).toHaveLength(1);
    const idToken = authServer.idTokens[0]!;

    // What the page keeps: the fake server's ID token, in sessionStorage, nothing pending.
    expect(await storedCredential()).toMatchObject({ kind: 'cognito', token: idToken, email: EMAIL });
    expect(await page.evaluate("sessionStorage.getItem('sundial.oauth')")).toBeNull();
    expect(await page.evaluate('localStorage.length')).toBe(0);

    // What it sends: the token as bearer, and the API takes it.
    const answered = await jobsAnswer;
    expect(answered.status()).toBe(200);
    expect(await answered.request().headerValue('authorization')).toBe(`Bearer ${idToken}`);

    // The code and state do not linger in the address bar.
    const address = new URL(page.url());
    expect(address.search).toBe('');
    expect(address.origin + address.pathname).toBe(consoleUrl);
    expect(address.hash).toBe('#/jobs');
    await poll(() => page.locator('.who').textContent()).toContain(EMAIL);

    // A reload finds the session and trades no code again.
    await page.reload();
    await page.getByRole('row', { name: /quarterly-close/ }).waitFor();
    expect(authServer.tokenCalls).toHaveLength(1);
  });

  it('hides the admin pages from an operator', async () => {
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Dead letters' }).waitFor();
    expect(await nav.getByRole('link', { name: 'Jobs' }).count()).toBe(1);
    expect(await nav.getByRole('link', { name: 'API keys' }).count()).toBe(0);
    expect(await nav.getByRole('link', { name: 'Audit log' }).count()).toBe(0);
    expect(await page.locator('.who').textContent()).not.toContain('admin');
  });

  it('signs out through the hosted UI’s /logout, leaving sessionStorage empty', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await backFromLogout(1);
    expect(Object.fromEntries(authServer.logoutCalls[0]!)).toEqual({
      client_id: CLIENT_ID,
      logout_uri: consoleUrl,
    });
    expect(authServer.problems).toEqual([]);
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
  });

  it('refuses an answer whose state was tampered with, storing no token', async () => {
    await page.goto(`${consoleUrl}#/jobs`);
    authServer.tamperNextState = 'forged-state-from-someone-else';
    const calls = authServer.tokenCalls.length;
    await page.getByRole('button', { name: SIGN_IN_BUTTON }).click();
    await signInPage();
    await poll(() => page.getByRole('status').first().textContent()).toBe(
      'This sign-in answer does not match the one the console started; sign in again.',
    );
    // Not traded, not kept, not left in the address bar.
    expect(authServer.tokenCalls).toHaveLength(calls);
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    expect(new URL(page.url()).search).toBe('');
    expect(await page.getByRole('navigation', { name: 'Main' }).count()).toBe(0);
    // And the next honest round trip signs in.
    await page.getByRole('button', { name: SIGN_IN_BUTTON }).click();
    await page.getByRole('row', { name: /quarterly-close/ }).waitFor();
    expect(authServer.problems).toEqual([]);
    expect((await storedCredential()) as { token: string }).toMatchObject({
      kind: 'cognito',
      token: authServer.idTokens.at(-1),
    });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await backFromLogout(2);
  });

  it('keeps an API key’s sign-out in the page (no /logout)', async () => {
    await page.getByLabel('API key').fill(runtime.devApiKey);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('row', { name: /quarterly-close/ }).waitFor();
    expect(
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API keys' }).count(),
    ).toBe(1);
    const logouts = authServer.logoutCalls.length;
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signInPage();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    expect(authServer.logoutCalls).toHaveLength(logouts);
    expect(new URL(page.url()).origin).toBe(new URL(runtime.apiUrl).origin);
  });

  it('asked nothing of any origin but the runtime’s and the sign-in server’s, and broke no CSP rule', () => {
    const allowed = new Set([new URL(runtime.apiUrl).origin, authServer.domain]);
    expect(browser.requests.length).toBeGreaterThan(5);
    expect(browser.requests.filter((url) => !allowed.has(new URL(url).origin))).toEqual([]);
    expect(browser.requests.some((url) => url.startsWith(`${authServer.domain}/oauth2/token`))).toBe(true);
    expect(authServer.problems).toEqual([]);
    expect(browser.cspViolations).toEqual([]);
    expect(browser.pageErrors).toEqual([]);
  });
});
