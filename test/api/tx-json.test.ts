/**
 * The JSON form of a transaction is a bijection with the canonical encoding: random signed
 * transactions of every type go bytes -> JSON -> (text) -> JSON -> bytes unchanged, and
 * JSON -> bytes -> JSON unchanged; every non-canonical spelling is refused with
 * TX_MALFORMED naming the field; hostile values never throw anything but SteleError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { txFromBytes, txFromJson, txToJson, type TxJson } from '../../api/tx-json.js';
import { decodeTx, encodeTxBody, signTx, type Payload } from '../../ledger/tx.js';
import { isSteleError } from '../../ledger/errors.js';
import { bytesEqual, toHex } from '../../ledger/assert.js';
import { devSigner } from '../../ledger/devnet.js';
import { HOSTILE_VALUES } from '../support/hostile.js';
import { admin, alice, bob, carol, chain, transfer } from '../support/fixtures.js';

const signers = [admin, alice, bob, carol, devSigner('outsider')];
const key = fc.uint8Array({ minLength: 32, maxLength: 32 });
const asset = fc.stringMatching(/^[A-Z][A-Z0-9]{0,11}$/);
const amount = fc.bigInt({ min: 1n, max: 2n ** 64n - 1n });
const payload: fc.Arbitrary<Payload> = fc.oneof(
  fc.record({ type: fc.constant('register' as const), publicKey: key, name: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/), roles: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ type: fc.constant('revoke' as const), publicKey: key }),
  fc.record({ type: fc.constant('issue' as const), asset, to: key, amount }),
  fc.record({ type: fc.constant('transfer' as const), from: key, asset, to: key, amount }),
  fc.record({
    type: fc.constant('put' as const),
    owner: key,
    // Printable ASCII without the space (ledger/tx.ts RECORD_KEY_RE), quotes and backslashes included.
    key: fc.stringMatching(/^[\x21-\x7e]{1,40}$/),
    value: fc.oneof(
      fc.record({ kind: fc.constant('inline' as const), data: fc.uint8Array({ maxLength: 200 }) }),
      fc.record({ kind: fc.constant('sha256' as const), digest: key }),
    ),
  }),
);
const sclName = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,20}$/);
const contractValue = fc.oneof(
  fc.bigInt({ min: -(1n << 511n), max: (1n << 511n) }).map((value) => ({ kind: 'int' as const, value })),
  fc.boolean().map((value) => ({ kind: 'bool' as const, value })),
  asset.map((value) => ({ kind: 'asset' as const, value })),
);
/** Distinct names, sorted: the canonical order of create's lists. */
const sortedNamed = <T>(item: fc.Arbitrary<T>, max: number) =>
  fc.uniqueArray(fc.tuple(sclName, item), { maxLength: max, selector: ([name]) => name }).map((list) => list.sort(([a], [b]) => (a < b ? -1 : 1)));
const contractPayload: fc.Arbitrary<Payload> = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 200 }).map((source) => ({ type: 'deploy' as const, source })),
  fc
    .record({ contract: sclName, parties: sortedNamed(key, 4), params: sortedNamed(contractValue, 4), refs: sortedNamed(fc.nat(), 3) })
    .map((r) => ({
      type: 'create' as const,
      contract: r.contract,
      parties: r.parties.map(([name, k]) => ({ name, key: k })),
      params: r.params.map(([name, value]) => ({ name, value })),
      refs: r.refs.map(([name, instance]) => ({ name, instance })),
    })),
  fc.record({ type: fc.constant('act' as const), instance: fc.nat(), party: sclName, action: sclName, args: fc.array(contractValue, { maxLength: 4 }) }),
);
const anyPayload = fc.oneof(payload, contractPayload);

const signedTx = fc
  .record({
    chainId: fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,20}$/),
    expiry: fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)),
    payload: anyPayload,
    who: fc.subarray(signers, { minLength: 1 }),
  })
  .map(({ who, ...body }) => signTx(body, who));

test('bytes -> JSON -> text -> JSON -> bytes is the identity, and so is JSON -> bytes -> JSON', () => {
  fc.assert(
    fc.property(signedTx, (tx) => {
      const json = txToJson(tx);
      const reparsed = JSON.parse(JSON.stringify(json)) as unknown;
      const back = txFromJson(reparsed);
      assert.ok(bytesEqual(back.bytes, tx.bytes));
      assert.ok(bytesEqual(back.id, tx.id));
      assert.deepEqual(txToJson(back), json);
      // The id is optional on input: without it the same bytes come out.
      const { id: _id, ...withoutId } = json;
      assert.ok(bytesEqual(txFromJson(withoutId).bytes, tx.bytes));
      // The binary form decodes to the same JSON.
      assert.deepEqual(txToJson(txFromBytes(tx.bytes)), json);
      assert.deepEqual(txToJson(decodeTx(tx.bytes)), json);
    }),
    { numRuns: 600 },
  );
});

