/**
 * The `sundial` CLI as a user runs it: the real binary (cli/sundial.mjs) spawned against a
 * local runtime on the real clock, its output read as a person or a script would, its
 * exit codes checked: 0 ok, 1 the API refused, 2 usage.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSundialClient, type Job, must, type Run, type SundialClient } from '../../client/index.js';
import { systemClock } from '../../functions/commons/clock.js';
import { archiveDeadLetter } from '../../functions/usecases/dead-letters.js';
import { DEV_TENANT, type LocalRuntime, startLocalRuntime } from '../../local/runtime.js';
import { eventually, RecordingTarget } from './support.js';

const CLI = resolve('cli/sundial.mjs');
const FIXTURES = resolve('test/fixtures/apply');
/** The viewer's zone the CLI is run in: tables show it beside the job's. */
const VIEWER_TZ = 'Asia/Tokyo';

const target = new RecordingTarget();
let runtime: LocalRuntime;
let api: SundialClient;
let home: string;

beforeAll(async () => {
  await target.start();
  runtime = await startLocalRuntime({ port: 0, logLevel: 'SILENT' });
  api = createSundialClient({ baseUrl: runtime.apiUrl, apiKey: runtime.devApiKey });
  home = await mkdtemp(join(tmpdir(), 'sundial-cli-'));
});

afterAll(async () => {
  await runtime?.stop();
  await target.stop();
  if (home) await rm(home, { recursive: true, force: true });
});

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  env?: Record<string, string | undefined>;
  input?: string;
  /** Leave SUNDIAL_URL and SUNDIAL_API_KEY unset. */
  bare?: boolean;
}

/** Only what the test gives: no key or profile of whoever runs the tests leaks in. */
function environment(options: RunOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    XDG_CONFIG_HOME: join(home, 'config'),
    TZ: VIEWER_TZ,
    NO_COLOR: '1',
    ...(options.bare ? {} : { SUNDIAL_URL: runtime.apiUrl, SUNDIAL_API_KEY: runtime.devApiKey }),
    CLI_E2E_TARGET: target.url,
    CLI_E2E_TOKEN: 'token-one',
  };
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

function start(args: string[], options: RunOptions = {}): ChildProcess {
  const child = spawn(process.execPath, [CLI, ...args], { env: environment(options), stdio: 'pipe' });
  child.stdin?.end(options.input ?? '');
  return child;
}

function collect(child: ChildProcess): { output: Result; done: Promise<Result> } {
  const output: Result = { code: null, stdout: '', stderr: '' };
  child.stdout?.on('data', (chunk: Buffer) => {
    output.stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output.stderr += chunk.toString();
  });
  const done = new Promise<Result>((resolve) =>
    child.on('close', (code) => {
      output.code = code;
      resolve(output);
    }),
  );
  return { output, done };
}

/** Runs `sundial …` to its end (asynchronously: the runtime answers from this process). */
function sundial(args: string[], options: RunOptions = {}): Promise<Result> {
  return collect(start(args, options)).done;
}

async function json<T>(args: string[], options: RunOptions = {}): Promise<T> {
  const result = await sundial([...args, '--json'], options);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as T;
}

async function createJob(body: Record<string, unknown>): Promise<Job> {
  return must(api.POST('/v1/jobs', { body: { name: 'cli', ...body } as never }));
}

const httpTarget = (path: string, extra: Record<string, unknown> = {}) => ({
  type: 'http',
  url: `${target.url}${path}`,
  method: 'GET',
  ...extra,
});

async function waitForRun(jobId: string, what: (run: Run) => boolean, description: string): Promise<Run> {
  return eventually(
    async () => {
      const page = await must(api.GET('/v1/jobs/{jobId}/runs', { params: { path: { jobId } } }));
      return page.items.find(what);
    },
    { timeoutMs: 30_000, what: description },
  );
}

