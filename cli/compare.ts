/**
 * `stele audit --compare URL...`: do other replicas serve the same chain as the one just
 * audited? For each URL, every block of the common prefix (heights 1..min(audited height,
 * that node's committed height)) must have the same block hash as the audited chain.
 *
 * What is checked of a compared replica's blocks, and why that is enough: a block hash is
 * the SHA-256 of the header, and the header commits to the previous hash, the Merkle root
 * of the transactions and the state hash. So a compared block whose hash equals the
 * audited block's hash at that height has the very header the full audit verified and
 * re-executed; what the replica could still serve differently is the body around the
 * header. We check that body: the transactions against the header's Merkle root (the
 * leaves hash the transaction bytes, whose signatures the audit verified), the proposer's
 * signature, and the replica's own quorum certificate (a quorum of distinct validators,
 * every vote verifying). Certificates legitimately differ between replicas (each keeps the
 * quorum it gathered), which is why blocks are compared by hash, not byte for byte.
 * Blocks a replica holds beyond the common prefix are not checked (audit it on its own).
 */
import { bytesEqual, toHex } from '../ledger/assert.js';
import { decodeBlock } from '../ledger/block.js';
import { checkTxRoot, signatureItems, signatureLabel } from '../ledger/chain.js';
import { verify } from '../ledger/ed25519.js';
import { isSteleError, type ErrorCode } from '../ledger/errors.js';
import { quorumSize, type Genesis } from '../ledger/genesis.js';
import type { ChainSource } from './chain-source.js';

export interface ReplicaDifference {
  /** The first height of the common prefix where the replica does not hold up. */
  readonly height: number;
  /** AUDIT_REPLICA_MISMATCH (another block), or the BLOCK_* code of a bad copy. */
  readonly code: ErrorCode;
  readonly message: string;
}

export interface ReplicaComparison {
  readonly url: string;
  /** The replica's committed height when it was read. */
  readonly height: number;
  /** Heights 1..common_height were compared. */
  readonly common_height: number;
  readonly agrees: boolean;
  readonly first_difference: ReplicaDifference | null;
}

/**
 * Checks one block a replica served at `height` against the audited block hash there.
 * @returns null when it holds up, else what is wrong
 */
export function checkReplicaBlock(g: Genesis, height: number, expectedHash: Uint8Array, bytes: Uint8Array): ReplicaDifference | null {
  let block;
  try {
    block = decodeBlock(bytes);
  } catch (error) {
    if (!isSteleError(error)) throw error;
    return { height, code: 'BLOCK_MALFORMED', message: error.reason };
  }
  if (!bytesEqual(block.hash, expectedHash)) {
    return { height, code: 'AUDIT_REPLICA_MISMATCH', message: `block ${height} has hash ${toHex(block.hash)}, the audited chain has ${toHex(expectedHash)}` };
  }
  try {
    checkTxRoot(block);
  } catch (error) {
    if (!isSteleError(error)) throw error;
    return { height, code: error.code, message: error.reason };
  }
  const quorum = quorumSize(g);
  if (block.certificate.length < quorum || block.certificate.some((v) => v.validator >= g.validators.length)) {
    return { height, code: 'BLOCK_BAD_CERTIFICATE', message: `block ${height}: the certificate needs ${quorum} votes of the ${g.validators.length} validators; it has ${block.certificate.length}` };
  }
  // Transaction signatures are covered by the Merkle root (same bytes as audited).
  for (const item of signatureItems(g, block, { txs: false })) {
    if (!verify(item.publicKey, item.message, item.signature)) return { height, code: item.code, message: `block ${height}: ${signatureLabel(g, item)} does not verify` };
  }
  return null;
}

/**
 * A replica whose /v1/status names another chain (chain id or genesis hash) is on another
 * chain, whatever its blocks: at committed height 0 it had nothing to compare and was
 * reported as agreeing (found in review, 2026-11-30). Reported at height 1 with nothing
 * compared (common_height 0).
 * @returns null when the node names the audited chain
 */
export function checkReplicaChain(g: Genesis, url: string, node: { readonly height: number; readonly chainId: string; readonly genesisHash: unknown }): ReplicaComparison | null {
  const genesisHash = toHex(g.hash);
  if (node.chainId === g.chainId && node.genesisHash === genesisHash) return null;
  // The node's answer, printed only as a hash or quoted (it may hold anything).
  const theirs = typeof node.genesisHash === 'string' && /^[0-9a-f]{64}$/.test(node.genesisHash) ? node.genesisHash : `${JSON.stringify(node.genesisHash)?.slice(0, 80) ?? 'none'} (not a hash)`;
  return {
    url,
    height: node.height,
    common_height: 0,
    agrees: false,
    first_difference: { height: 1, code: 'AUDIT_REPLICA_MISMATCH', message: `the node is on chain ${node.chainId} with genesis ${theirs}; the audited chain is ${g.chainId} with genesis ${genesisHash}` },
  };
}

/**
 * Compares a replica's chain with the audited hashes (`hashes[h - 1]` is block h's hash).
 * `source` must serve the replica's blocks from height 1 up to at least `common` blocks.
 */
export async function compareReplica(g: Genesis, url: string, replicaHeight: number, source: ChainSource, hashes: readonly Uint8Array[], onBlock: () => void = () => {}): Promise<ReplicaComparison> {
  const common = Math.min(replicaHeight, hashes.length);
  let height = 0;
  let difference: ReplicaDifference | null = null;
  for await (const bytes of source.blocks) {
    if (height >= common) break;
    height++;
    difference = checkReplicaBlock(g, height, hashes[height - 1] as Uint8Array, bytes);
    onBlock();
    if (difference !== null) break;
  }
  if (difference === null && height < common) {
    difference = { height: height + 1, code: 'AUDIT_REPLICA_MISMATCH', message: `the replica reports height ${replicaHeight} but served only ${height} blocks` };
  }
  return { url, height: replicaHeight, common_height: common, agrees: difference === null, first_difference: difference };
}