test('a known transfer has the documented JSON form', () => {
  const tx = transfer(alice, bob, 100n, 42);
  const json = txToJson(tx);
  assert.deepEqual(json, {
    id: toHex(tx.id),
    chain_id: chain.genesis.chainId,
    signers: [toHex(alice.publicKey)],
    expiry: 42,
    payload: { type: 'transfer', from: toHex(alice.publicKey), asset: 'STL', to: toHex(bob.publicKey), amount: '100' },
    signatures: [toHex(tx.signatures[0] as Uint8Array)],
  });
  const register = signTx({ chainId: 'c', expiry: 1, payload: { type: 'register', publicKey: carol.publicKey, name: 'carol', roles: 3 } }, [admin]);
  assert.deepEqual(txToJson(register).payload, { type: 'register', public_key: toHex(carol.publicKey), name: 'carol', roles: ['admin', 'issuer'] });
});

function refused(json: unknown, field: string, code = 'TX_MALFORMED'): void {
  assert.throws(
    () => txFromJson(json),
    (error: unknown) => isSteleError(error) && error.code === code && (code !== 'TX_MALFORMED' || String(error.details.field).startsWith(field)),
    `expected ${code} at ${field}`,
  );
}

test('every non-canonical or wrong spelling is refused with TX_MALFORMED naming the field', () => {
  const tx = signTx({ chainId: chain.genesis.chainId, expiry: 9, payload: { type: 'transfer', from: alice.publicKey, asset: 'STL', to: bob.publicKey, amount: 5n } }, [alice, bob]);
  const good = txToJson(tx);
  const edit = (f: (j: TxJson & Record<string, unknown>) => void): unknown => {
    const copy = JSON.parse(JSON.stringify(good)) as TxJson & Record<string, unknown>;
    f(copy);
    return copy;
  };
  const payloadOf = (j: TxJson) => j.payload as unknown as Record<string, unknown>;
  refused(edit((j) => (j.signers[0] = (j.signers[0] as string).toUpperCase())), 'signers[0]');
  // Found in review: order errors named "transaction", not the entry (docs/api.md says `signers[1]`).
  refused(edit((j) => j.signers.reverse()), 'signers[1]'); // not ascending
  refused(edit((j) => (j.signers[1] = j.signers[0] as string)), 'signers[1]'); // repeated
  refused(edit((j) => j.signatures.pop()), 'signatures');
  refused(edit((j) => (j.expiry = 1.5)), 'expiry');
  refused(edit((j) => ((j as Record<string, unknown>).expiry = '9')), 'expiry');
  refused(edit((j) => (j.expiry = Number.MAX_SAFE_INTEGER + 1)), 'expiry');
  refused(edit((j) => (payloadOf(j).amount = '05')), 'payload.amount');
  refused(edit((j) => (payloadOf(j).amount = '0')), 'payload.amount');
  refused(edit((j) => (payloadOf(j).amount = 5)), 'payload.amount');
  refused(edit((j) => (payloadOf(j).amount = '18446744073709551616')), 'payload.amount');
  refused(edit((j) => (payloadOf(j).asset = 'stl')), 'payload.asset');
  refused(edit((j) => (payloadOf(j).extra = 1)), 'payload.extra');
  refused(edit((j) => (payloadOf(j).type = 'mint')), 'payload.type');
  refused(edit((j) => (j.extra = 1)), 'transaction.extra');
  refused(edit((j) => (j.id = '00'.repeat(32))), 'id');
  refused(edit((j) => (j.chain_id = 'Bad Chain')), 'chain_id');
  refused(edit((j) => (j.signers = [])), 'signers');
  const register = txToJson(signTx({ chainId: 'c', expiry: 1, payload: { type: 'register', publicKey: carol.publicKey, name: 'carol', roles: 3 } }, [admin]));
  const roles = (list: unknown) => ({ ...register, id: undefined, payload: { ...register.payload, roles: list } });
  refused(roles(['issuer', 'admin']), 'payload.roles[1]'); // the order is fixed
  refused(roles(['admin', 'admin']), 'payload.roles[1]');
  refused(roles(['root']), 'payload.roles[0]');
  const put = txToJson(signTx({ chainId: 'c', expiry: 1, payload: { type: 'put', owner: alice.publicKey, key: 'k', value: { kind: 'inline', data: Uint8Array.of(1) } } }, [alice]));
  refused({ ...put, id: undefined, payload: { ...put.payload, value: { kind: 'inline', data: 'abc' } } }, 'payload.value.data');
  refused({ ...put, id: undefined, payload: { ...put.payload, value: { kind: 'blob', data: '00' } } }, 'payload.value.kind');
  refused({ ...put, id: undefined, payload: { ...put.payload, key: 'a\nb' } }, 'payload.key');
  refused({ ...put, id: undefined, payload: { ...put.payload, key: 'é'.repeat(129) } }, 'payload.key');
});

