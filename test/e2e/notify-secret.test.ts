/**
 * A job's webhook secret (notify.secret) at rest: sealed with KMS in the job item, absent
 * from the idempotency record, opened by the worker only to sign a failure webhook. Jobs
 * stored before sealing, with the secret in clear, keep working and are sealed on edit.
 */
import { type AttributeValue, ScanCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { verifySignature } from '../../functions/domain/signature.js';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.js';
import type { ApiClient, Job, Page, Run } from '../support/api.js';
import { TestClock } from '../support/clock.js';
import { apiClient, deleteAllJobs, RecordingTarget } from './support.js';

const clock = new TestClock();
const target = new RecordingTarget();
let runtime: LocalRuntime;
let api: ApiClient;

beforeAll(async () => {
  await target.start();
  const { port } = new URL(target.url);
  runtime = await startLocalRuntime({
    port: 0,
    clock,
    logLevel: 'SILENT',
    failedVisibilityTimeoutSeconds: 0,
    // The recording target listens on a random port of this machine: allow exactly it.
    allowedHttpHosts: ['127.0.0.1', `127.0.0.1:${port}`],
    // Every job here fails on purpose to send its webhook: no breaker may hold them back.
    circuitBreaker: { failures: 0 },
  });
  api = apiClient(runtime.apiUrl, runtime.devApiKey);
});

beforeEach(() => {
  clock.fresh();
  target.reset();
});

afterEach(async () => {
  await runtime.drain();
  await deleteAllJobs(api);
});

afterAll(async () => {
  await runtime?.stop();
  await target.stop();
});

function jobBody(path: string, secret: string, extra: Record<string, unknown> = {}) {
  return {
    name: `notify-${path.replace(/\W/g, '')}`,
    target: { type: 'http', url: `${target.url}/fail${path}`, method: 'POST' },
    notify: { onFailure: [{ url: `${target.url}/hook${path}` }], secret },
    ...extra,
  };
}

/** Every item of the jobs table as DynamoDB stores it (typed attribute values), as JSON. */
async function rawItems(): Promise<string[]> {
  const items: string[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await runtime.clients.dynamodb.send(
      new ScanCommand({ TableName: runtime.config.jobsTableName, ExclusiveStartKey: startKey }),
    );
    for (const item of page.Items ?? []) items.push(JSON.stringify(item));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

/** Runs the job now (it fails) and returns the failure webhook it sent. */
async function failOnce(jobId: string, hookPath: string) {
  const before = target.callsTo(hookPath).length;
  const run = await api('POST', `/v1/jobs/${jobId}/runs`);
  expect(run.status, JSON.stringify(run.body)).toBeLessThan(300);
  await runtime.drain();
  const hooks = target.callsTo(hookPath);
  expect(hooks).toHaveLength(before + 1);
  return hooks.at(-1)!;
}

function signedWith(secret: string, hook: { headers: Record<string, unknown>; body: string }): boolean {
  const header = String(hook.headers['sundial-signature']);
  return verifySignature(secret, header, hook.body, Math.floor(clock.now().getTime() / 1000));
}

describe('notify.secret at rest', () => {
  it('is stored in neither the job item nor the idempotency record, yet signs the webhook', async () => {
    const secret = 'whsec_sealed_at_rest_0123456789';
    const body = jobBody('/sealed', secret);
    const headers = { 'idempotency-key': 'notify-secret-idem-1' };
    const created = await api<Job>('POST', '/v1/jobs', body, headers);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.notify).toEqual({ onFailure: body.notify.onFailure, secretSet: true });
    const replay = await api<Job>('POST', '/v1/jobs', body, headers);
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body.id).toBe(created.body.id);
    expect(replay.body.notify.secretSet).toBe(true);
    // A different secret under the same key is a different request.
    const reused = await api('POST', '/v1/jobs', jobBody('/sealed', 'whsec_another_secret_000'), headers);
    expect(reused.status).toBe(422);

    const items = await rawItems();
    const job = items.find((i) => i.includes(`"sk":{"S":"JOB#${created.body.id}"}`));
    const record = items.find((i) => i.includes('"sk":{"S":"IDEMPOTENCY#notify-secret-idem-1"}'));
    expect(job).toContain('"sealedNotifySecret"');
    expect(record).toContain('"requestHash"');
    for (const item of items) expect(item).not.toContain(secret);
    // Not the secret's base64 either (which is what a KMS plaintext would look like).
    for (const item of items) expect(item).not.toContain(Buffer.from(secret).toString('base64'));

    const hook = await failOnce(created.body.id, '/hook/sealed');
    expect(signedWith(secret, hook)).toBe(true);
    expect(JSON.parse(hook.body)).toMatchObject({ type: 'run.failed', job: { id: created.body.id } });
    expect((await api<Job>('GET', `/v1/jobs/${created.body.id}`)).body.notify.secretSet).toBe(true);
  });

  it('is kept by an edit that omits it, and replaced by one that sets it', async () => {
    const secret = 'whsec_kept_by_edits_0123456';
    const created = await api<Job>('POST', '/v1/jobs', jobBody('/edit', secret));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id;

    const renamed = await api<Job>('PATCH', `/v1/jobs/${id}`, {
      name: 'renamed',
      notify: { onFailure: [{ url: `${target.url}/hook/edit` }] },
    });
    expect(renamed.status, JSON.stringify(renamed.body)).toBe(200);
    expect(renamed.body.notify.secretSet).toBe(true);
    await api('POST', `/v1/jobs/${id}/pause`);
    await api('POST', `/v1/jobs/${id}/resume`);
    expect(signedWith(secret, await failOnce(id, '/hook/edit'))).toBe(true);

    const next = 'whsec_replacement_9876543210';
    const replaced = await api<Job>('PATCH', `/v1/jobs/${id}`, { notify: { secret: next } });
    expect(replaced.status, JSON.stringify(replaced.body)).toBe(200);
    const hook = await failOnce(id, '/hook/edit');
    expect(signedWith(next, hook)).toBe(true);
    expect(signedWith(secret, hook)).toBe(false);
    for (const item of await rawItems()) {
      expect(item).not.toContain(secret);
      expect(item).not.toContain(next);
    }

    // Webhooks need a secret: it cannot be cleared while they are set.
    const cleared = await api('PATCH', `/v1/jobs/${id}`, { notify: { secret: null } });
    expect(cleared.status).toBe(400);
    const none = await api<Job>('PATCH', `/v1/jobs/${id}`, { notify: { onFailure: [], secret: null } });
    expect(none.status, JSON.stringify(none.body)).toBe(200);
    expect(none.body.notify).toEqual({ onFailure: [], secretSet: false });
  });

  it('is bound to its job: a sealed secret copied from another job does not open, and no webhook is sent', async () => {
    const donor = await api<Job>('POST', '/v1/jobs', jobBody('/donor', 'whsec_donor_secret_00000000'));
    const victim = await api<Job>('POST', '/v1/jobs', jobBody('/victim', 'whsec_victim_secret_0000000'));
    expect(donor.status).toBe(201);
    expect(victim.status).toBe(201);
    const sealedOf = async (id: string) => {
      const { Items = [] } = await runtime.clients.dynamodb.send(
        new ScanCommand({ TableName: runtime.config.jobsTableName }),
      );
      return Items.find((i) => i.sk?.S === `JOB#${id}`)?.sealedNotifySecret?.S;
    };
    const copied = await sealedOf(donor.body.id);
    expect(copied).toBeTruthy();
    await runtime.clients.dynamodb.send(
      new UpdateItemCommand({
        TableName: runtime.config.jobsTableName,
        Key: { pk: { S: 'TENANT#dev' }, sk: { S: `JOB#${victim.body.id}` } },
        UpdateExpression: 'SET sealedNotifySecret = :copied',
        ExpressionAttributeValues: { ':copied': { S: copied! } },
      }),
    );
    const run = await api<Run>('POST', `/v1/jobs/${victim.body.id}/runs`);
    expect(run.status).toBeLessThan(300);
    await runtime.drain();
    // Never signed with the donor's secret, nor with an empty one: not sent at all.
    expect(target.callsTo('/hook/victim')).toHaveLength(0);
    const runs = await api<Page<Run>>('GET', `/v1/jobs/${victim.body.id}/runs`);
    expect(runs.body.items.map((r) => r.status)).toEqual(['failed']);
  });

  it('still signs with a secret stored in clear before sealing, and seals it on the next edit', async () => {
    const created = await api<Job>('POST', '/v1/jobs', {
      name: 'legacy',
      target: { type: 'http', url: `${target.url}/fail/legacy`, method: 'POST' },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id;
    const legacy = 'whsec_legacy_in_clear_000111';
    // How a job written before this change looks: the secret in notify, nothing sealed.
    await runtime.clients.dynamodb.send(
      new UpdateItemCommand({
        TableName: runtime.config.jobsTableName,
        Key: { pk: { S: 'TENANT#dev' }, sk: { S: `JOB#${id}` } },
        UpdateExpression: 'SET notify = :notify REMOVE sealedNotifySecret',
        ExpressionAttributeValues: {
          ':notify': {
            M: {
              onFailure: { L: [{ M: { url: { S: `${target.url}/hook/legacy` } } }] },
              secret: { S: legacy },
            },
          },
        },
        ConditionExpression: 'attribute_exists(pk)',
      }),
    );
    const shown = await api<Job>('GET', `/v1/jobs/${id}`);
    expect(shown.body.notify.secretSet).toBe(true);
    expect(signedWith(legacy, await failOnce(id, '/hook/legacy'))).toBe(true);

    const edited = await api<Job>('PATCH', `/v1/jobs/${id}`, { description: 'edited' });
    expect(edited.status, JSON.stringify(edited.body)).toBe(200);
    expect(edited.body.notify.secretSet).toBe(true);
    const item = (await rawItems()).find((i) => i.includes(`"sk":{"S":"JOB#${id}"}`));
    expect(item).toContain('"sealedNotifySecret"');
    expect(item).not.toContain(legacy);
    expect(signedWith(legacy, await failOnce(id, '/hook/legacy'))).toBe(true);
  });
});
