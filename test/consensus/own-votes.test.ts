import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import assert from 'node:assert/strict';
import { rememberOwnVotes } from '../../consensus/own-votes.js';
import { generateKeyPair, Signer, verify } from '../../ledger/ed25519.js';

test('own votes are recognised without verifying; anything else is verified as before', () => {
  const me = new Signer(generateKeyPair());
  const other = new Signer(generateKeyPair());
  const keys = [me.publicKey, other.publicKey];
  const message = (slot: number, value: Uint8Array) => Uint8Array.from([...new TextEncoder().encode(`vote ${slot}:`), ...value]);
  let verified = 0;
  const wrapped = rememberOwnVotes(
    0,
    (slot, value) => me.sign(message(slot, value)),
    (v, slot, value, signature) => {
      verified++;
      return keys[v] !== undefined && verify(keys[v] as Uint8Array, message(slot, value), signature);
    },
  );
  const value = Uint8Array.of(1, 2, 3);
  const mine = wrapped.sign(7, value); // `value` stays referenced below, as the core holds it
  // Our own vote, same slot, equal value bytes (another array): no verification.
  assert.equal(wrapped.verifyVote(0, 7, Uint8Array.of(1, 2, 3), mine), true);
  assert.equal(verified, 0);
  // The same signature claimed for another value or slot, or a tampered one: verified, refused.
  assert.equal(wrapped.verifyVote(0, 7, Uint8Array.of(1, 2, 4), mine), false);
  assert.equal(wrapped.verifyVote(0, 8, value, mine), false);
  const tampered = Uint8Array.from(mine);
  tampered[5]! ^= 1;
  assert.equal(wrapped.verifyVote(0, 7, value, tampered), false);
  assert.equal(verified, 3);
  // Someone else's vote: always verified.
  assert.equal(wrapped.verifyVote(1, 7, value, other.sign(message(7, value))), true);
  assert.equal(wrapped.verifyVote(1, 7, value, mine), false);
  assert.equal(verified, 5);
  // Forgotten after 256 newer slots: verified again (and still valid).
  for (let s = 100; s < 400; s++) wrapped.sign(s, value);
  assert.equal(wrapped.verifyVote(0, 7, value, mine), true);
  assert.equal(verified, 6);
});

test('remembered votes do not keep the values they signed alive', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const wrapped = rememberOwnVotes(0, () => new Uint8Array(64), () => false);
  let collected = 0;
  const registry = new FinalizationRegistry(() => collected++);
  // In a function of its own, so no local of this async function keeps the last value.
  const signAll = (): void => {
    for (let slot = 1; slot <= 20; slot++) {
      const value = new Uint8Array(1 << 20); // a block, as the core would hold it
      wrapped.sign(slot, value);
      registry.register(value, slot);
    }
  };
  signAll();
  for (let round = 0; round < 50 && collected < 20; round++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(collected, 20, 'every signed value was collected once nothing else held it');
  // A forgotten value is verified the normal way (here: refused).
  assert.equal(wrapped.verifyVote(0, 3, new Uint8Array(1 << 20), new Uint8Array(64)), false);
});
