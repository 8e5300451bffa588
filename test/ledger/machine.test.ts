import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyTx, balanceOf, BlockBuilder, executeBlock, genesisState, identityOf, keys, TxRefusal } from '../../ledger/machine.js';
import { Overlay } from '../../ledger/state.js';
import { devSigner } from '../../ledger/devnet.js';
import { ED25519_TORSION_SUBGROUP } from '@noble/curves/ed25519.js';
import { fromHex } from '../../ledger/assert.js';
import type { Tx } from '../../ledger/tx.js';
import { isSteleError } from '../../ledger/errors.js';
import { admin, alice, bob, carol, chain, dave, erin, transfer, tx } from '../support/fixtures.js';
import type { Signer } from '../../ledger/ed25519.js';

const g = chain.genesis;

function fresh(): Overlay {
  return new Overlay(genesisState(g).state);
}

function refusal(state: Overlay, t: Tx, height = 1): string {
  const before = state.writeSet();
  try {
    applyTx(g, state, t, height, { signatures: 'verify' });
  } catch (error) {
    assert.ok(error instanceof TxRefusal, String(error));
    assert.deepEqual(state.writeSet(), before, 'a refused transaction leaves no writes');
    return error.code;
  }
  return 'accepted';
}

test('every refusal has its stable code, and leaves no trace', () => {
  const s = fresh();
  const outsider = devSigner('outsider');
  const forged = transfer(alice, bob, 1n);
  const badSig = { ...forged, signatures: [Uint8Array.from(forged.signatures[0] as Uint8Array).fill(7, 0, 4)] };
  assert.equal(refusal(s, badSig), 'TX_BAD_SIGNATURE');
  assert.equal(refusal(s, transfer(outsider, bob, 1n)), 'TX_UNKNOWN_SIGNER');
  assert.equal(refusal(s, tx({ type: 'transfer', from: alice.publicKey, asset: 'STL', to: bob.publicKey, amount: 1n }, [alice], 50, 'other-chain')), 'TX_WRONG_CHAIN');
  assert.equal(refusal(s, transfer(alice, bob, 1n, 4), 5), 'TX_EXPIRED');
  assert.equal(refusal(s, transfer(alice, bob, 1n, 1 + g.limits.expiry_window_blocks + 1), 1), 'TX_EXPIRY_TOO_FAR');
  assert.equal(refusal(s, transfer(alice, bob, 1n, 1 + g.limits.expiry_window_blocks), 1), 'accepted');
  assert.equal(refusal(s, transfer(alice, bob, 10n ** 12n)), 'TX_INSUFFICIENT_BALANCE');
  assert.equal(refusal(s, transfer(alice, bob, 1n, 50, 'XAU')), 'TX_UNKNOWN_ASSET');
  assert.equal(refusal(s, transfer(alice, outsider, 1n)), 'TX_UNKNOWN_RECIPIENT');
  assert.equal(refusal(s, tx({ type: 'transfer', from: alice.publicKey, asset: 'STL', to: bob.publicKey, amount: 1n }, [bob])), 'TX_NOT_SIGNER');
  assert.equal(refusal(s, tx({ type: 'put', owner: alice.publicKey, key: 'k', value: { kind: 'inline', data: new Uint8Array(1) } }, [bob])), 'TX_NOT_SIGNER');
  assert.equal(refusal(s, tx({ type: 'register', publicKey: outsider.publicKey, name: 'o', roles: 0 }, [alice])), 'TX_MISSING_ROLE');
  assert.equal(refusal(s, tx({ type: 'issue', asset: 'STL', to: alice.publicKey, amount: 1n }, [alice])), 'TX_MISSING_ROLE');
  assert.equal(refusal(s, tx({ type: 'register', publicKey: bob.publicKey, name: 'again', roles: 0 }, [admin])), 'TX_IDENTITY_EXISTS');
  assert.equal(refusal(s, tx({ type: 'register', publicKey: outsider.publicKey, name: 'user1', roles: 0 }, [admin])), 'TX_IDENTITY_EXISTS');
  const smallOrder = fromHex(ED25519_TORSION_SUBGROUP[1] as string);
  assert.equal(refusal(s, tx({ type: 'register', publicKey: smallOrder, name: 'weak', roles: 0 }, [admin])), 'TX_BAD_KEY');
  assert.equal(refusal(s, tx({ type: 'revoke', publicKey: outsider.publicKey }, [admin])), 'TX_UNKNOWN_IDENTITY');
  assert.equal(refusal(s, tx({ type: 'revoke', publicKey: admin.publicKey }, [admin])), 'TX_SELF_REVOKE');
  assert.equal(refusal(s, tx({ type: 'issue', asset: 'STL', to: alice.publicKey, amount: 2n ** 64n - 1n }, [admin])), 'TX_SUPPLY_OVERFLOW');
  const big = tx({ type: 'put', owner: alice.publicKey, key: 'k', value: { kind: 'inline', data: new Uint8Array(4096) } }, [alice]);
  assert.equal(refusal(fresh(), big), 'accepted');
  const tight = { ...g, limits: { ...g.limits, tx_bytes_max: 1024 } };
  assert.throws(() => applyTx(tight, fresh(), big, 1, { signatures: 'verify' }), (e: unknown) => e instanceof TxRefusal && e.code === 'TX_TOO_LARGE');
});

