/**
 * POST /v1/lint answers the same JSON document as `stele lint --json`, with the node's
 * own `lint` (node/view.ts; the API itself has no checker). Compared with the real CLI on the example contracts and on a broken one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../../api/server.js';
import { nodeView } from '../../node/view.js';
import type { Validator } from '../../node/validator.js';
import { chain } from '../support/fixtures.js';
import { FakeNode } from './fake-node.js';
import { lintOnWorker } from '../../node/lint-runner.js';
import { isSteleError } from '../../ledger/errors.js';
import { httpStatusOf } from '../../api/errors.js';
import { generate, render } from '../contracts/gen.js';

const CLI = join(process.cwd(), 'dist', 'cli', 'main.js');

function cliLint(files: string[], flags: string[] = []): unknown {
  try {
    return JSON.parse(execFileSync(process.execPath, [CLI, 'lint', '--json', ...flags, ...files], { encoding: 'utf8' }));
  } catch (error) {
    // Exit 1 (errors found) still prints the document.
    return JSON.parse(String((error as { stdout: string }).stdout));
  }
}

test('POST /v1/lint gives the document `stele lint --json` prints', async (t) => {
  const node = new FakeNode(chain);
  // The node's own wiring (node/view.ts), not a copy of it: only `ledger.genesis` is read
  // when the view is built, and `lint` touches nothing of the validator.
  const view = nodeView({ ledger: { genesis: chain.genesis } } as unknown as Validator, () => 'up');
  const lint = view.lint;
  assert.ok(lint !== undefined, 'the node view wires lint');
  node.lintImpl = (files, options) => {
    const report = lint(files, options);
    assert.ok(report instanceof Promise, 'the node lints on a worker thread, answering later');
    return report;
  };
  const app = buildApp(node);
  const dir = mkdtempSync(join(tmpdir(), 'stele-lint-api-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
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

test('the node lints on a worker thread: the main thread keeps its turns during a large check, and a check past its time bound is API_LINT_TOO_COSTLY (422)', async () => {
  // About 5,000 waiting states: hundreds of milliseconds of checking.
  const source = render(generate(5_000, 5_000, { fanout: 3, finals: 3, ahead: 3 }));
  const files = [{ file: 'big.scl', source }];
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 5);
  const started = performance.now();
  const report = await lintOnWorker(files, { maxHorizon: 1_000_000_000 });
  const took = performance.now() - started;
  clearInterval(ticker);
  assert.equal(report.summary.contracts, 1);
  assert.ok(report.diagnostics.some((d) => d.ruleId === 'FSM005'));
  // This thread kept its turns during the check: a check on the main thread would let no
  // timer run before it ended. (Until 2026-12-02 the longest gap had to be under half the
  // check, which one stall of a loaded machine can break; review of that day.)
  assert.ok(ticks >= 3, `${ticks} turns of a 5 ms timer during a ${took.toFixed(0)} ms check`);
  await assert.rejects(lintOnWorker(files, {}, 5), (e: unknown) => isSteleError(e, 'API_LINT_TOO_COSTLY'));
  assert.equal(httpStatusOf('API_LINT_TOO_COSTLY'), 422);
});
