/**
 * The load section's generator (bench/load.ts): a process of its own, started with an IPC
 * channel, that sends one mix of operations open-loop — each request started on a fixed
 * schedule (every 10 ms at 100 requests a second), never waiting for an earlier one — and
 * times each from its scheduled start, so a queue anywhere (here, in the API, in DynamoDB
 * Local) shows in the figures instead of slowing the schedule down.
 *
 * Two targets, the same schedule and mix:
 * - `sundial`: real HTTP to the local runtime's API with its development key;
 * - `baseline`: the equivalent reads and writes straight to the same DynamoDB Local (and
 *   fauxqs) with the AWS SDK's document client, without Sundial's code in front.
 *
 * The parent sends `{ type: 'start', config }`; the generator answers `{ type: 'phase' }` as
 * each phase begins and ends, then `{ type: 'done', result }` with every request's figures.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';

export const OPERATIONS = [
  'get job',
  'get run',
  'list runs',
  'create job',
  'update job',
  'run now',
  'list jobs',
] as const;
export type Operation = (typeof OPERATIONS)[number];

/**
 * The mix, 20 requests long and repeated: 60% reads (6 get job, 3 get run, 3 list runs),
 * 25% creates and updates (3 + 2), 10% run now, 5% lists of jobs; spread so that no kind
 * comes in a burst.
 */
export const MIX: readonly Operation[] = [
  'get job',
  'create job',
  'get run',
  'get job',
  'list runs',
  'update job',
  'get job',
  'run now',
  'get run',
  'create job',
  'get job',
  'list runs',
  'list jobs',
  'get job',
  'update job',
  'get run',
  'create job',
  'get job',
  'run now',
  'list runs',
];

export interface Phase {
  name: string;
  rps: number;
  seconds: number;
}

export interface SeedRun {
  jobId: string;
  runId: string;
}

export interface GeneratorConfig {
  mode: 'sundial' | 'baseline';
  phases: Phase[];
  /** Jobs to read, update and run now; runs to read (their jobs' runs are listed). */
  jobIds: string[];
  runs: SeedRun[];
  /** Where new jobs' HTTP target points (a local server that answers 200 at once). */
  targetUrl: string;
  /** A request not answered within this is a network error. */
  timeoutMs: number;
  sundial?: { apiUrl: string; apiKey: string };
  baseline?: {
    region: string;
    dynamodbEndpoint: string;
    sqsEndpoint: string;
    jobsTable: string;
    runsTable: string;
    queueUrl: string;
    tenantId: string;
    /** A job item and a run item as Sundial stored them: creates and run-nows write copies. */
    jobItem: Record<string, unknown>;
    runItem: Record<string, unknown>;
  };
}

/**
 * One request: [phase index, operation index, latency from the scheduled start (ms), how
 * late it was started (ms), HTTP status (0: a network error or timeout; the baseline: 200,
 * or 0 for a call that failed), its sequence number (sent as x-bench-seq)].
 */
export type RequestRecord = [number, number, number, number, number, number];

export interface GeneratorResult {
  pid: number;
  mode: GeneratorConfig['mode'];
  records: RequestRecord[];
  /** The first few failures' messages, for the report. */
  errorSamples: string[];
  /** The first few 429 answers' bodies (which limit refused them). */
  throttleSamples: string[];
  /** Every 429 by what its body said (its `detail`, numbers left out). */
  throttleKinds: Record<string, number>;
  /** Milliseconds of CPU this process used (user + system) over all phases. */
  cpuMs: number;
}

export type GeneratorMessage =
  | { type: 'phase'; index: number; edge: 'start' | 'end'; at: number }
  | { type: 'done'; result: GeneratorResult }
  | { type: 'failed'; error: string };

const send = (message: GeneratorMessage) =>
  new Promise<void>((resolve, reject) =>
    process.send!(message, undefined, {}, (error) => (error ? reject(error) : resolve())),
  );

const jobBody = (targetUrl: string, n: number) => ({
  name: `load-${n}`,
  // Once a year: the jobs the load creates never fire during it; their runs are run-nows.
  schedule: { expression: 'cron(0 0 1 1 ? *)' },
  target: { type: 'http', url: targetUrl, method: 'GET' },
});

type Sender = (op: Operation, n: number, phase: string) => Promise<number>;

/** Each kind of operation walks the seeded jobs and runs in turn: the k-th update, the k-th job. */
function picker(config: GeneratorConfig) {
  const counts = new Map<Operation, number>();
  return (op: Operation) => {
    const k = counts.get(op) ?? 0;
    counts.set(op, k + 1);
    return { job: config.jobIds[k % config.jobIds.length]!, run: config.runs[k % config.runs.length]! };
  };
}

