/**
 * Bounds how many lines a source of outside-triggered events can write to stderr: anyone who
 * can reach the peer port can make a validator refuse a connection, and a line per refusal
 * would let them fill the operator's disk and bury the lines that matter.
 */

/**
 * Returns a writer that passes at most `max` lines per period of `periodMs` (a period starts
 * at the first line after the previous one ended) and counts the rest. The first line of the
 * next period is preceded by one line saying how many were left out.
 */
export function limitedLines(write: (line: string) => void, what: string, max = 10, periodMs = 60_000, now: () => number = Date.now): (line: string) => void {
  if (!Number.isInteger(max) || max < 1 || !(periodMs > 0)) throw new RangeError('limitedLines: max must be a positive integer and periodMs positive');
  let periodStart = Number.NEGATIVE_INFINITY;
  let shown = 0;
  let leftOut = 0;
  return (line: string) => {
    const t = now();
    if (t - periodStart >= periodMs) {
      if (leftOut > 0) write(`stele node: ${leftOut} more ${what} not shown (at most ${max} lines per ${periodMs / 1000} s)\n`);
      periodStart = t;
      shown = 0;
      leftOut = 0;
    }
    if (shown < max) {
      shown++;
      write(line);
    } else {
      leftOut++;
    }
  };
}
