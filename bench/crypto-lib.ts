/**
 * The one-core fast Ed25519 verify rate, shared by bench:crypto and bench:e2e (the
 * machine's signature limit is cores x this rate).
 */
import { verify } from '../ledger/ed25519.js';
import { devChain } from '../ledger/devnet.js';
import { signTx, type Tx } from '../ledger/tx.js';
import type { VerifyItem } from '../ledger/verify-pool.js';
import { medianRate } from './util.js';

const USERS = 64;

/** `count` signed transfers among 64 dev users, and their signatures as verify items. */
export function signedTransfers(count: number): { txs: Tx[]; items: VerifyItem[] } {
  const chain = devChain({ label: 'bench', users: USERS });
  const txs = Array.from({ length: count }, (_, i) => {
    const from = chain.users[i % USERS]!;
    const to = chain.users[(i + 1) % USERS]!;
    return signTx({ chainId: chain.genesis.chainId, expiry: 100, payload: { type: 'transfer', from: from.publicKey, asset: 'STL', to: to.publicKey, amount: BigInt(1 + i) } }, [from]);
  });
  const items: VerifyItem[] = txs.map((t) => ({ publicKey: t.body.signers[0]!, message: t.bodyBytes, signature: t.signatures[0]! }));
  return { txs, items };
}

/** Runs `fn` (which does `n` operations) once and returns operations per second. */
export function rateOf(n: number, fn: () => void): number {
  const start = performance.now();
  fn();
  return (n / (performance.now() - start)) * 1000;
}

/** Median over `runs` of verifying every item on this thread (fast path), per second. */
export function verifyRateFast(items: readonly VerifyItem[], runs: number): Promise<number> {
  return medianRate(runs, () =>
    rateOf(items.length, () => {
      for (const x of items) if (!verify(x.publicKey, x.message, x.signature)) throw new Error('bad signature');
    }),
  );
}
