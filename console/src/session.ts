/**
 * Who the page acts as: an API key or a Cognito ID token, kept in sessionStorage so it lasts
 * for this browser tab's session only and is never written to disk by the page.
 */
import {
  authorizeUrl,
  type CognitoConfig,
  challengeOf,
  logoutUrl,
  parseCognito,
  randomToken,
  tokenExpiry,
  tokenRequest,
} from './pkce.js';
import { consoleUrlFrom } from './routes.js';

export interface Credential {
  kind: 'key' | 'cognito';
  token: string;
  /** Seconds since the epoch when an ID token expires. */
  expiresAt?: number;
  email?: string;
}

const CREDENTIAL = 'sundial.credential';
const PENDING = 'sundial.oauth';

export function loadCredential(): Credential | null {
  try {
    const raw = sessionStorage.getItem(CREDENTIAL);
    if (!raw) return null;
    const c = JSON.parse(raw) as Credential;
    if (c.expiresAt && c.expiresAt * 1000 < Date.now()) {
      sessionStorage.removeItem(CREDENTIAL);
      return null;
    }
    return typeof c.token === 'string' ? c : null;
  } catch {
    return null;
  }
}

export function saveCredential(credential: Credential): void {
  sessionStorage.setItem(CREDENTIAL, JSON.stringify(credential));
}

export function clearCredential(): void {
  sessionStorage.removeItem(CREDENTIAL);
  sessionStorage.removeItem(PENDING);
}

export async function loadConfig(): Promise<{ cognito: CognitoConfig | null }> {
  try {
    const response = await fetch('./config.json', { headers: { accept: 'application/json' } });
    if (!response.ok) return { cognito: null };
    const body = (await response.json()) as { cognito?: unknown };
    return { cognito: parseCognito(body.cognito) };
  } catch {
    return { cognito: null };
  }
}

/** Sends the browser to the hosted UI; it comes back to this page with `?code=&state=`. */
export async function startCognitoSignIn(config: CognitoConfig): Promise<void> {
  const verifier = randomToken(32);
  const state = randomToken(16);
  // Where to come back to inside the console after the round trip.
  const returnTo = location.hash || '#/jobs';
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, returnTo }));
  const challenge = await challengeOf(verifier);
  location.assign(authorizeUrl(config, { redirectUri: consoleUrlFrom(location.href), state, challenge }));
}

/**
 * Ends the hosted UI's own session too, so the next "Sign in with…" asks who you are again:
 * the browser goes to its /logout, which sends it back to the console (the stack registers
 * the console's URL as the client's sign-out URL). Call after clearing the credential.
 */
export function endHostedSession(config: CognitoConfig): void {
  location.assign(logoutUrl(config, { logoutUri: consoleUrlFrom(location.href) }));
}

/**
 * Finishes a sign-in when the page was opened by the hosted UI's redirect. Returns the
 * credential, null when this load is no redirect, or throws with what went wrong.
 */
export async function finishCognitoSignIn(config: CognitoConfig): Promise<Credential | null> {
  const params = new URLSearchParams(location.search);
  const code = params.get('code');
  const error = params.get('error');
  if (!code && !error) return null;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? 'null') as {
    verifier: string;
    state: string;
    returnTo: string;
  } | null;
  sessionStorage.removeItem(PENDING);
  // The code must not linger in the address bar or the history.
  history.replaceState(null, '', `${consoleUrlFrom(location.href)}${pending?.returnTo ?? '#/jobs'}`);
  if (error) throw new Error(`The sign-in page refused: ${params.get('error_description') ?? error}`);
  if (!pending || params.get('state') !== pending.state) {
    throw new Error('This sign-in answer does not match the one the console started; sign in again.');
  }
  const request = tokenRequest(config, {
    code: code!,
    redirectUri: consoleUrlFrom(location.href),
    verifier: pending.verifier,
  });
  const response = await fetch(request.url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: request.body,
  });
  const body = (await response.json().catch(() => ({}))) as {
    id_token?: string;
    error?: string;
    error_description?: string;
  };
  if (!response.ok || !body.id_token) {
    throw new Error(
      `Cognito did not issue a token: ${body.error_description ?? body.error ?? response.status}`,
    );
  }
  const credential: Credential = { kind: 'cognito', token: body.id_token };
  const exp = tokenExpiry(body.id_token);
  if (exp) credential.expiresAt = exp;
  try {
    const payload = JSON.parse(atob(body.id_token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/')));
    if (typeof payload.email === 'string') credential.email = payload.email;
  } catch {
    // The email is only shown in the header; the API reads the token itself.
  }
  return credential;
}
