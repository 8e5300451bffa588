/**
 * Crash-test child: commits blocks of transfers to a store in argv[2] and prints
 * "ACK <height>" after each commit returns (the block is durable then), until killed.
 */
import { LedgerStore } from '../../ledger/store.js';
import { produceBlock } from '../../ledger/devnet.js';
import { alice, bob, chain, transfer } from './fixtures.js';

const dir = process.argv[2] as string;
const store = await LedgerStore.open(dir, chain.genesis);
process.stdout.write(`OPEN ${store.height}\n`);
for (let i = 0; ; i++) {
  const h = store.height + 1;
  const txs = [transfer(alice, bob, BigInt(1 + (i % 7)), h + 5), transfer(bob, alice, BigInt(1 + (i % 5)), h + 5)];
  const { block } = produceBlock(chain, store.tip, store.state, txs, { proposer: h % 3 });
  await store.commit(block);
  process.stdout.write(`ACK ${store.height}\n`);
}
