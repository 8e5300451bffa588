/**
 * Runs the contract checker for POST /v1/lint on a worker thread of its own, with a time
 * and a memory bound, so that a costly request cannot hold the validator's main thread
 * (consensus and every other request) while it runs. Before 2026-11-30 the checker ran on
 * the main thread, and the API's bound of two lint runs at once never applied, since each
 * returned before the next could start (found in review).
 */
import { Worker } from 'node:worker_threads';
import type { CheckOptions } from '../contracts/checker.js';
import { SteleError } from '../ledger/errors.js';
import type { LintReport } from '../api/node-view.js';

/** One lint request's time bound on its worker. */
export const LINT_TIME_MAX_MS = 10_000;
/** Its worker's heap bound (MiB of V8's old generation). */
export const LINT_HEAP_MAX_MB = 256;

interface WorkerAnswer {
  readonly diagnostics: LintReport['diagnostics'];
  readonly contracts: number;
  readonly errors: number;
  readonly warnings: number;
}

/** @throws SteleError API_LINT_TOO_COSTLY past the time or memory bound */
export async function lintOnWorker(files: readonly { readonly file: string; readonly source: string }[], options: Partial<CheckOptions>, timeMaxMs = LINT_TIME_MAX_MS): Promise<LintReport> {
  const worker = new Worker(new URL('../contracts/lint-worker.js', import.meta.url), { resourceLimits: { maxOldGenerationSizeMb: LINT_HEAP_MAX_MB } });
  try {
    const answer = await new Promise<WorkerAnswer>((resolve, reject) => {
      const costly = (why: string): SteleError =>
        new SteleError('API_LINT_TOO_COSTLY', `checking these ${files.length} files ${why}; check fewer or smaller contracts, or run stele lint locally`, { files: files.length });
      const timer = setTimeout(() => reject(costly(`took longer than ${timeMaxMs} ms`)), timeMaxMs);
      worker.once('message', (m: WorkerAnswer) => {
        clearTimeout(timer);
        resolve(m);
      });
      worker.once('error', (error: Error & { code?: string }) => {
        clearTimeout(timer);
        reject(error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? costly(`needed more than ${LINT_HEAP_MAX_MB} MiB`) : error);
      });
      worker.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the lint worker exited with code ${code} before answering`));
      });
      worker.postMessage({ files: files.map((f) => ({ file: f.file, text: f.source })), options });
    });
    return { diagnostics: answer.diagnostics, summary: { files: files.length, contracts: answer.contracts, errors: answer.errors, warnings: answer.warnings } };
  } finally {
    await worker.terminate();
  }
}
