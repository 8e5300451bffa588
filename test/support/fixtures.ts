/** Shared fixtures: a dev chain, transaction makers, and a chain of blocks. */
import { devChain, produceBlock, type DevChain } from '../../ledger/devnet.js';
import { executeBlock, genesisState } from '../../ledger/machine.js';
import { genesisTip, type ChainTip } from '../../ledger/chain.js';
import { signTx, type Payload, type Tx } from '../../ledger/tx.js';
import type { Signer } from '../../ledger/ed25519.js';
import type { Block } from '../../ledger/block.js';
import type { MemoryState } from '../../ledger/state.js';

export const chain: DevChain = devChain({ label: 'tests', users: 6, assets: ['STL', 'EUR'] });
export const [admin, alice, bob, carol, dave, erin] = chain.users as [Signer, Signer, Signer, Signer, Signer, Signer];

export function tx(payload: Payload, signers: Signer[], expiry = 50, chainId = chain.genesis.chainId): Tx {
  return signTx({ chainId, expiry, payload }, signers);
}

export function transfer(from: Signer, to: Signer, amount: bigint, expiry = 50, asset = 'STL'): Tx {
  return tx({ type: 'transfer', from: from.publicKey, asset, to: to.publicKey, amount }, [from], expiry);
}

/** A valid chain of `n` blocks mixing transfers and record puts, with different proposers. */
export function makeChain(n: number, perBlock = 4): { blocks: Block[]; state: MemoryState; tip: ChainTip } {
  const initial = genesisState(chain.genesis);
  const state = initial.state;
  let tip = genesisTip(chain.genesis, initial.stateHash);
  const blocks: Block[] = [];
  const people = [alice, bob, carol, dave];
  for (let h = 1; h <= n; h++) {
    const txs: Tx[] = [];
    for (let i = 0; i < perBlock; i++) {
      const from = people[(h + i) % 4] as Signer;
      const to = people[(h + i + 1) % 4] as Signer;
      txs.push(
        i % 3 === 2
          ? tx({ type: 'put', owner: from.publicKey, key: `k/${h}/${i}`, value: { kind: 'inline', data: Uint8Array.of(h, i) } }, [from], h + 10)
          : transfer(from, to, BigInt(h * 10 + i), h + 10),
      );
    }
    const { block, refused } = produceBlock(chain, tip, state, txs, { proposer: h % 3 });
    if (refused.length > 0) throw new Error(`fixture transaction refused: ${refused.map((r) => r.code).join()}`);
    const result = executeBlock(chain.genesis, state, block.txs, h, tip.stateHash, { signatures: 'verified' });
    state.apply(result.writeSet);
    tip = { height: h, hash: block.hash, stateHash: block.header.stateHash, timeMs: block.header.timeMs };
    blocks.push(block);
  }
  return { blocks, state, tip };
}