test('contract payloads: canonical spellings only', () => {
  const create = txToJson(
    signTx(
      {
        chainId: 'c',
        expiry: 1,
        payload: { type: 'create', contract: 'Sale', parties: [{ name: 'buyer', key: bob.publicKey }, { name: 'seller', key: alice.publicKey }], params: [{ name: 'price', value: { kind: 'int', value: -5n } }], refs: [] },
      },
      [alice],
    ),
  );
  assert.deepEqual(create.payload, {
    type: 'create',
    contract: 'Sale',
    parties: [{ name: 'buyer', key: toHex(bob.publicKey) }, { name: 'seller', key: toHex(alice.publicKey) }],
    params: [{ name: 'price', value: { kind: 'int', value: '-5' } }],
    refs: [],
  });
  const p = create.payload as Extract<TxJson['payload'], { type: 'create' }>;
  const base = { ...create, id: undefined };
  refused({ ...base, payload: { ...p, parties: [p.parties[1], p.parties[0]] } }, 'payload.parties[1]'); // not ascending (found in review: "transaction")
  refused({ ...base, payload: { ...p, parties: [p.parties[0], p.parties[0]] } }, 'payload.parties[1]'); // repeated
  const price = p.params[0]!;
  refused({ ...base, payload: { ...p, params: [price, { name: 'fee', value: price.value }] } }, 'payload.params[1]');
  refused({ ...base, payload: { ...p, refs: [{ name: 'b', instance: 1 }, { name: 'a', instance: 2 }, { name: 'c', instance: 3 }] } }, 'payload.refs[1]');
  refused({ ...base, payload: { ...p, refs: [{ name: 'a', instance: 1 }, { name: 'b', instance: 2 }, { name: 'b', instance: 3 }] } }, 'payload.refs[2]');
  // Names compare by bytes: upper case sorts before lower case, as in the canonical encoding.
  assert.equal(txFromJson({ ...base, payload: { ...p, refs: [{ name: 'Z', instance: 1 }, { name: 'a', instance: 2 }] } }).body.payload.type, 'create');
  refused({ ...base, payload: { ...p, params: [{ name: 'price', value: { kind: 'int', value: '-0' } }] } }, 'payload.params[0].value.value');
  refused({ ...base, payload: { ...p, params: [{ name: 'price', value: { kind: 'int', value: '007' } }] } }, 'payload.params[0].value.value');
  refused({ ...base, payload: { ...p, params: [{ name: 'price', value: { kind: 'int', value: (1n << 512n).toString() } }] } }, 'payload.params[0].value.value');
  refused({ ...base, payload: { ...p, params: [{ name: 'price', value: { kind: 'float', value: 1 } }] } }, 'payload.params[0].value.kind');
  refused({ ...base, payload: { ...p, contract: '1abc' } }, 'payload.contract');
  refused({ ...base, payload: { type: 'deploy', source: 'contract A {\ud800}' } }, 'payload.source');
  refused({ ...base, payload: { type: 'act', instance: -1, party: 'a', action: 'b', args: [] } }, 'payload.instance');
});

test('the size limit gives TX_TOO_LARGE, in both forms', () => {
  const big = signTx({ chainId: 'c', expiry: 1, payload: { type: 'put', owner: alice.publicKey, key: 'k', value: { kind: 'inline', data: new Uint8Array(4000) } } }, [alice]);
  assert.throws(() => txFromJson(txToJson(big), 1024), (e: unknown) => isSteleError(e, 'TX_TOO_LARGE'));
  assert.throws(() => txFromBytes(big.bytes, 1024), (e: unknown) => isSteleError(e, 'TX_TOO_LARGE'));
  assert.equal(txFromBytes(big.bytes, 8192).bytes.length, big.bytes.length);
});

test('binary decoding errors keep the encoding code and field in details', () => {
  const tx = transfer(alice, bob, 1n);
  const cut = tx.bytes.subarray(0, tx.bytes.length - 1);
  assert.throws(
    () => txFromBytes(cut),
    (e: unknown) => isSteleError(e, 'TX_MALFORMED') && e.details.encoding_code === 'ENC_TRUNCATED' && typeof e.details.field === 'string',
  );
  const body = encodeTxBody(tx.body);
  assert.throws(() => txFromBytes(body), (e: unknown) => isSteleError(e, 'TX_MALFORMED') && e.details.encoding_code === 'ENC_BAD_KIND');
});

test('hostile values give TX_MALFORMED and nothing else', () => {
  const good = txToJson(transfer(alice, bob, 1n));
  for (const value of HOSTILE_VALUES) {
    for (const candidate of [value, { ...good, signers: value }, { ...good, payload: value }, { ...good, expiry: value }, { ...good, signatures: value }]) {
      assert.throws(() => txFromJson(candidate), (e: unknown) => isSteleError(e, 'TX_MALFORMED'));
    }
  }
});
