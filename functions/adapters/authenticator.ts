/**
 * Authentication: `Authorization: Bearer <credential>`, where the credential is an API
 * key (`sk_…`) or a JWT from the configured OIDC issuer (by default the stack's Cognito
 * user pool). The tenant and role come from the key's record or the token's claims.
 *
 * Failing is bounded: a malformed key is refused without a read, and every credential
 * checked reserves one failure from its source's bucket (`FailureLimiter`: 20 per 10 s per
 * source IP), given back when it authenticates; a source out of failures is answered 429
 * with Retry-After, touching neither the table nor the token's signature.
 *
 * Under load a caller's credential is checked once, not once per request: a key verified
 * moments ago is accepted without a read (`ApiKeyStore.recentlyAccepted`) and without a
 * reservation, and requests presenting the same credential while it is being checked wait
 * for that one check, so a burst from one address with a valid credential takes one
 * reservation, not one per request.
 */
import { createHash } from 'node:crypto';
import type { createRemoteJWKSet, JWTPayload } from 'jose';
import { lazy } from '../commons/lazy.js';
import {
  FailureLimiter,
  ForbiddenError,
  highestRole,
  type Principal,
  TENANT_ID,
  UnauthorizedError,
} from '../domain/auth.js';
import { QuotaExceededError } from '../domain/errors.js';
import { type ApiKeyStore, isApiKey, isWellFormedApiKey } from './api-key-store.js';

export interface JwtConfig {
  issuer: string;
  /** Accepted as the token's `aud` (ID tokens) or `client_id` (Cognito access tokens). */
  audience: string;
  /** Default: `<issuer>/.well-known/jwks.json`, where Cognito publishes its keys. */
  jwksUri?: string;
  /** The claim naming the tenant. Default `custom:tenant`. */
  tenantClaim?: string;
  /** The claim naming the role (a string or a list, e.g. Cognito groups). Default `cognito:groups`. */
  roleClaim?: string;
}

/** `sourceIp`: the caller's address as API Gateway saw it (`requestContext.identity.sourceIp`). */
export type Authenticate = (authorization: string | undefined, sourceIp?: string) => Promise<Principal>;

export interface AuthenticatorOptions {
  /** Epoch milliseconds; for the failure limiter and the token's time claims. Default `Date.now`. */
  now?: () => number;
  limiter?: FailureLimiter;
}

/**
 * The longest a token may live: refused when its `exp` is more than this after its `iat`,
 * or more than this (and a minute of clock skew) after now, with or without `iat` (so an
 * `iat` set in the future gains nothing). Cognito issues ID and access tokens for at most
 * one day (5 minutes to 24 hours, 1 hour by default), so a longer one is not a token of
 * the user pool, and the cap bounds how long a leaked token works.
 */
export const MAX_TOKEN_LIFETIME_SECONDS = 24 * 60 * 60;
const CLOCK_SKEW_SECONDS = 60;

