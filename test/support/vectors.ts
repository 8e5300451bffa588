/**
 * Known-answer vectors for the canonical encoding, hashes, signatures, Merkle roots,
 * genesis, blocks and the state hash. `npm run vectors` writes them to
 * test/vectors/ledger-v1.json; the test checks the code still produces exactly those
 * bytes, so another implementation can check itself against the file.
 */
import { toHex } from '../../ledger/assert.js';
import { keyPairFromSeed, Signer } from '../../ledger/ed25519.js';
import { fromHex } from '../../ledger/assert.js';
import { sha256 } from '../../ledger/hash.js';
import { leafHash, merkleProof, merkleRoot } from '../../ledger/merkle.js';
import { encodeGenesis, genesisToJson } from '../../ledger/genesis.js';
import { encodeWriteSet } from '../../ledger/state.js';
import { executeBlock, genesisState } from '../../ledger/machine.js';
import { admin, alice, bob, chain, makeChain, tx } from './fixtures.js';

export function computeVectors(): Record<string, unknown> {
  const g = chain.genesis;
  const rfc = keyPairFromSeed(fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'));
  const transactions = [
    tx({ type: 'register', publicKey: bob.publicKey, name: 'bob2', roles: 2 }, [admin], 10),
    tx({ type: 'revoke', publicKey: bob.publicKey }, [admin], 10),
    tx({ type: 'issue', asset: 'STL', to: alice.publicKey, amount: 1000n }, [admin], 10),
    tx({ type: 'transfer', from: alice.publicKey, asset: 'STL', to: bob.publicKey, amount: 18_446_744_073_709_551_615n }, [alice, bob], 10),
    tx({ type: 'put', owner: alice.publicKey, key: 'doc/1', value: { kind: 'inline', data: Uint8Array.of(1, 2, 3) } }, [alice], 10),
    tx({ type: 'put', owner: alice.publicKey, key: 'doc/2', value: { kind: 'sha256', digest: sha256(new Uint8Array()) } }, [alice], 10),
    ...contractTxs(),
  ];
  const leaves = Array.from({ length: 7 }, (_, i) => leafHash(Uint8Array.of(i)));
  const { blocks } = makeChain(1, 3);
  const block = blocks[0]!;
  const initial = genesisState(g);
  const result = executeBlock(g, initial.state, block.txs, 1, initial.stateHash, { signatures: 'verify' });
  return {
    format: 'stele ledger vectors, encoding version 1',
    sha256: { '': toHex(sha256(new Uint8Array())), abc: toHex(sha256(new TextEncoder().encode('abc'))) },
    ed25519_rfc8032_test1: { seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', public_key: toHex(rfc.publicKey), message: '', signature: toHex(new Signer(rfc).sign(new Uint8Array())) },
    merkle: {
      leaf_of_byte_0: toHex(leafHash(Uint8Array.of(0))),
      roots: Array.from({ length: 8 }, (_, n) => ({ leaves: n, root: toHex(merkleRoot(leaves.slice(0, n))) })),
      proof_5_of_7: merkleProof(leaves, 5).siblings.map(toHex),
    },
    genesis: { json: genesisToJson(g), encoding: toHex(encodeGenesis(g)), hash: toHex(g.hash), state_hash: toHex(initial.stateHash) },
    transactions: transactions.map((t) => ({ type: t.body.payload.type, body: toHex(t.bodyBytes), signed: toHex(t.bytes), id: toHex(t.id) })),
    block_1: { encoding: toHex(block.bytes), hash: toHex(block.hash), write_set: toHex(encodeWriteSet(result.writeSet)), state_hash: toHex(result.stateHash) },
    contract_blocks: contractBlocks(),
  };
}

const SPLIT = 'contract Split { parties a, b\n params x: amount, cur: asset\n currency cur\n init Held { escrow x from a }\n state Held { on b.take(n: int) when n >= -1 -> Done { pay x to b }\n after 2 -> Done { pay x / 2 to a\n pay x - x / 2 to b } }\n final Done }';

/** Deploy, create (with a negative, a zero and a big integer nowhere but in args) and act. */
function contractTxs() {
  return [
    tx({ type: 'deploy', source: SPLIT }, [alice], 10),
    tx(
      {
        type: 'create',
        contract: 'Split',
        parties: [
          { name: 'a', key: alice.publicKey },
          { name: 'b', key: bob.publicKey },
        ],
        params: [
          { name: 'cur', value: { kind: 'asset', value: 'STL' } },
          { name: 'x', value: { kind: 'int', value: 7n } },
        ],
        refs: [],
      },
      [alice],
      10,
    ),
    tx({ type: 'act', instance: 1, party: 'b', action: 'take', args: [{ kind: 'int', value: -1n }] }, [bob], 10),
  ];
}

/** Blocks 1-4 from genesis: deploy, create, nothing, nothing (the deadline step runs at 4). */
function contractBlocks() {
  const g = chain.genesis;
  const [deploy, create] = contractTxs();
  const initial = genesisState(g);
  let hash = initial.stateHash;
  const out: Array<{ height: number; write_set: string; state_hash: string }> = [];
  const txsAt = [[deploy!], [create!], [], []];
  txsAt.forEach((txs, i) => {
    const r = executeBlock(g, initial.state, txs, i + 1, hash, { signatures: 'verify' });
    initial.state.apply(r.writeSet);
    hash = r.stateHash;
    out.push({ height: i + 1, write_set: toHex(encodeWriteSet(r.writeSet)), state_hash: toHex(r.stateHash) });
  });
  return out;
}
