/**
 * `stele audit --compare URL...` against in-process API servers (test/api/fake-node.ts)
 * serving real signed and certified chains: replicas that agree (also with other quorum
 * certificates, and a shorter replica), one that forks, one that serves a bad certificate,
 * an unreachable one; and the progress bar (never on a pipe).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildApp, listen } from '../../api/server.js';
import { signVote, withCertificate } from '../../ledger/block.js';
import { genesisToJson } from '../../ledger/genesis.js';
import { progressBar, progressLine } from '../../cli/progress.js';
import { FakeNode } from '../api/fake-node.js';
import { alice, bob, carol, chain, transfer } from '../support/fixtures.js';

const bin = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
const run = promisify(execFile);

/** Runs the CLI without blocking this process (the servers live here). */
async function stele(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000 });
    return { code: 0, out: stdout, err: stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: e.stdout, err: e.stderr };
  }
}

/** A node that commits `heights` blocks; block h holds a transfer of h (or of h + 100 from `forkAt` on). */
function node(heights: number, forkAt = Infinity): FakeNode {
  const n = new FakeNode(chain);
  for (let h = 1; h <= heights; h++) {
    void n.submit(transfer(alice, h % 2 === 0 ? bob : carol, BigInt(h >= forkAt ? h + 100 : h), 60));
    n.commit();
  }
  return n;
}

interface Report {
  valid: boolean;
  height: number;
  first_error: { height: number; code: string; message: string } | null;
  compare: Array<{ url: string; height: number; common_height: number; agrees: boolean; first_difference: { height: number; code: string; message: string } | null }>;
}

