export * from './config.js';
export * from './logger.js';
export * from './health.js';
export * from './metrics.js';
export * from './nats.js';
export * from './lifecycle.js';
export * from './keyed-mutex.js';
export * from './in-flight.js';
