/**
 * POST /v1/lint answers the same JSON document as `stele lint --json`, with the node's
 * own `lint` (node/view.ts; the API itself has no checker). Compared with the real CLI on the example contracts and on a broken one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../../api/server.js';
import { nodeView } from '../../node/view.js';
import type { Validator } from '../../node/validator.js';
import { chain } from '../support/fixtures.js';
import { FakeNode } from './fake-node.js';

const CLI = join(process.cwd(), 'dist', 'cli', 'main.js');

function cliLint(files: string[], flags: string[] = []): unknown {
  try {
    return JSON.parse(execFileSync(process.execPath, [CLI, 'lint', '--json', ...flags, ...files], { encoding: 'utf8' }));
  } catch (error) {
    // Exit 1 (errors found) still prints the document.
    return JSON.parse(String((error as { stdout: string }).stdout));
  }
}

test('POST /v1/lint gives the document `stele lint --json` prints', async () => {
  const node = new FakeNode(chain);
  // The node's own wiring (node/view.ts), not a copy of it: only `ledger.genesis` is read
  // when the view is built, and `lint` touches nothing of the validator.
  const view = nodeView({ ledger: { genesis: chain.genesis } } as unknown as Validator, () => 'up');
  const lint = view.lint;
  assert.ok(lint !== undefined, 'the node view wires lint');
  node.lintImpl = (files, options) => {
    const report = lint(files, options);
    assert.ok(!(report instanceof Promise), 'the node lints synchronously');
    return report;
  };
  const app = buildApp(node);
  const dir = mkdtempSync(join(tmpdir(), 'stele-lint-api-'));
  const broken = join(dir, 'broken.scl');
  writeFileSync(broken, 'contract Loop {\n  parties a\n  init state S { on go by a -> S }\n}\n');
  const cases: Array<{ files: string[]; flags: string[]; options: Record<string, number> }> = [
    { files: ['examples/contracts/horse-sale.scl'], flags: [], options: {} },
    { files: ['examples/contracts/auction.scl', 'examples/contracts/call-option.scl'], flags: ['--max-paths', '3'], options: { max_paths: 3 } },
    { files: [broken], flags: [], options: {} },
  ];
  for (const c of cases) {
    const expected = cliLint(c.files, c.flags);
    const body = { files: c.files.map((file) => ({ file, source: readFileSync(file, 'utf8') })), options: c.options };
    const r = await app.inject({ method: 'POST', url: '/v1/lint', payload: body });
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual(JSON.parse(r.body), expected, c.files.join(' '));
  }
  const brokenAnswer = JSON.parse((await app.inject({ method: 'POST', url: '/v1/lint', payload: { files: [{ file: broken, source: readFileSync(broken, 'utf8') }] } })).body) as { summary: { errors: number } };
  assert.ok(brokenAnswer.summary.errors > 0, 'the broken contract has errors');
  await app.close();
});
