export * from './types';
export { validatePlan, planSchema, describeErrors } from './validate';
export { readPlan, readAssembly, readManifest, renderPlan, writeAssembly, planFileName, MANIFEST_FILE } from './io';
export type { Manifest, PlanFormat } from './io';
export { hashBuildContext, contextFiles, hashFileContent } from './hashing';
