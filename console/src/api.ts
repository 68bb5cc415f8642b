/** The typed client (client/index.ts), pointed at the API this page was served by. */
import { ApiError, createSundialClient, must, type SundialClient } from '../../client/index.js';
import { apiBaseFrom } from './routes.js';

export type { SundialClient };
export { ApiError, must };

export function clientFor(token: string): SundialClient {
  return createSundialClient({ baseUrl: apiBaseFrom(location.href), apiKey: token });
}

export const FINAL_STATUSES = new Set(['succeeded', 'failed', 'skipped', 'missed', 'timed_out', 'cancelled']);

export function isFinal(status: string): boolean {
  return FINAL_STATUSES.has(status);
}

/** The viewer's own zone, as the browser knows it. */
export function viewerZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}
