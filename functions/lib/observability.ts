import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

/** Made once for every function: one logger, one metrics namespace, one tracer. */
export const logger = new Logger({ serviceName: 'gatehouse' });
export const metrics = new Metrics({ namespace: 'Gatehouse', serviceName: 'gatehouse' });
export const tracer = new Tracer({ serviceName: 'gatehouse' });
