/**
 * Invariant 7 in the domain: bad input is a ValidationError naming the field, never a crash,
 * and nothing a client sends is read through an object's prototype.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../functions/domain/errors.js';
import {
  JOB_ID,
  type Job,
  MAX_STORED_DEPTH,
  mergePatch,
  storageProblem,
} from '../../functions/domain/job.js';
import { validateJobInput } from '../../functions/domain/job-input.js';

const now = new Date('2026-11-23T10:00:00Z');
const lambda = { type: 'lambda', functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:report' };
const valid = { name: 'nightly', target: { type: 'http', url: 'https://example.com/run' } };
const nested = (depth: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
};

function errorsOf(body: unknown): { field: string; message: string }[] {
  try {
    validateJobInput(body, now);
  } catch (error) {
    if (error instanceof ValidationError) return error.errors;
    throw error;
  }
  return [];
}

describe('reserved names', () => {
  it.each(['constructor', 'prototype'])('refuses %s as a tag name, saying why', (name) => {
    const errors = errorsOf({ ...valid, tags: { [name]: 'x' } });
    expect(errors).toEqual([
      { field: `tags.${name}`, message: 'tag names must not be __proto__, constructor or prototype' },
    ]);
  });

  it('says why a record key is refused, not only "Invalid key in record"', () => {
    expect(errorsOf({ ...valid, tags: { ['k'.repeat(129)]: 'x' } })[0]?.message).toMatch(/128/);
  });
});

describe('nesting', () => {
  it('measures without recursing, whatever the nesting', () => {
    expect(storageProblem(nested(100_000), 30)?.message).toMatch(/at most 30 levels/);
    expect(storageProblem({ a: [1, { b: {} }] }, 4)).toBeNull();
    expect(storageProblem({ a: [1, { b: {} }] }, 3)).not.toBeNull();
  });

  it('stores a payload as deep as DynamoDB nests, and refuses one level more by field', () => {
    const room = MAX_STORED_DEPTH - 3;
    expect(errorsOf({ ...valid, target: { ...lambda, payload: nested(room) } })).toEqual([]);
    const errors = errorsOf({ ...valid, target: { ...lambda, payload: nested(room + 1) } });
    expect(errors.map((e) => e.field)).toEqual(['target.payload']);
  });

  it('refuses a deep EventBridge detail by field', () => {
    const target = {
      type: 'eventbridge',
      eventBusArn: 'arn:aws:events:eu-west-1:123456789012:event-bus/default',
      source: 'com.example',
      detailType: 'Report',
      detail: { a: nested(MAX_STORED_DEPTH - 3) },
    };
    expect(errorsOf({ ...valid, target }).map((e) => e.field)).toEqual(['target.detail']);
  });
});

describe('numbers in opaque JSON', () => {
  it.each([
    [2 ** 53, 'target.payload.big'],
    [-1e300, 'target.payload.big'],
    [1e-200, 'target.payload.big'],
  ])('refuses %d, which cannot be stored as sent, at %s', (big, field) => {
    const errors = errorsOf({
      ...valid,
      target: { ...lambda, payload: { big, fine: [0, -0, 1.5, 2 ** 53 - 1] } },
    });
    expect(errors.map((e) => e.field)).toEqual([field]);
    expect(errors[0]?.message).toMatch(/send it as a string/);
  });

  it('stores the numbers it can', () => {
    const payload = { fine: [0, -1, 1.5, 2 ** 53 - 1, -(2 ** 53 - 1), 1e-130, Math.PI] };
    expect(errorsOf({ ...valid, target: { ...lambda, payload } })).toEqual([]);
  });
});

describe('job ids', () => {
  it.each(['job_01JD6Z5TQ0000000000000000', 'job_x'])('accepts %s', (id) => {
    expect(JOB_ID.test(id)).toBe(true);
  });
  it.each(['', 'job_', 'job_a/b', `job_${'A'.repeat(65)}`, 'run_x', 'job_é'])('refuses %j', (id) => {
    expect(JOB_ID.test(id)).toBe(false);
  });
});

describe('mergePatch', () => {
  const job = {
    ...validateJobInput(valid, now).input,
    id: 'job_1',
    tenantId: 't',
    nextRunAt: null,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    version: 1,
  } as Job;

  it('reads a target type only from the patch itself, never through its prototype', () => {
    const target = Object.create({ type: 'lambda' }) as Record<string, unknown>;
    target.method = 'PUT';
    const merged = mergePatch(job, { target });
    // Merged into the http target, not taken for a retyped one.
    expect(merged.target).toMatchObject({ type: 'http', url: 'https://example.com/run', method: 'PUT' });
  });
});
