/**
 * Authentication: `Authorization: Bearer <credential>`, where the credential is an API
 * key (`sk_…`) or a JWT from the configured OIDC issuer (by default the stack's Cognito
 * user pool). The tenant and role come from the key's record or the token's claims.
 */
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from 'jose';
import { ForbiddenError, highestRole, type Principal, TENANT_ID, UnauthorizedError } from '../domain/auth.js';
import { type ApiKeyStore, isApiKey } from './api-key-store.js';

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

export type Authenticate = (authorization: string | undefined) => Promise<Principal>;

export function createAuthenticator(keys: ApiKeyStore, jwt?: JwtConfig): Authenticate {
  const jwks = jwt
    ? createRemoteJWKSet(new URL(jwt.jwksUri ?? `${jwt.issuer.replace(/\/$/, '')}/.well-known/jwks.json`))
    : undefined;
  return async (authorization) => {
    const credential = /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? '')?.[1];
    if (!credential) {
      throw new UnauthorizedError('send Authorization: Bearer <API key or token>');
    }
    if (isApiKey(credential)) {
      const principal = await keys.verify(credential);
      if (!principal) throw new UnauthorizedError('the API key is unknown or revoked');
      return principal;
    }
    if (!jwt || !jwks) throw new UnauthorizedError('tokens are not accepted here; use an API key');
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(credential, jwks, { issuer: jwt.issuer }));
    } catch (error) {
      throw new UnauthorizedError(`the token is not valid: ${(error as Error).message}`);
    }
    const audiences = [claims.aud, claims.client_id].flat().filter((a) => typeof a === 'string');
    if (!audiences.includes(jwt.audience)) throw new UnauthorizedError('the token is for another audience');
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
  };
}
