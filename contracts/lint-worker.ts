/**
 * The contract checker on a worker thread, for the node's POST /v1/lint: one job per
 * worker, answered with the report's parts (node/lint-runner.ts). Checking is bounded per
 * contract, not per request, so a large request could hold a thread for seconds; here it
 * holds only this one, and the runner stops it at its time bound.
 */
import { parentPort } from 'node:worker_threads';
import { checkSources, DEFAULT_OPTIONS, type CheckOptions } from './checker.js';

export interface LintJob {
  readonly files: readonly { readonly file: string; readonly text: string }[];
  readonly options: Partial<CheckOptions>;
}

parentPort?.once('message', (job: LintJob) => {
  const result = checkSources(job.files, { ...DEFAULT_OPTIONS, ...job.options });
  parentPort?.postMessage({ diagnostics: result.diagnostics, contracts: result.contracts.length, errors: result.errors, warnings: result.warnings });
});