describe('usage', () => {
  it('prints help with examples, for the program and each command, and exits 0', async () => {
    const top = await sundial(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain('Usage: sundial');
    for (const command of ['jobs', 'runs', 'preview', 'backfill', 'dlq', 'keys', 'apply', 'login']) {
      expect(top.stdout).toContain(command);
    }
    for (const args of [['jobs', 'list'], ['runs', 'watch'], ['preview'], ['apply'], ['keys', 'create']]) {
      const help = await sundial([...args, '--help']);
      expect(help.code, args.join(' ')).toBe(0);
      expect(help.stdout, args.join(' ')).toContain('Example');
    }
  });

  it("refuses, with the API's problem and exit 1, each command aimed at what does not exist", async () => {
    const missing = 'job_doesnotexist';
    for (const args of [
      ['jobs', 'get', missing],
      ['jobs', 'pause', missing],
      ['jobs', 'resume', missing],
      ['jobs', 'run', missing],
      ['jobs', 'delete', missing],
      ['runs', 'list', missing],
      ['runs', 'get', missing, 'run_20261123T100100000Z'],
    ]) {
      const result = await sundial(args);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr, args.join(' ')).toContain('Not found (404)');
    }
    // A cursor the API did not make is refused, naming the field.
    for (const args of [
      ['dlq', 'list'],
      ['keys', 'list'],
      ['jobs', 'list'],
    ]) {
      const result = await sundial([...args, '--cursor', 'not-a-cursor']);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr, args.join(' ')).toContain('cursor');
    }
  });

  it('exits 2 on an unknown command or option, a missing argument, and with no API key', async () => {
    const unknown = await sundial(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    expect((await sundial(['jobs', 'list', '--bogus'])).code).toBe(2);
    const missing = await sundial(['jobs', 'get']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("missing required argument 'jobId'");
    expect((await sundial(['jobs', 'list', '--state', 'sleeping'])).code).toBe(2);
    const noKey = await sundial(['jobs', 'list'], { bare: true });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('no API key: set SUNDIAL_API_KEY or run `sundial login`');
    // A key never travels in clear to another machine: usage, nothing sent.
    const clear = await sundial(['jobs', 'list'], { env: { SUNDIAL_URL: 'http://sundial.internal:3000' } });
    expect(clear.code).toBe(2);
    expect(clear.stderr).toContain('refusing to send the API key in clear to sundial.internal:3000');
  });

  it('says plainly when the API cannot be reached, and exits 1', async () => {
    const result = await sundial(['jobs', 'list'], { env: { SUNDIAL_URL: 'http://127.0.0.1:8001' } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot reach Sundial at http://127.0.0.1:8001 (connection refused)');
  });

  it('refuses a key the API does not know with its problem (exit 1), on stdout too with --json', async () => {
    const result = await sundial(['jobs', 'list', '--json'], { env: { SUNDIAL_API_KEY: 'sk_nope' } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Unauthorized (401)');
    expect(JSON.parse(result.stdout)).toMatchObject({ status: 401, title: 'Unauthorized' });
  });
});

describe('jobs', () => {
  it('creates a job from YAML and from JSON on stdin, shows it, and lists it with both zones', async () => {
    const file = join(home, 'job.yaml');
    await writeFile(
      file,
      [
        'name: cli-created',
        "schedule: { expression: 'cron(0 9 * * ? *)', timezone: America/New_York }",
        `target: { type: http, url: '${target.url}/created', method: GET }`,
        'tags: { origin: cli-e2e }',
      ].join('\n'),
    );
    const created = await sundial(['jobs', 'create', '-f', file]);
    expect(created.code, created.stderr).toBe(0);
    const id = /Created job (job_\w+)/.exec(created.stdout)?.[1];
    expect(id).toBeDefined();

    const fromStdin = await json<Job>(['jobs', 'create', '-f', '-'], {
      input: JSON.stringify({ name: 'cli-stdin', target: httpTarget('/stdin'), tags: { origin: 'cli-e2e' } }),
    });
    expect(fromStdin).toMatchObject({ name: 'cli-stdin', schedule: null, version: 1 });

    const got = await json<Job>(['jobs', 'get', id!]);
    expect(got).toMatchObject({ id, name: 'cli-created', schedule: { timezone: 'America/New_York' } });
    const shown = await sundial(['jobs', 'get', id!]);
    expect(shown.stdout).toMatch(/name:\s+cli-created/);
    expect(shown.stdout).toContain('cron(0 9 * * ? *) America/New_York');

    const page = await json<{ items: Job[]; nextCursor: string | null }>([
      'jobs',
      'list',
      '--tag',
      'origin:cli-e2e',
    ]);
    expect(page.items.map((j) => j.id).sort()).toEqual([id, fromStdin.id].sort());
    expect(page.nextCursor).toBeNull();

    const table = await sundial(['jobs', 'list', '--tag', 'origin:cli-e2e']);
    expect(table.code).toBe(0);
    const [header, ...rows] = table.stdout.trim().split('\n');
    expect(header).toMatch(/^ID\s+NAME\s+STATE\s+SCHEDULE\s+NEXT RUN \(Asia\/Tokyo\)\s+LAST RUN$/);
    const row = rows.find((r) => r.startsWith(id!))!;
    // 09:00 in New York is 22:00 or 23:00 in Tokyo: both are shown.
    expect(row).toMatch(/\d{4}-\d{2}-\d{2} 2[23]:00 \(\d{4}-\d{2}-\d{2} 09:00 America\/New_York\)/);
    // Columns line up: each row's NAME starts where the header's does.
    expect(row.indexOf('cli-created')).toBe(header!.indexOf('NAME'));
  });

  it('follows nextCursor with --all', async () => {
    for (const n of [1, 2, 3])
      await createJob({ name: `paged-${n}`, target: httpTarget('/paged'), tags: { origin: 'paged' } });
    const one = await json<{ items: Job[]; nextCursor: string | null }>([
      'jobs',
      'list',
      '--tag',
      'origin:paged',
      '--limit',
      '1',
    ]);
    expect(one.items).toHaveLength(1);
    expect(one.nextCursor).not.toBeNull();
    const all = await json<{ items: Job[]; nextCursor: string | null }>([
      'jobs',
      'list',
      '--tag',
      'origin:paged',
      '--limit',
      '1',
      '--all',
    ]);
    expect(all.items.map((j) => j.name).sort()).toEqual(['paged-1', 'paged-2', 'paged-3']);
    expect(all.nextCursor).toBeNull();
  });

  it('refuses a bad job with its fields (exit 1), and a file it cannot read (exit 2)', async () => {
    const bad = await sundial(['jobs', 'create', '-f', '-'], {
      input: JSON.stringify({ name: 'bad', target: { type: 'http', url: 'not a url' } }),
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('Invalid request (400)');
    expect(bad.stderr).toContain('  target.url: must be an absolute http:// or https:// URL');
    const badJson = await sundial(['jobs', 'create', '-f', '-', '--json'], { input: '{"name":"bad"}' });
    expect(badJson.code).toBe(1);
    expect(JSON.parse(badJson.stdout)).toMatchObject({ status: 400, errors: [{ field: 'target' }] });

    const missing = await sundial(['jobs', 'create', '-f', join(home, 'nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('nope.yaml: cannot be read (ENOENT)');
    const garbage = await sundial(['jobs', 'create', '-f', '-'], { input: '{ "name": ' });
    expect(garbage.code).toBe(2);
    expect(garbage.stderr).toContain('is not valid JSON');
    const unknown = await sundial(['jobs', 'get', 'job_doesnotexist']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('Not found (404)');
  });

  it('pauses with a reason shown by get and list, resumes, and deletes', async () => {
    const job = await createJob({
      name: 'cli-paused',
      schedule: { expression: 'rate(1 hour)' },
      target: httpTarget('/paused'),
      tags: { origin: 'pause' },
    });
    const paused = await sundial(['jobs', 'pause', job.id, '--reason', 'the upstream API is down']);
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.stdout).toContain('the upstream API is down');
    expect((await json<Job>(['jobs', 'get', job.id])).pausedReason).toBe('the upstream API is down');
    expect((await sundial(['jobs', 'get', job.id])).stdout).toMatch(
      /paused reason:\s+the upstream API is down/,
    );
    const listed = await sundial(['jobs', 'list', '--state', 'paused', '--tag', 'origin:pause']);
    expect(listed.stdout).toContain('paused: the upstream API is down');

    const resumed = await json<Job>(['jobs', 'resume', job.id]);
    expect(resumed).toMatchObject({ state: 'enabled', pausedReason: null });
    const tooLong = await sundial(['jobs', 'pause', job.id, '--reason', 'x'.repeat(300)]);
    expect(tooLong.code).toBe(1);
    expect(tooLong.stderr).toContain('reason: must be at most 256 characters');

    const deleted = await sundial(['jobs', 'delete', job.id]);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toContain(`Deleted job ${job.id}`);
    expect((await sundial(['jobs', 'delete', job.id])).code).toBe(1);
  });
});

describe('runs', () => {
  it('watches a job: each new run and status change as a line until SIGINT, then exits 0', async () => {
    // A callback target: the run stays running until the test reports its end, so the watch
    // sees it running and then sees it change, however the polls fall.
    const job = await createJob({
      name: 'cli-watched',
      target: httpTarget('/watched', { method: 'POST', completion: 'callback' }),
    });
    const humanChild = start(['runs', 'watch', job.id, '--interval', '1']);
    const jsonChild = start(['runs', 'watch', job.id, '--interval', '1', '--json']);
    const people = collect(humanChild);
    const scripts = collect(jsonChild);
    // Each watch has read the job's runs once (there are none) before the run is made.
    for (const watch of [people, scripts]) {
      await eventually(async () => (watch.output.stderr.includes('Watching runs of') ? true : undefined), {
        what: 'the watch to start',
      });
    }
    const queued = await json<Run>(['jobs', 'run', job.id]);
    expect(queued).toMatchObject({ jobId: job.id, trigger: 'manual' });
    for (const [watch, running] of [
      [people, 'running'],
      [scripts, '"running"'],
    ] as const) {
      await eventually(async () => (watch.output.stdout.includes(running) ? true : undefined), {
        timeoutMs: 30_000,
        what: 'the watch to show the run running',
      });
    }
    const callbackUrl = String(target.callsTo('/watched')[0]?.headers['sundial-callback-url']);
    const reported = await fetch(callbackUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'succeeded', output: { rows: 3 } }),
    });
    expect(reported.status).toBe(204);

    await eventually(async () => (people.output.stdout.includes('succeeded') ? true : undefined), {
      timeoutMs: 30_000,
      what: 'the watch to show the run succeeded',
    });
    await eventually(async () => (scripts.output.stdout.includes('"succeeded"') ? true : undefined), {
      timeoutMs: 30_000,
      what: 'the JSON watch to show the run succeeded',
    });
    // SIGINT is Ctrl-C: the watch stops and exits 0.
    humanChild.kill('SIGINT');
    jsonChild.kill('SIGINT');
    const [human, machine] = await Promise.all([people.done, scripts.done]);
    expect(human.code, human.stderr).toBe(0);
    expect(machine.code, machine.stderr).toBe(0);
    const lines = human.stdout.trim().split('\n');
    expect(lines.every((line) => line.includes(queued.id))).toBe(true);
    expect(lines.at(-1)).toMatch(/running → succeeded/);
    const events = machine.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Run);
    expect(events.every((e) => e.id === queued.id)).toBe(true);
    expect(events.at(-1)).toMatchObject({ status: 'succeeded', output: { rows: 3 } });

    // A job that does not exist is refused at once, not watched.
    const unknown = await sundial(['runs', 'watch', 'job_doesnotexist']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('Not found (404)');
  });

  it('lists runs (filtered, every page), shows one with its attempts, and refuses unknown ones', async () => {
    const job = await createJob({
      name: 'cli-runs',
      target: httpTarget('/flaky-1'),
      retryPolicy: { maxAttempts: 2, initialDelaySeconds: 1 },
    });
    const first = await json<Run>(['jobs', 'run', job.id]);
    const done = await waitForRun(
      job.id,
      (r) => r.id === first.id && r.status === 'succeeded',
      'the retried run to succeed',
    );
    expect(done.attempts).toHaveLength(2);
    const second = await json<Run>(['jobs', 'run', job.id]);
    await waitForRun(
      job.id,
      (r) => r.id === second.id && r.status === 'succeeded',
      'the second run to succeed',
    );

    const all = await json<{ items: Run[]; nextCursor: string | null }>([
      'runs',
      'list',
      job.id,
      '--limit',
      '1',
      '--all',
    ]);
    expect(all.items.map((r) => r.id).sort()).toEqual([first.id, second.id].sort());
    expect(all.nextCursor).toBeNull();
    const failed = await json<{ items: Run[] }>(['runs', 'list', job.id, '--status', 'failed']);
    expect(failed.items).toEqual([]);
    const table = await sundial(['runs', 'list', job.id]);
    expect(table.stdout).toMatch(
      /^RUN\s+TRIGGER\s+STATUS\s+SCHEDULED \(Asia\/Tokyo\)\s+ATTEMPT\s+DURATION\s+OUTCOME/,
    );
    expect(table.stdout).toMatch(new RegExp(`${first.id}\\s+manual\\s+succeeded`));

    const shown = await sundial(['runs', 'get', job.id, first.id]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/status:\s+succeeded/);
    expect(shown.stdout).toContain('Attempts:');
    expect(shown.stdout).toMatch(/1\s+failed\s+.*500\s+http_status/);
    expect(shown.stdout).toMatch(/2\s+succeeded\s+.*200/);
    const got = await json<Run>(['runs', 'get', job.id, first.id]);
    expect(got).toMatchObject({
      id: first.id,
      status: 'succeeded',
      attempts: [{ status: 'failed' }, { status: 'succeeded' }],
    });

    const unknown = await sundial(['runs', 'get', job.id, 'run_20990101T000000000Z']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('Not found (404)');
    // An ended run cannot be cancelled.
    const late = await sundial(['runs', 'cancel', job.id, first.id]);
    expect(late.code).toBe(1);
    expect(late.stderr).toContain('Conflict (409)');
  });

  it('cancels a long run in progress and shows who did', async () => {
    const job = await createJob({
      name: 'cli-long',
      target: httpTarget('/long', { method: 'POST', completion: 'callback' }),
    });
    const queued = await json<Run>(['jobs', 'run', job.id]);
    await waitForRun(
      job.id,
      (r) => r.id === queued.id && r.status === 'running',
      'the callback run to be running',
    );
    const shown = await sundial(['runs', 'get', job.id, queued.id]);
    expect(shown.stdout).toMatch(/deadline:\s+\d{4}-/);
    const cancelled = await sundial(['runs', 'cancel', job.id, queued.id]);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toContain(`Cancelled run ${queued.id}`);
    expect((await json<Run>(['runs', 'get', job.id, queued.id])).cancelledBy).toMatch(/^key:/);
  });
});

/** The next second Sunday of March (the US change to daylight time) that is still ahead. */
function nextUsSpringForward(now = new Date()): Date {
  for (let year = now.getUTCFullYear(); ; year++) {
    const march1 = new Date(Date.UTC(year, 2, 1));
    const day = 1 + ((7 - march1.getUTCDay()) % 7) + 7;
    const change = new Date(Date.UTC(year, 2, day, 7));
    if (change.getTime() > now.getTime() + 3 * 86_400_000) return change;
  }
}

describe('preview', () => {
  it('marks the fire time a daylight-saving change moves, in the zone, UTC and the viewer zone', async () => {
    const change = nextUsSpringForward();
    const start = new Date(change.getTime() - 2 * 86_400_000 - 7 * 3_600_000).toISOString();
    const args = [
      'preview',
      'cron(0 9 * * ? *)',
      '--tz',
      'America/New_York',
      '--start',
      start,
      '--count',
      '4',
    ];
    const body = await json<{ fireTimes: string[] }>(args);
    expect(Object.keys(body)).toEqual(['fireTimes']);
    expect(body.fireTimes).toHaveLength(4);
    // 09:00 EST is 14:00 UTC; from the change on, 09:00 EDT is 13:00 UTC.
    expect(body.fireTimes.map((t) => t.slice(11, 16))).toEqual(['14:00', '14:00', '13:00', '13:00']);

    const result = await sundial(args);
    expect(result.code).toBe(0);
    const [header, ...rows] = result.stdout.trim().split('\n');
    expect(header).toMatch(/^#\s+America\/New_York\s+UTC\s+YOURS \(Asia\/Tokyo\)$/);
    expect(rows).toHaveLength(4);
    expect(rows[0]).toMatch(/09:00 -05:00\s+\S+ 14:00\s+\S+ 23:00 \+09:00$/);
    expect(rows[2]).toMatch(/09:00 -04:00\s+\S+ 13:00\s+\S+ 22:00 \+09:00\s+DST offset -05:00 → -04:00$/);
    expect(rows.filter((r) => r.includes('DST'))).toHaveLength(1);
  });

  it('refuses a bad expression naming the field (exit 1), and a bad --start (exit 2)', async () => {
    const bad = await sundial(['preview', 'rate(5 minute)']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('plural');
    expect((await sundial(['preview', 'rate(5 minutes)', '--start', 'yesterday'])).code).toBe(2);
    expect((await sundial(['preview', 'rate(5 minutes)', '--count', '0'])).code).toBe(2);
  });
});

describe('backfill', () => {
  it('queues every past occurrence in the range once, and refuses a range reaching into the future', async () => {
    const job = await createJob({
      name: 'cli-backfill',
      schedule: { expression: 'cron(0 * * * ? *)' },
      target: httpTarget('/backfill'),
    });
    const hour = 3_600_000;
    const top = Math.floor(Date.now() / hour) * hour;
    const from = new Date(top - 3 * hour).toISOString();
    const to = new Date(top - hour).toISOString();
    const result = await sundial(['backfill', job.id, '--from', from, '--to', to]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('Queued 2 backfill run(s)');
    expect(await json<{ runs: number }>(['backfill', job.id, '--from', from, '--to', to])).toEqual({
      runs: 0,
    });

    const future = await sundial([
      'backfill',
      job.id,
      '--from',
      from,
      '--to',
      new Date(top + 2 * hour).toISOString(),
    ]);
    expect(future.code).toBe(1);
    expect(future.stderr).toContain('to: must not be in the future');
    expect((await sundial(['backfill', job.id, '--from', 'last week', '--to', to])).code).toBe(2);
    expect((await sundial(['backfill', job.id, '--to', to])).code).toBe(2);
  });
});

describe('dead letters', () => {
  it('lists dead letters and redrives them once', async () => {
    const job = await createJob({ name: 'cli-dlq', target: httpTarget('/dlq') });
    const signer = runtime.services.firingSigner;
    const message = await signer.sign({
      v: 1 as const,
      tenantId: DEV_TENANT,
      jobId: job.id,
      trigger: 'schedule' as const,
      scheduledTime: new Date(Math.floor(Date.now() / 60_000) * 60_000 - 60_000).toISOString(),
    });
    const letter = await archiveDeadLetter(
      {
        deadLetters: runtime.services.deadLetterStore,
        runs: runtime.services.runStore,
        clock: systemClock,
        signer,
      },
      { messageId: randomUUID(), body: JSON.stringify(message), priority: 'default', receiveCount: 5 },
    );

    const listed = await json<{ items: { id: string; status: string }[] }>([
      'dlq',
      'list',
      '--status',
      'dead',
    ]);
    expect(listed.items.map((l) => l.id)).toContain(letter.id);
    const table = await sundial(['dlq', 'list']);
    expect(table.stdout).toMatch(new RegExp(`${letter.id}\\s+${job.id}`));

    const redriven = await sundial(['dlq', 'redrive', letter.id]);
    expect(redriven.code, redriven.stderr).toBe(0);
    expect(redriven.stdout).toContain(`Redriven: ${letter.id}`);
    expect(await json(['dlq', 'redrive', letter.id])).toEqual({ redriven: [], alreadyRedriven: [letter.id] });
    await waitForRun(job.id, (r) => r.status === 'succeeded', 'the redriven firing to run');

    const unknown = await sundial(['dlq', 'redrive', 'no-such-letter']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('(404)');
  });
});

describe('keys', () => {
  it('creates a key shown once, lists keys without it, revokes it; a viewer may not', async () => {
    const created = await sundial(['keys', 'create', '--name', 'cli-viewer', '--role', 'viewer']);
    expect(created.code, created.stderr).toBe(0);
    const secret = /^\s+(sk_\S+)$/m.exec(created.stdout)?.[1];
    expect(secret).toBeDefined();
    expect(created.stdout).toContain('shown this once');
    const id = /\(id (\w+)\)/.exec(created.stdout)?.[1];

    const listed = await sundial(['keys', 'list']);
    expect(listed.stdout).toMatch(new RegExp(`${id}\\s+cli-viewer\\s+viewer`));
    expect(listed.stdout).not.toContain(secret);
    const page = await json<{ items: { id: string }[] }>(['keys', 'list']);
    expect(page.items.map((k) => k.id)).toContain(id);

    // The viewer key reads jobs but may not manage keys.
    expect((await sundial(['jobs', 'list'], { env: { SUNDIAL_API_KEY: secret } })).code).toBe(0);
    const forbidden = await sundial(['keys', 'list'], { env: { SUNDIAL_API_KEY: secret } });
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toContain('Forbidden (403)');

    const operator = await json<{ key: string; role: string }>([
      'keys',
      'create',
      '--name',
      'cli-op',
      '--role',
      'operator',
    ]);
    expect(operator).toMatchObject({ role: 'operator', key: expect.stringMatching(/^sk_/) });
    expect((await sundial(['keys', 'create', '--name', 'x', '--role', 'root'])).code).toBe(2);

    expect((await sundial(['keys', 'revoke', id!])).code).toBe(0);
    expect((await sundial(['jobs', 'list'], { env: { SUNDIAL_API_KEY: secret } })).code).toBe(1);
    expect((await sundial(['keys', 'revoke', id!])).code).toBe(1);
  });
});

describe('login', () => {
  it('checks the key, saves a 0600 profile, and then works without environment variables', async () => {
    const config = join(home, 'login-config');
    const env = { XDG_CONFIG_HOME: config };
    const refused = await sundial(['login', '--url', runtime.apiUrl], {
      bare: true,
      env,
      input: 'sk_wrong\n',
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('was not saved');
    await expect(stat(join(config, 'sundial', 'config.json'))).rejects.toThrow();

    const login = await sundial(['login', '--url', runtime.apiUrl], {
      bare: true,
      env,
      input: `${runtime.devApiKey}\n`,
    });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toContain('profile "default"');
    expect(login.stdout + login.stderr).not.toContain(runtime.devApiKey);
    const path = join(config, 'sundial', 'config.json');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({
      profiles: { default: { url: runtime.apiUrl, apiKey: runtime.devApiKey } },
    });

    const listed = await sundial(['jobs', 'list', '--json'], { bare: true, env });
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toHaveProperty('items');
    // The environment wins over the profile.
    expect(
      (await sundial(['jobs', 'list'], { bare: true, env: { ...env, SUNDIAL_API_KEY: 'sk_nope' } })).code,
    ).toBe(1);
    // A second profile beside the first; an unknown one is a usage error.
    const staging = await sundial(
      ['--profile', 'staging', 'login', '--url', runtime.apiUrl, '--api-key', runtime.devApiKey],
      { bare: true, env },
    );
    expect(staging.code, staging.stderr).toBe(0);
    expect(Object.keys(JSON.parse(await readFile(path, 'utf8')).profiles)).toEqual(['default', 'staging']);
    expect((await sundial(['--profile', 'staging', 'jobs', 'list'], { bare: true, env })).code).toBe(0);
    const unknown = await sundial(['--profile', 'prod', 'jobs', 'list'], { bare: true, env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no profile "prod"');
    expect((await sundial(['--profile', 'staging', 'logout'], { bare: true, env })).code).toBe(0);
    expect(Object.keys(JSON.parse(await readFile(path, 'utf8')).profiles)).toEqual(['default']);
  });
});

async function keyed(): Promise<Job[]> {
  const page = await must(api.GET('/v1/jobs', { params: { query: { limit: 100 } } }));
  return page.items.filter((j) => Object.hasOwn(j.tags, 'sundial/key'));
}

const byKey = async (key: string) => (await keyed()).find((j) => j.tags['sundial/key'] === key);

describe('apply', () => {
  const file = (name: string) => join(FIXTURES, name);

  it('refuses a file with errors, naming file, key and field, and changes nothing', async () => {
    const result = await sundial(['apply', '-f', file('invalid.yaml')]);
    expect(result.code).toBe(2);
    const path = file('invalid.yaml');
    expect(result.stderr).toContain(
      `${path}: cli-e2e-broken: schedule.expression: rate() unit must be plural`,
    );
    expect(result.stderr).toContain(
      `${path}: cli-e2e-broken: schedule.timezone: "Mars/Olympus" is not an IANA time zone`,
    );
    expect(result.stderr).toContain(`${path}: cli-e2e-retry: retryPolicy.maxAttempts:`);
    expect(result.stderr).not.toContain('cli-e2e-fine:');
    expect(result.stdout).toBe('');
    expect(await keyed()).toEqual([]);

    const unset = await sundial(['apply', '-f', file('jobs.yaml')], { env: { CLI_E2E_TOKEN: undefined } });
    expect(unset.code).toBe(2);
    expect(unset.stderr).toContain(
      `${file('jobs.yaml')}: cli-e2e-report: target.secretHeaders.Authorization: \${CLI_E2E_TOKEN} is not set in the environment`,
    );
    expect(await keyed()).toEqual([]);
  });

  it('plans, creates (dependencies by key, secrets from the environment), then changes nothing', async () => {
    const plan = await sundial(['apply', '-f', file('jobs.yaml'), '--dry-run']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toBe(
      '+ create cli-e2e-report\n+ create cli-e2e-publish\nPlan: 2 to create, 0 to update, 0 to delete, 0 unchanged.\n',
    );
    expect(await keyed()).toEqual([]);

    const applied = await sundial(['apply', '-f', file('jobs.yaml')]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toBe(
      '+ create cli-e2e-report\n+ create cli-e2e-publish\nApplied: 2 created, 0 updated, 0 deleted, 0 unchanged.\n',
    );
    const report = (await byKey('cli-e2e-report'))!;
    const publish = (await byKey('cli-e2e-publish'))!;
    expect(report).toMatchObject({
      name: 'Nightly report',
      schedule: { expression: 'cron(0 2 * * ? *)', timezone: 'Europe/Berlin' },
      retryPolicy: { maxAttempts: 3 },
      tags: { team: 'reports', 'sundial/key': 'cli-e2e-report' },
      target: { url: `${target.url}/report`, secretHeaderNames: ['Authorization'] },
    });
    expect(publish.dependsOn).toEqual([report.id]);
    // The tag finds it, as the contract says.
    const found = await json<{ items: Job[] }>(['jobs', 'list', '--tag', 'sundial/key:cli-e2e-report']);
    expect(found.items.map((j) => j.id)).toEqual([report.id]);

    const again = await sundial(['apply', '-f', file('jobs.yaml')]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(
      '= unchanged cli-e2e-report\n= unchanged cli-e2e-publish\nApplied: no changes, 2 unchanged.\n',
    );
    expect((await byKey('cli-e2e-report'))!.version).toBe(report.version);

    // The secret header value came from the environment.
    target.reset();
    await json(['jobs', 'run', report.id]);
    await eventually(async () => target.callsTo('/report')[0], { what: 'the report call' });
    expect(target.callsTo('/report')[0]!.headers.authorization).toBe('Bearer token-one');
    // ...and its dependent ran after it.
    await eventually(async () => target.callsTo('/publish')[0], { what: 'the dependent publish call' });
  });

  it('updates only what changed, naming the fields; --resend-secrets pushes a new secret value', async () => {
    const before = (await byKey('cli-e2e-report'))!;
    const plan = await sundial(['apply', '-f', file('jobs-changed.yaml'), '--dry-run']);
    expect(plan.stdout).toBe(
      [
        '~ update cli-e2e-report (schedule, retryPolicy)',
        '~ update cli-e2e-publish (priority)',
        'Plan: 0 to create, 2 to update, 0 to delete, 0 unchanged.',
        '',
      ].join('\n'),
    );
    const applied = await json<{ summary: unknown; changes: { key: string; fields?: string[] }[] }>([
      'apply',
      '-f',
      file('jobs-changed.yaml'),
    ]);
    expect(applied.summary).toEqual({ create: 0, update: 2, delete: 0, unchanged: 0 });
    const after = (await byKey('cli-e2e-report'))!;
    expect(after).toMatchObject({
      id: before.id,
      version: before.version + 1,
      schedule: { expression: 'cron(0 3 * * ? *)' },
      retryPolicy: { maxAttempts: 1 },
      target: { secretHeaderNames: ['Authorization'] },
    });
    expect((await byKey('cli-e2e-publish'))!.priority).toBe('high');

    // A new secret value is not seen (only names are compared) until it is resent.
    const rotated = { env: { CLI_E2E_TOKEN: 'token-two' } };
    const unseen = await sundial(['apply', '-f', file('jobs-changed.yaml')], rotated);
    expect(unseen.stdout).toContain('Applied: no changes, 2 unchanged.');
    expect(unseen.stderr).toContain('--resend-secrets');
    const resent = await sundial(['apply', '-f', file('jobs-changed.yaml'), '--resend-secrets'], rotated);
    expect(resent.code, resent.stderr).toBe(0);
    expect(resent.stdout).toContain('~ update cli-e2e-report (target)');
    expect(resent.stdout).toContain('= unchanged cli-e2e-publish');
    target.reset();
    await json(['jobs', 'run', after.id]);
    await eventually(async () => target.callsTo('/report')[0], { what: 'the report call' });
    expect(target.callsTo('/report')[0]!.headers.authorization).toBe('Bearer token-two');
  });

  it('applies a directory of YAML and JSON files, and prunes what no file has', async () => {
    const dir = join(FIXTURES, 'dir');
    const applied = await sundial(['apply', '-f', dir]);
    expect(applied.code, applied.stderr).toBe(0);
    // The files in name order; the jobs of jobs-changed.yaml are not in them, and left alone.
    expect(applied.stdout).toBe(
      '+ create cli-e2e-dir-hourly\n+ create cli-e2e-dir-daily\nApplied: 2 created, 0 updated, 0 deleted, 0 unchanged.\n',
    );
    expect((await keyed()).map((j) => j.tags['sundial/key']).sort()).toEqual([
      'cli-e2e-dir-daily',
      'cli-e2e-dir-hourly',
      'cli-e2e-publish',
      'cli-e2e-report',
    ]);

    const plan = await sundial(['apply', '-f', dir, '--prune', '--dry-run']);
    expect(plan.stdout).toBe(
      [
        '= unchanged cli-e2e-dir-hourly',
        '= unchanged cli-e2e-dir-daily',
        '- delete cli-e2e-publish',
        '- delete cli-e2e-report',
        'Plan: 0 to create, 0 to update, 2 to delete, 2 unchanged.',
        '',
      ].join('\n'),
    );
    // publish depends on report: it is deleted first, so neither is refused.
    const pruned = await sundial(['apply', '-f', dir, '--prune']);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.stdout).toContain('Applied: 0 created, 0 updated, 2 deleted, 2 unchanged.');
    expect((await keyed()).map((j) => j.tags['sundial/key']).sort()).toEqual([
      'cli-e2e-dir-daily',
      'cli-e2e-dir-hourly',
    ]);
    expect((await sundial(['apply', '-f', dir, '--prune'])).stdout).toContain(
      'Applied: no changes, 2 unchanged.',
    );
  });

  it('refuses what only the server can check, saying which job, and exits 1', async () => {
    const dir = await mkdtemp(join(home, 'apply-'));
    const path = join(dir, 'internal.yaml');
    // An internal address outside the ports local targets may use: only the API knows.
    await writeFile(
      path,
      "jobs:\n  - key: cli-e2e-internal\n    name: Internal\n    target: { type: http, url: 'http://127.0.0.1:22/' }\n",
    );
    const result = await sundial(['apply', '-f', path]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('+ create cli-e2e-internal');
    expect(result.stdout).toContain('Applied: partly');
    expect(result.stderr).toContain(`${path}: cli-e2e-internal: target.url:`);
    expect((await sundial(['apply', '-f', join(dir, 'missing.yaml')])).code).toBe(2);
  });
});
