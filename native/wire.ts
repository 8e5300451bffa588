/**
 * The transport's wire format and handshake, in TypeScript. The native backends move the
 * frames; the handshake's cryptography runs here on the main thread (node:crypto for
 * X25519, HKDF and AES-GCM; ledger/ed25519.ts for the strict signature rule). Tests and the
 * node:net baseline of bench:transport use the same functions.
 *
 * Frame: [u32 body bytes LE][u8 type][3 zero bytes][u64 seq LE] body [16-byte tag], the
 * tag being AES-256-GMAC(key of the direction, nonce = 4 zero bytes || seq LE, over header
 * || body): AES-256-GCM with header and body as additional data and nothing encrypted. A
 * key lives for one connection and seq never repeats on it, so no nonce repeats under a
 * key. Handshake frames (type 1) have seq 0 and no tag. DATA (type 2) bodies hold messages as
 * [u32 length LE][bytes]; CREDIT (type 3) bodies a u64 LE byte count.
 *
 * Handshake (docs/native.md): dialer -> HELLO, acceptor -> CHALLENGE (signed), dialer ->
 * PROOF (signed); both sides then derive the two direction keys from an X25519 exchange
 * bound to the whole transcript.
 */
import { createCipheriv, createHash, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { verify } from '../ledger/ed25519.js';

export const FRAME_HEADER_BYTES = 16;
export const FRAME_TAG_BYTES = 16;
export const TYPE_HANDSHAKE = 1;
export const TYPE_DATA = 2;
export const TYPE_CREDIT = 3;
export const HELLO_BYTES = 104;
export const CHALLENGE_BYTES = 128;
export const PROOF_BYTES = 64;
const MAGIC = Buffer.from('STLT', 'ascii');
/** 2: frame tags are AES-256-GMAC (1 used HMAC-SHA256); a peer of another version is refused at HELLO. */
const VERSION = 2;
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const ACCEPT_CONTEXT = Buffer.from('stele-transport/2 accept\0', 'ascii');
const DIAL_CONTEXT = Buffer.from('stele-transport/2 dial\0', 'ascii');
const KEYS_INFO = Buffer.from('stele-transport/2 keys', 'ascii');

/** Signs messages with a validator key (ledger/ed25519.ts Signer fits). */
export interface TransportSigner {
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

/**
 * Binds a session to one validator set and, when `chain` is given (the node gives its
 * genesis hash), to one chain: SHA-256 over a label, every public key, then `chain`. Before
 * 2026-12-02 only the keys were bound, so a validator started with another genesis file of
 * the same validators (another `genesis_time_ms` is enough) joined consensus, and when it
 * led, the others committed its block 1 and halted on it for good (review of 2026-12-02).
 */
export function networkTag(publicKeys: readonly Uint8Array[], chain?: Uint8Array): Uint8Array {
  const h = createHash('sha256').update('stele-transport/2 network');
  for (const k of publicKeys) h.update(k);
  // Labelled, so that keys plus a chain never hash as a longer list of keys.
  if (chain !== undefined) h.update('chain').update(chain);
  return new Uint8Array(h.digest());
}

interface Ephemeral {
  readonly privateKey: KeyObject;
  readonly publicRaw: Uint8Array;
}

function ephemeral(): Ephemeral {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  return { privateKey, publicRaw: new Uint8Array(spki.subarray(spki.length - 32)) };
}

/** The two direction keys, or null when the peer's ephemeral key is unusable. */
function sessionKeys(own: Ephemeral, peerRaw: Uint8Array, transcript: Uint8Array[]): { dialToAccept: Uint8Array; acceptToDial: Uint8Array } | null {
  let shared: Buffer;
  try {
    const publicKey = createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, peerRaw]), format: 'der', type: 'spki' });
    shared = diffieHellman({ privateKey: own.privateKey, publicKey });
  } catch {
    return null; // OpenSSL refuses small-order points (an all-zero shared secret)
  }
  const salt = createHash('sha256');
  for (const part of transcript) salt.update(part);
  const okm = new Uint8Array(hkdfSync('sha256', shared, salt.digest(), KEYS_INFO, 64));
  return { dialToAccept: okm.slice(0, 32), acceptToDial: okm.slice(32, 64) };
}

/** The dialer's side of one handshake. */
export class DialerHandshake {
  readonly hello: Uint8Array;
  private readonly eph = ephemeral();

  constructor(
    private readonly signer: TransportSigner,
    readonly from: number,
    readonly to: number,
    network: Uint8Array,
    private readonly peerPublicKey: Uint8Array,
  ) {
    const hello = Buffer.alloc(HELLO_BYTES);
    MAGIC.copy(hello, 0);
    hello[4] = VERSION;
    hello[5] = from;
    hello[6] = to;
    hello.set(network, 8);
    hello.set(randomBytes(32), 40);
    hello.set(this.eph.publicRaw, 72);
    this.hello = new Uint8Array(hello);
  }

