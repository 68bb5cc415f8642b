/**
 * OAuth2 authorization code with PKCE (RFC 7636) against a Cognito user pool's hosted UI.
 * Pure helpers (WebCrypto only), so Node's tests exercise the same code the browser runs.
 */

export interface CognitoConfig {
  /** `https://<prefix>.auth.<region>.amazoncognito.com` */
  domain: string;
  clientId: string;
  region: string;
}

export const SCOPE = 'openid email';

export function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A code verifier: 32 random bytes, 43 characters of base64url (RFC 7636 §4.1 wants 43–128). */
export function randomToken(bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** S256: base64url(SHA-256(verifier)). */
export async function challengeOf(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

function domainOf(config: CognitoConfig): string {
  return config.domain.replace(/\/+$/, '');
}

export function authorizeUrl(
  config: CognitoConfig,
  { redirectUri, state, challenge }: { redirectUri: string; state: string; challenge: string },
): string {
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: config.clientId,
    redirect_uri: redirectUri,
    scope: SCOPE,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  return `${domainOf(config)}/oauth2/authorize?${query}`;
}

export function tokenRequest(
  config: CognitoConfig,
  { code, redirectUri, verifier }: { code: string; redirectUri: string; verifier: string },
): { url: string; body: URLSearchParams } {
  return {
    url: `${domainOf(config)}/oauth2/token`,
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: config.clientId,
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
    }),
  };
}

/** The `exp` of a JWT (seconds), without verifying it: the API verifies; the page only wants to know when to stop. */
export function tokenExpiry(jwt: string): number | undefined {
  const payload = jwt.split('.')[1];
  if (!payload) return undefined;
  try {
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where the hosted UI ends its own session and sends the browser back (Cognito's `/logout`);
 * `logoutUri` must be one of the client's sign-out URLs.
 */
export function logoutUrl(config: CognitoConfig, { logoutUri }: { logoutUri: string }): string {
  const query = new URLSearchParams({ client_id: config.clientId, logout_uri: logoutUri });
  return `${domainOf(config)}/logout?${query}`;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Whether the page may trade codes for tokens at `domain`: https, or plain http on this
 * machine's loopback only (as OAuth 2.0 for native apps, RFC 8252 §8.3, allows), where a
 * local stand-in for the hosted UI runs.
 */
export function isSafeSignInDomain(domain: string): boolean {
  let url: URL;
  try {
    url = new URL(domain);
  } catch {
    return false;
  }
  if (url.username || url.password) return false;
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
}

/** Is `config.json`'s cognito entry usable? A half-filled one is treated as none. */
export function parseCognito(value: unknown): CognitoConfig | null {
  if (!value || typeof value !== 'object') return null;
  const { domain, clientId, region } = value as Record<string, unknown>;
  if (typeof domain !== 'string' || typeof clientId !== 'string' || !isSafeSignInDomain(domain)) return null;
  return { domain, clientId, region: typeof region === 'string' ? region : '' };
}
