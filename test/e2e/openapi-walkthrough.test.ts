/**
 * The OpenAPI document against the API it describes: a walkthrough of every operation on the
 * local runtime, each real answer (its status, content type, body and headers) validated
 * against what the document, fetched without credentials, says of that operation and status;
 * and each request body sent against the document's request schema. Any answer the document
 * does not describe fails the test, and so does an operation the walkthrough never reaches.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsPlugin from 'ajv-formats';
import { afterAll, afterEach, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { components } from '../../client/schema.js';
import type { LocalRuntime } from '../../local/runtime.js';
import type * as Support from '../support/api.js';
import { SECOND, TestClock } from '../support/clock.js';
import { type ManualSuite, RecordingTarget, settleFile, settleTest, startManualSuite } from './support.js';

type Json = Record<string, unknown>;
type Schemas = components['schemas'];

const clock = new TestClock('2027-03-01T00:00:00.000Z');
const target = new RecordingTarget();
let suite: ManualSuite;
let runtime: LocalRuntime;
let doc: Json & { paths: Record<string, Record<string, Json>> };
let conformance: Conformance;

beforeAll(async () => {
  await target.start();
  suite = await startManualSuite(clock, {
    // Time stands still between ticks: the per-second limits would count the whole walkthrough.
    // Five jobs at most, so that the sixth is refused with 429.
    limits: { requestsPerSecond: 100_000, jobCreatesPerMinute: 100_000, maxJobs: 5 },
  });
  ({ runtime } = suite);
  // The document answers without credentials.
  const served = await fetch(`${runtime.apiUrl}/v1/openapi.json`);
  expect(served.status).toBe(200);
  doc = (await served.json()) as typeof doc;
  conformance = new Conformance(doc);
});
afterEach(() => settleTest(suite));
afterAll(async () => {
  await settleFile(suite);
  await target.stop();
});

/** What the document says of an operation's answers, and a validator of its JSON schemas. */
class Conformance {
  private readonly ajv = new Ajv2020({ strict: true, allErrors: true });
  private readonly templates: { path: string; pattern: RegExp }[];
  /** Operation ids, with the statuses they were seen to answer. */
  readonly seen = new Map<string, Set<number>>();

  constructor(private readonly document: typeof doc) {
    (addFormatsPlugin as unknown as typeof addFormatsPlugin.default)(this.ajv);
    // The document's own keywords hold schemas; they are not schema keywords.
    this.ajv.addVocabulary(['openapi', 'info', 'servers', 'paths', 'components', 'security', 'tags']);
    this.ajv.addSchema(document, 'openapi.json');
    this.templates = Object.keys(document.paths).map((path) => ({
      path,
      pattern: new RegExp(`^${path.replace(/\{\w+\}/g, '[^/]+')}$`),
    }));
  }

  /** The operation `method path` is, with its pointer in the document. */
  operation(method: string, path: string): { id: string; pointer: string; operation: Json } {
    const template = this.templates.find((t) => t.pattern.test(path.split('?')[0]!));
    expect(template, `${method} ${path} is not in the document`).toBeDefined();
    const operation = this.document.paths[template!.path]![method.toLowerCase()];
    expect(operation, `${method} ${template!.path} is not in the document`).toBeDefined();
    const pointer = `#/paths/${pointerSegment(template!.path)}/${method.toLowerCase()}`;
    return { id: String(operation!.operationId), pointer, operation: operation! };
  }

  /** The node at a local pointer, following `$ref`s, and where it really is. */
  resolve(pointer: string): { node: Json; pointer: string } {
    let node: unknown = this.document;
    for (const raw of pointer.slice(2).split('/')) {
      node = (node as Json)[raw.replace(/~1/g, '/').replace(/~0/g, '~')];
      expect(node, `${pointer} is not in the document`).toBeDefined();
    }
    const ref = (node as Json).$ref;
    return typeof ref === 'string' ? this.resolve(ref) : { node: node as Json, pointer };
  }

