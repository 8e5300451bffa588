/**
 * A full garbage collection once a validator goes idle. Under load V8 grows the main heap
 * (tens of MiB of garbage on a busy leader), and its own memory reducer did not shrink it
 * within 20 s of idling in bench:e2e (the leader's heap stayed at 59 MiB committed, its
 * followers' at 20). One collection when the node has committed nothing for a whole check
 * period returns it, at a moment when a pause of a few milliseconds costs no one anything.
 * Needs `--expose-gc` (cli/up.ts VALIDATOR_NODE_FLAGS); without it this does nothing.
 */
export interface IdleCollector {
  stop(): void;
}

/**
 * Checks every `everyMs`: when `progress()` (such as the committed block count) has not
 * moved since the last check and no collection ran since it last moved, calls `gc` once.
 */
export function idleCollector(progress: () => number, gc: (() => void) | undefined, everyMs = 5_000): IdleCollector {
  if (gc === undefined) return { stop: () => {} };
  let last = progress();
  let collected = false;
  const timer = setInterval(() => {
    const now = progress();
    if (now !== last) {
      last = now;
      collected = false;
      return;
    }
    if (collected) return;
    collected = true;
    gc();
  }, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
