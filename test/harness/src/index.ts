export * from './ports.js';
export * from './process.js';
export * from './tmp.js';
export * from './nats.js';
export * from './s3.js';
export * from './service.js';
export * from './smtp.js';
export * from './wav-fixtures.js';
