/**
 * The plan of `sundial apply`, pure: jobs of the files (validated by the server's own
 * validation, defaults applied) against jobs as the API shows them.
 */
import { describe, expect, it } from 'vitest';
import { type InputError, prepare } from '../../cli/apply.js';
import {
  createBody,
  type DesiredJob,
  executionOrder,
  KEY_TAG,
  makePlan,
  type PlanEntry,
  patchBody,
  planLine,
  summarize,
  summaryLine,
} from '../../cli/plan.js';
import type { Job } from '../../client/index.js';

const NOW = new Date('2026-12-01T12:00:00Z');
/** `${NAME}` as a file writes it. */
const env = (name: string) => `\${${name}}`;

function desired(
  jobs: Record<string, unknown>[],
  env: NodeJS.ProcessEnv = {},
  file = 'jobs.yaml',
): DesiredJob[] {
  const { desired: out, errors } = prepare([{ file, document: { jobs } }], env, NOW);
  expect(errors).toEqual([]);
  return out;
}

function errorsOf(jobs: unknown, env: NodeJS.ProcessEnv = {}): InputError[] {
  return prepare([{ file: 'jobs.yaml', document: { jobs } }], env, NOW).errors;
}

let seq = 0;
/** A job as the API shows one made from `d` (what toPublicJob does with what was sent). */
function shown(d: DesiredJob, overrides: Partial<Job> = {}, ids: Record<string, string> = {}): Job {
  const { input } = d;
  const target =
    input.target.type === 'http'
      ? (() => {
          const { secretHeaders, ...rest } = input.target;
          return { ...rest, secretHeaderNames: Object.keys(secretHeaders).sort() };
        })()
      : input.target;
  return {
    ...input,
    id: `job_${++seq}`,
    target,
    dependsOn: d.dependsOn.map((r) => ('id' in r ? r.id : ids[r.key]!)),
    notify: { onFailure: input.notify.onFailure, secretSet: input.notify.secret !== null },
    pausedReason: null,
    nextRunAt: null,
    lastRun: null,
    createdAt: NOW.toISOString(),
    updatedAt: NOW.toISOString(),
    version: 3,
    ...overrides,
  } as Job;
}

const http = { type: 'http', url: 'https://example.com/hook' };
const nightly = {
  key: 'nightly',
  name: 'Nightly',
  schedule: { expression: 'cron(0 2 * * ? *)' },
  target: http,
};

const lines = (entries: PlanEntry[]) => entries.map(planLine);

