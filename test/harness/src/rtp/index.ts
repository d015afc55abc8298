export * from './endpoint.js';
export * from './analysis.js';
export * from './g711.js';
export { oggPackets } from './ffmpeg.js';
