/** Domain failures, each mapped to one HTTP status by the API layer. */

export interface FieldError {
  field: string;
  message: string;
}

export class ValidationError extends Error {
  constructor(readonly errors: FieldError[]) {
    super(errors.map((e) => `${e.field}: ${e.message}`).join('; '));
    this.name = 'ValidationError';
  }
  static of(field: string, message: string): ValidationError {
    return new ValidationError([{ field, message }]);
  }
}

export class NotFoundError extends Error {
  constructor(readonly resource: string) {
    super(`${resource} not found`);
    this.name = 'NotFoundError';
  }
}

/** The caller's version/ETag no longer matches the stored one. */
export class PreconditionFailedError extends Error {
  constructor(readonly currentVersion: number) {
    super(`the job was changed since version you sent; current version is ${currentVersion}`);
    this.name = 'PreconditionFailedError';
  }
}

/** Idempotency-Key reused with a different request body. */
export class IdempotencyConflictError extends Error {
  constructor() {
    super('this Idempotency-Key was already used with a different request body');
    this.name = 'IdempotencyConflictError';
  }
}

/** The request contradicts the state of another resource, e.g. deleting a job others depend on. */
export class ConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

/** A tenant quota or rate limit was reached; `retryAfterSeconds` says when to try again. */
export class QuotaExceededError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
    this.name = 'QuotaExceededError';
  }
}

/** A write sent to a passive region (issue 16): it belongs to the active one. */
export class RegionPassiveError extends Error {
  constructor(
    readonly region: string,
    readonly activeRegion: string,
  ) {
    super(
      `${region} is a passive region and takes no writes; send this request to ${activeRegion}, the active region`,
    );
    this.name = 'RegionPassiveError';
  }
}

/** The system is degraded past the step that refuses this (issue 17): try again later. */
export class DegradedError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
    this.name = 'DegradedError';
  }
}