test('duplicates: within a block, across blocks, until the id is pruned after the window', () => {
  const window = 3;
  const small = { ...g, limits: { ...g.limits, expiry_window_blocks: window } };
  const base = genesisState(small);
  const t = transfer(alice, bob, 1n, 4);
  let stateHash = base.stateHash;
  const b1 = new BlockBuilder(small, base.state, 1);
  assert.equal(b1.offer(t), null);
  assert.equal(b1.offer(t)?.code, 'TX_DUPLICATE');
  const r1 = b1.seal(stateHash);
  base.state.apply(r1.writeSet);
  stateHash = r1.stateHash;
  assert.ok(base.state.get(keys.txid(t.id)) !== undefined);
  for (let h = 2; h <= 4; h++) {
    const b = new BlockBuilder(small, base.state, h);
    assert.equal(b.offer(t)?.code, 'TX_DUPLICATE', `height ${h}`);
    const r = b.seal(stateHash);
    base.state.apply(r.writeSet);
    stateHash = r.stateHash;
  }
  // Height 5 = 1 + window + 1: the id committed at 1 is pruned, and the tx is expired.
  const b5 = new BlockBuilder(small, base.state, 5);
  assert.equal(b5.offer(t)?.code, 'TX_EXPIRED');
  const r5 = b5.seal(stateHash);
  assert.ok(r5.writeSet.some((w) => w.key === keys.txid(t.id) && w.value === null), 'the id is pruned at height 5');
  assert.ok(r5.writeSet.some((w) => w.key === keys.txat(1) && w.value === null));
});

test('BlockBuilder.check dry-runs each transaction alone: the refusal offer would give, nothing recorded', () => {
  const base = genesisState(g);
  const all = balanceOf(base.state, alice.publicKey, 'STL');
  const b = new BlockBuilder(g, base.state, 1);
  const spendAll = transfer(alice, bob, all);
  const spendAllAgain = transfer(alice, carol, all);
  // Alone, each would pass; offered in one block, the second no longer can.
  assert.equal(b.check(spendAll), null);
  assert.equal(b.check(spendAllAgain), null);
  assert.equal(b.check(spendAll), null, 'a check leaves no trace: not even a duplicate id');
  assert.equal(b.txs.length, 0);
  assert.equal(b.check(transfer(alice, bob, all + 1n))?.code, 'TX_INSUFFICIENT_BALANCE');
  const forged = { ...spendAll, signatures: [new Uint8Array(64)] };
  assert.equal(b.check(forged)?.code, 'TX_BAD_SIGNATURE');
  assert.equal(b.check(forged, { signatures: 'verified' }), null, 'the options given to check apply');
  assert.equal(b.offer(spendAll), null);
  assert.equal(b.offer(spendAllAgain)?.code, 'TX_INSUFFICIENT_BALANCE');
  assert.equal(b.txs.length, 1);
  assert.equal(balanceOf(base.state, alice.publicKey, 'STL'), all, 'the base is untouched');
});

