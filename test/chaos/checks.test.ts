/** The chaos harness's checks over what it recorded during a run (test/chaos/checks.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkObserved, dropsBetween, faultDropsOf, judgeFullDisk, procState, type ExitSeen, type FullDiskFault, type Observation } from './checks.js';

const chains = [
  ['h1', 'h2', 'h3', 'h4'],
  ['h1', 'h2', 'h3', 'h4'],
  ['h1', 'h2', 'h3', 'h4'],
];

test('observed blocks: every block a validator reported as committed is in its final chain there', () => {
  const observed: Observation[] = [
    { node: 0, height: 1, hash: 'h1', at: 1 },
    { node: 1, height: 3, hash: 'h3', at: 2 },
    { node: 2, height: 4, hash: 'h4', at: 3 },
    { node: 1, height: 4, hash: 'h4', at: 4 },
  ];
  assert.deepEqual(checkObserved(observed, chains), []);
  assert.deepEqual(checkObserved([], chains), []);
});

test('observed blocks: a committed block replaced, or lost and not caught up, is a mismatch', () => {
  // v2 reported x3 at height 3, lost it (a recovery that cut too much) and caught up h3
  // from its peers: its final chain agrees with the others, yet it replaced a committed block.
  const replaced: Observation = { node: 1, height: 3, hash: 'x3', at: 5 };
  assert.deepEqual(checkObserved([{ node: 0, height: 2, hash: 'h2', at: 4 }, replaced], chains), [{ ...replaced, final: 'h3' }]);
  // v3 reported height 5 committed; its final chain ends at 4.
  const beyond: Observation = { node: 2, height: 5, hash: 'h5', at: 6 };
  assert.deepEqual(checkObserved([beyond], chains), [{ ...beyond, final: null }]);
  // Compared with that validator's own chain, not another's.
  const own = [['h1'], ['h1', 'y2'], ['h1']];
  assert.deepEqual(checkObserved([{ node: 1, height: 2, hash: 'y2', at: 7 }], own), []);
  assert.equal(checkObserved([{ node: 0, height: 2, hash: 'y2', at: 7 }], own).length, 1);
});

const LINE = 'stele node: STOPPED: the disk holding /x/v1/data is full (STORE_FULL): ENOSPC\nstele node: every acknowledged write is durable; ...\n';

test('full disks: each fault needs its own target stopped with 75 and the STORE_FULL line', () => {
  const faults: FullDiskFault[] = [
    { node: 0, fill: 1000, heal: 6000, end: 9000, log: LINE },
    { node: 2, fill: 20_000, heal: 25_000, end: 28_000, log: `${LINE}${LINE}` },
  ];
  const exits: ExitSeen[] = [
    { index: 0, code: 75, signal: null, expected: false, at: 1200 },
    { index: 1, code: null, signal: 'SIGKILL', expected: true, at: 15_000 }, // a kill fault
    { index: 2, code: 75, signal: null, expected: false, at: 20_300 },
    { index: 2, code: 75, signal: null, expected: false, at: 25_100 }, // a restart that met the full disk, ending after the heal
  ];
  const ok = judgeFullDisk(faults, exits);
  assert.deepEqual(ok, { stops: [1, 1], faultProblems: [[], []], problems: [], unexpected: [] });
});

test('full disks: one stop does not satisfy every fault, a stop needs its STORE_FULL line, and a 75 outside a full disk is unexpected', () => {
  const faults: FullDiskFault[] = [
    { node: 0, fill: 1000, heal: 6000, end: 9000, log: LINE },
    { node: 2, fill: 20_000, heal: 25_000, end: 28_000, log: '' },
  ];
  // Only v1 stopped (the old check: one exit 75 anywhere passed every full_disk fault).
  const one = judgeFullDisk(faults, [{ index: 0, code: 75, signal: null, expected: false, at: 1500 }]);
  assert.deepEqual(one.stops, [1, 0]);
  assert.equal(one.problems.length, 2, one.problems.join('\n')); // v3 did not stop, and logged no STORE_FULL
  assert.match(one.problems[0] as string, /v3 did not stop with exit code 75/);
  assert.deepEqual(one.faultProblems.map((p) => p.length), [0, 2]);
  // v3 stopped with 75, but not while its own disk was full: v2 exits 75 during v3's fill,
  // v3 exits 75 only after its recovery.
  const wrong = judgeFullDisk(faults, [
    { index: 0, code: 75, signal: null, expected: false, at: 1500 },
    { index: 1, code: 75, signal: null, expected: false, at: 21_000 },
    { index: 2, code: 75, signal: null, expected: false, at: 30_000 },
  ]);
  assert.deepEqual(wrong.stops, [1, 0]);
  assert.deepEqual(wrong.unexpected.map((e) => e.index), [1, 2]);
  // v3 stopped twice with 75 but logged the STORE_FULL line once (a log on the full tmpfs loses it).
  const silent = judgeFullDisk([{ ...faults[1]!, log: LINE }], [
    { index: 2, code: 75, signal: null, expected: false, at: 20_500 },
    { index: 2, code: 75, signal: null, expected: false, at: 22_000 },
  ]);
  assert.deepEqual(silent.stops, [2]);
  assert.equal(silent.problems.length, 1);
  assert.match(silent.problems[0] as string, /holds 1 STORE_FULL line since the fill/);
});

test('partition evidence: the transport fault layer\'s drop counters, summed and compared', () => {
  const metrics = [
    '# HELP stele_test_fault_drops_total peer messages dropped by test fault injection',
    '# TYPE stele_test_fault_drops_total counter',
    'stele_test_fault_drops_total{direction="to"} 12',
    'stele_test_fault_drops_total{direction="from"} 30',
    'stele_test_faults_enabled 1',
  ].join('\n');
  assert.equal(faultDropsOf(metrics), 42);
  assert.equal(faultDropsOf('stele_committed_height 9\n'), null);
  // A partition during which no counter moved dropped nothing: a no-op.
  assert.equal(dropsBetween([5, 7, 0], [5, 7, 0]), 0);
  assert.equal(dropsBetween([5, 7, 0], [9, 7, 3]), 7);
  // Not read once: not counted; restarted (counter went down): counted from zero.
  assert.equal(dropsBetween([null, 7, 10], [4, null, 2]), 2);
});

test('pause evidence: the state letter of /proc/PID/stat', () => {
  assert.equal(procState('1234 (node) T 1 1234 1234 0 -1 4194560 ...'), 'T');
  assert.equal(procState('1234 (node) S 1 1234'), 'S');
  // A command name may hold spaces and parentheses.
  assert.equal(procState('99 (a) b (c)) t 1 2'), 't');
  assert.equal(procState('garbage'), null);
});
