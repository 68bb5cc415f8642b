import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE } from '../adapters/run-metrics.js';

/**
 * One metrics buffer per function, flushed as EMF at the end of each invocation. Marked pure
 * so that a bundle that never reads it (the api) does not carry the Metrics utility.
 */
export const metrics = /* @__PURE__ */ new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'sundial' });
