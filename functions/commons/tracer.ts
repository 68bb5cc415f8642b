import { Tracer } from '@aws-lambda-powertools/tracer';

/** X-Ray segments for each invocation and each AWS SDK call; off outside Lambda. */
export const tracer = new Tracer({ serviceName: 'sundial' });
