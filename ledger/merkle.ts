/**
 * Merkle tree over a block's transactions, shaped as in RFC 6962 (a left subtree of the
 * largest power of two below n, built here bottom-up by promoting an odd last node), with
 * domain-separated hashes so a leaf can never pass for an interior node:
 *
 *   leaf  = SHA-256(0x00 || encoded signed transaction)
 *   node  = SHA-256(0x01 || left || right)
 *   empty = SHA-256("")
 */
import { abytes, bytesEqual } from './assert.js';
import { BLOCK_TXS_MAX, HASH_BYTES } from './constants.js';
import { nativeMerkleRoot, sha256, sha256Tagged } from './hash.js';

const LEAF = 0x00;
const NODE = 0x01;
/** Longest possible proof: ceil(log2(BLOCK_TXS_MAX)). */
export const PROOF_STEPS_MAX = Math.ceil(Math.log2(BLOCK_TXS_MAX));

/** Hash of one leaf (the full encoded transaction). */
export function leafHash(data: Uint8Array): Uint8Array {
  return sha256Tagged(LEAF, data);
}

function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256Tagged(NODE, left, right);
}

/** Root over leaf hashes. */
export function merkleRoot(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return sha256(new Uint8Array());
  let level = leaves.slice();
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(nodeHash(level[i] as Uint8Array, level[i + 1] as Uint8Array));
    if (level.length % 2 === 1) next.push(level[level.length - 1] as Uint8Array);
    level = next;
  }
  return level[0] as Uint8Array;
}

/**
 * Root over the leaves of `items` (leaf = leafHash(item)): `merkleRoot(items.map(leafHash))`,
 * computed in one native call when the addon is built (a property test holds the two equal).
 */
export function merkleRootOfData(items: readonly Uint8Array[]): Uint8Array {
  return nativeMerkleRoot(items) ?? merkleRoot(items.map(leafHash));
}

/** An inclusion proof: the leaf's index, the leaf count, and the sibling hashes bottom-up. */
export interface MerkleProof {
  readonly index: number;
  readonly count: number;
  readonly siblings: readonly Uint8Array[];
}

/** The inclusion proof of leaf `index`. @throws RangeError for an index out of range. */
export function merkleProof(leaves: readonly Uint8Array[], index: number): MerkleProof {
  return new MerkleTree(leaves).proof(index);
}

/**
 * Every level of the tree over `leaves`, kept: each proof is then a walk up the levels
 * instead of hashing the whole tree again (a node answering proofs for a block of 5,000
 * transactions hashed about 10,000 times per answer).
 */
export class MerkleTree {
  private readonly levels: Uint8Array[][];

  constructor(leaves: readonly Uint8Array[]) {
    let level = leaves.slice();
    this.levels = [level];
    while (level.length > 1) {
      const next: Uint8Array[] = [];
      for (let i = 0; i + 1 < level.length; i += 2) next.push(nodeHash(level[i] as Uint8Array, level[i + 1] as Uint8Array));
      if (level.length % 2 === 1) next.push(level[level.length - 1] as Uint8Array);
      this.levels.push(next);
      level = next;
    }
  }

  /** The inclusion proof of leaf `index`. @throws RangeError for an index out of range. */
  proof(index: number): MerkleProof {
    const count = (this.levels[0] as Uint8Array[]).length;
    if (!Number.isInteger(index) || index < 0 || index >= count) throw new RangeError(`leaf ${index} out of range`);
    const siblings: Uint8Array[] = [];
    let at = index;
    for (let k = 0; k + 1 < this.levels.length; k++) {
      const level = this.levels[k] as Uint8Array[];
      const sibling = at ^ 1;
      if (sibling < level.length) siblings.push(level[sibling] as Uint8Array);
      at >>= 1;
    }
    return { index, count, siblings };
  }
}

/**
 * True when `proof` shows `leaf` (a leaf hash) at `proof.index` of a tree with `root`.
 * Never throws on a malformed proof: it is simply false.
 */
export function verifyMerkleProof(root: Uint8Array, leaf: Uint8Array, proof: MerkleProof): boolean {
  abytes(root, HASH_BYTES, 'root');
  abytes(leaf, HASH_BYTES, 'leaf');
  const { index, count, siblings } = proof;
  if (!Number.isInteger(count) || count < 1 || count > BLOCK_TXS_MAX) return false;
  if (!Number.isInteger(index) || index < 0 || index >= count) return false;
  if (!Array.isArray(siblings) || siblings.length > PROOF_STEPS_MAX) return false;
  let hash = leaf;
  let at = index;
  let width = count;
  let used = 0;
  while (width > 1) {
    const lastAndAlone = at === width - 1 && width % 2 === 1;
    if (!lastAndAlone) {
      const sibling = siblings[used++];
      if (!(sibling instanceof Uint8Array) || sibling.length !== HASH_BYTES) return false;
      hash = at % 2 === 1 ? nodeHash(sibling, hash) : nodeHash(hash, sibling);
    }
    at >>= 1;
    width = Math.ceil(width / 2);
  }
  return used === siblings.length && bytesEqual(hash, root);
}