export function createAuthenticator(
  keys: ApiKeyStore,
  jwt?: JwtConfig,
  options: AuthenticatorOptions = {},
): Authenticate {
  // jose (a chunk of its own) is loaded at the first token: an API key never needs it.
  const jwks = jwt
    ? lazy(async () =>
        (await import('jose')).createRemoteJWKSet(
          new URL(jwt.jwksUri ?? `${jwt.issuer.replace(/\/$/, '')}/.well-known/jwks.json`),
        ),
      )
    : undefined;
  const now = options.now ?? Date.now;
  const limiter = options.limiter ?? new FailureLimiter();

  /** Runs a check of a credential against the source's failure budget. */
  const limited = async <T>(sourceIp: string | undefined, check: () => Promise<T>): Promise<T> => {
    const retryAfter = limiter.take(sourceIp, now());
    if (retryAfter !== null) {
      throw new QuotaExceededError(
        `too many failed authentications from this address (${limiter.capacity} per ${limiter.windowMs / 1000} s); retry after ${retryAfter} s`,
        retryAfter,
      );
    }
    const result = await check();
    limiter.refund(sourceIp, now());
    return result;
  };

  /** Checks in progress, by the SHA-256 of the credential: a second request shares the first's. */
  const checking = new Map<string, Promise<Principal>>();

  return async (authorization, sourceIp) => {
    const credential = /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? '')?.[1];
    if (!credential) {
      throw new UnauthorizedError('send Authorization: Bearer <API key or token>');
    }
    if (isApiKey(credential) && isWellFormedApiKey(credential)) {
      const recent = keys.recentlyAccepted(credential);
      if (recent) return recent;
    }
    const fingerprint = createHash('sha256').update(credential).digest('base64url');
    const pending = checking.get(fingerprint);
    if (pending) return pending;
    const check = authenticate(credential, sourceIp).finally(() => checking.delete(fingerprint));
    checking.set(fingerprint, check);
    return check;
  };

  async function authenticate(credential: string, sourceIp: string | undefined): Promise<Principal> {
    if (isApiKey(credential)) {
      if (!isWellFormedApiKey(credential)) {
        throw new UnauthorizedError(
          'the API key is malformed (expected sk_<26-character id>_<43-character secret>)',
        );
      }
      return limited(sourceIp, async () => {
        const principal = await keys.verify(credential);
        if (!principal) throw new UnauthorizedError('the API key is unknown or revoked');
        return principal;
      });
    }
    if (!jwt || !jwks) throw new UnauthorizedError('tokens are not accepted here; use an API key');
    const claims = await limited(sourceIp, async () => verifyToken(credential, jwt, await jwks(), now()));
    const tenantId = claims[jwt.tenantClaim ?? 'custom:tenant'];
    if (typeof tenantId !== 'string' || !TENANT_ID.test(tenantId)) {
      throw new ForbiddenError(`the token carries no tenant (claim ${jwt.tenantClaim ?? 'custom:tenant'})`);
    }
    const roles = claims[jwt.roleClaim ?? 'cognito:groups'];
    const role = highestRole(Array.isArray(roles) ? roles : [roles]);
    if (!role) {
      throw new ForbiddenError(
        `the token carries no role (claim ${jwt.roleClaim ?? 'cognito:groups'}: admin, operator or viewer)`,
      );
    }
    return { tenantId, role, subject: String(claims.sub ?? 'unknown') };
  }
}

/** The claims of an authentic, current token for this audience, or UnauthorizedError. */
async function verifyToken(
  credential: string,
  jwt: JwtConfig,
  jwks: ReturnType<typeof createRemoteJWKSet>,
  nowMs: number,
): Promise<JWTPayload> {
  let claims: JWTPayload;
  const { jwtVerify } = await import('jose');
  try {
    ({ payload: claims } = await jwtVerify(credential, jwks, {
      issuer: jwt.issuer,
      requiredClaims: ['exp'],
      currentDate: new Date(nowMs),
    }));
  } catch (error) {
    throw new UnauthorizedError(`the token is not valid: ${(error as Error).message}`);
  }
  const exp = claims.exp as number;
  const nowSeconds = Math.floor(nowMs / 1000);
  if (typeof claims.iat === 'number' && exp - claims.iat > MAX_TOKEN_LIFETIME_SECONDS) {
    throw new UnauthorizedError(
      `the token lives ${exp - claims.iat} s (exp - iat); at most ${MAX_TOKEN_LIFETIME_SECONDS} s are accepted`,
    );
  }
  if (exp - nowSeconds > MAX_TOKEN_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS) {
    throw new UnauthorizedError(
      `the token expires ${exp - nowSeconds} s from now; at most ${MAX_TOKEN_LIFETIME_SECONDS} s are accepted`,
    );
  }
  const byAudience = [claims.aud].flat().includes(jwt.audience);
  const byClientId = claims.client_id === jwt.audience;
  if (!byAudience && !byClientId) throw new UnauthorizedError('the token is for another audience');
  // Cognito: an ID token names the app client in `aud` (token_use=id), an access token in
  // `client_id` (token_use=access); a token matched the other way round is not what it claims.
  const cognito = claims.token_use !== undefined || /^https:\/\/cognito-idp\./.test(String(claims.iss));
  if (cognito) {
    const use = claims.token_use;
    const fits = (byAudience && use === 'id') || (byClientId && use === 'access');
    if (!fits) {
      throw new UnauthorizedError(
        `the token's token_use is ${use === undefined ? 'missing' : JSON.stringify(use)}; ` +
          `a Cognito ID token (token_use "id") must name this client in aud, an access token (token_use "access") in client_id`,
      );
    }
  }
  return claims;
}
