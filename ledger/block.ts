/**
 * Blocks: header, block hash, proposer signature, transactions and quorum certificate.
 *
 * Header: version, kind BLOCK_HEADER, format version, chain id, height, previous block
 *   hash, Merkle root of the transactions, transaction count, state hash, time (ms),
 *   proposer (validator index), Paxos ballot (round, validator index).
 * Block hash: SHA-256 of the header encoding.
 * Proposer signature: over (version, kind PROPOSAL, chain id, height, block hash).
 * Certificate: (validator index, signature) pairs in strictly ascending index order, each
 *   signature over (version, kind VOTE, chain id, height, block hash).
 * Block: version, kind BLOCK, header bytes, proposer signature, transactions, certificate.
 */
import { BLOCK_BYTES_MAX, BLOCK_TXS_MAX, CHAIN_ID_BYTES_MAX, HASH_BYTES, Kind, SIGNATURE_BYTES, TX_BYTES_MAX, VALIDATORS_MAX } from './constants.js';
import type { Signer } from './ed25519.js';
import { checkText, ownCopy, Reader, Writer } from './encoding.js';
import { isSteleError } from './errors.js';
import { sha256 } from './hash.js';
import { merkleRootOfData } from './merkle.js';
import { CHAIN_ID_RE, readTx, withIds, type Tx, type TxParts } from './tx.js';

/** Format version of block headers. */
export const BLOCK_FORMAT = 1;
const HEADER_BYTES_MAX = 512;

export interface Ballot {
  readonly round: number;
  readonly leader: number;
}
export interface BlockHeader {
  readonly chainId: string;
  readonly height: number;
  readonly prevHash: Uint8Array;
  readonly txRoot: Uint8Array;
  readonly txCount: number;
  readonly stateHash: Uint8Array;
  readonly timeMs: number;
  readonly proposer: number;
  readonly ballot: Ballot;
}
export interface Vote {
  readonly validator: number;
  readonly signature: Uint8Array;
}
export interface Block {
  readonly header: BlockHeader;
  readonly headerBytes: Uint8Array;
  /** SHA-256 of headerBytes. */
  readonly hash: Uint8Array;
  readonly proposerSignature: Uint8Array;
  readonly txs: readonly Tx[];
  readonly certificate: readonly Vote[];
  /** The whole encoded block. */
  readonly bytes: Uint8Array;
}

export function encodeHeader(h: BlockHeader): Uint8Array {
  if (!CHAIN_ID_RE.test(h.chainId)) throw new RangeError('bad chain id');
  const w = new Writer(200).envelope(Kind.BLOCK_HEADER);
  w.u8(BLOCK_FORMAT).str(h.chainId, CHAIN_ID_BYTES_MAX).u64(h.height);
  w.fixed(h.prevHash, HASH_BYTES).fixed(h.txRoot, HASH_BYTES).u32(h.txCount).fixed(h.stateHash, HASH_BYTES);
  w.u64(h.timeMs).u16(h.proposer).u64(h.ballot.round).u16(h.ballot.leader);
  return w.finish();
}

function readHeader(bytes: Uint8Array): BlockHeader {
  const r = new Reader(bytes, HEADER_BYTES_MAX, 'header');
  r.envelope(Kind.BLOCK_HEADER);
  const format = r.u8('format');
  if (format !== BLOCK_FORMAT) r.fail('ENC_BAD_VERSION', 'format', `block format ${format}, expected ${BLOCK_FORMAT}`);
  const chainId = checkText(r, r.str(CHAIN_ID_BYTES_MAX, 'chain_id'), CHAIN_ID_RE, 'chain_id');
  const height = r.u64('height');
  if (height < 1) r.fail('ENC_OUT_OF_RANGE', 'height', 'blocks start at height 1');
  const prevHash = Uint8Array.from(r.fixed(HASH_BYTES, 'prev_hash'));
  const txRoot = Uint8Array.from(r.fixed(HASH_BYTES, 'tx_root'));
  const txCount = r.u32('tx_count');
  if (txCount > BLOCK_TXS_MAX) r.fail('ENC_TOO_LARGE', 'tx_count', `${txCount} exceeds ${BLOCK_TXS_MAX}`);
  const stateHash = Uint8Array.from(r.fixed(HASH_BYTES, 'state_hash'));
  const timeMs = r.u64('time_ms');
  const proposer = r.u16('proposer');
  if (proposer >= VALIDATORS_MAX) r.fail('ENC_OUT_OF_RANGE', 'proposer', `index ${proposer} exceeds ${VALIDATORS_MAX - 1}`);
  const round = r.u64('ballot.round');
  const leader = r.u16('ballot.leader');
  if (leader >= VALIDATORS_MAX) r.fail('ENC_OUT_OF_RANGE', 'ballot.leader', `index ${leader} exceeds ${VALIDATORS_MAX - 1}`);
  r.end();
  return { chainId, height, prevHash, txRoot, txCount, stateHash, timeMs, proposer, ballot: { round, leader } };
}

