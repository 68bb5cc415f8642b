import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../functions/domain/errors.js';
import { validateJobInput } from '../../functions/domain/job.js';
import { isArnAllowed, queueArnOf, targetArn } from '../../functions/domain/target.js';

const now = new Date('2026-11-23T10:00:00Z');
const FUNCTION = 'arn:aws:lambda:eu-west-1:123456789012:function:report';
const BUS = 'arn:aws:events:eu-west-1:123456789012:event-bus/orders';
const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/reports';

function targetOf(target: unknown) {
  return validateJobInput({ name: 't', schedule: { expression: 'rate(1 hour)' }, target }, now).input.target;
}

function fieldsOf(target: unknown): string[] {
  try {
    targetOf(target);
  } catch (error) {
    if (error instanceof ValidationError) return error.errors.map((e) => e.field);
    throw error;
  }
  return [];
}

describe('AWS targets', () => {
  it('fills in defaults for a Lambda target', () => {
    expect(targetOf({ type: 'lambda', functionArn: FUNCTION })).toEqual({
      type: 'lambda',
      functionArn: FUNCTION,
      payload: {},
      timeoutSeconds: 30,
    });
  });

  it('fills in defaults for SQS and EventBridge targets', () => {
    expect(targetOf({ type: 'sqs', queueUrl: QUEUE_URL, body: 'hi' })).toEqual({
      type: 'sqs',
      queueUrl: QUEUE_URL,
      body: 'hi',
      messageAttributes: {},
      messageGroupId: null,
      timeoutSeconds: 30,
    });
    expect(
      targetOf({ type: 'eventbridge', eventBusArn: BUS, source: 'com.example', detailType: 'Tick' }),
    ).toEqual({
      type: 'eventbridge',
      eventBusArn: BUS,
      source: 'com.example',
      detailType: 'Tick',
      detail: {},
      timeoutSeconds: 30,
    });
  });

  it.each([
    [{ type: 'lambda', functionArn: 'report' }, 'target.functionArn'],
    [{ type: 'lambda', functionArn: FUNCTION, payload: 'x'.repeat(70_000) }, 'target.payload'],
    [{ type: 'lambda', functionArn: FUNCTION, url: 'https://x' }, 'target.url'],
    [{ type: 'sqs', queueUrl: 'https://example.com/queue', body: 'x' }, 'target.queueUrl'],
    [{ type: 'sqs', queueUrl: QUEUE_URL, body: '' }, 'target.body'],
    [
      { type: 'sqs', queueUrl: QUEUE_URL, body: 'x', messageAttributes: { 'sundial-run-id': 'x' } },
      'target.messageAttributes.sundial-run-id',
    ],
    [
      {
        type: 'sqs',
        queueUrl: QUEUE_URL,
        body: 'x',
        messageAttributes: Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`a${i}`, 'v'])),
      },
      'target.messageAttributes',
    ],
    [{ type: 'eventbridge', eventBusArn: 'orders', source: 's', detailType: 'd' }, 'target.eventBusArn'],
    [{ type: 'eventbridge', eventBusArn: BUS, source: 'aws.ec2', detailType: 'd' }, 'target.source'],
    [{ type: 'eventbridge', eventBusArn: BUS, source: 's', detailType: 'd', detail: [1] }, 'target.detail'],
    [{ type: 'eventbridge', eventBusArn: BUS, source: 's' }, 'target.detailType'],
  ])('rejects %j at %s', (target, field) => {
    expect(fieldsOf(target)).toContain(field);
  });
});

describe('target ARNs and the allowlist', () => {
  it('derives a queue ARN from its URL, with the fallback region for local hosts', () => {
    expect(queueArnOf(QUEUE_URL)).toBe('arn:aws:sqs:eu-west-1:123456789012:reports');
    expect(queueArnOf('http://127.0.0.1:4566/000000000000/jobs.fifo', 'us-east-1')).toBe(
      'arn:aws:sqs:us-east-1:000000000000:jobs.fifo',
    );
    expect(targetArn(targetOf({ type: 'sqs', queueUrl: QUEUE_URL, body: 'x' }))).toBe(
      'arn:aws:sqs:eu-west-1:123456789012:reports',
    );
  });

  it('matches exact ARNs and * wildcards, and nothing else', () => {
    expect(isArnAllowed(FUNCTION, [FUNCTION])).toBe(true);
    expect(isArnAllowed(FUNCTION, ['arn:aws:lambda:eu-west-1:123456789012:function:rep*'])).toBe(true);
    expect(isArnAllowed(FUNCTION, ['arn:aws:lambda:eu-west-1:123456789012:function:other'])).toBe(false);
    expect(isArnAllowed(FUNCTION, [])).toBe(false);
    // The dot in an ARN pattern is literal, not "any character".
    expect(
      isArnAllowed('arn:aws:sqs:eu-west-1:123456789012:aXb', ['arn:aws:sqs:eu-west-1:123456789012:a.b']),
    ).toBe(false);
  });

  it('allows a qualified function (version or alias) when the function is allowed', () => {
    expect(isArnAllowed(`${FUNCTION}:live`, [FUNCTION])).toBe(true);
    expect(isArnAllowed(FUNCTION, [`${FUNCTION}:live`])).toBe(false);
  });
});
