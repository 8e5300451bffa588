/**
 * Whether this process's main thread is busy: its event-loop utilization (the share of
 * time spent running tasks rather than waiting for I/O, perf_hooks) over the last complete
 * window. A leader uses it to choose between latency and throughput when it cuts blocks
 * (validator.ts maybePropose): an idle leader cuts a block for each transaction at once,
 * a busy one spaces its blocks out, because each block costs the cluster several
 * milliseconds of CPU whatever it holds (docs/performance.md, ninth session).
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/** Utilization from which the main thread counts as busy. */
export const BUSY_UTILIZATION = 0.7;
/** Length of a measurement window. */
export const BUSY_WINDOW_MS = 200;

/**
 * A probe of the main thread's load: `busy()` is true while the last complete window's
 * utilization was at least `threshold`. Cheap to call often: it measures once per window.
 * @example const busy = eventLoopBusy(); if (busy()) spaceBlocksOut();
 */
export function eventLoopBusy(threshold = BUSY_UTILIZATION, windowMs = BUSY_WINDOW_MS): () => boolean {
  let at = performance.now();
  let mark: EventLoopUtilization = performance.eventLoopUtilization();
  let busy = false;
  return () => {
    const now = performance.now();
    if (now - at >= windowMs) {
      const next = performance.eventLoopUtilization();
      busy = performance.eventLoopUtilization(next, mark).utilization >= threshold;
      mark = next;
      at = now;
    }
    return busy;
  };
}
