/**
 * bench:crypto: single-core Ed25519 verify rates (fast and reference), SHA-256 MB/s
 * (10^6 bytes), the Merkle root of 1,000 transactions, and verification over worker
 * threads. The three verify sides are measured side by side: each run measures all three,
 * the fast path in the middle, in an order that alternates between runs (reference, fast,
 * pool; then pool, fast, reference), after one unmeasured run of each. Rates are medians
 * of the runs; `fast_vs_reference_ratio` and `verify_pool_vs_cores_ratio` are medians of
 * the per-run ratios. One JSON line last.
 */
import { availableParallelism, cpus } from 'node:os';
import { verifyReference } from '../ledger/ed25519.js';
import { sha256 } from '../ledger/hash.js';
import { leafHash, merkleRoot } from '../ledger/merkle.js';
import { VerifyPool } from '../ledger/verify-pool.js';
import { rateOf, signedTransfers, verifyRateFast } from './crypto-lib.js';
import { arg, median, medianRate, note, round } from './util.js';

const runs = arg('runs', 5);
const count = 4000;
note(`signing ${count} transfers...`);
const { txs, items } = signedTransfers(count);

const refItems = items.slice(0, 300);
const threads = availableParallelism();
const pool = new VerifyPool(threads);
const verifySides = {
  fast: () => verifyRateFast(items, 1),
  reference: async () =>
    rateOf(refItems.length, () => {
      for (const x of refItems) if (!verifyReference(x.publicKey, x.message, x.signature)) throw new Error('bad signature');
    }),
  pool: async () => {
    const start = performance.now();
    const verdicts = await pool.verifyBatch(items);
    if (verdicts.length !== items.length || verdicts.includes(0)) throw new Error('bad signature');
    return (items.length / (performance.now() - start)) * 1000;
  },
};
type VerifySide = keyof typeof verifySides;
for (const side of Object.keys(verifySides) as VerifySide[]) await verifySides[side](); // warm up, the pool's workers too
const verifyRates: Record<VerifySide, number[]> = { fast: [], reference: [], pool: [] };
const fastVsReference: number[] = [];
const poolVsCores: number[] = [];
for (let run = 0; run < runs; run++) {
  const order: VerifySide[] = run % 2 === 0 ? ['reference', 'fast', 'pool'] : ['pool', 'fast', 'reference'];
  const got = {} as Record<VerifySide, number>;
  for (const side of order) {
    got[side] = await verifySides[side]();
    verifyRates[side].push(got[side]);
  }
  fastVsReference.push(got.fast / got.reference);
  poolVsCores.push(got.pool / (got.fast * threads));
}
await pool.close();
const fast = median(verifyRates.fast);
const reference = median(verifyRates.reference);
const pooled = median(verifyRates.pool);
note(`verify fast: ${round(fast)}/s, reference: ${round(reference)}/s, pool (${threads} threads): ${round(pooled)}/s`);

const mib = new Uint8Array(1 << 20).fill(0xab);
// Buffers of 1 MiB per second, then MB (10^6 bytes) per second.
const shaBuffers = await medianRate(runs, () => rateOf(64, () => {
  for (let i = 0; i < 64; i++) sha256(mib);
}));
const shaMbPerS = (shaBuffers * mib.length) / 1e6;
const smallHashes = await medianRate(runs, () => rateOf(100_000, () => {
  const small = new Uint8Array(120);
  for (let i = 0; i < 100_000; i++) sha256(small);
}));

const thousand = txs.slice(0, 1000);
const merklePerS = await medianRate(runs, () => rateOf(20, () => {
  for (let i = 0; i < 20; i++) merkleRoot(thousand.map((t) => leafHash(t.bytes)));
}));

const result = {
  bench: 'crypto',
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: threads,
  runs,
  verify_per_s_fast: round(fast),
  verify_per_s_reference: round(reference),
  fast_vs_reference_ratio: round(median(fastVsReference), 1),
  sha256_mb_per_s: round(shaMbPerS, 0),
  sha256_small_per_s: round(smallHashes),
  merkle_root_1000_tx_ms: round(1000 / merklePerS, 2),
  verify_pool_threads: threads,
  verify_pool_per_s: round(pooled),
  verify_pool_vs_cores_ratio: round(median(poolVsCores), 3),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
