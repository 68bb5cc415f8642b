/** Shared pieces of the end-to-end tests: a recording HTTP target and a small API client. */
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import { expect } from 'vitest';
import type { Clock } from '../../functions/commons/clock.js';
import { scheduledRunId } from '../../functions/domain/run.js';
import { type LocalRuntime, type LocalRuntimeOptions, startLocalRuntime } from '../../local/runtime.js';

export interface TargetCall {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * Listens on a free port where the local runtime lets HTTP targets be (LOCAL_HTTP_TARGETS:
 * 8000-8999); 8000-8099 are left for URLs that must never answer.
 */
export async function listenForTargets(server: Server): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = 8100 + Math.floor(Math.random() * 900);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
      return port;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt > 50) throw error;
    }
  }
}

/** A URL on the local target ports where nothing listens: a target that is never reached. */
export const NOWHERE = 'http://127.0.0.1:8009';

/** A local HTTP server standing in for a team's endpoint; answers per path. */
export class RecordingTarget {
  readonly calls: TargetCall[] = [];
  private server: Server | undefined;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      req.on('end', () => {
        const path = req.url ?? '/';
        this.calls.push({ method: req.method ?? '', path, headers: req.headers, body });
        if (path.startsWith('/hang')) return; // never answers
        if (path.startsWith('/slow')) {
          // Long enough that firings handled side by side overlap.
          setTimeout(() => res.writeHead(200).end('slow ok'), 400);
          return;
        }
        // /flaky-N fails its first N calls, then succeeds.
        const flaky = /^\/flaky-(\d+)/.exec(path);
        const failing =
          path.startsWith('/fail') || (flaky !== null && this.callsTo(path).length <= Number(flaky[1]));
        const status = failing ? 500 : 200;
        res
          .writeHead(status, { 'content-type': 'text/plain' })
          .end(status === 200 ? 'ok' : 'boom: database down');
      });
    });
    this.url = `http://127.0.0.1:${await listenForTargets(this.server)}`;
    return this;
  }

  callsTo(path: string): TargetCall[] {
    return this.calls.filter((c) => c.path === path);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

/** Calls the API; with a credential, as `Authorization: Bearer <credential>` (a header given per call wins). */
export function apiClient(baseUrl: string, credential?: string) {
  return async <T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiResponse<T>> => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(credential ? { authorization: `Bearer ${credential}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: (text ? JSON.parse(text) : {}) as T };
  };
}

/** Polls until `check` returns a value, failing with the last observation at the deadline. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  { timeoutMs = 20_000, intervalMs = 100, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Invariant 3 across a test file: every firing the Scheduler delivered ends as exactly one
 * run record (any outcome: succeeded, failed, skipped, missed, ...), unless its job was
 * deleted before the firing was worked on. Call `settle` after each test.
 */
export class FiringLedger {
  fired = 0;
  recorded = 0;
  droppedWithDeletedJob = 0;
  readonly byStatus: Record<string, number> = {};

  constructor(private readonly runtime: LocalRuntime) {}

  /** Accounts for the firings since the last call; returns those with no outcome. */
  async settle(): Promise<{ jobId: string; scheduledTime: string }[]> {
    const missing: { jobId: string; scheduledTime: string }[] = [];
    const seen = new Set<string>();
    const { runStore, jobStore } = this.runtime.services;
    for (const firing of this.runtime.firings.splice(0)) {
      const key = `${firing.jobId}@${firing.scheduledTime}`;
      if (seen.has(key)) continue;
      seen.add(key);
      this.fired++;
      const runId = scheduledRunId(new Date(firing.scheduledTime));
      const run = await runStore.get(firing.tenantId, firing.jobId, runId);
      if (run) {
        this.recorded++;
        this.byStatus[run.status] = (this.byStatus[run.status] ?? 0) + 1;
      } else if (!(await jobStore.get(firing.tenantId, firing.jobId))) {
        this.droppedWithDeletedJob++;
      } else {
        missing.push({ jobId: firing.jobId, scheduledTime: firing.scheduledTime });
      }
    }
    return missing;
  }
}

/** Deletes every job of the tenant; dependents go before the jobs they depend on. */
export async function deleteAllJobs(api: ReturnType<typeof apiClient>): Promise<void> {
  for (let round = 0; round < 10; round++) {
    const { body } = await api<{ items: { id: string }[] }>('GET', '/v1/jobs?limit=100');
    if (body.items.length === 0) return;
    // A job others depend on answers 409 until they are gone; the next round gets it.
    for (const job of body.items) await api('DELETE', `/v1/jobs/${job.id}`);
  }
  throw new Error('jobs left after 10 rounds of deletion');
}

/** A local runtime under a manual clock, with its API client and firing ledger. */
export interface ManualSuite {
  runtime: LocalRuntime;
  api: ReturnType<typeof apiClient>;
  ledger: FiringLedger;
}

export async function startManualSuite(
  clock: Clock,
  options: Omit<LocalRuntimeOptions, 'clock'> = {},
): Promise<ManualSuite> {
  const runtime = await startLocalRuntime({
    port: 0,
    clock,
    logLevel: 'SILENT',
    failedVisibilityTimeoutSeconds: 0,
    ...options,
  });
  return { runtime, api: apiClient(runtime.apiUrl, runtime.devApiKey), ledger: new FiringLedger(runtime) };
}

/**
 * After each test: nothing lost (every firing it caused has its one outcome), and no jobs
 * left, so a clock jump never replays another test's schedules.
 */
export async function settleTest({ runtime, api, ledger }: ManualSuite): Promise<void> {
  await runtime.drain();
  expect(await ledger.settle()).toEqual([]);
  await deleteAllJobs(api);
}

/** After the file: the count over all of it, N firings, N recorded outcomes. */
export async function settleFile(suite: ManualSuite | undefined): Promise<void> {
  if (!suite) return;
  expect(suite.ledger.recorded + suite.ledger.droppedWithDeletedJob).toBe(suite.ledger.fired);
  await suite.runtime.stop();
}

/** A local OIDC issuer for the JWT tests: one RS256 key, published as a JWKS. */
export interface TestIssuer {
  issuer: string;
  jwksUri: string;
  /** The key id tokens must carry in their header. */
  kid: string;
  privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  stop(): Promise<void>;
}

export async function startTestIssuer(kid = 'test-key'): Promise<TestIssuer> {
  const pair = await generateKeyPair('RS256');
  const publicJwk = { ...(await exportJWK(pair.publicKey)), kid, alg: 'RS256', use: 'sig' };
  const server = createServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] })),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const issuer = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    issuer,
    jwksUri: `${issuer}/.well-known/jwks.json`,
    kid,
    privateKey: pair.privateKey,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