/** Decodes header bytes. @throws SteleError ENC_*. */
export function decodeHeader(bytes: Uint8Array): BlockHeader {
  return readHeader(bytes);
}

/**
 * The header and hash of an encoded block, without decoding its transactions (what a
 * stream of headers needs). @throws SteleError ENC_*.
 */
export function headerOfEncoded(bytes: Uint8Array): { header: BlockHeader; hash: Uint8Array } {
  const r = new Reader(bytes, BLOCK_BYTES_MAX, 'block');
  r.envelope(Kind.BLOCK);
  const headerBytes = Uint8Array.from(r.bytesField(HEADER_BYTES_MAX, 'header'));
  return { header: readHeader(headerBytes), hash: sha256(headerBytes) };
}

/** The message a proposer signs. */
export function proposalMessage(chainId: string, height: number, blockHash: Uint8Array): Uint8Array {
  return new Writer(128).envelope(Kind.PROPOSAL).str(chainId, CHAIN_ID_BYTES_MAX).u64(height).fixed(blockHash, HASH_BYTES).finish();
}

/** The message each validator signs to vote for (accept) a block. */
export function voteMessage(chainId: string, height: number, blockHash: Uint8Array): Uint8Array {
  return new Writer(128).envelope(Kind.VOTE).str(chainId, CHAIN_ID_BYTES_MAX).u64(height).fixed(blockHash, HASH_BYTES).finish();
}

/** Merkle root over transactions (leaf = hash of the full encoded transaction). */
export function txRootOf(txs: readonly Tx[]): Uint8Array {
  return merkleRootOfData(txs.map((t) => t.bytes));
}

/** Encodes a block from its parts. @throws RangeError when over a bound. */
export function encodeBlock(headerBytes: Uint8Array, proposerSignature: Uint8Array, txs: readonly Tx[], certificate: readonly Vote[]): Uint8Array {
  if (txs.length > BLOCK_TXS_MAX) throw new RangeError('too many transactions');
  // The exact size, so finish() hands over the buffer without a copy: envelope, header,
  // proposer signature, counted transactions, counted votes.
  let size = 2 + 4 + headerBytes.length + SIGNATURE_BYTES + 4 + 4 + certificate.length * (2 + SIGNATURE_BYTES);
  for (const t of txs) size += t.bytes.length + 4;
  if (size > BLOCK_BYTES_MAX) throw new RangeError(`block of ${size} bytes exceeds ${BLOCK_BYTES_MAX}`);
  const w = new Writer(size).envelope(Kind.BLOCK);
  w.bytes(headerBytes, HEADER_BYTES_MAX).fixed(proposerSignature, SIGNATURE_BYTES);
  w.u32(txs.length);
  for (const t of txs) w.bytes(t.bytes, TX_BYTES_MAX);
  w.u32(certificate.length);
  let last = -1;
  for (const v of certificate) {
    if (v.validator <= last) throw new RangeError('certificate indexes must be strictly ascending');
    last = v.validator;
    w.u16(v.validator).fixed(v.signature, SIGNATURE_BYTES);
  }
  return w.finish();
}

/**
 * The hash of an encoded block, reading only its header (votes are over this hash).
 * @throws SteleError ENC_* when the bytes do not start with a block and its header.
 */