describe('the plan', () => {
  it('creates what has no job with its key, and leaves a job made from the same file unchanged', () => {
    const [d] = desired([nightly]);
    expect(lines(makePlan([d!], []).entries)).toEqual(['+ create nightly']);
    expect(lines(makePlan([d!], [shown(d!)]).entries)).toEqual(['= unchanged nightly']);
  });

  it('counts a field left out as its default: a job changed by hand is changed back', () => {
    const [d] = desired([nightly]);
    const job = shown(d!, {
      priority: 'high',
      retryPolicy: { maxAttempts: 3, initialDelaySeconds: 30, multiplier: 2, maxDelaySeconds: 900 },
    });
    const plan = makePlan([d!], [job]);
    expect(lines(plan.entries)).toEqual(['~ update nightly (retryPolicy, priority)']);
    const entry = plan.entries[0] as Extract<PlanEntry, { action: 'update' }>;
    expect(patchBody(entry, () => undefined)).toEqual({
      retryPolicy: { maxAttempts: 1, initialDelaySeconds: 30, multiplier: 2, maxDelaySeconds: 900 },
      priority: 'default',
    });
  });

  it('writing a default out explicitly is no change', () => {
    const [a] = desired([nightly]);
    const [b] = desired([
      {
        ...nightly,
        priority: 'default',
        schedule: { expression: 'cron(0 2 * * ? *)', timezone: 'UTC' },
        tags: {},
      },
    ]);
    expect(lines(makePlan([b!], [shown(a!)]).entries)).toEqual(['= unchanged nightly']);
  });

  it('names the top-level field of a nested change, and sends that object whole', () => {
    const [old] = desired([nightly]);
    const [d] = desired([
      { ...nightly, schedule: { expression: 'cron(0 2 * * ? *)', timezone: 'Europe/Berlin' } },
    ]);
    const plan = makePlan([d!], [shown(old!)]);
    expect(lines(plan.entries)).toEqual(['~ update nightly (schedule)']);
    expect(patchBody(plan.entries[0] as Extract<PlanEntry, { action: 'update' }>, () => undefined)).toEqual({
      schedule: {
        expression: 'cron(0 2 * * ? *)',
        timezone: 'Europe/Berlin',
        startAt: null,
        endAt: null,
        flexibleWindowMinutes: 0,
      },
    });
  });

  it('unsets, with null, a target field the file no longer has (the server merges targets)', () => {
    const callback = { ...http, completion: 'callback', runTimeoutSeconds: 600 };
    const [old] = desired([{ ...nightly, target: callback }]);
    const [d] = desired([nightly]);
    const plan = makePlan([d!], [shown(old!)]);
    expect(lines(plan.entries)).toEqual(['~ update nightly (target)']);
    const patch = patchBody(plan.entries[0] as Extract<PlanEntry, { action: 'update' }>, () => undefined);
    expect(patch.target).toMatchObject({
      completion: 'response',
      runTimeoutSeconds: null,
      secretHeaders: {},
    });
  });

  it('keeps the key as the tag sundial/key beside the tags of the file', () => {
    const [d] = desired([{ ...nightly, tags: { team: 'billing' } }]);
    expect(d!.input.tags).toEqual({ team: 'billing', [KEY_TAG]: 'nightly' });
    expect(createBody(d!, () => undefined).tags).toEqual({ team: 'billing', [KEY_TAG]: 'nightly' });
    // A job of the same key whose other tags differ: the tags are changed, the key kept.
    const plan = makePlan([d!], [shown(d!, { tags: { [KEY_TAG]: 'nightly' } })]);
    expect(lines(plan.entries)).toEqual(['~ update nightly (tags)']);
  });

  it('refuses a file that sets sundial/key to something else, and counts the key toward the 50 tags', () => {
    expect(errorsOf([{ ...nightly, tags: { [KEY_TAG]: 'other' } }])).toEqual([
      {
        file: 'jobs.yaml',
        key: 'nightly',
        field: `tags.${KEY_TAG}`,
        message: 'is set from key; leave it out',
      },
    ]);
    const fifty = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`t${i}`, 'x']));
    expect(errorsOf([{ ...nightly, tags: fifty }])).toEqual([
      { file: 'jobs.yaml', key: 'nightly', field: 'tags', message: 'at most 50 tags' },
    ]);
  });

  it('matches jobs by key only: a job without sundial/key is never touched, pruned or not', () => {
    const [d] = desired([nightly]);
    const unmanaged = shown(d!, { tags: {} });
    const plan = makePlan([d!], [unmanaged], { prune: true });
    expect(lines(plan.entries)).toEqual(['+ create nightly']);
  });

  it('with --prune, deletes keyed jobs no file has; without, leaves them out of the plan', () => {
    const [a, b] = desired([nightly, { ...nightly, key: 'weekly', name: 'Weekly' }]);
    const existing = [shown(a!), shown(b!)];
    expect(lines(makePlan([a!], existing).entries)).toEqual(['= unchanged nightly']);
    const pruned = makePlan([a!], existing, { prune: true });
    expect(lines(pruned.entries)).toEqual(['= unchanged nightly', '- delete weekly']);
    expect(summaryLine(summarize(pruned.entries), false)).toBe(
      'Plan: 0 to create, 0 to update, 1 to delete, 1 unchanged.',
    );
  });

  it('refuses two jobs carrying the same key', () => {
    const [d] = desired([nightly]);
    const plan = makePlan([d!], [shown(d!), shown(d!)]);
    expect(plan.problems).toEqual([expect.stringContaining('sundial/key "nightly" is on more than one job')]);
  });

  it('compares secret headers by name only; --resend-secrets sends them again', () => {
    const withSecret = {
      ...nightly,
      target: { ...http, secretHeaders: { Authorization: `Bearer ${env('TOKEN')}` } },
    };
    const [d] = desired([withSecret], { TOKEN: 'one' });
    const [rotated] = desired([withSecret], { TOKEN: 'two' });
    expect(d!.input.target).toMatchObject({ secretHeaders: { Authorization: 'Bearer one' } });
    const job = shown(d!);
    expect(job.target).toMatchObject({ secretHeaderNames: ['Authorization'] });
    expect(lines(makePlan([rotated!], [job]).entries)).toEqual(['= unchanged nightly']);
    const resent = makePlan([rotated!], [job], { resendSecrets: true });
    expect(lines(resent.entries)).toEqual(['~ update nightly (target)']);
    const patch = patchBody(resent.entries[0] as Extract<PlanEntry, { action: 'update' }>, () => undefined);
    expect(patch.target).toMatchObject({ secretHeaders: { Authorization: 'Bearer two' } });
    // A header dropped from the file: its name goes, so the target changes and is sent without it.
    const [plain] = desired([nightly]);
    const dropped = makePlan([plain!], [job]);
    expect(lines(dropped.entries)).toEqual(['~ update nightly (target)']);
    expect(
      patchBody(dropped.entries[0] as Extract<PlanEntry, { action: 'update' }>, () => undefined).target,
    ).toMatchObject({
      secretHeaders: {},
    });
  });

  it('compares a webhook secret by whether one is set', () => {
    const hooks = { onFailure: [{ url: 'https://example.com/alert' }], secret: env('HOOK_SECRET') };
    const [d] = desired([{ ...nightly, notify: hooks }], { HOOK_SECRET: 'sixteen-chars-long!' });
    const job = shown(d!);
    expect(job.notify).toEqual({ onFailure: hooks.onFailure, secretSet: true });
    expect(lines(makePlan([d!], [job]).entries)).toEqual(['= unchanged nightly']);
    expect(lines(makePlan([d!], [job], { resendSecrets: true }).entries)).toEqual([
      '~ update nightly (notify)',
    ]);
    expect(
      lines(makePlan([d!], [shown(d!, { notify: { onFailure: [], secretSet: false } })]).entries),
    ).toEqual(['~ update nightly (notify)']);
  });

  it('says so when nothing changes', () => {
    const [d] = desired([nightly]);
    const plan = makePlan([d!], [shown(d!)]);
    expect(summaryLine(summarize(plan.entries), true)).toBe('Applied: no changes, 1 unchanged.');
    expect(summaryLine(summarize(plan.entries), false)).toBe('Plan: no changes, 1 unchanged.');
  });
});

