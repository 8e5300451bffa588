import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { computeVectors } from '../support/vectors.js';
import { parseGenesis } from '../../ledger/genesis.js';
import { BLOCK_RESERVED_BYTES } from '../../ledger/constants.js';
import { isSteleError } from '../../ledger/errors.js';
import { decodeTx } from '../../ledger/tx.js';
import { decodeBlock } from '../../ledger/block.js';
import { fromHex, toHex } from '../../ledger/assert.js';

const file = JSON.parse(readFileSync(new URL('../../../test/vectors/ledger-v1.json', import.meta.url), 'utf8')) as ReturnType<typeof computeVectors> & {
  genesis: { json: unknown; hash: string };
  transactions: Array<{ signed: string; id: string }>;
  block_1: { encoding: string; hash: string };
  sha256: Record<string, string>;
};

test('known-answer vectors: the code reproduces the committed file exactly', () => {
  assert.deepEqual(computeVectors(), file);
  // Independent facts the file must agree with (FIPS 180-2 and RFC 8032).
  assert.equal(file.sha256.abc, 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal((file as unknown as { ed25519_rfc8032_test1: { signature: string } }).ed25519_rfc8032_test1.signature.slice(0, 16), 'e5564300c360ac72');
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
