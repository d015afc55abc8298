export * from './call.js';
export * from './runtime.js';
export { recordingOf, type ActionContext } from './actions/index.js';
