/**
 * Pure checks of the chaos harness over what it recorded during a run (test/chaos/harness.ts;
 * unit tests in checks.test.ts). Kept apart from the harness so that each can be fed a bad
 * run and seen to fail.
 */

/** A block a validator reported as committed while the run went on (GET /v1/blocks/latest). */
export interface Observation {
  readonly node: number;
  readonly height: number;
  /** The block's hash, hex. */
  readonly hash: string;
  /** When the answer came (ms since the epoch). */
  readonly at: number;
}

export interface ObservedMismatch extends Observation {
  /** What that validator's final chain holds at that height: null when it is shorter. */
  readonly final: string | null;
}

/**
 * Every block a validator reported as committed during the run must still be in its final
 * chain (`chains[node]`, block hashes from height 1), at that height, with that hash. A
 * committed block is final: a replica that lost one (a recovery that cut too much) or
 * replaced one and then caught up from its peers looks fine in the final chains alone.
 */
export function checkObserved(observed: readonly Observation[], chains: ReadonlyArray<ReadonlyArray<string>>): ObservedMismatch[] {
  const mismatches: ObservedMismatch[] = [];
  for (const o of observed) {
    const chain = chains[o.node];
    if (chain === undefined) throw new Error(`no final chain for validator ${o.node}`);
    const final = chain[o.height - 1] ?? null;
    if (final !== o.hash) mismatches.push({ ...o, final });
  }
  return mismatches;
}

/** One full_disk fault: its target, when its tmpfs was filled and freed, and what the target logged since the fill. */
export interface FullDiskFault {
  readonly node: number;
  readonly fill: number;
  readonly heal: number;
  /** When the harness saw the cluster recovered after the heal (or gave up waiting). */
  readonly end: number;
  /** The target's log, written from the fill to `end`. */
  readonly log: string;
}

/** A validator's exit as the harness saw it (cluster.ts). */
export interface ExitSeen {
  readonly index: number;
  readonly code: number | null;
  readonly signal: string | null;
  /** The harness killed or stopped it. */
  readonly expected: boolean;
  readonly at: number;
}

/** The line `stele node` writes when it stops on a full disk (cli/node.ts, diskFullExit). */
export const STORE_FULL_LINE = /stele node: STOPPED: the disk holding .* is full \(STORE_FULL\)/g;

export interface FullDiskJudgment {
  /** Per fault, in order: the target's exits with code 75 between the fill and the heal. */
  readonly stops: number[];
  /** Per fault, in order: what is wrong with it (empty when it is proven). */
  readonly faultProblems: string[][];
  /** All of faultProblems, in order. */
  readonly problems: string[];
  /**
   * Exits with code 75 the harness did not cause and that no full disk explains: not from a
   * fault's target between its fill and its recovery.
   */
  readonly unexpected: ExitSeen[];
}

/**
 * Judges each full_disk fault on its own (docs/reliability.md, check 6). A full disk must
 * stop its target: `stele node` promises exit code 75 and a STORE_FULL line on stderr
 * (cli/node.ts); it has no mode that refuses writes and stays up. So each fault needs an
 * exit 75 of its target between its fill and its heal, and a STORE_FULL line in the
 * target's log for every exit 75 of the target from the fill to the recovery (a
 * supervisor's restart can still meet the full disk and stop again, and such a stop may end
 * just after the heal). An exit 75 of any validator at another time, or of a validator
 * whose disk was not full, is unexpected.
 */
export function judgeFullDisk(faults: readonly FullDiskFault[], exits: readonly ExitSeen[], exitDiskFull = 75): FullDiskJudgment {
  const faultProblems: string[][] = [];
  const diskFull = exits.filter((e) => !e.expected && e.code === exitDiskFull);
  const stops = faults.map((f) => {
    const problems: string[] = [];
    faultProblems.push(problems);
    const during = diskFull.filter((e) => e.index === f.node && e.at >= f.fill && e.at <= f.heal).length;
    const untilRecovered = diskFull.filter((e) => e.index === f.node && e.at >= f.fill && e.at <= f.end).length;
    const lines = f.log.match(STORE_FULL_LINE)?.length ?? 0;
    const where = `full disk of v${f.node + 1} (filled at ${f.fill}, freed at ${f.heal})`;
    if (during === 0) problems.push(`${where}: v${f.node + 1} did not stop with exit code 75 while its disk was full`);
    if (lines < Math.max(1, untilRecovered)) problems.push(`${where}: v${f.node + 1} exited with 75 ${untilRecovered} times up to the recovery, but its log holds ${lines} STORE_FULL line${lines === 1 ? '' : 's'} since the fill`);
    return during;
  });
  const unexpected = diskFull.filter((e) => !faults.some((f) => f.node === e.index && e.at >= f.fill && e.at <= f.end));
  return { stops, faultProblems, problems: faultProblems.flat(), unexpected };
}

/**
 * The messages a validator's transport fault layer has dropped since it started (the sum
 * of `stele_test_fault_drops_total` over both directions in its GET /metrics text); null
 * when the text holds no such sample.
 */
export function faultDropsOf(metrics: string): number | null {
  let total: number | null = null;
  for (const line of metrics.split('\n')) {
    const m = /^stele_test_fault_drops_total(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m === null) continue;
    const value = Number(m[1]);
    if (!Number.isFinite(value)) continue;
    total = (total ?? 0) + value;
  }
  return total;
}

/**
 * Messages dropped between two readings of every validator's drop counter (per validator,
 * null where it did not answer): the sum of the increases of those read both times. A
 * counter that went down (the validator restarted) counts from zero.
 */
export function dropsBetween(before: ReadonlyArray<number | null>, after: ReadonlyArray<number | null>): number {
  let dropped = 0;
  after.forEach((a, i) => {
    const b = before[i] ?? null;
    if (a === null) return;
    dropped += b === null ? 0 : a >= b ? a - b : a;
  });
  return dropped;
}

/** The state letter of a /proc/PID/stat line (R, S, D, T for stopped, t, Z, ...); null when it is not one. */
export function procState(stat: string): string | null {
  const close = stat.lastIndexOf(')');
  if (close < 0) return null;
  const m = /^\s+(\S)\s/.exec(stat.slice(close + 1));
  return m === null ? null : (m[1] as string);
}
