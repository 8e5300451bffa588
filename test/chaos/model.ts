/**
 * Pure checks of the chaos harness, apart from processes so that they can be tested:
 * a model of the workload's effect on balances and records, and the verdict on a refusal.
 */

/** What the workload knows of a transaction it submitted: its payload, by account index. */
export type Sent =
  | { readonly type: 'transfer'; readonly from: number; readonly to: number; readonly amount: bigint }
  | { readonly type: 'put'; readonly owner: number; readonly key: string; readonly data: string };

export interface WorkloadModel {
  /** Balance of each account (by index). */
  readonly balances: bigint[];
  /** Last put of each "owner/key": its block height, value (hex) and transaction id. */
  readonly records: Map<string, { readonly height: number; readonly data: string; readonly id: string }>;
  /** Transfers that fail: the sender's balance is below the amount when the chain reaches them. */
  readonly failed: Set<string>;
}

/**
 * Balances and records after the transactions `chain` holds, in its order, from `accounts`
 * genesis balances of `balance` each, with plain BigInt arithmetic. The only rule of
 * ledger/machine.ts the workload can break is a transfer above the sender's balance, which
 * fails and changes nothing; a put always applies. Transactions `sent` does not know are
 * skipped (the harness counts them as never submitted).
 */
export function modelWorkload(chain: ReadonlyArray<{ readonly id: string; readonly height: number }>, sent: ReadonlyMap<string, Sent>, accounts: number, balance: bigint): WorkloadModel {
  const balances = Array.from({ length: accounts }, () => balance);
  const records = new Map<string, { height: number; data: string; id: string }>();
  const failed = new Set<string>();
  for (const t of chain) {
    const s = sent.get(t.id);
    if (s === undefined) continue;
    if (s.type === 'put') {
      records.set(`${s.owner}/${s.key}`, { height: t.height, data: s.data, id: t.id });
      continue;
    }
    const from = balances[s.from];
    if (from === undefined || balances[s.to] === undefined) throw new RangeError(`transfer ${t.id} names an account outside 0..${accounts - 1}`);
    if (from < s.amount) {
      failed.add(t.id);
      continue;
    }
    // Debit first, then credit: a transfer to oneself nets to zero, as in the ledger.
    balances[s.from] = from - s.amount;
    balances[s.to] = (balances[s.to] as bigint) + s.amount;
  }
  return { balances, records, failed };
}

/**
 * The verdict on a refusal its client was told, against the chain: `place` is where the
 * chain holds the transaction (undefined: nowhere), `failedAs` the code the chain holds it
 * failed with (undefined: applied, or absent). Each transaction is submitted once, so a
 * refusal without a place (admission, or a refusal no block can overrule) means in no
 * block; one with a place means failed there with that code.
 */
export function judgeRefusal(
  told: { readonly code: string; readonly height?: number; readonly index?: number },
  place: { readonly height: number; readonly index: number } | undefined,
  failedAs: string | undefined,
): 'final' | 'at_place' | 'placed_but_absent' | 'refused_but_in_chain' {
  if (place === undefined) return told.height === undefined ? 'final' : 'placed_but_absent';
  if (told.height !== undefined && failedAs === told.code && told.height === place.height && told.index === place.index) return 'at_place';
  return 'refused_but_in_chain';
}
