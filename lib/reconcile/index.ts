export * from './types';
export { diffStack, show } from './diff';
export type { ObservedImages } from './diff';
export * from './hash';
export * from './graph';
export * from './render';
export { driftStack, hasDrift, summarizeDrift, renderDrift, driftToJson, DRIFT_CATEGORIES } from './drift';
export type { DriftCategory, DriftFinding, DriftSummary, StackDrift } from './drift';
