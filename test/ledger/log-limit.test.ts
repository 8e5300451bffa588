import { test } from 'node:test';
import assert from 'node:assert/strict';
import { limitedLines } from '../../ledger/log-limit.js';

/** A clock and a timer queue the test moves by hand. */
function manualTime() {
  let t = 1_000;
  const due: { at: number; fn: () => void }[] = [];
  return {
    now: () => t,
    later: (fn: () => void, ms: number) => void due.push({ at: t + ms, fn }),
    advance(ms: number) {
      t += ms;
      for (const d of due.filter((x) => x.at <= t)) {
        due.splice(due.indexOf(d), 1);
        d.fn();
      }
    },
    pending: () => due.length,
  };
}

test('limitedLines: at most max lines per period; when the period ends, one line says how many were left out', () => {
  const time = manualTime();
  const out: string[] = [];
  const line = limitedLines((l) => out.push(l), 'stele node: refusals', 3, 60_000, time.now, time.later);
  for (let i = 0; i < 10; i++) line(`r${i}\n`);
  assert.deepEqual(out, ['r0\n', 'r1\n', 'r2\n']);
  assert.equal(time.pending(), 1, 'one report scheduled, not one per line left out');
  time.advance(59_999);
  line('r10\n');
  assert.equal(out.length, 3, 'still the first period');
  time.advance(1);
  // The report comes at the period's end, whether or not another line follows.
  assert.deepEqual(out.slice(3), ['stele node: refusals: 8 more not shown (at most 3 lines per 60 s)\n']);
  line('r11\n');
  assert.deepEqual(out.slice(4), ['r11\n']);
  // A quiet period leaves nothing to report: the next line passes alone.
  time.advance(120_000);
  line('r12\n');
  assert.deepEqual(out.slice(5), ['r12\n']);
  assert.equal(time.pending(), 0);
});

test('limitedLines: refuses a bound that would pass nothing or never end a period', () => {
  assert.throws(() => limitedLines(() => {}, 'x', 0), RangeError);
  assert.throws(() => limitedLines(() => {}, 'x', 1.5), RangeError);
  assert.throws(() => limitedLines(() => {}, 'x', 1, 0), RangeError);
  assert.throws(() => limitedLines(() => {}, 'x', 1, Number.NaN), RangeError);
});
