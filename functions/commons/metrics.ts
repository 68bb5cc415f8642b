import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE } from '../adapters/run-metrics.js';

/** One metrics buffer per function, flushed as EMF at the end of each invocation. */
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'sundial' });
