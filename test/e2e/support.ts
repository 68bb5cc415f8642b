/**
 * Shared pieces of the end-to-end tests: a recording HTTP target, a local runtime under a
 * manual clock with its per-test bookkeeping, and the API calls many tests make.
 */
import { createServer, type Server } from 'node:http';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetScheduleCommand } from '@aws-sdk/client-scheduler';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { exportJWK, generateKeyPair } from 'jose';
import { expect } from 'vitest';
import type { Clock } from '../../functions/commons/clock.js';
import { scheduledRunId } from '../../functions/domain/run.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal } from '../../local/dynamodb-local.js';
import { listenForTargets } from '../../local/ports.js';
import { createTables } from '../../local/resources.js';
import {
  LOCAL_SCHEDULE_GROUP,
  type LocalRuntime,
  type LocalRuntimeOptions,
  startLocalRuntime,
} from '../../local/runtime.js';
import { type ApiClient, apiClient, type Page, type Run } from '../support/api.js';
import { TestClock } from '../support/clock.js';

export { type ApiClient, type ApiResponse, apiClient } from '../support/api.js';

/** DynamoDB Local with Sundial's tables, for a store's own tests: the client config and the table names. */
export async function startLocalTables() {
  const dynamo = await startDynamoDbLocal();
  const config = { endpoint: dynamo.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const tables = await createTables(new DynamoDBClient(config));
  return { config, tables, stop: () => dynamo.stop() };
}

export interface TargetCall {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export { listenForTargets };

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

  /** Forgets the calls so far (and so the count of each /flaky-N path): each test its own. */
  reset(): void {
    this.calls.length = 0;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
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
export async function deleteAllJobs(api: ApiClient): Promise<void> {
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
  clock: Clock;
  runtime: LocalRuntime;
  api: ApiClient;
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
  return {
    clock,
    runtime,
    api: apiClient(runtime.apiUrl, runtime.devApiKey),
    ledger: new FiringLedger(runtime),
  };
}

/**
 * After each test: nothing lost (every firing it caused has its one outcome), and no jobs
 * left, so a clock jump never replays another test's schedules. Under a TestClock, what the
 * test left on the queues with a delay (retries and put-back firings of its now deleted
 * jobs) comes due a day later and is worked off here, not in the next test.
 */
export async function settleTest({ clock, runtime, api, ledger }: ManualSuite): Promise<void> {
  await runtime.drain();
  expect(await ledger.settle()).toEqual([]);
  await deleteAllJobs(api);
  if (clock instanceof TestClock) {
    clock.fresh();
    await runtime.drain();
  }
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

/** A client of another tenant, with an admin key of its own made straight in the store. */
export async function tenantClient(runtime: LocalRuntime, tenantId: string, now: Date): Promise<ApiClient> {
  const { secretKey } = await runtime.services.apiKeys.create(
    { tenantId, name: `${tenantId} admin`, role: 'admin', createdBy: 'test' },
    now,
  );
  return apiClient(runtime.apiUrl, secretKey);
}

/** A job's runs, newest first (up to 100). */
export async function runsOf(api: ApiClient, jobId: string): Promise<Run[]> {
  const res = await api<Page<Run>>('GET', `/v1/jobs/${jobId}/runs?limit=100`);
  expect(res.status).toBe(200);
  return res.body.items;
}

/** Runs the job now and returns its run once the worker is done with what is queued. */
export async function runNow(api: ApiClient, runtime: LocalRuntime, jobId: string): Promise<Run> {
  const started = await api<Run>('POST', `/v1/jobs/${jobId}/runs`);
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  await runtime.drain();
  return (await api<Run>('GET', `/v1/jobs/${jobId}/runs/${started.body.id}`)).body;
}

/** Under a real clock: polls a job's runs until `done` holds for them. */
export function waitForRuns(
  api: ApiClient,
  jobId: string,
  done: (runs: Run[]) => boolean,
  options: { query?: string; timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<Run[]> {
  const { query = '', ...polling } = options;
  return eventually(async () => {
    const res = await api<Page<Run>>('GET', `/v1/jobs/${jobId}/runs?limit=100${query}`);
    return done(res.body.items) ? res.body.items : undefined;
  }, polling);
}

/** Puts a message straight on a queue, past Sundial's API and the Scheduler (strings as they are). */
export async function sendRaw(runtime: LocalRuntime, queueUrl: string, body: unknown): Promise<void> {
  await runtime.clients.sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: typeof body === 'string' ? body : JSON.stringify(body),
    }),
  );
}

/** A job's schedule in the Scheduler (emulator), as the console shows it. */
export function getSchedule(runtime: LocalRuntime, name: string) {
  return runtime.clients.scheduler.send(
    new GetScheduleCommand({ Name: name, GroupName: LOCAL_SCHEDULE_GROUP }),
  );
}
