/**
 * Who is calling: a principal carries its tenant and role, taken from an API key or a
 * verified token, never from the request body (invariant 5).
 */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  tenantId: string;
  /** Who, for audit records: `key:<id>` or the token's subject. */
  subject: string;
  role: Role;
}

/** viewer reads; operator also creates, changes, pauses and runs; admin also manages keys. */
export function hasRole(principal: Principal, needed: Role): boolean {
  return ROLES.indexOf(principal.role) >= ROLES.indexOf(needed);
}

/** The highest role named among `values` (e.g. a token's groups), or null. */
export function highestRole(values: readonly unknown[]): Role | null {
  let best: Role | null = null;
  for (const value of values) {
    if (typeof value !== 'string' || !(ROLES as readonly string[]).includes(value)) continue;
    if (best === null || ROLES.indexOf(value as Role) > ROLES.indexOf(best)) best = value as Role;
  }
  return best;
}

/** A tenant id: what keys and tokens may carry. */
export const TENANT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

export class UnauthorizedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnauthorizedError';
  }
}

export class ForbiddenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ForbiddenError';
  }
}
