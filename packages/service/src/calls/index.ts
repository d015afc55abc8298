export * from './call.js';
export * from './runtime.js';
export { CALL_ACTION_KINDS, isCallAction, recordingOf, type ActionContext, type Performers } from './actions/index.js';
