/** Benchmark helpers: repeat a measurement and report the median. */
export function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Runs `fn` `runs` times; each returns a rate; returns the median rate. */
export async function medianRate(runs: number, fn: () => number | Promise<number>): Promise<number> {
  const rates: number[] = [];
  for (let i = 0; i < runs; i++) rates.push(await fn());
  return median(rates);
}

export function round(value: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function note(line: string): void {
  process.stderr.write(`${line}\n`);
}

export function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} expects a positive number`);
  return value;
}
