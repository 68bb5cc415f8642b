/** Calls a job's HTTP target with its timeout and reports what happened. */

import { BODY_EXCERPT_CHARS } from '../domain/run.js';
import type { HttpTarget } from '../domain/target.js';
import type { TargetCallContext, TargetOutcome } from './targets.js';

export const callHttpTarget: (target: HttpTarget, context: TargetCallContext) => Promise<TargetOutcome> =
  async (target, context) => {
    const headers = new Headers(target.headers);
    // Lets receivers deduplicate: the run id is stable across redeliveries of one firing.
    headers.set('x-sundial-job-id', context.jobId);
    headers.set('x-sundial-run-id', context.runId);
    headers.set('x-sundial-scheduled-time', context.scheduledAt);
    if (!headers.has('user-agent')) headers.set('user-agent', 'Sundial/0.1');
    try {
      const response = await fetch(target.url, {
        method: target.method,
        headers,
        body: target.method === 'GET' || target.body === null ? undefined : target.body,
        redirect: 'manual',
        signal: AbortSignal.timeout(target.timeoutSeconds * 1000),
      });
      const text = await readExcerpt(response);
      return { kind: 'response', statusCode: response.status, bodyExcerpt: text };
    } catch (error) {
      const err = error as Error;
      if (err.name === 'TimeoutError' || err.name === 'AbortError') {
        return { kind: 'timeout', message: `no response within ${target.timeoutSeconds}s` };
      }
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      return { kind: 'error', message: cause?.code ?? cause?.message ?? err.message };
    }
  };

/** Reads at most the excerpt, so a huge response cannot exhaust the worker's memory. */
async function readExcerpt(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (text.length < BODY_EXCERPT_CHARS) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  await reader.cancel().catch(() => undefined);
  return text.slice(0, BODY_EXCERPT_CHARS);
}
