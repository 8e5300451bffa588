/**
 * `npm run sim -- --seeds N [--steps M] [--seed S] [--replicas R] [--jobs J] [--json]`
 *
 * `--jobs J` runs seeds on J worker threads (batches of 50 handed out in order); the
 * results do not depend on J.
 * Runs seeds S, S+1, ... S+N-1 (S defaults to 1). Each failing seed prints a one-line
 * command that replays it; the last line of output is one JSON document. Exit code 1 when
 * any seed found a violation or a liveness failure, 2 for bad arguments.
 * STELE_SIM_BUG=<name> plants a bug in the core (see PLANTED_BUGS) to show the checker fails.
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { plantedBug, simulate, type SimResult } from './simulator.js';
import type { PlantedBug } from '../replica.js';

interface Batch {
  readonly first: number;
  readonly count: number;
  readonly steps: number;
  readonly replicas: number | undefined;
  readonly bug: PlantedBug | undefined;
}

const BATCH_SEEDS = 50;

/** Worker side: run each batch handed over and send back the results. */
function serveBatches(): void {
  parentPort?.on('message', (b: Batch | null) => {
    if (b === null) {
      parentPort?.close();
      return;
    }
    const results: SimResult[] = [];
    for (let k = 0; k < b.count; k++) results.push(simulate({ seed: b.first + k, steps: b.steps, replicas: b.replicas, bug: b.bug }));
    parentPort?.postMessage(results);
  });
}

/** Runs seeds on `jobs` worker threads; returns results in seed order. */
async function runParallel(first: number, seeds: number, jobs: number, base: Omit<Batch, 'first' | 'count'>, onProgress: (done: number) => void): Promise<SimResult[]> {
  const batches: Batch[] = [];
  for (let at = 0; at < seeds; at += BATCH_SEEDS) batches.push({ ...base, first: first + at, count: Math.min(BATCH_SEEDS, seeds - at) });
  const results = new Map<number, SimResult>();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(jobs, batches.length) }, () =>
      new Promise<void>((resolve, reject) => {
        const worker = new Worker(new URL(import.meta.url), { workerData: 'sim-worker' });
        const feed = (): void => {
          const b = batches[next++];
          worker.postMessage(b ?? null);
          if (b === undefined) resolve();
        };
        worker.on('message', (rs: SimResult[]) => {
          for (const r of rs) results.set(r.seed, r);
          onProgress(results.size);
          feed();
        });
        worker.on('error', reject);
        feed();
      }),
    ),
  );
  return Array.from({ length: seeds }, (_, k) => results.get(first + k) as SimResult);
}

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`--${name} expects a positive integer, got ${text}`);
  return value;
}

async function main(): Promise<number> {
  let options;
  try {
    const { values } = parseArgs({
      options: {
        seeds: { type: 'string' },
        steps: { type: 'string' },
        seed: { type: 'string' },
        replicas: { type: 'string' },
        jobs: { type: 'string' },
        json: { type: 'boolean' },
      },
      strict: true,
    });
    const replicas = values.replicas === undefined ? undefined : positive('replicas', values.replicas, 3);
    if (replicas !== undefined && ![1, 3, 5, 7].includes(replicas)) throw new RangeError('--replicas must be 1, 3, 5 or 7');
    options = {
      seeds: positive('seeds', values.seeds, values.seed === undefined ? 100 : 1),
      steps: positive('steps', values.steps, 2000),
      first: positive('seed', values.seed, 1),
      replicas,
      json: values.json === true,
      jobs: values.jobs === 'auto' ? availableParallelism() : positive('jobs', values.jobs, 1),
      bug: plantedBug(process.env.STELE_SIM_BUG),
    };
  } catch (error) {
    process.stderr.write(`stele sim: ${(error as Error).message}\n`);
    return 2;
  }
  const started = performance.now();
  let violations = 0;
  let livenessFailures = 0;
  let failingSeeds = 0;
  let committed = 0;
  let acceptRecords = 0;
  const faults: Record<string, number> = {};
  const byReplicas: Record<string, number> = {};
  const progress = (done: number): void => {
    if (!options.json && options.seeds >= 1000 && done % 1000 === 0) process.stderr.write(`${done} seeds...\n`);
  };
  const base = { steps: options.steps, replicas: options.replicas, bug: options.bug };
  let results: SimResult[];
  if (options.jobs > 1) {
    results = await runParallel(options.first, options.seeds, options.jobs, base, progress);
  } else {
    results = [];
    for (let k = 0; k < options.seeds; k++) {
      results.push(simulate({ seed: options.first + k, ...base }));
      progress(k + 1);
    }
  }
  for (const r of results) {
    const seed = r.seed;
    violations += r.violations.length;
    livenessFailures += r.livenessFailures.length;
    committed += r.committed;
    acceptRecords += r.acceptRecords;
    byReplicas[r.replicas] = (byReplicas[r.replicas] ?? 0) + 1;
    for (const [kind, count] of Object.entries(r.faults)) faults[kind] = (faults[kind] ?? 0) + count;
    if (r.violations.length > 0 || r.livenessFailures.length > 0) {
      failingSeeds++;
      if (failingSeeds <= 20) {
        const env = options.bug === undefined ? '' : `STELE_SIM_BUG=${options.bug} `;
        const first = r.violations[0] ?? r.livenessFailures[0];
        process.stderr.write(`seed ${seed} (${r.replicas} replicas): ${first}\n  replay: ${env}npm run sim -- --seed ${seed} --steps ${options.steps}${options.replicas === undefined ? '' : ` --replicas ${options.replicas}`}\n`);
      }
    }
  }
  const result = {
    sim: 'consensus',
    seeds: options.seeds,
    jobs: options.jobs,
    first_seed: options.first,
    steps: options.steps,
    bug: options.bug ?? null,
    violations,
    liveness_failures: livenessFailures,
    failing_seeds: failingSeeds,
    committed_slots: committed,
    accept_records: acceptRecords,
    replicas: byReplicas,
    faults,
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return failingSeeds > 0 ? 1 : 0;
}

if (isMainThread) process.exitCode = await main();
else if (workerData === 'sim-worker') serveBatches();
