/**
 * Calls a job's HTTP target with its timeout and reports what happened. Redirects are not
 * followed (a 3xx is the outcome), and with a guard every connection is checked against
 * the address it actually reaches.
 */
import type { IncomingMessage } from 'node:http';
import type { TargetCallContext, TargetOutcome } from '../domain/ports.js';
import { BODY_EXCERPT_CHARS } from '../domain/run.js';
import { SIGNATURE_HEADER, signatureHeader } from '../domain/signature.js';
import type { HttpTarget } from '../domain/target.js';
import type { UrlGuard } from './url-guard.js';

/** What an HTTP call is made of: a job's HTTP target as stored, or a webhook. */
export type HttpCall = Pick<HttpTarget, 'url' | 'method' | 'headers' | 'body' | 'timeoutSeconds'>;

/** Given to a callback target: where it reports its outcome (POST) and heartbeats (POST …/heartbeat). */
export const CALLBACK_URL_HEADER = 'sundial-callback-url';

export interface HttpCallExtras {
  /** Signs the call: one v1 per secret over "<timestamp>.<body>". */
  signing?: { secrets: readonly string[]; timestamp: number };
  /** Decrypted secret headers, sent but never stored or logged in the clear. */
  secretHeaders?: Record<string, string>;
}

/**
 * Never throws: whatever goes wrong calling the target is this attempt's error. Node's http
 * throws synchronously for some (ERR_INVALID_URL; ERR_INVALID_CHAR for a header value stored
 * before values were checked), which would otherwise leave the run to end as a lost worker.
 */
export async function callHttpTarget(
  // As stored: secret header values come sealed, through extras.
  target: HttpCall,
  context: TargetCallContext,
  guard?: UrlGuard,
  extras: HttpCallExtras = {},
): Promise<TargetOutcome> {
  try {
    return await call(target, context, guard, extras);
  } catch (error) {
    return failed(error, [...Object.values(target.headers), ...Object.values(extras.secretHeaders ?? {})]);
  }
}

async function call(
  target: HttpCall,
  context: TargetCallContext,
  guard: UrlGuard | undefined,
  extras: HttpCallExtras,
): Promise<TargetOutcome> {
  const url = new URL(target.url);
  // An address in the URL is connected to without a lookup, so it is checked here.
  const literal = guard?.literalRefusal(url);
  if (literal) return refused(literal);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries({ ...target.headers, ...extras.secretHeaders })) {
    headers[name.toLowerCase()] = value;
  }
  // Lets receivers deduplicate: the run id is stable across redeliveries of one firing.
  const identity = {
    'x-sundial-job-id': context.jobId,
    'x-sundial-run-id': context.runId,
    'x-sundial-scheduled-time': context.scheduledAt,
  };
  for (const [name, value] of Object.entries(identity)) if (value) headers[name] = value;
  if (context.attempt !== undefined) headers['x-sundial-attempt'] = String(context.attempt);
  // A credential: sent to the target, never logged (only the header's name appears anywhere).
  if (context.callbackUrl) headers[CALLBACK_URL_HEADER] = context.callbackUrl;
  // The same key on every attempt and redelivery of one run: receivers can deduplicate on it.
  if (context.runId && context.jobId) headers['idempotency-key'] = context.runId;
  headers['user-agent'] ??= 'Sundial/0.1';
  const body = target.method === 'GET' || target.body === null ? undefined : Buffer.from(target.body);
  if (body) headers['content-length'] = String(body.length);
  if (extras.signing && extras.signing.secrets.length > 0) {
    headers[SIGNATURE_HEADER] = signatureHeader(
      extras.signing.secrets,
      extras.signing.timestamp,
      body?.toString('utf8') ?? '',
    );
  }

  // A synchronous throw from creating the request rejects this promise, caught by the caller.
  return new Promise<TargetOutcome>((resolve, reject) => {
    // Taken from Node when a call is made, not imported: an ES module import of node:http makes
    // Node load its fetch implementation (undici) for http's lazy exports, about 20 ms of every
    // cold start (`npm run bench -- --only bundles`).
    const { request: send } = process.getBuiltinModule(
      url.protocol === 'https:' ? 'node:https' : 'node:http',
    );
    const request = send(
      url,
      {
        method: target.method,
        headers,
        ...(guard ? { lookup: guard.connectLookup(url) } : {}),
      },
      (response) => {
        readExcerpt(response).then(
          (bodyExcerpt) => resolve({ kind: 'response', statusCode: response.statusCode ?? 0, bodyExcerpt }),
          (error: Error) => resolve({ kind: 'error', message: error.message }),
        );
      },
    );
    const timer = setTimeout(() => {
      resolve({ kind: 'timeout', message: `no response within ${target.timeoutSeconds}s` });
      request.destroy();
    }, target.timeoutSeconds * 1000);
    request.on('close', () => clearTimeout(timer));
    request.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === 'ESUNDIALBLOCKED') resolve(refused(error.message));
      else resolve({ kind: 'error', message: error.code ?? error.message });
    });
    try {
      request.end(body);
    } catch (error) {
      clearTimeout(timer);
      request.destroy();
      reject(error);
    }
  });
}

/** The error's code and message, with any header value cut out: it may be a secret. */
function failed(error: unknown, headerValues: readonly string[]): TargetOutcome {
  const { code, message } =
    error instanceof Error ? (error as NodeJS.ErrnoException) : { code: undefined, message: String(error) };
  let text = code && message ? `${code}: ${message}` : (code ?? message);
  // Shorter values are no credentials, and cutting them would garble the message.
  for (const value of headerValues) if (value.length >= 4) text = text.split(value).join('[redacted]');
  return { kind: 'error', message: text.slice(0, 500) };
}

function refused(message: string): TargetOutcome {
  return { kind: 'rejected', type: 'target_not_allowed', message, statusCode: null, bodyExcerpt: null };
}

/** Reads at most the excerpt, so a huge response cannot exhaust the worker's memory. */
function readExcerpt(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      text += chunk;
      if (text.length >= BODY_EXCERPT_CHARS) {
        response.destroy();
        resolve(text.slice(0, BODY_EXCERPT_CHARS));
      }
    });
    response.on('end', () => resolve(text.slice(0, BODY_EXCERPT_CHARS)));
    response.on('error', reject);
    response.on('close', () => resolve(text.slice(0, BODY_EXCERPT_CHARS)));
  });
}
