/**
 * Tracing only what Lambda sampled: an invocation whose trace header says `Sampled=0` loads
 * no tracer (an unsampled cold start does not pay for the X-Ray SDK), a sampled one loads it
 * once and runs Powertools' handler middleware around the invocation, and every client made
 * before or after that has its calls captured.
 */
import middy from '@middy/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const SAMPLED = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
const UNSAMPLED = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0';

const events: string[] = [];
const startTracing = vi.fn((clients: readonly object[], firstInvocation: boolean) => {
  events.push(`start first=${firstInvocation} clients=${clients.length}`);
  return {
    tracer: {
      captureAWSv3Client: (client: object) => events.push(`capture ${(client as { name: string }).name}`),
    },
    middleware: {
      before: () => {
        events.push('before');
      },
      after: () => {
        events.push('after');
      },
      onError: () => {
        events.push('onError');
      },
    },
  };
});
vi.mock('../../functions/commons/tracing.js', () => ({ startTracing }));

/** A fresh tracer module (its state is per instance, as on Lambda) and a handler using it. */
async function instance(body: () => Promise<string> = async () => 'ok') {
  vi.resetModules();
  const tracer = await import('../../functions/commons/tracer.js');
  const handler = middy<unknown, string>()
    .use(tracer.sampledTracing())
    .handler(async () => {
      events.push('handler');
      return body();
    });
  return {
    ...tracer,
    /** One invocation, with the trace header the Lambda runtime sets for it. */
    invoke: (header: string) => {
      process.env._X_AMZN_TRACE_ID = header;
      return handler({}, {} as never);
    },
  };
}

beforeEach(() => {
  events.length = 0;
  startTracing.mockClear();
});
afterEach(() => {
  delete process.env._X_AMZN_TRACE_ID;
  delete process.env.POWERTOOLS_TRACE_ENABLED;
});

describe('invocationSampled', () => {
  it('reads Lambda’s decision from the trace header', async () => {
    const { invocationSampled } = await import('../../functions/commons/tracer.js');
    expect(invocationSampled({ _X_AMZN_TRACE_ID: SAMPLED })).toBe(true);
    expect(invocationSampled({ _X_AMZN_TRACE_ID: UNSAMPLED })).toBe(false);
    expect(invocationSampled({ _X_AMZN_TRACE_ID: 'Root=1-5759e988-bd862e3fe1be46a994272793' })).toBe(false);
    expect(invocationSampled({})).toBe(false);
  });

  it('is never true with tracing turned off (-c workerTracing=false)', async () => {
    const { invocationSampled } = await import('../../functions/commons/tracer.js');
    expect(invocationSampled({ _X_AMZN_TRACE_ID: SAMPLED, POWERTOOLS_TRACE_ENABLED: 'false' })).toBe(false);
  });
});

describe('sampledTracing', () => {
  it('loads no tracer for invocations Lambda did not sample', async () => {
    const { invoke, traced } = await instance();
    traced({ name: 'db' });
    expect(await invoke(UNSAMPLED)).toBe('ok');
    expect(await invoke(UNSAMPLED)).toBe('ok');
    expect(startTracing).not.toHaveBeenCalled();
    expect(events).toEqual(['handler', 'handler']);
  });

  it('loads the tracer once, at the first sampled invocation, and captures every client', async () => {
    const { invoke, traced } = await instance();
    traced({ name: 'db' });
    traced({ name: 'sqs' });
    await invoke(UNSAMPLED);
    await invoke(SAMPLED);
    // A client made later (a target's, at its first use) is captured as it is made.
    traced({ name: 'lambda' });
    await invoke(SAMPLED);
    await invoke(UNSAMPLED);
    expect(startTracing).toHaveBeenCalledTimes(1);
    expect(events).toEqual([
      'handler',
      // Not the instance's first invocation: its ColdStart annotation must say false.
      'start first=false clients=2',
      'before',
      'handler',
      'after',
      'capture lambda',
      'before',
      'handler',
      'after',
      'handler',
    ]);
  });

  it('marks the cold start when the first invocation is sampled, and closes on error', async () => {
    const { invoke } = await instance(async () => {
      throw new Error('boom');
    });
    await expect(invoke(SAMPLED)).rejects.toThrow('boom');
    expect(events).toEqual(['start first=true clients=0', 'before', 'handler', 'onError']);
  });
});
