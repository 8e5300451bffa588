import { test } from 'node:test';
import assert from 'node:assert/strict';
import { limitedLines } from '../../node/log-limit.js';

test('limitedLines: at most max lines per period; the next period opens with how many were left out', () => {
  let t = 1_000;
  const out: string[] = [];
  const line = limitedLines((l) => out.push(l), 'refusals', 3, 60_000, () => t);
  for (let i = 0; i < 10; i++) line(`r${i}\n`);
  assert.deepEqual(out, ['r0\n', 'r1\n', 'r2\n']);
  t += 59_999;
  line('r10\n');
  assert.equal(out.length, 3, 'still the first period');
  t += 1;
  line('r11\n');
  assert.deepEqual(out.slice(3), ['stele node: 8 more refusals not shown (at most 3 lines per 60 s)\n', 'r11\n']);
  // A quiet period leaves nothing to report: the next line passes alone.
  t += 120_000;
  line('r12\n');
  assert.deepEqual(out.slice(5), ['r12\n']);
});

test('limitedLines: refuses a bound that would pass nothing or never end a period', () => {
  assert.throws(() => limitedLines(() => {}, 'x', 0), RangeError);
  assert.throws(() => limitedLines(() => {}, 'x', 1.5), RangeError);
  assert.throws(() => limitedLines(() => {}, 'x', 1, 0), RangeError);
  assert.throws(() => limitedLines(() => {}, 'x', 1, Number.NaN), RangeError);
});
