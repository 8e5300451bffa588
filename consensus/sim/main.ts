/**
 * `npm run sim -- --seeds N [--steps M] [--seed S] [--replicas R] [--json]`
 *
 * Runs seeds S, S+1, ... S+N-1 (S defaults to 1). Each failing seed prints a one-line
 * command that replays it; the last line of output is one JSON document. Exit code 1 when
 * any seed found a violation or a liveness failure, 2 for bad arguments.
 * STELE_SIM_BUG=<name> plants a bug in the core (see PLANTED_BUGS) to show the checker fails.
 */
import { parseArgs } from 'node:util';
import { plantedBug, simulate } from './simulator.js';

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`--${name} expects a positive integer, got ${text}`);
  return value;
}

function main(): number {
  let options;
  try {
    const { values } = parseArgs({
      options: {
        seeds: { type: 'string' },
        steps: { type: 'string' },
        seed: { type: 'string' },
        replicas: { type: 'string' },
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
  const faults: Record<string, number> = {};
  const byReplicas: Record<string, number> = {};
  for (let k = 0; k < options.seeds; k++) {
    const seed = options.first + k;
    const r = simulate({ seed, steps: options.steps, replicas: options.replicas, bug: options.bug });
    violations += r.violations.length;
    livenessFailures += r.livenessFailures.length;
    committed += r.committed;
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
    if (!options.json && options.seeds >= 1000 && (k + 1) % 1000 === 0) process.stderr.write(`${k + 1} seeds...\n`);
  }
  const result = {
    sim: 'consensus',
    seeds: options.seeds,
    first_seed: options.first,
    steps: options.steps,
    bug: options.bug ?? null,
    violations,
    liveness_failures: livenessFailures,
    failing_seeds: failingSeeds,
    committed_slots: committed,
    replicas: byReplicas,
    faults,
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return failingSeeds > 0 ? 1 : 0;
}

process.exitCode = main();
