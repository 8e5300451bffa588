/**
 * A one-line progress bar on stderr, for long commands (`stele audit`). Shown only when
 * stderr is a terminal, never with `--json` or NO_COLOR (STYLE.md: progress bars only on
 * a terminal), so piped and scripted runs see nothing of it. Redrawn at most every
 * REDRAW_MS so a fast loop does not spend its time writing to the terminal.
 */

/** What the bar writes to: process.stderr, or a fake in tests. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): unknown;
}

const REDRAW_MS = 100;
const BAR_CELLS_MAX = 30;
const BAR_CELLS_MIN = 10;

export interface Progress {
  /** `done` items of `total` so far. */
  update(done: number): void;
  /** Clears the line (call once, before printing results). */
  finish(): void;
}

const SILENT: Progress = { update() {}, finish() {} };

/** The line drawn for `done` of `total` after `seconds`, fitted to `columns`. */
export function progressLine(label: string, done: number, total: number, seconds: number, columns: number): string {
  const fraction = total > 0 ? Math.min(1, done / total) : 0;
  const rate = seconds > 0 ? done / seconds : 0;
  const numbers = ` ${done}/${total} ${label} ${rate >= 100 ? Math.round(rate) : rate.toFixed(1)}/s`;
  // A bar of a few cells says nothing: below BAR_CELLS_MIN only the numbers are shown.
  const room = columns - numbers.length - 3;
  const cells = room >= BAR_CELLS_MIN ? Math.min(BAR_CELLS_MAX, room) : 0;
  const filled = Math.round(fraction * cells);
  const line = cells > 0 ? `[${'#'.repeat(filled)}${'.'.repeat(cells - filled)}]${numbers}` : numbers.trimStart();
  return line.slice(0, Math.max(0, columns - 1));
}

/**
 * A bar for `total` items, or a silent one when `stream` is not a terminal, `quiet` is
 * set (--json) or NO_COLOR is in the environment.
 */
export function progressBar(
  label: string,
  total: number,
  options: { stream?: ProgressStream; quiet?: boolean; env?: NodeJS.ProcessEnv; nowMs?: () => number } = {},
): Progress {
  const stream = options.stream ?? process.stderr;
  const env = options.env ?? process.env;
  if (options.quiet === true || stream.isTTY !== true || env.NO_COLOR !== undefined) return SILENT;
  const nowMs = options.nowMs ?? (() => performance.now());
  const started = nowMs();
  let drawnAt = -Infinity;
  let drawn = false;
  return {
    update(done) {
      const now = nowMs();
      if (now - drawnAt < REDRAW_MS && done < total) return;
      drawnAt = now;
      drawn = true;
      stream.write(`\r${progressLine(label, done, total, (now - started) / 1000, stream.columns ?? 80)}\x1b[K`);
    },
    finish() {
      if (drawn) stream.write('\r\x1b[K');
      drawn = false;
    },
  };
}
