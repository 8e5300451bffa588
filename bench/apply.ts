/**
 * bench:apply: transfers applied per second without signature checks (the state machine
 * alone), with signature checks on one thread, and full block validation (structure,
 * Merkle root, proposer and certificate, every signature over the worker pool,
 * re-execution and state hash) compared with the raw fast verify rate times the threads.
 * Medians of repeated runs; one JSON line last. Every transfer must be applied in every
 * measured execution (none recorded as failed), or the benchmark fails.
 */
import { availableParallelism } from 'node:os';
import { devChain, produceBlock } from '../ledger/devnet.js';
import { executeBlock, genesisState, type BlockResult } from '../ledger/machine.js';
import { BlockChecker, genesisTip } from '../ledger/chain.js';
import { signTx, type Tx } from '../ledger/tx.js';
import { verify } from '../ledger/ed25519.js';
import { VerifyPool } from '../ledger/verify-pool.js';
import { arg, median, medianRate, note, round } from './util.js';

const runs = arg('runs', 9);
const perBlock = arg('block', 5000);
const users = 256;
const chain = devChain({ label: 'bench', users, limits: { block_txs_max: perBlock, block_bytes_max: 16 * 1024 * 1024 } });
note(`signing ${perBlock} transfers...`);
const txs: Tx[] = Array.from({ length: perBlock }, (_, i) => {
  const from = chain.users[i % users]!;
  const to = chain.users[(i * 7 + 3) % users]!;
  return signTx({ chainId: chain.genesis.chainId, expiry: 100, payload: { type: 'transfer', from: from.publicKey, asset: 'STL', to: to.publicKey, amount: BigInt(1 + (i % 100)) } }, [from]);
});
const initial = genesisState(chain.genesis);

function timed(fn: () => void): number {
  const start = performance.now();
  fn();
  return (txs.length / (performance.now() - start)) * 1000;
}

/**
 * Every transfer must have been applied: a transaction that fails (a refusal recorded in
 * the block) is cheap, so a regression that made transfers fail would otherwise raise the
 * rates and meet the targets. Checked outside the timed part.
 */
function allApplied(result: BlockResult, what: string): void {
  if (result.failed.length === 0) return;
  const first = result.failed[0] as BlockResult['failed'][number];
  throw new Error(`${what}: ${result.failed.length} of ${txs.length} transfers failed (the first, #${first.index}: ${first.code} ${first.reason})`);
}

/** One timed executeBlock, its result checked after the clock stops. */
function applyRate(signatures: 'verified' | 'verify'): number {
  let result: BlockResult | undefined;
  const rate = timed(() => {
    result = executeBlock(chain.genesis, initial.state, txs, 1, initial.stateHash, { signatures });
  });
  allApplied(result as BlockResult, `executeBlock (signatures: ${signatures})`);
  return rate;
}

const unsigned = await medianRate(runs, () => applyRate('verified'));
note(`apply without signature checks: ${round(unsigned)}/s`);
const signedOneThread = await medianRate(runs, () => applyRate('verify'));
note(`apply with signature checks, one thread: ${round(signedOneThread)}/s`);

const produced = produceBlock(chain, genesisTip(chain.genesis, initial.stateHash), initial.state, txs);
const { block } = produced;
if (block.txs.length !== txs.length) throw new Error('benchmark block lost transactions');
if (produced.failed.length !== 0) throw new Error(`the benchmark block holds ${produced.failed.length} failed transfers`);
const threads = availableParallelism();
const pool = new VerifyPool(threads);
const checker = new BlockChecker(chain.genesis, initial.state, genesisTip(chain.genesis, initial.stateHash), { pool });
allApplied(await checker.check(block), 'block validation'); // warm up

// The raw verify rate and block validation are measured in alternation, so each ratio
// compares two figures taken seconds apart on this noisy shared machine.
const verifyRates: number[] = [];
const validationRates: number[] = [];
const ratios: number[] = [];
for (let r = 0; r < runs; r++) {
  const raw = timed(() => {
    for (const t of txs) if (!verify(t.body.signers[0]!, t.bodyBytes, t.signatures[0]!)) throw new Error('bad');
  });
  const start = performance.now();
  const checked = await checker.check(block);
  const validated = (txs.length / (performance.now() - start)) * 1000;
  allApplied(checked, 'block validation');
  verifyRates.push(raw);
  validationRates.push(validated);
  ratios.push(validated / (raw * threads));
}
await pool.close();
const verifyRate = median(verifyRates);
const validation = median(validationRates);
const ratio = median(ratios);
note(`block validation with signatures (${threads} threads): ${round(validation)}/s, ${round(ratio, 3)} of the verify limit`);

const result = {
  bench: 'apply',
  runs,
  block_txs: perBlock,
  transfers_per_s_no_sig: round(unsigned),
  transfers_per_s_sig_one_thread: round(signedOneThread),
  verify_per_s_fast: round(verifyRate),
  threads,
  block_validation_tx_per_s: round(validation),
  block_validation_vs_verify_limit: round(ratio, 3),
  target_no_sig_met: unsigned >= 100_000,
  target_validation_within_15pct_met: ratio >= 0.85,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
