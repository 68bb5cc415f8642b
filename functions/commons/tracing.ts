/**
 * Powertools Tracer and its middleware: loaded by tracer.ts the first time an invocation is
 * sampled, so that a cold start Lambda did not sample loads no X-Ray SDK (about 100 ms of
 * init, `npm run bench -- --only bundles`).
 */
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';

/** The ColdStart annotation means the instance's first invocation, not the tracer's. */
class InstanceTracer extends Tracer {
  passColdStart(): void {
    this.getColdStart();
  }
}

export function startTracing(clients: readonly object[], firstInvocation: boolean) {
  const tracer = new InstanceTracer({ serviceName: 'sundial' });
  if (!firstInvocation) tracer.passColdStart();
  for (const client of clients) tracer.captureAWSv3Client(client);
  return { tracer, middleware: captureLambdaHandler(tracer) };
}
