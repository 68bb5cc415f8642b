import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { Services } from '../commons/services.js';
import { createApiApp } from '../http/app.js';

/** The API handler over injected services; the Lambda entry and the local runtime both use it. */
export function createApiHandler(
  services: Pick<
    Services,
    | 'config'
    | 'jobService'
    | 'runStore'
    | 'firingQueue'
    | 'deadLetterStore'
    | 'clock'
    | 'logger'
    | 'healthChecks'
    | 'authenticate'
    | 'apiKeys'
    | 'audit'
    | 'rateLimiter'
    | 'signingSecrets'
  >,
): (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult> {
  return createApiApp({
    jobs: services.jobService,
    runs: services.runStore,
    queue: services.firingQueue,
    deadLetters: services.deadLetterStore,
    clock: services.clock,
    logger: services.logger,
    healthChecks: services.healthChecks,
    authenticate: services.authenticate,
    apiKeys: services.apiKeys,
    audit: services.audit,
    rateLimiter: services.rateLimiter,
    limits: services.config.limits,
    signingSecrets: services.signingSecrets,
  });
}
