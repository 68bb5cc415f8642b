import { Tracer } from '@aws-lambda-powertools/tracer';

/** X-Ray segments for each invocation and each AWS SDK call; off outside Lambda. */
export const tracer = new Tracer({ serviceName: 'sundial' });

/** Every SDK call of this client becomes an X-Ray subsegment of the invocation. */
export const traced = <T>(client: T): T => tracer.captureAWSv3Client(client);