describe('dependencies by key', () => {
  const extract = { key: 'extract', name: 'Extract', target: http };
  const load = { key: 'load', name: 'Load', target: http, dependsOn: ['extract'] };

  it('creates a job after the keys it depends on, naming them by id', () => {
    const [l, e] = desired([load, extract]);
    const plan = makePlan([l!, e!], []);
    const order = executionOrder(plan.entries).map((x) => x.key);
    expect(order).toEqual(['extract', 'load']);
    expect(createBody(l!, (key) => (key === 'extract' ? 'job_E' : undefined)).dependsOn).toEqual(['job_E']);
  });

  it('compares dependencies by the ids the keys resolve to', () => {
    const [l, e] = desired([load, extract]);
    const extractJob = shown(e!);
    const loadJob = shown(l!, {}, { extract: extractJob.id });
    expect(lines(makePlan([l!, e!], [loadJob, extractJob]).entries)).toEqual([
      '= unchanged load',
      '= unchanged extract',
    ]);
    // A dependency on a key whose job is yet to be made is a change.
    expect(lines(makePlan([l!, e!], [shown(l!, { dependsOn: [] })]).entries)).toEqual([
      '~ update load (dependsOn)',
      '+ create extract',
    ]);
  });

  it('refuses an unknown key, a job depending on itself, and a circle', () => {
    expect(errorsOf([{ ...load, dependsOn: ['nope'] }])).toEqual([
      {
        file: 'jobs.yaml',
        key: 'load',
        field: 'dependsOn.0',
        message: '"nope" is neither a job id nor the key of a job in these files',
      },
    ]);
    expect(errorsOf([{ ...extract, dependsOn: ['extract'] }])[0]).toMatchObject({ field: 'dependsOn.0' });
    expect(errorsOf([load, { ...extract, dependsOn: ['load'] }])).toEqual([
      expect.objectContaining({ field: 'dependsOn', message: expect.stringContaining('in a circle') }),
    ]);
  });

  it('deletes a pruned job before a pruned job it depends on', () => {
    const [l, e] = desired([load, extract]);
    const extractJob = shown(e!);
    const loadJob = shown(l!, {}, { extract: extractJob.id });
    const plan = makePlan([], [extractJob, loadJob], { prune: true });
    expect(executionOrder(plan.entries).map((x) => x.key)).toEqual(['load', 'extract']);
  });
});