function sundialSender(
  config: GeneratorConfig,
  errors: string[],
  throttles: string[],
  kinds: Record<string, number>,
): { send: Sender; close(): void } {
  const { apiUrl, apiKey } = config.sundial!;
  const url = new URL(apiUrl);
  const agent = new HttpAgent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
  const call = (method: string, path: string, op: Operation, n: number, phase: string, body?: unknown) =>
    new Promise<number>((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          method,
          path,
          agent,
          timeout: config.timeoutMs,
          headers: {
            authorization: `Bearer ${apiKey}`,
            accept: 'application/json',
            // Read by bench/load.ts in the API process, to time each request there by kind.
            'x-bench-op': op,
            'x-bench-phase': phase,
            'x-bench-seq': String(n),
            ...(payload === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
          },
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            const said = () =>
              `${op}: ${method} ${path} -> ${status} ${Buffer.concat(chunks).toString().slice(0, 300)}`;
            if (status === 429) {
              const detail = /"detail":"([^"]*)"/.exec(Buffer.concat(chunks).toString())?.[1] ?? 'no detail';
              const kind = detail.replace(/retry after \d+ s/, 'retry after N s');
              kinds[kind] = (kinds[kind] ?? 0) + 1;
              if (throttles.length < 10) throttles.push(said());
            } else if (status >= 300 && status !== 429 && errors.length < 10) errors.push(said());
            resolve(status);
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${config.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  const next = picker(config);
  const send: Sender = (op, n, phase) => {
    const { job, run } = next(op);
    switch (op) {
      case 'get job':
        return call('GET', `/v1/jobs/${job}`, op, n, phase);
      case 'get run':
        return call('GET', `/v1/jobs/${run.jobId}/runs/${run.runId}`, op, n, phase);
      case 'list runs':
        return call('GET', `/v1/jobs/${run.jobId}/runs?limit=20`, op, n, phase);
      case 'create job':
        return call('POST', '/v1/jobs', op, n, phase, jobBody(config.targetUrl, n));
      case 'update job':
        return call('PATCH', `/v1/jobs/${job}`, op, n, phase, { description: `load ${n}` });
      case 'run now':
        return call('POST', `/v1/jobs/${job}/runs`, op, n, phase);
      case 'list jobs':
        return call('GET', '/v1/jobs?limit=20', op, n, phase);
    }
  };
  return { send, close: () => agent.destroy() };
}

/**
 * The same operations as the fewest DynamoDB and SQS calls that could serve them: a GetItem
 * for a job or a run, a Query of one page for a list, a PutItem for a create, an UpdateItem
 * for an update, a SendMessage and a PutItem for a run now. The SDK's defaults, as Sundial's.
 */
function baselineSender(config: GeneratorConfig): { send: Sender; close(): void } {
  const b = config.baseline!;
  const common = {
    region: b.region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  };
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ ...common, endpoint: b.dynamodbEndpoint }), {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
  });
  const sqs = new SQSClient({ ...common, endpoint: b.sqsEndpoint, useQueueUrlAsEndpoint: false });
  const tenantPk = `TENANT#${b.tenantId}`;
  const runPk = (jobId: string) => `TENANT#${b.tenantId}#JOB#${jobId}`;
  const ok = async (p: Promise<unknown>) => {
    await p;
    return 200;
  };
  const next = picker(config);
  const send: Sender = async (op, n) => {
    const { job, run } = next(op);
    const now = new Date().toISOString();
    switch (op) {
      case 'get job':
        return ok(
          db.send(new GetCommand({ TableName: b.jobsTable, Key: { pk: tenantPk, sk: `JOB#${job}` } })),
        );
      case 'get run':
        return ok(
          db.send(
            new GetCommand({ TableName: b.runsTable, Key: { pk: runPk(run.jobId), sk: `RUN#${run.runId}` } }),
          ),
        );
      case 'list runs':
        return ok(
          db.send(
            new QueryCommand({
              TableName: b.runsTable,
              KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
              ExpressionAttributeValues: { ':pk': runPk(run.jobId), ':prefix': 'RUN#' },
              ScanIndexForward: false,
              Limit: 20,
            }),
          ),
        );
      case 'create job': {
        const id = `job_load${process.pid}x${n}`;
        return ok(
          db.send(
            new PutCommand({
              TableName: b.jobsTable,
              Item: { ...b.jobItem, pk: tenantPk, sk: `JOB#${id}`, id, name: `load-${n}`, createdAt: now },
              ConditionExpression: 'attribute_not_exists(pk)',
            }),
          ),
        );
      }
      case 'update job':
        return ok(
          db.send(
            new UpdateCommand({
              TableName: b.jobsTable,
              Key: { pk: tenantPk, sk: `JOB#${job}` },
              UpdateExpression: 'SET #description = :d, updatedAt = :now ADD #version :one',
              ConditionExpression: 'attribute_exists(pk)',
              ExpressionAttributeNames: { '#description': 'description', '#version': 'version' },
              ExpressionAttributeValues: { ':d': `load ${n}`, ':now': now, ':one': 1 },
            }),
          ),
        );
      case 'run now': {
        const runId = `m_${Date.now()}_${process.pid}x${n}`;
        await sqs.send(
          new SendMessageCommand({
            QueueUrl: b.queueUrl,
            MessageBody: JSON.stringify({ v: 1, tenantId: b.tenantId, jobId: job, runId, trigger: 'manual' }),
          }),
        );
        return ok(
          db.send(
            new PutCommand({
              TableName: b.runsTable,
              Item: {
                ...b.runItem,
                pk: runPk(job),
                sk: `RUN#${runId}`,
                id: runId,
                jobId: job,
                status: 'queued',
                scheduledAt: now,
              },
              ConditionExpression: 'attribute_not_exists(pk)',
            }),
          ),
        );
      }
      case 'list jobs':
        return ok(
          db.send(
            new QueryCommand({
              TableName: b.jobsTable,
              KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
              ExpressionAttributeValues: { ':pk': tenantPk, ':prefix': 'JOB#' },
              Limit: 20,
            }),
          ),
        );
    }
  };
  return {
    send,
    close: () => {
      db.destroy();
      sqs.destroy();
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs every phase on one clock: request i of a phase is due at its start + i / rps. */
export async function generate(
  config: GeneratorConfig,
  onPhase: (index: number, edge: 'start' | 'end') => void,
): Promise<GeneratorResult> {
  const errors: string[] = [];
  const throttles: string[] = [];
  const throttleKinds: Record<string, number> = {};
  const target =
    config.mode === 'sundial'
      ? sundialSender(config, errors, throttles, throttleKinds)
      : baselineSender(config);
  const records: RequestRecord[] = [];
  const inFlight = new Set<Promise<void>>();
  const cpuBefore = process.cpuUsage();
  let n = 0;
  try {
    let phaseStart = performance.now() + 20;
    for (const [p, phase] of config.phases.entries()) {
      const interval = 1000 / phase.rps;
      const count = Math.round(phase.rps * phase.seconds);
      const wait = phaseStart - performance.now();
      if (wait > 0) await sleep(wait);
      onPhase(p, 'start');
      for (let i = 0; i < count; i++) {
        const due = phaseStart + i * interval;
        // A timer waits whole milliseconds: the lateness it adds is counted as lag.
        for (let early = due - performance.now(); early > 0; early = due - performance.now()) {
          await sleep(early);
        }
        const started = performance.now();
        const op = MIX[n % MIX.length]!;
        const opIndex = OPERATIONS.indexOf(op);
        const seq = n++;
        const promise = target.send(op, seq, phase.name).then(
          (status) => {
            records.push([p, opIndex, performance.now() - due, started - due, status, seq]);
          },
          (error: unknown) => {
            if (errors.length < 10) errors.push(`${op}: ${String(error)}`);
            records.push([p, opIndex, performance.now() - due, started - due, 0, seq]);
          },
        );
        const tracked = promise.finally(() => inFlight.delete(tracked));
        inFlight.add(tracked);
      }
      phaseStart += phase.seconds * 1000;
      const left = phaseStart - performance.now();
      if (left > 0) await sleep(left);
      onPhase(p, 'end');
    }
    await Promise.all(inFlight);
  } finally {
    target.close();
  }
  const cpu = process.cpuUsage(cpuBefore);
  return {
    pid: process.pid,
    mode: config.mode,
    records,
    errorSamples: errors,
    throttleSamples: throttles,
    throttleKinds,
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
  };
}

// Run as the generator (`node --import tsx bench/load-generator.ts`, with an IPC channel), not when imported.
if (process.send && process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.on('message', (message: { type: string; config: GeneratorConfig }) => {
    if (message.type !== 'start') return;
    generate(message.config, (index, edge) => {
      void send({ type: 'phase', index, edge, at: Date.now() });
    })
      .then((result) => send({ type: 'done', result }))
      .catch((error: unknown) => send({ type: 'failed', error: String(error) }))
      .finally(() => process.disconnect());
  });
}