export function blockHashOfEncoded(bytes: Uint8Array): Uint8Array {
  const r = new Reader(bytes, BLOCK_BYTES_MAX, 'block');
  r.envelope(Kind.BLOCK);
  const headerBytes = r.bytesField(HEADER_BYTES_MAX, 'header');
  readHeader(Uint8Array.from(headerBytes));
  return sha256(headerBytes);
}

/**
 * Decodes a block: encoding only (canonical, bounded). Hashes, signatures, Merkle root
 * and certificate are checked by `checkBlock`/chain verification.
 * @throws SteleError ENC_*.
 */
export function decodeBlock(bytes: Uint8Array, maxBytes = BLOCK_BYTES_MAX): Block {
  // One bounded copy of the whole block, which its transactions are views into (one
  // allocation per block instead of one more per transaction).
  const own = ownCopy(bytes, Math.min(maxBytes, BLOCK_BYTES_MAX), 'block');
  const r = new Reader(own, Math.min(maxBytes, BLOCK_BYTES_MAX), 'block');
  r.envelope(Kind.BLOCK);
  const headerBytes = Uint8Array.from(r.bytesField(HEADER_BYTES_MAX, 'header'));
  const header = readHeader(headerBytes);
  const proposerSignature = Uint8Array.from(r.fixed(SIGNATURE_BYTES, 'proposer_signature'));
  const n = r.count(BLOCK_TXS_MAX, 4, 'txs');
  if (n !== header.txCount) r.fail('ENC_OUT_OF_RANGE', 'txs', `${n} transactions, header says ${header.txCount}`);
  const parts: TxParts[] = [];
  for (let i = 0; i < n; i++) {
    const at = r.offset;
    const raw = r.bytesField(TX_BYTES_MAX, `txs[${i}]`);
    try {
      parts.push(readTx(raw));
    } catch (error) {
      if (!isSteleError(error)) throw error;
      r.fail(error.code, `txs[${i}]`, `transaction at byte ${at}: ${error.reason}`);
    }
  }
  const txs = withIds(parts);
  const votes = r.count(VALIDATORS_MAX, 2 + SIGNATURE_BYTES, 'certificate');
  const certificate: Vote[] = [];
  for (let i = 0; i < votes; i++) {
    const validator = r.u16(`certificate[${i}].validator`);
    const previous = certificate[i - 1];
    if (previous !== undefined && validator <= previous.validator) r.fail('ENC_NON_CANONICAL', `certificate[${i}]`, 'indexes must be strictly ascending');
    if (validator >= VALIDATORS_MAX) r.fail('ENC_OUT_OF_RANGE', `certificate[${i}].validator`, `index ${validator}`);
    certificate.push({ validator, signature: Uint8Array.from(r.fixed(SIGNATURE_BYTES, `certificate[${i}].signature`)) });
  }
  r.end();
  return { header, headerBytes, hash: sha256(headerBytes), proposerSignature, txs, certificate, bytes: own };
}

/**
 * Assembles a signed block (the proposer's side): computes the Merkle root and count,
 * signs the header, attaches the certificate (empty until votes arrive).
 */
export function buildBlock(
  fields: Omit<BlockHeader, 'txRoot' | 'txCount'>,
  txs: readonly Tx[],
  proposer: Signer,
  certificate: readonly Vote[] = [],
): Block {
  const header: BlockHeader = { ...fields, txRoot: txRootOf(txs), txCount: txs.length };
  const headerBytes = encodeHeader(header);
  const hash = sha256(headerBytes);
  const proposerSignature = proposer.sign(proposalMessage(header.chainId, header.height, hash));
  const bytes = encodeBlock(headerBytes, proposerSignature, txs, certificate);
  return { header, headerBytes, hash, proposerSignature, txs, certificate, bytes };
}

/** The same block with a (new) certificate attached. */
export function withCertificate(block: Block, certificate: readonly Vote[]): Block {
  const sorted = certificate.slice().sort((a, b) => a.validator - b.validator);
  return { ...block, certificate: sorted, bytes: encodeBlock(block.headerBytes, block.proposerSignature, block.txs, sorted) };
}

/** A validator's vote for a block. */
export function signVote(signer: Signer, validator: number, block: Pick<Block, 'header' | 'hash'>): Vote {
  return { validator, signature: signer.sign(voteMessage(block.header.chainId, block.header.height, block.hash)) };
}
