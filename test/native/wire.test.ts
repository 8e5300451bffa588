import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Signer } from '../../ledger/ed25519.js';
import { AcceptorHandshake, CHALLENGE_BYTES, DialerHandshake, HELLO_BYTES, networkTag, PROOF_BYTES } from '../../native/wire.js';
import { keys } from '../support/transport-fixtures.js';

const pairs = keys(3);
const publicKeys = pairs.map((p) => p.publicKey);
const network = networkTag(publicKeys);

function session(from: number, to: number) {
  const dialer = new DialerHandshake(new Signer(pairs[from]!), from, to, network, publicKeys[to]!);
  const acceptor = new AcceptorHandshake(new Signer(pairs[to]!), to, network, publicKeys);
  return { dialer, acceptor };
}

test('handshake: both sides derive the same two direction keys; sessions differ', () => {
  const { dialer, acceptor } = session(0, 2);
  assert.equal(dialer.hello.length, HELLO_BYTES);
  const challenge = acceptor.greet(dialer.hello);
  assert.ok(challenge instanceof Uint8Array && challenge.length === CHALLENGE_BYTES);
  const answer = dialer.answer(challenge);
  assert.ok(typeof answer === 'object' && answer.proof.length === PROOF_BYTES);
  const keysAtAcceptor = acceptor.finish(answer.proof);
  assert.ok(keysAtAcceptor instanceof Uint8Array);
  // Dialer: send = dial->accept, receive = accept->dial; the acceptor holds them swapped.
  assert.deepEqual(answer.keys.subarray(0, 32), keysAtAcceptor.subarray(32, 64));
  assert.deepEqual(answer.keys.subarray(32, 64), keysAtAcceptor.subarray(0, 32));
  assert.notDeepEqual(answer.keys.subarray(0, 32), answer.keys.subarray(32, 64));
  const again = session(0, 2);
  const other = again.dialer.answer(again.acceptor.greet(again.dialer.hello) as Uint8Array);
  assert.ok(typeof other === 'object');
  assert.notDeepEqual(other.keys, answer.keys);
});

test('handshake: malformed, misaddressed and foreign hellos are refused with a reason', () => {
  const { dialer } = session(0, 2);
  const bad = (mutate: (h: Uint8Array) => Uint8Array): string => {
    const acceptor = new AcceptorHandshake(new Signer(pairs[2]!), 2, network, publicKeys);
    const result = acceptor.greet(mutate(Uint8Array.from(dialer.hello)));
    assert.equal(typeof result, 'string');
    return result as string;
  };
  assert.match(bad((h) => h.subarray(0, 50)), /wrong size/);
  assert.match(bad((h) => ((h[0] = 0x41), h)), /not a Stele/);
  assert.match(bad((h) => ((h[4] = 9), h)), /version/);
  assert.match(bad((h) => ((h[6] = 1), h)), /another validator/);
  assert.match(bad((h) => ((h[5] = 2), h)), /unknown validator index 2/); // itself
  assert.match(bad((h) => ((h[5] = 9), h)), /unknown validator index 9/);
  assert.match(bad((h) => ((h[20] = (h[20] as number) ^ 1), h)), /another validator set/);
});

test('handshake: forged signatures on either side are refused', () => {
  const { dialer, acceptor } = session(1, 0);
  const challenge = acceptor.greet(dialer.hello) as Uint8Array;
  const forged = Uint8Array.from(challenge);
  forged[100] = (forged[100] as number) ^ 1;
  assert.match(dialer.answer(forged) as string, /acceptor signature/);
  const answer = dialer.answer(challenge);
  assert.ok(typeof answer === 'object');
  const badProof = Uint8Array.from(answer.proof);
  badProof[3] = (badProof[3] as number) ^ 1;
  assert.match(acceptor.finish(badProof) as string, /validator 1 signature/);
  assert.match(acceptor.finish(answer.proof.subarray(1)) as string, /wrong size/);
  // A second hello on the same connection is refused.
  assert.match(acceptor.greet(dialer.hello) as string, /second hello/);
});
