/**
 * `npm run chaos -- --seconds S --seed N [--seeds K] [--net auto|netns|transport]
 *  [--disk auto|tmpfs|none] [--clients C] [--keep] [--json]`
 *
 * Runs seeds N, N+1, ... N+K-1 one after another (a chaos run needs the whole machine).
 * Progress goes to stderr; the last line of stdout is one JSON document: the report of a
 * single seed, or with --seeds > 1 a summary with every seed's report. Exit code 1 when
 * any seed found a problem, 2 for bad arguments or when a seed could not run (the harness
 * threw: say, its namespaces exist already); the reports of the seeds that finished are
 * still printed, with `errors`, and no later seed runs. Needs root for namespaces and
 * tmpfs; without them it falls back to faults in the transport and no full-disk fault,
 * and says so.
 */
import { parseArgs } from 'node:util';
import { runChaos, type ChaosReport } from './harness.js';

function int(name: string, text: string | undefined, fallback: number, lo: number, hi: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < lo || n > hi) throw new RangeError(`--${name} expects an integer ${lo}..${hi}, got ${text}`);
  return n;
}

function oneOf<T extends string>(name: string, text: string | undefined, allowed: readonly T[]): T {
  const v = text ?? allowed[0];
  if (!allowed.includes(v as T)) throw new RangeError(`--${name} expects one of ${allowed.join(', ')}, got ${text}`);
  return v as T;
}

async function main(): Promise<number> {
  let options;
  try {
    const { values } = parseArgs({
      options: {
        seconds: { type: 'string' },
        seed: { type: 'string' },
        seeds: { type: 'string' },
        net: { type: 'string' },
        disk: { type: 'string' },
        clients: { type: 'string' },
        keep: { type: 'boolean' },
        json: { type: 'boolean' },
      },
      strict: true,
    });
    options = {
      seconds: int('seconds', values.seconds, 60, 10, 24 * 3600),
      seed: int('seed', values.seed, 1, 1, 2 ** 31),
      seeds: int('seeds', values.seeds, 1, 1, 10_000),
      net: oneOf('net', values.net, ['auto', 'netns', 'transport'] as const),
      disk: oneOf('disk', values.disk, ['auto', 'tmpfs', 'none'] as const),
      clients: int('clients', values.clients, 6, 1, 64),
      keep: values.keep === true,
      json: values.json === true,
    };
  } catch (error) {
    process.stderr.write(`stele chaos: ${(error as Error).message}\n`);
    return 2;
  }
  const reports: ChaosReport[] = [];
  const errors: Array<{ seed: number; error: string }> = [];
  for (let k = 0; k < options.seeds; k++) {
    const seed = options.seed + k;
    let report: ChaosReport;
    try {
      report = await runChaos({ ...options, seed, log: (line) => process.stderr.write(`${line}\n`) });
    } catch (error) {
      // Keep what the finished seeds found (found in review: one throw lost them all).
      const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
      errors.push({ seed, error: text });
      process.stderr.write(`seed ${seed}: the harness failed, no further seeds run: ${text}\n`);
      break;
    }
    reports.push(report);
    const summary = `seed ${seed}: ${report.ok ? 'ok' : 'PROBLEMS'}; ${report.acknowledged} acknowledged, ${report.lost} lost, ${report.duplicated} duplicated, ${report.divergent} divergent, ${report.observed_mismatch} committed blocks lost or replaced, audit ${report.audit_ok ? 'ok' : 'FAILED'}; faults ${JSON.stringify(report.faults)}`;
    process.stderr.write(`${summary}\n`);
    for (const p of report.problems) process.stderr.write(`  problem: ${p}\n`);
    if (!report.ok) process.stderr.write(`  replay: npm run chaos -- --seconds ${options.seconds} --seed ${seed}${report.dir === null ? '' : `  (data kept in ${report.dir})`}\n`);
    if (!options.json && options.seeds === 1) process.stderr.write(`${JSON.stringify(report, null, 2)}\n`);
  }
  const failed = reports.filter((r) => !r.ok).length;
  if (reports.length === 1 && errors.length === 0) process.stdout.write(`${JSON.stringify(reports[0])}\n`);
  else {
    const sum = (f: (r: ChaosReport) => number): number => reports.reduce((s, r) => s + f(r), 0);
    const faults: Record<string, number> = {};
    for (const r of reports) for (const [k, v] of Object.entries(r.faults)) faults[k] = (faults[k] ?? 0) + v;
    process.stdout.write(
      `${JSON.stringify({
        chaos: 'stele',
        seeds: reports.length,
        first_seed: options.seed,
        seconds_each: options.seconds,
        wall_s: Math.round(sum((r) => r.wall_s)),
        failed_seeds: failed,
        errors,
        acknowledged: sum((r) => r.acknowledged),
        lost: sum((r) => r.lost),
        duplicated: sum((r) => r.duplicated),
        unexpected: sum((r) => r.unexpected),
        divergent: sum((r) => r.divergent),
        observed_mismatch: sum((r) => r.observed_mismatch),
        refused_committed: sum((r) => r.refused_committed),
        bad_answers: sum((r) => Object.values(r.bad_answers).reduce((s, n) => s + n, 0)),
        audit_ok: reports.every((r) => r.audit_ok),
        supply_ok: reports.every((r) => r.supply_ok),
        balances_ok: reports.every((r) => r.balances_ok),
        records_ok: reports.every((r) => r.records_ok),
        unrecovered: sum((r) => r.unrecovered),
        faults,
        net: [...new Set(reports.map((r) => r.net))],
        disk: [...new Set(reports.map((r) => r.disk))],
        reports,
      })}\n`,
    );
  }
  if (errors.length > 0) return 2;
  return failed > 0 ? 1 : 0;
}

process.exitCode = await main();