  /** The errors of `value` against the schema at `pointer` (an empty list when it is valid). */
  errors(pointer: string, value: unknown): string[] {
    const validate = this.ajv.getSchema(`openapi.json${pointer}`);
    expect(validate, `no schema at ${pointer}`).toBeDefined();
    if (validate!(value)) return [];
    return (validate!.errors ?? []).map(
      (e) => `${e.instancePath || '(body)'} ${e.message} ${JSON.stringify(e.params)}`,
    );
  }

  /** The request's query and body, as the document describes the operation's parameters and body. */
  checkRequest(method: string, path: string, body: unknown): void {
    const { id, pointer, operation } = this.operation(method, path);
    const parameters = ((operation.parameters ?? []) as Json[]).map((_p, i) =>
      this.resolve(`${pointer}/parameters/${i}`),
    );
    for (const [name, value] of new URLSearchParams(path.split('?')[1] ?? '')) {
      const index = parameters.findIndex(({ node }) => node.in === 'query' && node.name === name);
      expect(index, `${id}: the query parameter ${name} is not documented`).toBeGreaterThanOrEqual(0);
      const schema = `${parameters[index]!.pointer}/schema`;
      expect(this.errors(schema, coerce(this.resolve(schema).node, value)), `${id}: query ${name}`).toEqual(
        [],
      );
    }
    if (body === undefined) return;
    expect(operation.requestBody, `${id} takes no body`).toBeDefined();
    const schema = `${this.resolve(`${pointer}/requestBody`).pointer}/content/application~1json/schema`;
    expect(this.errors(schema, body), `${id}: the request body`).toEqual([]);
  }

  /** The answer, as the document describes the operation's answer with its status. */
  checkResponse(method: string, path: string, answer: Answer): void {
    const { id, pointer, operation } = this.operation(method, path);
    const statuses = Object.keys(operation.responses as Json);
    expect(statuses, `${id} does not document ${answer.status}: ${answer.text}`).toContain(
      String(answer.status),
    );
    const response = this.resolve(`${pointer}/responses/${answer.status}`);
    const where = `${id} ${answer.status}`;

    const content = response.node.content as Json | undefined;
    const type = answer.headers.get('content-type')?.split(';')[0]?.trim() ?? '';
    if (content) {
      expect(Object.keys(content), `${where}: content type`).toContain(type);
      const schema = `${response.pointer}/content/${pointerSegment(type)}/schema`;
      expect(this.errors(schema, answer.body), `${where}: ${answer.text.slice(0, 2000)}`).toEqual([]);
    } else {
      expect(answer.text, `${where} has no body`).toBe('');
    }

    const documented = Object.keys((response.node.headers ?? {}) as Json);
    for (const name of documented) {
      const header = this.resolve(`${response.pointer}/headers/${pointerSegment(name)}`);
      const value = answer.headers.get(name);
      if (header.node.required) expect(value, `${where}: the ${name} header`).not.toBeNull();
      if (value === null) continue;
      const schema = `${header.pointer}/schema`;
      expect(
        this.errors(schema, coerce(this.resolve(schema).node, value)),
        `${where}: ${name}: ${value}`,
      ).toEqual([]);
    }
    // Every header of the API's own that it sent is documented for this answer.
    const lower = documented.map((name) => name.toLowerCase());
    for (const name of API_HEADERS) {
      if (answer.headers.has(name)) expect(lower, `${where} sent ${name}, undocumented`).toContain(name);
    }

    const seen = this.seen.get(id) ?? new Set<number>();
    this.seen.set(id, seen.add(answer.status));
  }
}

/** The headers the API itself sets on answers (beyond content-type). */
const API_HEADERS = ['etag', 'location', 'retry-after', 'idempotent-replayed', 'www-authenticate', 'allow'];

const pointerSegment = (segment: string) => segment.replace(/~/g, '~0').replace(/\//g, '~1');

/** A header's or query's text as the value its schema describes. */
function coerce(schema: Json, value: string): unknown {
  return schema.type === 'integer' || schema.type === 'number' ? Number(value) : value;
}

interface Answer<T = unknown> {
  status: number;
  headers: Headers;
  text: string;
  body: T;
}

interface CallOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** Default: the development tenant's admin key; null sends no Authorization. */
  credential?: string | null;
  /** A request made to be refused: its query and body are not held to the document. */
  refused?: boolean;
}

