/**
 * How late this process's event loop runs, for GET /metrics: a histogram of how late a
 * 10 ms timer fires (perf_hooks.monitorEventLoopDelay), summed up every window.
 * Everything a validator does on its main thread (admission, consensus steps, commits)
 * waits while a task or a garbage collection holds the loop, or while the thread waits
 * for a core, so this is where a latency tail often starts.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** Length of a node's measurement window. */
export const LOOP_DELAY_WINDOW_MS = 10_000;
/** The sampling timer's period: the histogram holds whole periods, so this much is taken off. */
const RESOLUTION_MS = 10;

export interface LoopDelay {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** Event-loop delay over consecutive windows; `last` is the last complete one. */
export class LoopDelayMonitor {
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  private timer: NodeJS.Timeout | null = null;
  last: LoopDelay | null = null;

  constructor(private readonly windowMs: number) {}

  start(): void {
    if (this.timer !== null) return;
    this.histogram.enable();
    this.timer = setInterval(() => {
      this.last = summary(this.histogram);
      this.histogram.reset();
    }, this.windowMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.histogram.disable();
  }
}

function summary(h: IntervalHistogram): LoopDelay {
  const ms = (ns: number): number => (Number.isFinite(ns) ? Math.max(0, ns / 1e6 - RESOLUTION_MS) : 0);
  return { p50Ms: ms(h.percentile(50)), p99Ms: ms(h.percentile(99)), maxMs: ms(h.max) };
}

let processMonitor: LoopDelayMonitor | null = null;

/** Starts this process's monitor (once; later calls do nothing). */
export function startLoopDelay(): void {
  processMonitor ??= new LoopDelayMonitor(LOOP_DELAY_WINDOW_MS);
  processMonitor.start();
}

/** This process's last complete window, or null before the first one ends (or when not started). */
export function loopDelay(): LoopDelay | null {
  return processMonitor?.last ?? null;
}
