import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PLANTED_BUGS, type PlantedBug } from '../../consensus/replica.js';
import { simulate } from '../../consensus/sim/simulator.js';

const STEPS = 1000;

test('simulation slice: 200 seeds under faults, no violation, no liveness failure', () => {
  let committed = 0;
  const sizes = new Set<number>();
  const faults: Record<string, number> = {};
  for (let seed = 1; seed <= 200; seed++) {
    const r = simulate({ seed, steps: STEPS });
    assert.deepEqual(r.violations, [], `seed ${seed}: npm run sim -- --seed ${seed} --steps ${STEPS}`);
    assert.deepEqual(r.livenessFailures, [], `seed ${seed}: npm run sim -- --seed ${seed} --steps ${STEPS}`);
    committed += r.committed;
    sizes.add(r.replicas);
    for (const [k, v] of Object.entries(r.faults)) faults[k] = (faults[k] ?? 0) + v;
  }
  // The slice really exercised the core: every cluster size and every kind of fault.
  assert.deepEqual([...sizes].sort(), [1, 3, 5, 7]);
  for (const kind of ['lost', 'duplicated', 'crashes', 'torn_writes', 'partitions', 'garbage', 'learner_stalls', 'power_losses', 'gone_for_good', 'gone_at_power_loss']) assert.ok((faults[kind] ?? 0) > 0, kind);
  assert.ok(committed > 200 * 50, `${committed} slots committed`);
});

test('the same seed gives the same run', () => {
  assert.deepEqual(simulate({ seed: 77, steps: 500 }), simulate({ seed: 77, steps: 500 }));
});

/** Seeds searched per planted bug before giving up (detection rates in docs/consensus.md). */
const SEARCH: Record<PlantedBug, number> = { 'ack-before-persist': 400, 'forget-promised-values': 100, 'commit-without-quorum': 20, 'skip-link-check': 0, 'ignore-held-bound': 0, 'one-held-bound': 0 };

for (const bug of PLANTED_BUGS) {
  if (SEARCH[bug] === 0) continue; // found too rarely for a test slice: see docs/consensus.md
  test(`the checker catches the planted bug ${bug}`, () => {
    // (ignore-held-bound is a liveness bug, found by the next test.)
    for (let seed = 1; seed <= SEARCH[bug]; seed++) {
      const r = simulate({ seed, steps: STEPS, bug });
      if (r.violations.length > 0) {
        assert.match(r.violations[0] as string, /agreement|validity|certificate/);
        // And the correct core passes the very same seed.
        assert.deepEqual(simulate({ seed, steps: STEPS }).violations, []);
        return;
      }
    }
    assert.fail(`no violation in ${SEARCH[bug]} seeds with ${bug}`);
  });
}

test('npm run sim: JSON line last, replay command for a failing seed, exit codes', () => {
  const main = fileURLToPath(new URL('../../consensus/sim/main.js', import.meta.url));
  const ok = execFileSync(process.execPath, [main, '--seeds', '3', '--steps', '300'], { encoding: 'utf8' });
  const json = JSON.parse(ok.trim().split('\n').at(-1) as string) as Record<string, unknown>;
  assert.equal(json.seeds, 3);
  assert.equal(json.violations, 0);
  assert.equal(json.liveness_failures, 0);
  let failed: { status: number; stdout: string; stderr: string } | undefined;
  try {
    execFileSync(process.execPath, [main, '--seeds', '5', '--steps', '1000'], { encoding: 'utf8', env: { ...process.env, STELE_SIM_BUG: 'commit-without-quorum' }, stdio: 'pipe' });
  } catch (error) {
    failed = error as { status: number; stdout: string; stderr: string };
  }
  assert.ok(failed !== undefined, 'a planted bug makes the run fail');
  assert.equal(failed.status, 1);
  assert.match(failed.stderr, /replay: STELE_SIM_BUG=commit-without-quorum npm run sim -- --seed \d+ --steps 1000/);
  assert.ok((JSON.parse(failed.stdout.trim()) as { violations: number }).violations > 0);
  let usage: { status: number } | undefined;
  try {
    execFileSync(process.execPath, [main, '--seeds', 'many'], { stdio: 'pipe' });
  } catch (error) {
    usage = error as { status: number };
  }
  assert.equal(usage?.status, 2);
});

test('the simulator finds the liveness trap of the old accept rule (ignore-held-bound): a power loss while learners stall leaves no leader; the real rule passes the same seed', () => {
  // Seeds 53, 294, 365, 448, 673 and 819 of 1..1000 fail with the planted bug at 1000 steps
  // (2026-12-02, once a candidate's election timer restarted at each promise chunk; before
  // that 18, 655, 673, 727 and 819, and earlier 84, 381, 560, 655, 673, 727 and 819;
  // docs/consensus.md). Should a change to the core or the simulator move them, search again:
  // STELE_SIM_BUG=ignore-held-bound npm run sim -- --seeds 1000 --steps 1000 --jobs 2
  const seed = 53;
  const buggy = simulate({ seed, steps: STEPS, bug: 'ignore-held-bound' });
  assert.deepEqual(buggy.violations, [], 'a liveness bug, not a safety one');
  assert.ok(buggy.livenessFailures.length > 0, 'no leader after the heal');
  assert.ok((buggy.faults.power_losses ?? 0) > 0 && (buggy.faults.learner_stalls ?? 0) > 0);
  const real = simulate({ seed, steps: STEPS });
  assert.deepEqual(real.violations, []);
  assert.deepEqual(real.livenessFailures, []);
});
