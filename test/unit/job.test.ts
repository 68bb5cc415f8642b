import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../functions/domain/errors.js';
import { backlogMissReason, computeNextRunAt, type Job, mergePatch } from '../../functions/domain/job.js';
import { validateJobInput } from '../../functions/domain/job-input.js';
import { scheduledRunId } from '../../functions/domain/run.js';

const now = new Date('2026-11-23T10:00:00Z');
const valid = {
  name: 'nightly',
  schedule: { expression: 'cron(0 2 * * ? *)', timezone: 'Europe/Berlin' },
  target: { type: 'http', url: 'https://example.com/run' },
};

function fieldsOf(body: unknown): string[] {
  try {
    validateJobInput(body, now);
  } catch (error) {
    if (error instanceof ValidationError) return error.errors.map((e) => e.field);
    throw error;
  }
  return [];
}

describe('job validation', () => {
  it('fills in the documented defaults', () => {
    const { input } = validateJobInput(valid, now);
    expect(input).toEqual({
      name: 'nightly',
      description: null,
      schedule: {
        expression: 'cron(0 2 * * ? *)',
        timezone: 'Europe/Berlin',
        startAt: null,
        endAt: null,
        flexibleWindowMinutes: 0,
      },
      target: {
        type: 'http',
        url: 'https://example.com/run',
        method: 'POST',
        headers: {},
        body: null,
        secretHeaders: {},
        timeoutSeconds: 30,
        completion: 'response',
      },
      dependsOn: [],
      retryPolicy: { maxAttempts: 1, initialDelaySeconds: 30, multiplier: 2, maxDelaySeconds: 900 },
      overlapPolicy: 'allow',
      misfireGraceSeconds: null,
      notify: { onFailure: [], secret: null },
      catchUp: 'none',
      catchUpWindowMinutes: 60,
      priority: 'default',
      state: 'enabled',
      tags: {},
    });
  });

  it.each([
    [{ ...valid, name: '' }, 'name'],
    [{ ...valid, name: 'x'.repeat(129) }, 'name'],
    [{ ...valid, schedule: { expression: 'every day' } }, 'schedule.expression'],
    [{ ...valid, schedule: { ...valid.schedule, timezone: 'Europe/Atlantis' } }, 'schedule.timezone'],
    [{ ...valid, schedule: { ...valid.schedule, startAt: 'tomorrow' } }, 'schedule.startAt'],
    [
      {
        ...valid,
        schedule: { ...valid.schedule, startAt: '2027-01-02T00:00:00Z', endAt: '2027-01-01T00:00:00Z' },
      },
      'schedule.endAt',
    ],
    [{ ...valid, schedule: { ...valid.schedule, endAt: '2026-11-01T00:00:00Z' } }, 'schedule.expression'],
    [
      { ...valid, schedule: { ...valid.schedule, flexibleWindowMinutes: 1441 } },
      'schedule.flexibleWindowMinutes',
    ],
    [{ ...valid, target: { ...valid.target, type: 'ftp' } }, 'target.type'],
    [{ ...valid, target: { ...valid.target, type: 'lambda' } }, 'target.functionArn'],
    [{ ...valid, dependsOn: ['not-a-job'] }, 'dependsOn.0'],
    [{ ...valid, dependsOn: ['job_A', 'job_A'] }, 'dependsOn'],
    [{ ...valid, dependsOn: Array.from({ length: 11 }, (_, i) => `job_${i}`) }, 'dependsOn'],
    [{ ...valid, target: { ...valid.target, url: 'not a url' } }, 'target.url'],
    [{ ...valid, target: { ...valid.target, method: 'TRACE' } }, 'target.method'],
    [{ ...valid, target: { ...valid.target, headers: { 'bad header': 'x' } } }, 'target.headers.bad header'],
    [{ ...valid, target: { ...valid.target, timeoutSeconds: 0 } }, 'target.timeoutSeconds'],
    [{ ...valid, retryPolicy: { maxAttempts: 11 } }, 'retryPolicy.maxAttempts'],
    [{ ...valid, retryPolicy: { maxAttempts: 0 } }, 'retryPolicy.maxAttempts'],
    [
      { ...valid, retryPolicy: { initialDelaySeconds: 600, maxDelaySeconds: 60 } },
      'retryPolicy.maxDelaySeconds',
    ],
    [{ ...valid, retryPolicy: { multiplier: 0.5 } }, 'retryPolicy.multiplier'],
    [{ ...valid, overlapPolicy: 'sometimes' }, 'overlapPolicy'],
    [{ ...valid, priority: 'urgent' }, 'priority'],
    [{ ...valid, misfireGraceSeconds: 0 }, 'misfireGraceSeconds'],
    [{ ...valid, catchUp: 'some' }, 'catchUp'],
    [{ ...valid, catchUpWindowMinutes: 0 }, 'catchUpWindowMinutes'],
    [{ ...valid, notify: { onFailure: [{ url: 'https://hooks.example.com/x' }] } }, 'notify.secret'],
    [
      { ...valid, notify: { onFailure: [{ url: 'mailto:ops@example.com' }], secret: 'x'.repeat(16) } },
      'notify.onFailure.0.url',
    ],
    [{ ...valid, state: 'deleting' }, 'state'],
    [{ ...valid, id: 'job_mine' }, 'id'],
    [
      { ...valid, schedule: { ...valid.schedule, expression: 'at(2026-11-23T09:00:00)', timezone: 'UTC' } },
      'schedule.expression',
    ],
    [[], '(body)'],
  ])('rejects %j at %s', (body, field) => {
    expect(fieldsOf(body)).toContain(field);
  });

  it('accepts a job without a schedule: on demand, or run by its dependencies', () => {
    const { input } = validateJobInput({ name: 'after', target: valid.target, dependsOn: ['job_A'] }, now);
    expect(input.schedule).toBeNull();
    expect(input.dependsOn).toEqual(['job_A']);
    expect(computeNextRunAt({ ...input, createdAt: now.toISOString() }, now)).toBeNull();
  });

  it('reports every bad field at once', () => {
    expect(
      fieldsOf({ name: '', schedule: { expression: 'x' }, target: { type: 'http', url: 'nope' } }),
    ).toEqual(expect.arrayContaining(['name', 'target.url']));
  });
});

