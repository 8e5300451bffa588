/**
 * node/acceptor-stamp.ts on its own: the stamp's text round-trips, every field is checked,
 * every hostile value in each field is STORE_CORRUPT (never a crash), and the outcomes of
 * opening: a new directory and one from before stamps are stamped, a matching stamp passes,
 * a different one is refused with nothing changed. test/node/run.test.ts does the same
 * through startNode.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { toHex } from '../../ledger/assert.js';
import { isSteleError } from '../../ledger/errors.js';
import { ACCEPTOR_STAMP_FILE, acceptorStampText, checkAcceptorStamp, parseAcceptorStamp, sameStamp, type AcceptorStamp } from '../../node/acceptor-stamp.js';
import { HOSTILE_VALUES } from '../support/hostile.js';

const stamp: AcceptorStamp = { genesisHash: new Uint8Array(32).fill(0xab), validatorIndex: 2, publicKey: new Uint8Array(32).fill(0x5c) };

test('the stamp text is one JSON line of the four fields, and parses back to the same stamp', () => {
  const text = acceptorStampText(stamp);
  assert.equal(text, `{"stele_acceptor_stamp":1,"genesis_hash":"${'ab'.repeat(32)}","validator_index":2,"public_key":"${'5c'.repeat(32)}"}\n`);
  assert.ok(sameStamp(parseAcceptorStamp(text, 'x'), stamp));
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.integer({ min: 0, max: 6 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (genesisHash, validatorIndex, publicKey) => {
      const s = { genesisHash, validatorIndex, publicKey };
      const back = parseAcceptorStamp(acceptorStampText(s), 'x');
      assert.deepEqual([toHex(back.genesisHash), back.validatorIndex, toHex(back.publicKey)], [toHex(genesisHash), validatorIndex, toHex(publicKey)]);
    }),
  );
});

test('every hostile value in every field, and texts that are no stamp, are STORE_CORRUPT naming the file', () => {
  const fields = JSON.parse(acceptorStampText(stamp)) as Record<string, unknown>;
  const texts: string[] = ['', 'null', '1', '"stamp"', '[]', '{}', '{"stele_acceptor_stamp":1', `\uFEFF${acceptorStampText(stamp)}`];
  for (const key of Object.keys(fields)) {
    for (const value of [...HOSTILE_VALUES, -1, 7, 1.5, '0', 'AB'.repeat(32), 'ab'.repeat(31), 'ab'.repeat(33), 'zz'.repeat(32)]) {
      // Values this field takes (validator 0), and a bigint, which JSON text cannot tell from a number.
      if (value === fields[key] || (key === 'validator_index' && value === 0) || typeof value === 'bigint') continue;
      // undefined drops the field.
      texts.push(JSON.stringify({ ...fields, [key]: value }));
    }
  }
  for (const text of texts) {
    assert.throws(() => parseAcceptorStamp(text, '/d/acceptor/stamp.json'), (e: unknown) => isSteleError(e, 'STORE_CORRUPT') && e.message.startsWith('STORE_CORRUPT: /d/acceptor/stamp.json is not an acceptor log stamp: ') && e.details.path === '/d/acceptor/stamp.json', text.slice(-120));
  }
});

test('opening: a new directory is stamped before anything else is in it, a matching stamp passes untouched, an unstamped log is stamped, another stamp is refused', () => {
  const root = mkdtempSync(join(tmpdir(), 'stele-stamp-'));
  try {
    const dir = join(root, 'acceptor');
    assert.equal(checkAcceptorStamp(dir, stamp), 'stamped-new');
    assert.deepEqual(readdirSync(dir), [ACCEPTOR_STAMP_FILE]);
    assert.equal(readFileSync(join(dir, ACCEPTOR_STAMP_FILE), 'utf8'), acceptorStampText(stamp));
    assert.equal(checkAcceptorStamp(dir, stamp), 'matched');

    const legacy = join(root, 'legacy');
    mkdirSync(join(legacy, 'gen-0000000000'), { recursive: true });
    assert.equal(checkAcceptorStamp(legacy, stamp), 'stamped-existing');
    assert.equal(checkAcceptorStamp(legacy, stamp), 'matched');

    const other = { ...stamp, validatorIndex: 3 };
    assert.throws(
      () => checkAcceptorStamp(dir, other),
      (e: unknown) =>
        isSteleError(e, 'STORE_MISMATCH') &&
        e.message.includes(`${dir} is the acceptor log of validator 2 `) &&
        e.message.includes('but this node is validator 3 ') &&
        (e.details.found as { validator_index: number }).validator_index === 2 &&
        (e.details.expected as { validator_index: number }).validator_index === 3,
    );
    assert.equal(readFileSync(join(dir, ACCEPTOR_STAMP_FILE), 'utf8'), acceptorStampText(stamp), 'left as it was');

    // A stamp that is a link is not the node's own file: refused, not followed.
    const linked = join(root, 'linked');
    mkdirSync(linked);
    writeFileSync(join(root, 'elsewhere.json'), acceptorStampText(stamp));
    symlinkSync(join(root, 'elsewhere.json'), join(linked, ACCEPTOR_STAMP_FILE));
    assert.throws(() => checkAcceptorStamp(linked, stamp), (e: unknown) => isSteleError(e, 'STORE_CORRUPT') && /not a regular file/.test(e.message));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