test('register, revoke, issue, put: effects land in state', () => {
  const s = fresh();
  const frank = devSigner('frank');
  applyTx(g, s, tx({ type: 'register', publicKey: frank.publicKey, name: 'frank', roles: 2 }, [admin]), 1, { signatures: 'verify' });
  assert.deepEqual(identityOf(s, frank.publicKey), { roles: 2, revoked: false, name: 'frank' });
  applyTx(g, s, tx({ type: 'issue', asset: 'GOLD', to: alice.publicKey, amount: 7n }, [frank]), 1, { signatures: 'verify' });
  assert.equal(balanceOf(s, alice.publicKey, 'GOLD'), 7n);
  assert.equal(refusal(s, tx({ type: 'issue', asset: 'GOLD', to: alice.publicKey, amount: 1n }, [admin])), 'TX_NOT_ASSET_ISSUER');
  applyTx(g, s, tx({ type: 'revoke', publicKey: frank.publicKey }, [admin]), 1, { signatures: 'verify' });
  assert.equal(refusal(s, tx({ type: 'issue', asset: 'GOLD', to: alice.publicKey, amount: 1n }, [frank])), 'TX_REVOKED_SIGNER');
  assert.equal(refusal(s, tx({ type: 'revoke', publicKey: frank.publicKey }, [admin], 51)), 'TX_ALREADY_REVOKED');
  assert.equal(refusal(s, transfer(alice, frank, 1n, 50, 'GOLD')), 'TX_UNKNOWN_RECIPIENT');
  applyTx(g, s, tx({ type: 'put', owner: alice.publicKey, key: 'doc', value: { kind: 'sha256', digest: new Uint8Array(32).fill(9) } }, [alice]), 1, { signatures: 'verify' });
  assert.ok(s.get(keys.record(alice.publicKey, 'doc')) !== undefined);
  // Transfer to oneself nets to zero; a zero balance is deleted, not stored.
  const before = balanceOf(s, alice.publicKey, 'STL');
  applyTx(g, s, transfer(alice, alice, 5n), 1, { signatures: 'verify' });
  assert.equal(balanceOf(s, alice.publicKey, 'STL'), before);
  applyTx(g, s, transfer(erin, dave, balanceOf(s, erin.publicKey, 'STL')), 1, { signatures: 'verify' });
  assert.equal(s.get(keys.balance(erin.publicKey, 'STL')), undefined);
});

test('property: random transfers conserve supply, and execution is deterministic', () => {
  const people = [alice, bob, carol, dave, erin] as Signer[];
  const supply = (state: Overlay) => people.reduce((sum, p) => sum + balanceOf(state, p.publicKey, 'STL'), balanceOf(state, admin.publicKey, 'STL'));
  const start = genesisState(g);
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(4), fc.nat(4), fc.bigInt({ min: 1n, max: 2_000_000n })), { minLength: 1, maxLength: 30 }),
      (moves) => {
        const txs = moves.map(([a, b, amount], i) => transfer(people[a] as Signer, people[b] as Signer, amount, 10 + i));
        const one = new BlockBuilder(g, start.state, 1);
        const two = new BlockBuilder(g, start.state, 1);
        const codes1 = txs.map((t) => one.offer(t)?.code ?? 'ok');
        const codes2 = txs.map((t) => two.offer(t)?.code ?? 'ok');
        assert.deepEqual(codes1, codes2);
        const r1 = one.seal(start.stateHash);
        const r2 = two.seal(start.stateHash);
        assert.deepEqual(r1.stateHash, r2.stateHash);
        assert.equal(supply(r1.overlay), supply(new Overlay(start.state)));
        // Re-execution of the accepted transactions gives the same state hash.
        const again = executeBlock(g, start.state, one.txs, 1, start.stateHash, { signatures: 'verify' });
        assert.deepEqual(again.stateHash, r1.stateHash);
      },
    ),
    { numRuns: 60 },
  );
});

test('a refused transaction inside a committed block refuses the block with its index and code', () => {
  const start = genesisState(g);
  const txs = [transfer(alice, bob, 1n), transfer(alice, bob, 10n ** 15n)];
  assert.throws(
    () => executeBlock(g, start.state, txs, 1, start.stateHash, { signatures: 'verify' }),
    (e: unknown) => isSteleError(e, 'BLOCK_BAD_TRANSACTION') && e.details.index === 1 && e.details.tx_code === 'TX_INSUFFICIENT_BALANCE',
  );
});

test('the speculative builder can be stacked and thrown away without touching the base', () => {
  const start = genesisState(g);
  const sizeBefore = start.state.size;
  const b1 = new BlockBuilder(g, start.state, 1);
  assert.equal(b1.offer(transfer(alice, bob, 5n)), null);
  const r1 = b1.seal(start.stateHash);
  const b2 = new BlockBuilder(g, r1.overlay, 2); // speculative block 2 on top of speculative block 1
  assert.equal(b2.offer(transfer(bob, carol, 3n)), null);
  b2.seal(r1.stateHash);
  assert.equal(start.state.size, sizeBefore);
  assert.equal(balanceOf(start.state, alice.publicKey, 'STL'), 1_000_000n);
});