test('audit --compare: agreeing replicas pass; a fork, a bad certificate and a short answer are named by URL and first height', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stele-compare-'));
  const genesis = join(dir, 'genesis.json');
  writeFileSync(genesis, JSON.stringify(genesisToJson(chain.genesis)));
  const main = node(6);
  const same = node(6);
  // Same blocks, another quorum in every certificate: still the same chain.
  same.committed.forEach((b, i) => {
    same.committed[i] = withCertificate(b, [signVote(chain.validators[1]!, 1, b), signVote(chain.validators[2]!, 2, b)]);
  });
  const shorter = node(4);
  const longer = node(8);
  const fork = node(6, 4);
  const badCertificate = node(6);
  const fifth = badCertificate.committed[4]!;
  const vote = fifth.certificate[1]!;
  const flipped = Uint8Array.from(vote.signature);
  flipped[3] = (flipped[3] as number) ^ 1;
  badCertificate.committed[4] = withCertificate(fifth, [fifth.certificate[0]!, { validator: vote.validator, signature: flipped }]);
  const apps = [main, same, shorter, longer, fork, badCertificate].map((n) => buildApp(n));
  try {
    const [mainUrl, sameUrl, shortUrl, longUrl, forkUrl, badUrl] = await Promise.all(apps.map((app) => listen(app, { port: 0 })));
    const audit = async (...args: string[]) => {
      const r = await stele('audit', '--url', mainUrl!, '--genesis', genesis, '--json', ...args);
      return { code: r.code, report: JSON.parse(r.out) as Report, err: r.err };
    };

    const agree = await audit('--compare', sameUrl!, '--compare', shortUrl!, '--compare', longUrl!);
    assert.equal(agree.code, 0, agree.err);
    assert.equal(agree.report.valid, true);
    assert.deepEqual(
      agree.report.compare.map((c) => [c.url, c.height, c.common_height, c.agrees, c.first_difference]),
      [[sameUrl, 6, 6, true, null], [shortUrl, 4, 4, true, null], [longUrl, 8, 6, true, null]],
    );
    // No progress bar on a pipe.
    assert.ok(!agree.err.includes('\r'), 'no progress bar when stderr is not a terminal');
    assert.deepEqual((await audit()).report.compare, [], 'the field is there without --compare');

    const forked = await audit('--compare', sameUrl!, '--compare', forkUrl!);
    assert.equal(forked.code, 1);
    assert.equal(forked.report.valid, false, 'the audited chain itself is fine, the replicas are not');
    assert.equal(forked.report.height, 6);
    assert.deepEqual([forked.report.first_error?.height, forked.report.first_error?.code], [4, 'AUDIT_REPLICA_MISMATCH']);
    assert.match(forked.report.first_error!.message, new RegExp(`${forkUrl}.*block 4`));
    assert.deepEqual(forked.report.compare.map((c) => [c.agrees, c.first_difference?.height ?? null, c.first_difference?.code ?? null]), [[true, null, null], [false, 4, 'AUDIT_REPLICA_MISMATCH']]);

    const bad = await audit('--compare', badUrl!, '--compare', forkUrl!);
    assert.equal(bad.code, 1);
    assert.deepEqual(bad.report.compare.map((c) => [c.first_difference?.height, c.first_difference?.code]), [[5, 'BLOCK_BAD_CERTIFICATE'], [4, 'AUDIT_REPLICA_MISMATCH']]);
    assert.deepEqual([bad.report.first_error?.height, bad.report.first_error?.code], [4, 'AUDIT_REPLICA_MISMATCH'], 'the earliest difference is the first error');

    // The other way round: the forked node audits fine on its own, the main one differs from it at 4.
    const reverse = await stele('audit', '--url', forkUrl!, '--genesis', genesis, '--compare', mainUrl!);
    assert.equal(reverse.code, 1);
    assert.match(reverse.out, /INVALID at block 4: AUDIT_REPLICA_MISMATCH/);
    assert.match(reverse.out, new RegExp(`DIFFERS: ${mainUrl} at block 4`));

    // A chain file compared with live nodes.
    const file = join(dir, 'chain.stele');
    assert.equal((await stele('export', '--url', mainUrl!, '--out', file)).code, 0);
    const fromFile = await stele('audit', file, '--genesis', genesis, '--compare', sameUrl!);
    assert.equal(fromFile.code, 0, fromFile.err);
    assert.match(fromFile.out, new RegExp(`agrees: ${sameUrl}`));

    // Usage and I/O: a URL that is not one, too many, and a node that does not answer.
    assert.equal((await audit('--compare', 'ftp://x')).code, 2);
    assert.equal((await stele('audit', file, '--genesis', genesis, '--compare', 'not a url')).code, 2);
    assert.equal((await stele('audit', file, '--genesis', genesis, ...Array.from({ length: 17 }, () => ['--compare', sameUrl!]).flat())).code, 2);
    const closed = buildApp(node(1));
    const closedUrl = await listen(closed, { port: 0 });
    await closed.close();
    const unreachable = await stele('audit', file, '--genesis', genesis, '--compare', closedUrl, '--json');
    assert.equal(unreachable.code, 2);
    assert.equal((JSON.parse(unreachable.out) as { error: { code: string } }).error.code, 'CLI_IO');
    // A node whose status is not a block count is refused, not compared over nothing.
    const liar = http.createServer((_, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ chain_id: chain.genesis.chainId, committed_height: 'lots' })));
    await new Promise<void>((resolve) => liar.listen(0, '127.0.0.1', () => resolve()));
    try {
      const liarUrl = `http://127.0.0.1:${(liar.address() as AddressInfo).port}`;
      const lied = await stele('audit', file, '--genesis', genesis, '--compare', liarUrl, '--json');
      assert.equal(lied.code, 2, lied.out);
      const error = (JSON.parse(lied.out) as { error: { code: string; message: string } }).error;
      assert.equal(error.code, 'CLI_IO');
      assert.match(error.message, /committed_height "lots", not a block count/);
    } finally {
      liar.close();
    }
  } finally {
    await Promise.all(apps.map((app) => app.close()));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('progress bar: drawn on a terminal with done/total and rate, throttled, cleared; silent on a pipe, with --json or NO_COLOR', () => {
  const written: string[] = [];
  let now = 0;
  const tty = { isTTY: true, columns: 60, write: (s: string) => written.push(s) };
  const bar = progressBar('blocks', 1000, { stream: tty, env: {}, nowMs: () => now });
  now = 1000;
  bar.update(250);
  assert.equal(written.length, 1);
  assert.match(written[0]!, /^\r\[#+\.+\] 250\/1000 blocks 250\/s\x1b\[K$/);
  now = 1050;
  bar.update(260); // within the redraw interval: not drawn
  assert.equal(written.length, 1);
  now = 1060;
  bar.update(1000); // the last one always is
  assert.match(written[1]!, /\[#+\] 1000\/1000/);
  bar.finish();
  assert.equal(written.at(-1), '\r\x1b[K');
  assert.ok(written.every((s) => s.replace(/\x1b\[K/g, '').length <= 61), 'fits the terminal width');

  for (const silent of [
    progressBar('blocks', 10, { stream: { isTTY: false, write: (s: string) => written.push(s) }, env: {} }),
    progressBar('blocks', 10, { stream: tty, quiet: true, env: {} }),
    progressBar('blocks', 10, { stream: tty, env: { NO_COLOR: '1' } }),
  ]) {
    const before: number = written.length;
    silent.update(5);
    silent.update(10);
    silent.finish();
    assert.equal(written.length, before);
  }
  // A narrow terminal drops the bar and keeps the numbers.
  assert.equal(progressLine('blocks', 5, 10, 1, 22), '5/10 blocks 5.0/s');
  assert.equal(progressLine('blocks', 0, 0, 0, 80).includes('0/0'), true);
});
