import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { computeVectors } from '../support/vectors.js';
import { parseGenesis } from '../../ledger/genesis.js';
import { BLOCK_RESERVED_BYTES } from '../../ledger/constants.js';
import { isSteleError } from '../../ledger/errors.js';
import { decodeTx } from '../../ledger/tx.js';
import { decodeBlock } from '../../ledger/block.js';
import { fromHex, toHex } from '../../ledger/assert.js';
import { leafHash, merkleProof, merkleRoot, merkleRootOfData } from '../../ledger/merkle.js';

const file = JSON.parse(readFileSync(new URL('../../../test/vectors/ledger-v1.json', import.meta.url), 'utf8')) as ReturnType<typeof computeVectors> & {
  genesis: { json: unknown; hash: string };
  transactions: Array<{ body: string; signed: string; id: string }>;
  block_1: { encoding: string; hash: string };
  sha256: Record<string, string>;
  merkle: { leaf_of_byte_0: string; roots: Array<{ leaves: number; root: string }>; proof_5_of_7: string[] };
  ed25519_rfc8032_test1: { seed: string; public_key: string; signature: string };
};

test('known-answer vectors: the code reproduces the committed file exactly', () => {
  assert.deepEqual(computeVectors(), file);
  // Independent facts the file must agree with (FIPS 180-2 and RFC 8032).
  assert.equal(file.sha256.abc, 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(file.ed25519_rfc8032_test1.signature.slice(0, 16), 'e5564300c360ac72');
});

/** SHA-256 by node:crypto, not through ledger/hash.ts. */
const sha = (...parts: Uint8Array[]): Buffer => createHash('sha256').update(Buffer.concat(parts)).digest();
const LEAF = Uint8Array.of(0x00);
const NODE = Uint8Array.of(0x01);

/**
 * The Merkle tree hash of docs/encoding.md, written from RFC 6962's recursive definition
 * (the implementation builds it bottom-up): the empty tree is SHA-256 of nothing, one leaf
 * its leaf hash, n > 1 leaves node(left k, right n - k) for k the largest power of two below n.
 */
function treeHash(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return sha();
  if (leaves.length === 1) return leaves[0]!;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha(NODE, treeHash(leaves.slice(0, k)), treeHash(leaves.slice(k)));
}

/** RFC 6962's audit path of leaf m, bottom-up. */
function auditPath(m: number, leaves: readonly Buffer[]): Buffer[] {
  if (leaves.length <= 1) return [];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return m < k ? [...auditPath(m, leaves.slice(0, k)), treeHash(leaves.slice(k))] : [...auditPath(m - k, leaves.slice(k)), treeHash(leaves.slice(0, k))];
}

test('known-answer vectors agree with values computed here with node:crypto from the written rules', () => {
  // leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right) (docs/encoding.md).
  const data = Array.from({ length: 7 }, (_, i) => Uint8Array.of(i));
  const leaves = data.map((d) => sha(LEAF, d));
  assert.equal(file.merkle.leaf_of_byte_0, leaves[0]!.toString('hex'));
  assert.equal(toHex(leafHash(data[0]!)), leaves[0]!.toString('hex'));
  // 0 to 3 leaves spelled out: one leaf is its own root; an odd last node is promoted, not paired with itself.
  const [l0, l1, l2] = leaves as [Buffer, Buffer, Buffer];
  const written = [sha(), l0, sha(NODE, l0, l1), sha(NODE, sha(NODE, l0, l1), l2)];
  for (const [n, root] of written.entries()) assert.equal(treeHash(leaves.slice(0, n)).toString('hex'), root.toString('hex'), `the RFC 6962 form agrees with the spelled-out root of ${n}`);
  for (let n = 0; n <= 7; n++) {
    const expected = treeHash(leaves.slice(0, n)).toString('hex');
    assert.deepEqual(file.merkle.roots[n], { leaves: n, root: expected }, `the file's root of ${n} leaves`);
    assert.equal(toHex(merkleRoot(leaves.slice(0, n))), expected, `merkleRoot of ${n} leaves`);
    assert.equal(toHex(merkleRootOfData(data.slice(0, n))), expected, `merkleRootOfData of ${n} items`);
  }
  // Leaf 5 of 7: its sibling leaf 4, then leaf 6 (promoted), then the root of leaves 0-3.
  const path = [leaves[4]!, leaves[6]!, treeHash(leaves.slice(0, 4))].map((h) => h.toString('hex'));
  assert.deepEqual(auditPath(5, leaves).map((h) => h.toString('hex')), path);
  assert.deepEqual(file.merkle.proof_5_of_7, path);
  assert.deepEqual(merkleProof(leaves, 5).siblings.map(toHex), path);
  // A transaction id is SHA-256 of its body bytes (signatures not included).
  for (const t of file.transactions) {
    assert.equal(t.id, sha(fromHex(t.body)).toString('hex'));
    assert.equal(toHex(decodeTx(fromHex(t.signed)).id), t.id);
  }
  // RFC 8032 test 1, signed here by node:crypto from the seed (PKCS #8 around it).
  const rfc = file.ed25519_rfc8032_test1;
  const key = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(rfc.seed, 'hex')]), format: 'der', type: 'pkcs8' });
  assert.equal(sign(null, Buffer.alloc(0), key).toString('hex'), rfc.signature);
  assert.equal(rfc.public_key, 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
});

