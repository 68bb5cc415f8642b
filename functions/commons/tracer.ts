/**
 * X-Ray segments for each sampled invocation and each AWS SDK call in it; off outside Lambda.
 *
 * Lambda decides which invocations are traced (its fixed rule, or the caller's decision such
 * as API Gateway's sampling rule) and tells the function in `_X_AMZN_TRACE_ID`. An invocation
 * it did not sample records nothing from the function's code, so Powertools Tracer and the
 * X-Ray SDK are loaded only when the first sampled invocation comes: an unsampled cold start
 * does not pay for them.
 */
import type { MiddlewareObj, Request } from '@middy/core';

type Tracing = ReturnType<typeof import('./tracing.js').startTracing>;

/** Whether Lambda sampled the invocation now running (`Sampled=1` in its trace header). */
export function invocationSampled(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.POWERTOOLS_TRACE_ENABLED === 'false') return false;
  return (env._X_AMZN_TRACE_ID ?? '').split(';').some((part) => part.trim() === 'Sampled=1');
}

const clients: object[] = [];
let tracing: Tracing | undefined;
let loading: Promise<Tracing> | undefined;
let invocations = 0;

/** Every SDK call of this client becomes an X-Ray subsegment of a sampled invocation. */
export function traced<T extends object>(client: T): T {
  clients.push(client);
  tracing?.tracer.captureAWSv3Client(client);
  return client;
}

/** Loads the tracer once, wrapping every client registered so far. */
function loadTracing(firstInvocation: boolean): Promise<Tracing> {
  loading ??= import('./tracing.js').then(({ startTracing }) => {
    tracing = startTracing(clients, firstInvocation);
    return tracing;
  });
  return loading;
}

/**
 * Powertools' `captureLambdaHandler`, for sampled invocations only. Which middleware an
 * invocation started with is kept on its request: invocations may overlap in one instance.
 */
export function sampledTracing<TEvent, TResult>(): MiddlewareObj<TEvent, TResult> {
  const started = new WeakMap<object, MiddlewareObj>();
  const delegate = (request: Request<TEvent, TResult>) => started.get(request) as MiddlewareObj | undefined;
  return {
    before: async (request) => {
      const first = invocations++ === 0;
      if (!invocationSampled()) return;
      const { middleware } = tracing ?? (await loadTracing(first));
      started.set(request, middleware as MiddlewareObj);
      await middleware.before?.(request as Request);
    },
    after: async (request) => {
      await delegate(request)?.after?.(request as Request);
    },
    onError: async (request) => {
      await delegate(request)?.onError?.(request as Request);
    },
  };
}