/** Calls the API and holds the request and the answer to the document. */
async function call<T = unknown>(
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<Answer<T>> {
  const { body, headers = {}, credential = runtime.devApiKey, refused = false } = options;
  if (!refused) conformance.checkRequest(method, path, body);
  const response = await fetch(`${runtime.apiUrl}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(credential ? { authorization: `Bearer ${credential}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  const answer: Answer<T> = {
    status: response.status,
    headers: response.headers,
    text,
    body: (text ? JSON.parse(text) : undefined) as T,
  };
  conformance.checkResponse(method, path, answer);
  return answer;
}

/** Calls, and expects the status (with the answer in the message when it differs). */
async function expectStatus<T = unknown>(
  status: number,
  method: string,
  path: string,
  options?: CallOptions,
): Promise<Answer<T>> {
  const answer = await call<T>(method, path, options);
  expect(answer.status, `${method} ${path}: ${answer.text.slice(0, 500)}`).toBe(status);
  return answer;
}

describe('the OpenAPI document, against the running API', () => {
  it('describes every answer of a walkthrough of every operation', async () => {
    // ---- The document and health, without credentials ----
    const document = await expectStatus<Json>(200, 'GET', '/v1/openapi.json', { credential: null });
    expect(document.body).toEqual(doc);
    const health = await expectStatus<Schemas['Health']>(200, 'GET', '/v1/health', { credential: null });
    expect(health.body.status).toBe('ok');
    // One region (the local runtime): always the active one, never failed over.
    const region = await expectStatus<Schemas['Region']>(200, 'GET', '/v1/region');
    expect(region.body).toMatchObject({ active: true, epoch: 0, activeRegion: region.body.region });
    expect(region.body.regions).toEqual([region.body.region]);

    // ---- Jobs ----
    const nightly = {
      name: 'nightly-report',
      description: 'the walkthrough job',
      schedule: { expression: 'cron(0 * * * ? *)', timezone: 'Europe/Berlin' },
      target: {
        type: 'http',
        url: `${target.url}/ok`,
        headers: { 'content-type': 'application/json' },
        secretHeaders: { authorization: 'Bearer t0p-secret-value' },
        body: '{}',
      },
      notify: { onFailure: [{ url: `${target.url}/hook` }], secret: 'a-webhook-secret-of-some-length' },
      tags: { team: 'billing' },
    };
    const idempotency = { 'idempotency-key': 'walkthrough-nightly' };
    const created = await expectStatus<Schemas['Job']>(201, 'POST', '/v1/jobs', {
      body: nightly,
      headers: idempotency,
    });
    const a = created.body;
    expect(created.headers.get('location')).toBe(`/v1/jobs/${a.id}`);
    expect(created.headers.get('etag')).toBe('"1"');
    expect(a.target).toMatchObject({ type: 'http', secretHeaderNames: ['authorization'] });
    const replay = await expectStatus<Schemas['Job']>(201, 'POST', '/v1/jobs', {
      body: nightly,
      headers: idempotency,
    });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body.id).toBe(a.id);
    await expectStatus(422, 'POST', '/v1/jobs', {
      body: { ...nightly, name: 'other' },
      headers: idempotency,
    });

    const onDemand = await expectStatus<Schemas['Job']>(201, 'POST', '/v1/jobs', {
      body: {
        name: 'on-demand',
        target: { type: 'http', url: `${target.url}/flaky-1`, method: 'POST' },
        retryPolicy: { maxAttempts: 2, initialDelaySeconds: 30, multiplier: 2, maxDelaySeconds: 900 },
      },
    });
    const b = onDemand.body;
    expect(b.schedule).toBeNull();

    await expectStatus(200, 'GET', `/v1/jobs/${a.id}`);
    const first = await expectStatus<Schemas['JobPage']>(200, 'GET', '/v1/jobs?limit=1');
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const next = await expectStatus<Schemas['JobPage']>(
      200,
      'GET',
      `/v1/jobs?limit=1&cursor=${encodeURIComponent(first.body.nextCursor!)}`,
    );
    expect(next.body.items).toHaveLength(1);
    const tagged = await expectStatus<Schemas['JobPage']>(
      200,
      'GET',
      '/v1/jobs?state=enabled&tag=team:billing',
    );
    expect(tagged.body.items.map((j) => j.id)).toEqual([a.id]);

    const patched = await expectStatus<Schemas['Job']>(200, 'PATCH', `/v1/jobs/${a.id}`, {
      body: { description: 'now on the half hour', schedule: { expression: 'cron(30 * * * ? *)' } },
      headers: { 'if-match': created.headers.get('etag')! },
    });
    expect(patched.headers.get('etag')).toBe('"2"');
    const stale = await expectStatus<Schemas['VersionMismatchProblem']>(412, 'PATCH', `/v1/jobs/${a.id}`, {
      body: { description: 'too late' },
      headers: { 'if-match': '"1"' },
    });
    expect(stale.body.currentVersion).toBe(2);
    const paused = await expectStatus<Schemas['Job']>(200, 'POST', `/v1/jobs/${a.id}/pause`);
    expect([paused.body.state, paused.body.nextRunAt, paused.body.pausedReason]).toEqual([
      'paused',
      null,
      null,
    ]);
    // Paused again with a reason: kept on the job, shown, until it is resumed.
    const why = await expectStatus<Schemas['Job']>(200, 'POST', `/v1/jobs/${a.id}/pause`, {
      body: { reason: 'the billing API is down until 14:00' },
    });
    expect(why.body.pausedReason).toBe('the billing API is down until 14:00');
    const refusedReason = await expectStatus<Schemas['ValidationProblem']>(
      400,
      'POST',
      `/v1/jobs/${a.id}/pause`,
      {
        body: { reason: 'x'.repeat(257) },
        refused: true,
      },
    );
    expect(refusedReason.body.errors.map((e) => e.field)).toEqual(['reason']);
    expect((await expectStatus<Schemas['Job']>(200, 'GET', `/v1/jobs/${a.id}`)).body.pausedReason).toBe(
      'the billing API is down until 14:00',
    );
    const resumed = await expectStatus<Schemas['Job']>(200, 'POST', `/v1/jobs/${a.id}/resume`);
    expect(resumed.body.pausedReason).toBeNull();
    expect(resumed.body.nextRunAt).toBe('2027-03-01T00:30:00.000Z');

    // ---- Runs: run now, a failed attempt and its retry, then a scheduled firing ----
    const queued = await expectStatus<Schemas['Run']>(202, 'POST', `/v1/jobs/${b.id}/runs`);
    expect(queued.headers.get('location')).toBe(`/v1/jobs/${b.id}/runs/${queued.body.id}`);
    await runtime.drain();
    const retrying = await expectStatus<Schemas['Run']>(
      200,
      'GET',
      `/v1/jobs/${b.id}/runs/${queued.body.id}`,
    );
    expect(retrying.body.attempts.map((t) => t.status)).toEqual(['failed']);
    expect(retrying.body.nextAttemptAt).toEqual(expect.any(String));
    clock.advance(30 * SECOND);
    await runtime.tick();
    const done = await expectStatus<Schemas['Run']>(200, 'GET', `/v1/jobs/${b.id}/runs/${queued.body.id}`);
    expect([done.body.status, done.body.attempts.length]).toEqual(['succeeded', 2]);
    await expectStatus(200, 'GET', `/v1/jobs/${b.id}/runs?status=succeeded&limit=10`);

    clock.set('2027-03-01T00:30:00.000Z');
    await runtime.tick();
    const runs = await expectStatus<Schemas['RunPage']>(200, 'GET', `/v1/jobs/${a.id}/runs`);
    expect(runs.body.items.map((r) => [r.trigger, r.status])).toEqual([['schedule', 'succeeded']]);
    const shown = await expectStatus<Schemas['Job']>(200, 'GET', `/v1/jobs/${a.id}`);
    expect(shown.body.lastRun).toMatchObject({ id: runs.body.items[0]!.id, status: 'succeeded' });

    // ---- Long runs: a target that calls back, heartbeats, a cancel, and a backfill ----
    const long = await expectStatus<Schemas['Job']>(201, 'POST', '/v1/jobs', {
      body: {
        name: 'import',
        target: {
          type: 'http',
          url: `${target.url}/accepts`,
          completion: 'callback',
          runTimeoutSeconds: 7200,
          heartbeatTimeoutSeconds: 600,
        },
      },
    });
    const accepted = await expectStatus<Schemas['Run']>(202, 'POST', `/v1/jobs/${long.body.id}/runs`);
    await runtime.drain();
    const callbackUrl = String(target.callsTo('/accepts').at(-1)?.headers['sundial-callback-url']);
    const callbackPath = new URL(callbackUrl).pathname;
    await expectStatus(204, 'POST', `${callbackPath}/heartbeat`, {
      body: { progress: 0.5, message: 'half way' },
      credential: null,
    });
    const beating = await expectStatus<Schemas['Run']>(
      200,
      'GET',
      `/v1/jobs/${long.body.id}/runs/${accepted.body.id}`,
    );
    expect([beating.body.status, beating.body.progress]).toEqual(['running', 0.5]);
    await expectStatus(204, 'POST', callbackPath, {
      body: { status: 'succeeded', output: { rows: 3 } },
      credential: null,
    });
    await runtime.drain();
    await expectStatus(409, 'POST', callbackPath, { body: { status: 'failed' }, credential: null });
    await expectStatus(404, 'POST', `${callbackPath.slice(0, -4)}AAAA`, {
      body: { status: 'succeeded' },
      credential: null,
    });
    const reported = await expectStatus<Schemas['Run']>(
      200,
      'GET',
      `/v1/jobs/${long.body.id}/runs/${accepted.body.id}`,
    );
    expect([reported.body.status, reported.body.output]).toEqual(['succeeded', { rows: 3 }]);
    const second = await expectStatus<Schemas['Run']>(202, 'POST', `/v1/jobs/${long.body.id}/runs`);
    await runtime.drain();
    const cancelled = await expectStatus<Schemas['Run']>(
      202,
      'POST',
      `/v1/jobs/${long.body.id}/runs/${second.body.id}/cancel`,
    );
    expect(cancelled.body.status).toBe('cancelled');
    await runtime.drain();
    await expectStatus(409, 'POST', `/v1/jobs/${long.body.id}/runs/${second.body.id}/cancel`);
    const backfilled = await expectStatus<Schemas['BackfillResult']>(
      202,
      'POST',
      `/v1/jobs/${a.id}/backfill`,
      {
        body: { from: '2027-02-28T21:00:00Z', to: '2027-03-01T00:00:00Z' },
      },
    );
    expect(backfilled.body.runs).toBe(3);
    await runtime.drain();
    await expectStatus(400, 'POST', `/v1/jobs/${a.id}/backfill`, {
      body: { from: '2027-02-28T21:00:00Z', to: '2027-03-01T00:00:00Z', maxRuns: 2 },
    });

    await expectStatus(200, 'POST', '/v1/schedules/preview', {
      body: { expression: 'cron(0 9 ? * MON-FRI *)', timezone: 'Europe/Berlin', count: 3 },
    });

    // ---- Errors ----
    const invalid = await expectStatus<Schemas['ValidationProblem']>(400, 'POST', '/v1/jobs', {
      body: { name: '', target: { type: 'http', url: 'not a url' } },
      refused: true,
    });
    expect(invalid.body.errors.map((e) => e.field)).toEqual(expect.arrayContaining(['name', 'target.url']));
    const anonymous = await expectStatus(401, 'GET', '/v1/jobs', { credential: null });
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    await expectStatus(404, 'GET', '/v1/jobs/job_01NOSUCHJOB000000000000000');
    await expectStatus(404, 'GET', `/v1/jobs/${b.id}/runs/run_20270101T000000000Z`);
    await expectStatus(400, 'GET', '/v1/jobs?limit=1000', { refused: true });
    await expectStatus(413, 'POST', '/v1/jobs', { body: { name: 'x'.repeat(300 * 1024) }, refused: true });

    // ---- API keys ----
    const key = await expectStatus<Schemas['CreatedApiKey']>(201, 'POST', '/v1/keys', {
      body: { name: 'reader', role: 'viewer' },
    });
    expect(key.headers.get('location')).toBe(`/v1/keys/${key.body.id}`);
    await expectStatus(403, 'POST', '/v1/jobs', { body: nightly, credential: key.body.key });
    await expectStatus(200, 'GET', '/v1/jobs', { credential: key.body.key });
    const keys = await expectStatus<Schemas['ApiKeyPage']>(200, 'GET', '/v1/keys?limit=10');
    expect(keys.body.items.map((k) => k.id)).toContain(key.body.id);
    await expectStatus(204, 'DELETE', `/v1/keys/${key.body.id}`);
    await expectStatus(404, 'DELETE', `/v1/keys/${key.body.id}`);
    await expectStatus(401, 'GET', '/v1/jobs', { credential: key.body.key });

    // ---- The signing secret ----
    const secret = await expectStatus<Schemas['SigningSecret']>(200, 'GET', '/v1/tenant/signing-secret');
    const rotated = await expectStatus<Schemas['SigningSecret']>(
      200,
      'POST',
      '/v1/tenant/signing-secret/rotate',
    );
    expect(rotated.body.previous?.id).toBe(secret.body.id);

    // ---- Dead letters: a firing whose run a lost worker holds is given up on by its queue ----
    const stuckJob = await expectStatus<Schemas['Job']>(201, 'POST', '/v1/jobs', {
      body: {
        name: 'stuck',
        schedule: { expression: 'at(2027-03-01T00:35:00)' },
        target: { type: 'http', url: `${target.url}/stuck` },
      },
    });
    const stuckRunId = 'run_20270301T003500000Z';
    const claim = await runtime.services.runStore.claim(
      {
        id: stuckRunId,
        jobId: stuckJob.body.id,
        tenantId: 'dev',
        scheduledAt: '2027-03-01T00:35:00.000Z',
        trigger: 'schedule',
        status: 'running',
        attempt: 1,
        startedAt: '2027-03-01T00:35:00.000Z',
        finishedAt: null,
        durationMs: null,
        result: null,
        error: null,
        skipReason: null,
        attempts: [],
        nextAttemptAt: null,
        claimToken: 'a-worker-that-died',
        leaseUntil: '2027-03-01T02:00:00.000Z',
      },
      clock.now(),
    );
    expect(claim.claimed).toBe(true);
    clock.set('2027-03-01T00:35:00.000Z');
    await runtime.tick();
    const letters = await expectStatus<Schemas['DeadLetterPage']>(200, 'GET', '/v1/dead-letters?status=dead');
    const letter = letters.body.items.find((l) => l.runId === stuckRunId);
    expect(letter).toBeDefined();
    clock.set('2027-03-01T02:10:00.000Z'); // long after the lost worker's lease
    const redrive = await expectStatus<Schemas['RedriveResult']>(200, 'POST', '/v1/dead-letters/redrive', {
      body: { ids: [letter!.id] },
    });
    expect(redrive.body.redriven).toEqual([letter!.id]);
    await runtime.drain();
    await expectStatus(404, 'POST', '/v1/dead-letters/redrive', { body: { ids: ['no-such-letter'] } });

    // ---- Circuit breakers: the target host failed (flaky-1), so the tenant has its breaker ----
    const breakers = await expectStatus<Schemas['BreakerPage']>(200, 'GET', '/v1/breakers?limit=10');
    const breaker = breakers.body.items.find((b) => b.target === new URL(target.url).host);
    expect(breaker).toBeDefined();
    await expectStatus<Schemas['Breaker']>(200, 'GET', `/v1/breakers/${breaker!.id}`);
    const reset = await expectStatus<Schemas['Breaker']>(200, 'POST', `/v1/breakers/${breaker!.id}/reset`);
    expect(reset.body).toMatchObject({ state: 'closed', failures: 0 });
    await expectStatus(404, 'GET', '/v1/breakers/brk_bm8tc3VjaC10YXJnZXQ');

    // ---- The audit log ----
    const audit = await expectStatus<Schemas['AuditPage']>(200, 'GET', '/v1/audit?limit=20');
    expect(audit.body.items.map((e) => e.action)).toEqual(
      expect.arrayContaining([
        'key.create',
        'key.revoke',
        'signing-secret.rotate',
        'dead-letters.redrive',
        'breaker.reset',
        'run.cancel',
        'job.backfill',
      ]),
    );

    // ---- Limits, dependencies, deletion ----
    const dependent = await expectStatus<Schemas['Job']>(201, 'POST', '/v1/jobs', {
      body: { name: 'after-nightly', dependsOn: [a.id], target: { type: 'http', url: `${target.url}/ok` } },
    });
    const full = await expectStatus(429, 'POST', '/v1/jobs', { body: { ...nightly, name: 'sixth' } });
    expect(Number(full.headers.get('retry-after'))).toBeGreaterThan(0);
    await expectStatus(409, 'DELETE', `/v1/jobs/${a.id}`);
    await expectStatus(204, 'DELETE', `/v1/jobs/${dependent.body.id}`);
    await expectStatus(204, 'DELETE', `/v1/jobs/${a.id}`);
    await expectStatus(404, 'GET', `/v1/jobs/${a.id}`);

    // ---- Every operation of the document was called, and answered as it says ----
    const operations = Object.values(doc.paths).flatMap((item) =>
      Object.values(item).flatMap((operation) =>
        operation.operationId ? [String(operation.operationId)] : [],
      ),
    );
    const succeeded = [...conformance.seen].filter(([, statuses]) => [...statuses].some((s) => s < 300));
    expect(succeeded.map(([id]) => id).sort()).toEqual(operations.sort());
  });
});

// The bodies the end-to-end tests assume (test/support/api.ts) are what a client generated
// from the document is promised: tsc refuses a shape the document does not back.
expectTypeOf<Schemas['Job']>().toExtend<Support.Job>();
expectTypeOf<Schemas['Run']>().toExtend<Support.Run>();
expectTypeOf<Schemas['Attempt']>().toExtend<Support.Attempt>();
expectTypeOf<Schemas['RunSummary']>().toExtend<Support.RunSummary>();
expectTypeOf<Schemas['JobPage']>().toExtend<Support.Page<Support.Job>>();
expectTypeOf<Schemas['Problem']>().toExtend<Support.Problem>();
expectTypeOf<Schemas['ValidationProblem']>().toExtend<Support.ValidationProblem>();
expectTypeOf<Schemas['DeadLetter']>().toExtend<Support.DeadLetter>();
expectTypeOf<Schemas['RedriveResult']>().toExtend<Support.RedriveResult>();
expectTypeOf<Schemas['ApiKey']>().toExtend<Support.ApiKey>();
expectTypeOf<Schemas['CreatedApiKey']>().toExtend<Support.CreatedKey>();
expectTypeOf<Schemas['AuditEntry']>().toExtend<Support.AuditEntry>();
expectTypeOf<Schemas['SigningSecret']>().toExtend<Support.SigningSecret>();
expectTypeOf<Schemas['FireTimes']>().toExtend<Support.Preview>();
expectTypeOf<Schemas['Health']>().toExtend<Support.Health>();
// And the other way for the strict ones: nothing the document promises is missing from them.
expectTypeOf<Support.Attempt>().toExtend<Schemas['Attempt']>();
expectTypeOf<Support.DeadLetter>().toExtend<Omit<Schemas['DeadLetter'], 'priority'>>();
expectTypeOf<Support.RedriveResult>().toExtend<Schemas['RedriveResult']>();
expectTypeOf<Support.SigningSecret>().toExtend<Schemas['SigningSecret']>();
