import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Signer } from '../../ledger/ed25519.js';
import { AcceptorHandshake, CHALLENGE_BYTES, DialerHandshake, HELLO_BYTES, networkTag, PROOF_BYTES, type TransportSigner } from '../../native/wire.js';
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

/** A signer that counts its signatures. */
function countingSigner(index: number): { signer: TransportSigner; signed: () => number } {
  const inner = new Signer(pairs[index]!);
  let count = 0;
  const signer: TransportSigner = {
    publicKey: inner.publicKey,
    sign: (message: Uint8Array) => {
      count++;
      return inner.sign(message);
    },
  };
  return { signer, signed: () => count };
}

/** The acceptor's ephemeral X25519 key pair, a private field (null until a well-formed HELLO). */
function ephemeralOf(acceptor: AcceptorHandshake): unknown {
  return (acceptor as unknown as { eph: unknown }).eph;
}

test('handshake: malformed, misaddressed and foreign hellos are refused with a reason, before any key pair or signature is made', () => {
  const { dialer } = session(0, 2);
  const bad = (mutate: (h: Uint8Array) => Uint8Array): string => {
    const { signer, signed } = countingSigner(2);
    const acceptor = new AcceptorHandshake(signer, 2, network, publicKeys);
    assert.equal(ephemeralOf(acceptor), null, 'an accepted connection makes no key pair');
    const result = acceptor.greet(mutate(Uint8Array.from(dialer.hello)));
    assert.equal(typeof result, 'string');
    // A connection from anyone that sends a bad HELLO costs neither (docs/native.md).
    assert.equal(ephemeralOf(acceptor), null, `no key pair for a refused hello (${String(result)})`);
    assert.equal(signed(), 0, `no signature for a refused hello (${String(result)})`);
    return result as string;
  };
  // The control: a well-formed hello makes both, once.
  const { signer, signed } = countingSigner(2);
  const good = new AcceptorHandshake(signer, 2, network, publicKeys);
  assert.ok(good.greet(dialer.hello) instanceof Uint8Array);
  assert.notEqual(ephemeralOf(good), null);
  assert.equal(signed(), 1);
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
