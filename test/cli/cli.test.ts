/** The `stele` command, run as a user would: exit codes, file modes, JSON shapes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
function stele(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'stele-cli-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('keygen writes a 0600 key file, prints the public key, refuses to overwrite without --force', () => {
  const path = join(dir, 'k1.json');
  const r = stele('keygen', '--out', path);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^[0-9a-f]{64}\n$/);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).public_key, r.out.trim());
  const again = stele('keygen', '--out', path);
  assert.equal(again.code, 2);
  assert.match(again.err, /--force/);
  const json = stele('keygen', '--out', path, '--force', '--json');
  assert.equal(json.code, 0);
  assert.deepEqual(Object.keys(JSON.parse(json.out)).sort(), ['file', 'public_key']);
  assert.equal(stele('keygen').code, 2);
  assert.equal(stele('keygen', '--bogus').code, 2);
  assert.equal(stele('nonsense').code, 2);
});

test('genesis new and check: a valid file with a stable hash; bad files give the field path', () => {
  const keys = ['v1', 'v2', 'v3', 'admin'].map((n) => {
    const path = join(dir, `${n}.json`);
    stele('keygen', '--out', path, '--force');
    return path;
  });
  const out = join(dir, 'genesis.json');
  const r = stele('genesis', 'new', '--chain-id', 'test-chain', '--time-ms', '1000',
    '--validator', `v1,${keys[0]},127.0.0.1:7001`, '--validator', `v2,${keys[1]},127.0.0.1:7002`, '--validator', `v3,${keys[2]},127.0.0.1:7003`,
    '--admin', `root,${keys[3]}`, '--asset', 'STL', '--supply', '1000', '--out', out);
  assert.equal(r.code, 0, r.err);
  const check = stele('genesis', 'check', out, '--json');
  assert.equal(check.code, 0, check.err);
  const summary = JSON.parse(check.out);
  assert.equal(summary.genesis_hash, r.out.trim());
  assert.equal(summary.quorum, 2);
  assert.deepEqual(summary.assets, ['STL']);
  const broken = JSON.parse(readFileSync(out, 'utf8'));
  broken.validators[1].public_key = 'zz';
  writeFileSync(join(dir, 'bad.json'), JSON.stringify(broken));
  const bad = stele('genesis', 'check', join(dir, 'bad.json'), '--json');
  assert.equal(bad.code, 2);
  assert.equal(JSON.parse(bad.out).error.code, 'GENESIS_INVALID');
  assert.match(JSON.parse(bad.out).error.message, /validators\[1\]\.public_key/);
  broken.validators[1].public_key = JSON.parse(readFileSync(out, 'utf8')).validators[1].public_key;
  broken.validatorz = [];
  writeFileSync(join(dir, 'bad.json'), JSON.stringify(broken));
  assert.match(stele('genesis', 'check', join(dir, 'bad.json')).err, /validatorz: unknown field/);
  writeFileSync(join(dir, 'bad.json'), '{"stele_genesis": 1,');
  assert.match(stele('genesis', 'check', join(dir, 'bad.json')).err, /not JSON/);
});

test('demo builds a real chain; audit passes it (0) and fails a tampered copy (1) naming the block', () => {
  const demoDir = join(dir, 'demo');
  const demo = stele('demo', '--dir', demoDir, '--json');
  assert.equal(demo.code, 0, demo.err);
  const result = JSON.parse(demo.out);
  assert.equal(result.height, 3);
  assert.deepEqual(result.balances, { alice: '925', bob: '475', carol: '100' });
  assert.deepEqual(result.blocks[2].refused, ['TX_INSUFFICIENT_BALANCE', 'TX_DUPLICATE', 'TX_MISSING_ROLE']);

  const genesis = join(demoDir, 'genesis.json');
  const ok = stele('audit', '--genesis', genesis, '--data', demoDir, '--json');
  assert.equal(ok.code, 0, ok.err);
  const report = JSON.parse(ok.out);
  assert.deepEqual(Object.keys(report).sort(), ['chain_id', 'failure', 'genesis_hash', 'height', 'ok', 'seconds', 'state_hash', 'torn_tail_bytes', 'transactions', 'verifier'].sort());
  assert.equal(report.ok, true);
  assert.equal(report.height, 3);
  const reference = JSON.parse(stele('audit', '--genesis', genesis, '--data', demoDir, '--json', '--reference').out);
  assert.equal(reference.state_hash, report.state_hash);

  const tampered = stele('audit', '--genesis', genesis, '--data', join(demoDir, 'tampered'), '--json');
  assert.equal(tampered.code, 1);
  assert.deepEqual([JSON.parse(tampered.out).failure.height, JSON.parse(tampered.out).failure.code], [2, 'BLOCK_BAD_MERKLE_ROOT']);

  // A bit flip that the log's checksum catches: audit names that block too.
  const flipped = join(dir, 'flipped');
  mkdirSync(flipped);
  copyFileSync(join(demoDir, 'blocks.log'), join(flipped, 'blocks.log'));
  const bytes = readFileSync(join(flipped, 'blocks.log'));
  const before = statSync(join(flipped, 'blocks.log')).size;
  bytes[40] = (bytes[40] as number) ^ 0x40; // inside block 1
  writeFileSync(join(flipped, 'blocks.log'), bytes);
  const corrupt = stele('audit', '--genesis', genesis, '--data', flipped);
  assert.equal(corrupt.code, 1);
  assert.match(corrupt.out, /FAILED at block 1: STORE_CORRUPT/);
  assert.equal(statSync(join(flipped, 'blocks.log')).size, before, 'audit never modifies the data');

  assert.equal(stele('audit', '--genesis', genesis).code, 2);
  assert.equal(stele('audit', '--genesis', genesis, '--data', join(dir, 'nowhere')).code, 2);
  // The demo refuses to wipe a directory it did not make.
  writeFileSync(join(dir, 'precious.txt'), 'keep');
  assert.equal(stele('demo', '--dir', dir).code, 2);
  assert.equal(readFileSync(join(dir, 'precious.txt'), 'utf8'), 'keep');
});
