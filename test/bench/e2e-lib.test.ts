/** The pure helpers of bench:e2e: plan, block keys, /proc parsing, options, schedule. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeBlock } from '../../ledger/block.js';
import { balanceNeeded, blockTxKeys, cpuTicksOfStat, groupDueMs, groupsDue, memoryOfStatus, parseE2eArgs, percentile, transferPlan, txKey } from '../../bench/e2e-lib.js';
import { makeChain } from '../support/fixtures.js';

test('transferPlan: distinct bodies, never to oneself, balances suffice', () => {
  const seen = new Set<string>();
  const spent = new Map<number, bigint>();
  for (let k = 0; k < 5_000; k++) {
    const p = transferPlan(k, 7);
    assert.notEqual(p.from, p.to);
    const body = `${p.from}>${p.to}:${p.amount}`;
    assert.ok(!seen.has(body), body);
    seen.add(body);
    spent.set(p.from, (spent.get(p.from) ?? 0n) + p.amount);
  }
  for (const total of spent.values()) assert.ok(total <= balanceNeeded(5_000, 7));
});

test('blockTxKeys finds each transaction of an encoded block by its signature tail', () => {
  const { blocks } = makeChain(3, 5);
  for (const b of blocks) {
    const bytes = encodeBlock(b.headerBytes, b.proposerSignature, b.txs, b.certificate);
    assert.deepEqual(blockTxKeys(bytes), b.txs.map((t) => txKey(t.bytes)));
    assert.throws(() => blockTxKeys(bytes.subarray(0, bytes.length - 200)), RangeError);
  }
});

test('/proc parsing, percentiles, options and the open-loop schedule', () => {
  assert.equal(cpuTicksOfStat('42 (node x) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 11'), 300);
  assert.deepEqual(memoryOfStatus('Name:\tnode\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n'), { hwmKib: 2048, rssKib: 1024, anonKib: null, fileKib: null });
  assert.deepEqual(memoryOfStatus('VmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nRssAnon:\t   700 kB\nRssFile:\t   300 kB\n'), { hwmKib: 2048, rssKib: 1024, anonKib: 700, fileKib: 300 });
  assert.throws(() => memoryOfStatus('Name: x'), RangeError);
  assert.equal(percentile([1, 2, 3, 4], 0.5), 3);
  assert.equal(percentile([], 0.99), 0);
  const o = parseE2eArgs(['--json', '--seconds', '5', '--mode', 'batch', '--txs', '1000']);
  assert.deepEqual([o.json, o.seconds, o.mode, o.txs, o.concurrency, o.openRate], [true, 5, 'batch', 1000, 64, 0]);
  assert.equal(parseE2eArgs(['--open-rate', '1500']).openRate, 1500);
  assert.equal(o.encoding, 'binary');
  assert.equal(parseE2eArgs(['--encoding', 'json']).encoding, 'json');
  assert.equal(o.blockWaitMs, 0);
  assert.equal(parseE2eArgs(['--block-wait-ms', '5']).blockWaitMs, 5);
  for (const bad of [['--block-wait-ms', '1001'], ['--block-wait-ms', '-1'], ['--encoding', 'xml'], ['--seconds', '0'], ['--mode', 'fast'], ['--batch', '1001'], ['--what'], ['--runs', '1.5'], ['--seconds'], ['--open-rate', '-1'], ['--open-rate', '2000000']]) assert.throws(() => parseE2eArgs(bad), RangeError);
  assert.equal(groupsDue(1000, 10, 0), 1);
  assert.equal(groupsDue(1000, 10, 995), 100);
  assert.equal(groupDueMs(1000, 10, 100), 1000);
});
