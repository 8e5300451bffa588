/**
 * Worker thread of bench:e2e: signs transfers k0..k1-1 of the plan (e2e-lib.ts
 * transferPlan) before a phase starts, and hands back each one's binary encoding, JSON
 * form (for batches) and key. Signing is never timed.
 */
import { parentPort } from 'node:worker_threads';
import { fromHex } from '../ledger/assert.js';
import { keyPairFromSeed, Signer } from '../ledger/ed25519.js';
import { signTx } from '../ledger/tx.js';
import { txToJson } from '../api/tx-json.js';
import { transferPlan, txKey } from './e2e-lib.js';

export interface SignJob {
  readonly chainId: string;
  /** Hex seeds of the senders (all funded identities at genesis). */
  readonly seeds: readonly string[];
  readonly k0: number;
  readonly k1: number;
  readonly expiry: number;
}

export interface SignedChunk {
  readonly bytes: Uint8Array[];
  readonly json: string[];
  readonly keys: string[];
}

let signers: Signer[] = [];
let seedsOf = '';

parentPort?.on('message', (job: SignJob) => {
  // Each message carries the seeds (a fresh copy); key objects are made once per set.
  const seeds = job.seeds.join(',');
  if (seeds !== seedsOf) {
    signers = job.seeds.map((s) => new Signer(keyPairFromSeed(fromHex(s, 32))));
    seedsOf = seeds;
  }
  const out: SignedChunk = { bytes: [], json: [], keys: [] };
  for (let k = job.k0; k < job.k1; k++) {
    const plan = transferPlan(k, signers.length);
    const from = signers[plan.from] as Signer;
    const to = signers[plan.to] as Signer;
    const tx = signTx({ chainId: job.chainId, expiry: job.expiry, payload: { type: 'transfer', from: from.publicKey, asset: 'STL', to: to.publicKey, amount: plan.amount } }, [from]);
    out.bytes.push(tx.bytes);
    out.json.push(JSON.stringify(txToJson(tx)));
    out.keys.push(txKey(tx.bytes));
  }
  parentPort?.postMessage(out);
});
