/**
 * The 60-second slice of the chaos run (test/chaos/harness.ts; the long runs are
 * `npm run chaos`). Real processes, real faults: the seed is fixed so a failure replays
 * with `npm run chaos -- --seconds 60 --seed 7`. Namespaces and tmpfs are used when this
 * process may make them (CI runs as root); otherwise the report says which fallback ran.
 * With CI set (.ci/run), no full-disk fallback is accepted: the tmpfs must be there.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runChaos } from './harness.js';

test('chaos slice: 60 s of kills, torn writes, pauses, partitions and full disks lose nothing', { timeout: 240_000 }, async () => {
  const report = await runChaos({ seconds: 60, seed: 7, log: (line) => process.stderr.write(`# ${line}\n`) });
  process.stderr.write(`# ${JSON.stringify({ ...report, unexpected_exits: report.unexpected_exits.length })}\n`);
  if ((process.env.CI ?? '') !== '') assert.equal(report.disk, 'tmpfs', 'CI is set, but the slice ran without a tmpfs, so without full-disk faults: CI must run it as root');
  assert.deepEqual(report.problems, []);
  assert.equal(report.lost, 0);
  assert.equal(report.duplicated, 0);
  assert.equal(report.refused_committed, 0, 'a transaction refused to its client is in the chain');
  assert.equal(report.refused_no_place_in_chain, 0, 'a transaction refused at admission is in a block');
  assert.equal(report.unexpected, 0);
  assert.equal(report.divergent, 0);
  assert.equal(report.observed_mismatch, 0, 'a validator lost or replaced a block it had reported committed');
  assert.ok(report.observed_blocks > 0, 'no committed block was recorded from the validators during the run');
  assert.deepEqual(report.bad_answers, {}, 'a validator gave an answer no correct one gives');
  assert.ok(report.audit_ok && report.supply_ok && report.converged);
  assert.ok(report.balances_ok && report.records_ok, 'a replica serves balances or records other than the model of the workload');
  assert.equal(report.model_disagreements, 0);
  for (const [r, length] of report.chain_heights.entries()) {
    assert.equal(length, report.heights[r], `v${r + 1}'s log holds ${length} blocks, it reported ${report.heights[r]}`);
    assert.equal(report.audit_heights[r], length);
  }
  // The model and the record read-back had something to check.
  assert.ok(report.model_failed > 0 && report.records_checked > 0 && report.puts_read_back > 0, 'the model checked no failed transfer, record or acknowledged put');
  // The run did real work and really hurt the cluster.
  assert.ok(report.acknowledged > 100, `only ${report.acknowledged} transactions acknowledged`);
  // The contended pairs reached the failed-transaction path, and clients' answers that
  // named a place were checked against the chain there.
  assert.ok(report.failed_in_chain > 0, 'no transaction failed in a block: the refusal path went unchecked');
  assert.ok(report.refused_at_place > 0, 'no refusal answer named its place in the chain');
  const injected = Object.entries(report.faults).filter(([k]) => !k.endsWith('_leader'));
  assert.ok(injected.reduce((s, [, n]) => s + n, 0) >= 5, `only ${JSON.stringify(report.faults)} injected`);
  const kinds = ['kill', 'torn_write', 'pause', 'partition', ...(report.disk === 'tmpfs' ? ['full_disk'] : [])];
  for (const kind of kinds) assert.ok((report.faults[kind] ?? 0) > 0, `no ${kind} fault in ${JSON.stringify(report.faults)}`);
  if (report.disk === 'tmpfs') assert.ok(report.disk_full_stops > 0, 'a full disk did not stop its validator');
  assert.equal(report.disk_full_unproven, 0, 'a full disk did not stop its own validator with exit 75 and a STORE_FULL line');
  assert.ok(report.ok);
});
