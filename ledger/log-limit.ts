/**
 * Bounds how many lines a source of outside-triggered events can write to stderr: anyone who
 * can reach the peer port can make a validator refuse a connection, and a line per refusal
 * would let them fill the operator's disk and bury the lines that matter. Used by the node
 * (node/run.ts) and by the transport's default log (native/transport.ts).
 */

/** Runs `fn` after `ms` without keeping the process alive for it. */
function laterUnref(fn: () => void, ms: number): void {
  setTimeout(fn, ms).unref();
}

/**
 * Returns a writer that passes at most `max` lines per period of `periodMs` (a period starts
 * at the first line after the previous one ended) and counts the rest; when a period that left
 * lines out ends, one line, `${what}: N more not shown ...`, says how many. `what` names the
 * writer and the lines, as in "stele node: transport refusals". `now` is a monotonic clock in
 * milliseconds, so a wall clock stepped back hides nothing.
 * @example const refusal = limitedLines((l) => process.stderr.write(l), 'stele node: transport refusals');
 */
export function limitedLines(
  write: (line: string) => void,
  what: string,
  max = 10,
  periodMs = 60_000,
  now: () => number = () => performance.now(),
  later: (fn: () => void, ms: number) => void = laterUnref,
): (line: string) => void {
  if (!Number.isInteger(max) || max < 1 || !(periodMs > 0)) throw new RangeError('limitedLines: max must be a positive integer and periodMs positive');
  let periodStart = Number.NEGATIVE_INFINITY;
  let shown = 0;
  let leftOut = 0;
  const report = (): void => {
    if (leftOut > 0) write(`${what}: ${leftOut} more not shown (at most ${max} lines per ${periodMs / 1000} s)\n`);
    leftOut = 0;
  };
  return (line: string) => {
    const t = now();
    if (t - periodStart >= periodMs) {
      report(); // normally done already by the timer below
      periodStart = t;
      shown = 0;
    }
    if (shown < max) {
      shown++;
      write(line);
      return;
    }
    if (leftOut === 0) later(report, periodStart + periodMs - t);
    leftOut++;
  };
}
