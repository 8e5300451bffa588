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

/** Linux's ephemeral ports start here by default (net.ipv4.ip_local_port_range). */
const EPHEMERAL_PORTS_FROM = 32_768;
const LISTEN_PORTS_FROM = 10_000;

/**
 * A random base port for benchmarks and tests that listen on `base` to `base + span`, all
 * below Linux's ephemeral ports, which outgoing connections (of this run, or of tests
 * running alongside) take: a listen port drawn among them was once found in use.
 */
export function randomPortBase(span: number): number {
  return LISTEN_PORTS_FROM + Math.floor(Math.random() * (EPHEMERAL_PORTS_FROM - LISTEN_PORTS_FROM - span));
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