test('known-answer vectors decode back from the file alone', () => {
  assert.equal(toHex(parseGenesis(file.genesis.json).hash), file.genesis.hash);
  for (const t of file.transactions) assert.equal(toHex(decodeTx(fromHex(t.signed)).id), t.id);
  assert.equal(toHex(decodeBlock(fromHex(file.block_1.encoding)).hash), file.block_1.hash);
});

test('a genesis whose block_bytes_max leaves no room for a transaction of tx_bytes_max is refused, naming the field', () => {
  const json = file.genesis.json as { limits?: Record<string, number> };
  const limits = { ...(json.limits ?? {}), tx_bytes_max: 8_192 };
  const least = 8_192 + 4 + BLOCK_RESERVED_BYTES;
  assert.equal(parseGenesis({ ...json, limits: { ...limits, block_bytes_max: least } }).limits.block_bytes_max, least);
  for (const small of [least - 1, 4_096]) {
    assert.throws(
      () => parseGenesis({ ...json, limits: { ...limits, block_bytes_max: small } }),
      (e: unknown) => isSteleError(e, 'GENESIS_INVALID') && /limits\.block_bytes_max: must be at least limits\.tx_bytes_max \+ 4100 \(12292\)/.test(e.message),
    );
  }
});

test('genesis: null is no empty list, and one endpoint spelled two ways is a duplicate address (review, 2026-11-30)', () => {
  type G = { validators: Array<{ address: string }>; identities: Array<{ roles?: unknown }>; assets?: unknown; balances?: unknown };
  const json = file.genesis.json as unknown as G; // the vector file's genesis JSON, typed loosely so the test can break its fields
  const refused = (g: G, field: RegExp) =>
    assert.throws(() => parseGenesis(g), (e: unknown) => isSteleError(e, 'GENESIS_INVALID') && field.test(e.message), field.source);
  refused({ ...json, assets: null }, /assets: expected an array/);
  refused({ ...json, balances: null }, /balances: expected an array/);
  refused({ ...json, identities: json.identities.map((x, i) => (i === 0 ? { ...x, roles: null } : x)) }, /identities\[0\]\.roles: expected an array/);
  // Left out, they are still empty lists.
  const { assets: _a, balances: _b, ...bare } = json;
  assert.equal(parseGenesis({ ...bare, identities: json.identities.map((x) => ({ ...x, roles: x === json.identities[0] ? undefined : x.roles })) } as G).assets.length, 0);
  const at = (second: string) => ({ ...json, validators: json.validators.map((v, i) => (i === 1 ? { ...v, address: second } : v)) });
  const first = json.validators[0]!.address; // 127.0.0.1:7100
  refused(at(first), /validators\[1\]: duplicate address/);
  refused(at(first.replace(':7100', ':07100')), /validators\[1\]: duplicate address/);
  const named = { ...json, validators: json.validators.map((v, i) => ({ ...v, address: i === 0 ? 'NodeA:7100' : i === 1 ? 'nodea:7100' : v.address })) };
  refused(named, /validators\[1\]: duplicate address/);
  assert.equal(parseGenesis(at('127.0.0.1:7101')).validators[1]!.address, '127.0.0.1:7101');
});
