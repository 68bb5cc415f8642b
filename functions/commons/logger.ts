import { Logger } from '@aws-lambda-powertools/logger';

/** One structured JSON logger per function; POWERTOOLS_* variables tune it. */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'sundial' });