describe('validation of the files', () => {
  it('reports every error as file, key, field and message, with the server own messages', () => {
    const errors = prepare(
      [
        {
          file: 'a.yaml',
          document: {
            jobs: [
              {
                key: 'bad',
                name: 'Bad',
                schedule: { expression: 'rate(5 minute)' },
                target: { type: 'http', url: 'nope' },
              },
              { key: 'has space', name: 'x', target: http },
              { name: 'no key', target: http },
            ],
          },
        },
        {
          file: 'b.yaml',
          document: {
            jobs: [
              { key: 'bad', name: 'Again', target: http },
              { key: 'rate', name: 'Rate', schedule: { expression: 'rate(5 minute)' }, target: http },
            ],
          },
        },
        { file: 'c.yaml', document: { job: [] } },
      ],
      {},
      NOW,
    ).errors;
    expect(errors).toEqual([
      {
        file: 'a.yaml',
        key: 'has space',
        field: 'key',
        message: expect.stringContaining('1-128 characters'),
      },
      { file: 'a.yaml', key: 'jobs[2]', field: 'key', message: expect.stringContaining('is required') },
      { file: 'b.yaml', key: 'bad', field: 'key', message: expect.stringContaining('also in a.yaml') },
      { file: 'c.yaml', key: '(file)', field: 'job', message: expect.stringContaining('not a known field') },
      { file: 'c.yaml', key: '(file)', field: 'jobs', message: expect.stringContaining('must be a list') },
      {
        file: 'a.yaml',
        key: 'bad',
        field: 'target.url',
        message: 'must be an absolute http:// or https:// URL',
      },
      {
        file: 'b.yaml',
        key: 'rate',
        field: 'schedule.expression',
        message: expect.stringContaining('plural'),
      },
    ]);
  });

  it('substitutes environment references in any string, refuses an unset one at its field, keeps an escaped one', () => {
    const [d] = desired([{ ...nightly, description: `in ${env('REGION')}, not $${env('REGION')}` }], {
      REGION: 'eu-west-1',
    });
    expect(d!.input.description).toBe(`in eu-west-1, not ${env('REGION')}`);
    expect(
      errorsOf([{ ...nightly, target: { ...http, secretHeaders: { 'X-Token': env('MISSING') } } }]),
    ).toEqual([
      {
        file: 'jobs.yaml',
        key: 'nightly',
        field: 'target.secretHeaders.X-Token',
        message: `${env('MISSING')} is not set in the environment`,
      },
    ]);
    // Said once: not again as the bad URL the unsubstituted text would be.
    expect(errorsOf([{ ...nightly, target: { ...http, url: env('NO_URL') } }])).toEqual([
      {
        file: 'jobs.yaml',
        key: 'nightly',
        field: 'target.url',
        message: `${env('NO_URL')} is not set in the environment`,
      },
    ]);
  });
});
