/** The documentation and the code agree: every rule and every contract refusal code is documented and stable. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RULES } from '../../contracts/diagnostic.js';
import { REFUSAL_CODES } from '../../contracts/interpreter.js';
import { ERROR_CODES } from '../../ledger/errors.js';

const doc = readFileSync(fileURLToPath(new URL('../../../docs/contracts.md', import.meta.url)), 'utf8');

test('docs/contracts.md has a catalogue entry (why, example, fix) for every rule', () => {
  assert.equal(Object.keys(RULES).length, 17);
  for (const id of Object.keys(RULES)) {
    const at = doc.indexOf(`### ${id}`);
    assert.ok(at >= 0, `${id} has no section`);
    const next = doc.indexOf('\n### ', at + 4);
    const section = doc.slice(at, next < 0 ? undefined : next);
    for (const part of ['*Why:*', '*Example:*', '*Fix:*']) assert.ok(section.includes(part), `${id} lacks ${part}`);
  }
});

test('every interpreter refusal is a stable ledger error code with the same meaning, and documented', () => {
  for (const [code, meaning] of Object.entries(REFUSAL_CODES)) {
    assert.equal((ERROR_CODES as Record<string, string>)[code], meaning, code);
  }
  for (const code of Object.keys(ERROR_CODES).filter((c) => c.startsWith('CONTRACT_'))) assert.ok(doc.includes(code), `${code} is not in docs/contracts.md`);
});