  /** Checks the acceptor's CHALLENGE; returns the PROOF and keys (send = dial->accept), or a reason. */
  answer(challenge: Uint8Array): { proof: Uint8Array; keys: Uint8Array } | string {
    if (challenge.length !== CHALLENGE_BYTES) return 'challenge has the wrong size';
    const signed = Buffer.concat([ACCEPT_CONTEXT, this.hello, challenge.subarray(0, 64)]);
    if (!verify(this.peerPublicKey, signed, challenge.subarray(64, 128))) return 'acceptor signature does not verify';
    const proof = this.signer.sign(Buffer.concat([DIAL_CONTEXT, this.hello, challenge]));
    const keys = sessionKeys(this.eph, challenge.subarray(32, 64), [this.hello, challenge, proof]);
    if (keys === null) return 'unusable ephemeral key';
    return { proof, keys: new Uint8Array(Buffer.concat([keys.dialToAccept, keys.acceptToDial])) };
  }
}

/** The acceptor's side of one handshake. */
export class AcceptorHandshake {
  private hello: Uint8Array | null = null;
  private challenge: Uint8Array | null = null;
  /** Made only for a well-formed HELLO: a connection that sends none costs no key pair. */
  private eph: Ephemeral | null = null;
  /** The claimed dialer index, known after a well-formed HELLO. */
  from = -1;

  constructor(
    private readonly signer: TransportSigner,
    private readonly self: number,
    private readonly network: Uint8Array,
    private readonly publicKeys: readonly Uint8Array[],
  ) {}

  /** Checks a HELLO; returns the CHALLENGE to send, or a reason to refuse. */
  greet(hello: Uint8Array): Uint8Array | string {
    if (this.hello !== null) return 'second hello';
    if (hello.length !== HELLO_BYTES) return 'hello has the wrong size';
    if (!Buffer.from(hello.subarray(0, 4)).equals(MAGIC)) return 'not a Stele transport hello';
    if (hello[4] !== VERSION) return `protocol version ${hello[4]}`;
    const from = hello[5] as number;
    if (hello[6] !== this.self || hello[7] !== 0) return 'hello addressed to another validator';
    if (from >= this.publicKeys.length || from === this.self) return `unknown validator index ${from}`;
    if (!Buffer.from(hello.subarray(8, 40)).equals(this.network)) return 'hello from another validator set or chain (the network tag differs: compare the validators\' genesis files)';
    this.hello = Uint8Array.from(hello);
    this.from = from;
    this.eph = ephemeral();
    const head = Buffer.concat([randomBytes(32), this.eph.publicRaw]);
    const signature = this.signer.sign(Buffer.concat([ACCEPT_CONTEXT, this.hello, head]));
    this.challenge = new Uint8Array(Buffer.concat([head, signature]));
    return this.challenge;
  }

  /** Checks the PROOF; returns the keys (send = accept->dial), or a reason to refuse. */
  finish(proof: Uint8Array): Uint8Array | string {
    if (this.hello === null || this.challenge === null || this.eph === null) return 'proof before hello';
    if (proof.length !== PROOF_BYTES) return 'proof has the wrong size';
    const key = this.publicKeys[this.from] as Uint8Array;
    if (!verify(key, Buffer.concat([DIAL_CONTEXT, this.hello, this.challenge]), proof)) return `validator ${this.from} signature does not verify`;
    const keys = sessionKeys(this.eph, this.hello.subarray(72, 104), [this.hello, this.challenge, proof]);
    if (keys === null) return 'unusable ephemeral key';
    return new Uint8Array(Buffer.concat([keys.acceptToDial, keys.dialToAccept]));
  }
}

/** Encodes one frame (a tag is added when `key` is given). */
export function encodeFrame(type: number, seq: bigint, body: Uint8Array, key: Uint8Array | null): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length + (key === null ? 0 : FRAME_TAG_BYTES));
  out.writeUInt32LE(body.length, 0);
  out[4] = type;
  out[5] = 0;
  out[6] = 0;
  out[7] = 0;
  out.writeBigUInt64LE(seq, 8);
  out.set(body, FRAME_HEADER_BYTES);
  if (key !== null) frameTag(key, out.subarray(0, FRAME_HEADER_BYTES + body.length)).copy(out, FRAME_HEADER_BYTES + body.length);
  return out;
}

/** The 16-byte tag of a frame's header and body (`headed`, seq at bytes 8..16) under `key`. */
export function frameTag(key: Uint8Array, headed: Uint8Array): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.set(headed.subarray(8, 16), 4);
  const gmac = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: FRAME_TAG_BYTES });
  gmac.setAAD(headed);
  gmac.final();
  return gmac.getAuthTag();
}

/** A DATA body holding `messages`. */
export function encodeMessages(messages: readonly Uint8Array[]): Buffer {
  let total = 0;
  for (const m of messages) total += 4 + m.length;
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const m of messages) {
    out.writeUInt32LE(m.length, at);
    out.set(m, at + 4);
    at += 4 + m.length;
  }
  return out;
}
