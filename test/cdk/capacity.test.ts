/**
 * The throughput knobs (issue 17): stage throttling, reserved concurrency and each queue's
 * worker concurrency, from context values to the synthesized template.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { PROBLEM_BASE } from '../../functions/http/problem.js';
import { STAGE_THROTTLE_RETRY_AFTER_SECONDS } from '../../lib/constructs/api.js';
import { QUEUES } from '../../lib/definitions.js';
import { DEFAULT_CAPACITY, parseCapacity } from '../../lib/stage.js';
import { SundialStack } from '../../lib/sundial-stack.js';

type Resource = { Type: string; Properties: Record<string, unknown> };

const synth = (context: Record<string, string>) => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new SundialStack(app, 'Sundial-capacity', {
    stage: 'dev',
    capacity: parseCapacity((key) => context[key]),
  });
  return Object.values(Template.fromStack(stack).toJSON().Resources as Record<string, Resource>);
};
const fn = (resources: Resource[], description: string) =>
  resources.find(
    (r) => r.Type === 'AWS::Lambda::Function' && String(r.Properties.Description).startsWith(description),
  )!;
const stageOf = (resources: Resource[]) =>
  resources.find((r) => r.Type === 'AWS::ApiGateway::Stage')!.Properties.MethodSettings as Record<
    string,
    unknown
  >[];
/** The worker's event source mappings' maximum concurrency, in QUEUES order (by queue logical id). */
const queueConcurrency = (resources: Resource[]) =>
  resources
    .filter(
      (r) =>
        r.Type === 'AWS::Lambda::EventSourceMapping' &&
        (r.Properties.ScalingConfig as { MaximumConcurrency?: number } | undefined)?.MaximumConcurrency !==
          undefined &&
        JSON.stringify(r.Properties.FunctionName).includes('Worker'),
    )
    .map((r) => (r.Properties.ScalingConfig as { MaximumConcurrency: number }).MaximumConcurrency)
    .sort((a, b) => b - a);

describe('capacity context values', () => {
  it('defaults: stage throttled at 100/s (burst 200), no reserved concurrency, queues at 20, 10 and 5', () => {
    const resources = synth({});
    expect(stageOf(resources)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 }),
      ]),
    );
    expect(fn(resources, 'Sundial worker').Properties).not.toHaveProperty('ReservedConcurrentExecutions');
    expect(fn(resources, 'Sundial job API').Properties).not.toHaveProperty('ReservedConcurrentExecutions');
    expect(queueConcurrency(resources)).toEqual(QUEUES.map((q) => q.maxConcurrency).sort((a, b) => b - a));
    const env = (
      fn(resources, 'Sundial worker').Properties.Environment as { Variables: Record<string, unknown> }
    ).Variables;
    expect(env).not.toHaveProperty('QUEUE_CONCURRENCY');
  });

  it('raises each knob it is given, and tells the worker the queues it changed (fair share follows)', () => {
    const resources = synth({
      apiRateLimit: '1000',
      apiReservedConcurrency: '150',
      workerReservedConcurrency: '400',
      queueConcurrencyHigh: '200',
      queueConcurrencyDefault: '100',
    });
    // The burst follows a raised rate: twice it, unless given.
    expect(stageOf(resources)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ ThrottlingRateLimit: 1000, ThrottlingBurstLimit: 2000 }),
      ]),
    );
    expect(fn(resources, 'Sundial job API').Properties.ReservedConcurrentExecutions).toBe(150);
    expect(fn(resources, 'Sundial worker').Properties.ReservedConcurrentExecutions).toBe(400);
    expect(queueConcurrency(resources)).toEqual([200, 100, 5]);
    const env = (
      fn(resources, 'Sundial worker').Properties.Environment as { Variables: Record<string, unknown> }
    ).Variables;
    expect(JSON.parse(String(env.QUEUE_CONCURRENCY))).toEqual({ high: 200, default: 100 });
  });

  it('refuses values AWS would refuse or that would throttle the worker, naming the context key', () => {
    const parse = (context: Record<string, string>) => () => parseCapacity((key) => context[key]);
    expect(parse({ queueConcurrencyLow: '1' })).toThrow(
      /queueConcurrencyLow must be a whole number from 2 to 1000/,
    );
    expect(parse({ queueConcurrencyHigh: '1001' })).toThrow(/queueConcurrencyHigh/);
    expect(parse({ apiRateLimit: 'fast' })).toThrow(/apiRateLimit must be a whole number/);
    expect(parse({ apiReservedConcurrency: '0' })).toThrow(/apiReservedConcurrency/);
    expect(parse({ workerReservedConcurrency: '30' })).toThrow(
      /workerReservedConcurrency \(30\) is below the queues' total concurrency \(35/,
    );
    expect(parse({ workerReservedConcurrency: '35' })().workerReservedConcurrency).toBe(35);
    expect(parse({})()).toEqual(DEFAULT_CAPACITY);
  });
});

describe("the stage's own throttling", () => {
  it('answers 429 as the api does: problem+json with Retry-After', () => {
    const responses = synth({}).filter((r) => r.Type === 'AWS::ApiGateway::GatewayResponse');
    expect(responses.map((r) => r.Properties.ResponseType).sort()).toEqual(['QUOTA_EXCEEDED', 'THROTTLED']);
    for (const r of responses) {
      expect(r.Properties).toMatchObject({
        StatusCode: '429',
        ResponseParameters: {
          'gatewayresponse.header.Content-Type': "'application/problem+json'",
          'gatewayresponse.header.Retry-After': `'${STAGE_THROTTLE_RETRY_AFTER_SECONDS}'`,
        },
      });
      const body = JSON.parse(
        (r.Properties.ResponseTemplates as Record<string, string>)['application/json']!,
      );
      expect(body).toMatchObject({
        type: `${PROBLEM_BASE}quota-exceeded`,
        status: 429,
        title: 'Too many requests',
      });
    }
  });
});