describe('next run and patches', () => {
  const job = {
    ...validateJobInput(valid, now).input,
    state: 'enabled' as const,
    createdAt: now.toISOString(),
  };

  const stored = {
    ...job,
    id: 'job_1',
    tenantId: 't',
    nextRunAt: null,
    updatedAt: '',
    version: 1,
  } as Job;

  it('computes nextRunAt in the job time zone, and none when paused', () => {
    // 02:00 in Berlin (CET, UTC+1) on 2026-11-24.
    expect(computeNextRunAt(job, now)).toBe('2026-11-24T01:00:00.000Z');
    expect(computeNextRunAt({ ...job, state: 'paused' }, now)).toBeNull();
  });

  it('merges schedule and target one level deep and replaces everything else', () => {
    const merged = mergePatch(stored, {
      schedule: { expression: 'rate(5 minutes)' },
      tags: { a: 'b' },
      version: 1,
    });
    expect(merged.schedule).toEqual({ ...job.schedule, expression: 'rate(5 minutes)' });
    expect(merged.tags).toEqual({ a: 'b' });
    expect(merged).not.toHaveProperty('version');
  });

  it('replaces a target whose type changes instead of merging the old fields into it', () => {
    const lambda = { type: 'lambda', functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:f' };
    expect(mergePatch(stored, { target: lambda }).target).toEqual(lambda);
    expect(mergePatch(stored, { target: { timeoutSeconds: 5 } }).target).toEqual({
      ...job.target,
      timeoutSeconds: 5,
    });
  });

  it('misses a backlogged firing only once a later occurrence is due, its flexible window included', () => {
    const minutely = (flexibleWindowMinutes: number) => ({
      schedule: {
        expression: 'rate(1 minute)',
        timezone: 'UTC',
        startAt: null,
        endAt: null,
        flexibleWindowMinutes,
      },
      catchUp: 'latest' as const,
      catchUpWindowMinutes: 60,
      createdAt: '2026-11-23T09:00:00.000Z',
    });
    const firing = new Date('2026-11-23T10:00:00Z');
    expect(backlogMissReason(minutely(0), firing, new Date('2026-11-23T10:00:59Z'))).toBeNull();
    expect(backlogMissReason(minutely(0), firing, new Date('2026-11-23T10:01:00Z'))).toMatch(/^overtaken by/);
    expect(backlogMissReason(minutely(5), firing, new Date('2026-11-23T10:05:59Z'))).toBeNull();
    expect(
      backlogMissReason({ ...minutely(0), schedule: null }, firing, new Date('2026-11-23T11:00:00Z')),
    ).toBeNull();
  });

  it('derives a run id from the scheduled time alone', () => {
    const at = new Date('2026-11-23T01:00:00Z');
    expect(scheduledRunId(at)).toBe('run_20261123T010000000Z');
    expect(scheduledRunId(new Date(at))).toBe(scheduledRunId(at));
  });
});
