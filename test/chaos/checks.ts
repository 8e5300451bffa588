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
