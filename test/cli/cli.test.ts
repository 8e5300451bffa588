/** The `stele` command, run as a user would: exit codes, file modes, JSON shapes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
/** Runs the CLI; 120 s at most, so a regression that makes a command run on fails instead of hanging the suite. */
function stele(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 120_000, killSignal: 'SIGKILL' });
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

test('a key file open to other users is refused with the chmod that fixes it, before its seed is used (review, 2026-11-30)', () => {
  const path = join(dir, 'open.json');
  assert.equal(stele('keygen', '--out', path, '--force').code, 0);
  const genesis = (k: string) => stele('genesis', 'new', '--chain-id', 'perm-chain', '--time-ms', '1000', '--validator', `v1,${k},127.0.0.1:7001`, '--admin', `root,${k}`, '--out', join(dir, `perm-${Math.random().toString(36).slice(2)}.json`), '--json');
  for (const mode of [0o644, 0o640, 0o602]) {
    chmodSync(path, mode);
    const r = genesis(path);
    assert.equal(r.code, 2, r.err);
    const error = JSON.parse(r.out).error;
    assert.equal(error.code, 'CLI_IO');
    assert.equal(error.details.mode, `0${mode.toString(8)}`);
    assert.match(error.message, new RegExp(`open to other users .*chmod 600 ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  }
  chmodSync(path, 0o600);
  assert.equal(genesis(path).code, 0);
  chmodSync(path, 0o400);
  assert.equal(genesis(path).code, 0, 'read-only for its owner is fine');
});

test('help names every flag and exit code (found in review: tx --expiry-in, genesis new --time-ms and --json, exits 3, 70 and 75 were missing)', () => {
  const r = stele('help');
  assert.equal(r.code, 0);
  const flags: Record<string, string[]> = {
    keygen: ['--out', '--json', '--force'],
    'genesis new': ['--chain-id', '--validator', '--admin', '--asset', '--supply', '--time-ms', '--out', '--force', '--json'],
    'genesis check': ['--json'],
    audit: ['--data', '--url', '--genesis', '--head', '--compare', '--json', '--reference'],
    export: ['--data', '--url', '--out', '--force', '--json'],
    up: ['--nodes', '--data', '--port', '--peer-port', '--transport', '--json'],
    node: ['--config'],
    tx: ['--signer', '--url', '--wait', '--expiry-in', '--expiry', '--json'],
    demo: ['--dir', '--json'],
    lint: ['--json', '--sarif', '--max-paths', '--max-depth', '--max-horizon'],
  };
  for (const [command, list] of Object.entries(flags)) {
    const line = r.out.split('\n').find((l) => l.startsWith(`  stele ${command} `));
    assert.ok(line !== undefined, command);
    for (const flag of list) assert.match(line, new RegExp(`${flag}[ \\]|]`), `${command} ${flag}`);
  }
  assert.match(r.out, /--nodes .*must be odd/s);
  for (const code of ['0 ok', '1 the check failed', '2 usage', '3 halted', '75 disk full', '70 an internal error']) assert.ok(r.out.replace(/\s+/g, ' ').includes(code), code);
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

test('genesis: more than 7 validators is a valid encoding that no node runs: new refuses it, check says so', () => {
  const keys = Array.from({ length: 9 }, (_, i) => {
    const path = join(dir, `w${i}.json`);
    stele('keygen', '--out', path, '--force');
    return path;
  });
  const validators = keys.slice(0, 8).flatMap((k, i) => ['--validator', `v${i + 1},${k},127.0.0.1:${7101 + i}`]);
  const out = join(dir, 'genesis-8.json');
  const refused = stele('genesis', 'new', '--chain-id', 'wide', '--time-ms', '1000', ...validators, '--admin', `root,${keys[8]}`, '--out', out);
  assert.equal(refused.code, 2);
  assert.match(refused.err, /at most 7 --validator/);
  // Seven make a runnable genesis; an eighth added by hand still parses, and check warns.
  const made = stele('genesis', 'new', '--chain-id', 'wide', '--time-ms', '1000', ...validators.slice(0, 14), '--admin', `root,${keys[8]}`, '--out', out);
  assert.equal(made.code, 0, made.err);
  assert.equal(JSON.parse(stele('genesis', 'check', out, '--json').out).runnable, true);
  const wide = JSON.parse(readFileSync(out, 'utf8'));
  wide.validators.push({ id: 'v8', public_key: JSON.parse(readFileSync(keys[7]!, 'utf8')).public_key, address: '127.0.0.1:7108' });
  writeFileSync(out, JSON.stringify(wide));
  const check = stele('genesis', 'check', out, '--json');
  assert.equal(check.code, 0, check.err);
  assert.equal(JSON.parse(check.out).runnable, false);
  assert.match(stele('genesis', 'check', out).err, /warning: a node runs with 1 to 7 validators/);
});

test('demo builds a real chain; audit passes it (0) and fails a tampered copy (1) naming the block', () => {
  const demoDir = join(dir, 'demo');
  const demo = stele('demo', '--dir', demoDir, '--json');
  assert.equal(demo.code, 0, demo.err);
  const result = JSON.parse(demo.out);
  assert.equal(result.height, 3);
  assert.deepEqual(result.balances, { alice: '925', bob: '475', carol: '100' });
  assert.deepEqual(result.blocks[2].failed, ['TX_INSUFFICIENT_BALANCE', 'TX_MISSING_ROLE']);
  assert.deepEqual(result.blocks[2].refused, ['TX_DUPLICATE']);
  assert.equal(result.blocks[2].txs, 3);

  const genesis = join(demoDir, 'genesis.json');
  const ok = stele('audit', '--genesis', genesis, '--data', demoDir, '--json');
  assert.equal(ok.code, 0, ok.err);
  const report = JSON.parse(ok.out);
  assert.deepEqual(Object.keys(report).sort(), ['blocks', 'chain_id', 'compare', 'first_error', 'genesis_hash', 'height', 'seconds', 'state_hash', 'torn_tail_bytes', 'transactions', 'failed_transactions', 'valid', 'verifier'].sort());
  assert.equal(report.valid, true);
  assert.equal(report.first_error, null);
  assert.equal(report.height, 3);
  const reference = JSON.parse(stele('audit', '--genesis', genesis, '--data', demoDir, '--json', '--reference').out);
  assert.equal(reference.state_hash, report.state_hash);

  const tampered = stele('audit', '--genesis', genesis, '--data', join(demoDir, 'tampered'), '--json');
  assert.equal(tampered.code, 1);
  assert.deepEqual([JSON.parse(tampered.out).first_error.height, JSON.parse(tampered.out).first_error.code], [2, 'BLOCK_BAD_MERKLE_ROOT']);

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
  assert.match(corrupt.out, /INVALID at block 1: STORE_CORRUPT/);
  assert.equal(statSync(join(flipped, 'blocks.log')).size, before, 'audit never modifies the data');

  assert.equal(stele('audit', '--genesis', genesis).code, 2);
  assert.equal(stele('audit', '--genesis', genesis, '--data', join(dir, 'nowhere')).code, 2);
  // The demo refuses to wipe a directory it did not make.
  writeFileSync(join(dir, 'precious.txt'), 'keep');
  assert.equal(stele('demo', '--dir', dir).code, 2);
  assert.equal(readFileSync(join(dir, 'precious.txt'), 'utf8'), 'keep');
});

test('demo, found in review: a --dir under a file, or that is a file, is CLI_IO naming it (exit 2), never an internal error', () => {
  const file = join(dir, 'afile');
  writeFileSync(file, 'keep');
  for (const target of [join(file, 'sub'), file]) {
    const text = stele('demo', '--dir', target);
    assert.equal(text.code, 2, text.err);
    assert.doesNotMatch(text.err, /internal error|\n    at /);
    assert.match(text.err, new RegExp(`CLI_IO: cannot use ${target}: ENOTDIR`));
    const json = stele('demo', '--dir', target, '--json');
    assert.equal(json.code, 2, json.err);
    assert.equal(JSON.parse(json.out).error.code, 'CLI_IO');
  }
  assert.equal(readFileSync(file, 'utf8'), 'keep');
});

test('audit --data, found in review (2026-11-30): a raised length in a plain log, a damaged segment header and two block logs are never "valid"', async () => {
  const demoDir = join(dir, 'demo-review');
  assert.equal(stele('demo', '--dir', demoDir).code, 0);
  const genesis = join(demoDir, 'genesis.json');
  const auditJson = (data: string) => {
    const r = stele('audit', '--genesis', genesis, '--data', data, '--json');
    return { code: r.code, report: JSON.parse(r.out) as { valid: boolean; height: number; first_error: { height: number; code: string } | null }, err: r.err };
  };
  // A length field raised so that block 2's frame runs past the end of the file: the plain
  // log cannot tell that from a torn tail, so the audit no longer reports block 1 as the
  // whole, valid chain.
  const raised = join(dir, 'raised');
  mkdirSync(raised);
  const log = readFileSync(join(demoDir, 'blocks.log'));
  const second = 16 + 8 + log.readUInt32BE(16);
  log.writeUInt32BE(log.readUInt32BE(second) + (1 << 20), second);
  writeFileSync(join(raised, 'blocks.log'), log);
  const r1 = auditJson(raised);
  assert.equal(r1.code, 1, r1.err);
  assert.equal(r1.report.valid, false);
  assert.deepEqual([r1.report.first_error?.height, r1.report.first_error?.code], [2, 'STORE_CORRUPT']);

  // The same chain in a mapped log (as validators keep it) audits valid; with a segment
  // header damaged it is INVALID at its first block (exit 1), not an I/O error (exit 2).
  const { FileBlockLog } = await import('../../ledger/block-log.js');
  const { MappedBlockLog } = await import('../../native/mapped-log.js');
  const mappedDir = join(dir, 'mapped');
  mkdirSync(mappedDir);
  const plain = FileBlockLog.open(join(demoDir, 'blocks.log'), { readOnly: true });
  const mapped = MappedBlockLog.open(join(mappedDir, 'blocks'));
  for (let i = 0; i < plain.length; i++) mapped.append(plain.read(i));
  await mapped.sync();
  await mapped.close();
  await plain.close();
  const r2 = auditJson(mappedDir);
  assert.equal(r2.code, 0, r2.err);
  assert.equal(r2.report.height, 3);
  const segment = join(mappedDir, 'blocks', readdirSync(join(mappedDir, 'blocks')).find((f) => f.endsWith('.seg'))!);
  const bytes = readFileSync(segment);
  bytes[20] = (bytes[20] as number) ^ 0x01; // the header's segment index: its checksum no longer matches
  writeFileSync(segment, bytes);
  const r3 = auditJson(mappedDir);
  assert.equal(r3.code, 1, r3.err);
  assert.deepEqual([r3.report.first_error?.height, r3.report.first_error?.code], [1, 'STORE_CORRUPT']);

  // blocks.log beside blocks/: which one is the node's is not for the audit to guess.
  copyFileSync(join(demoDir, 'blocks.log'), join(mappedDir, 'blocks.log'));
  const both = stele('audit', '--genesis', genesis, '--data', mappedDir);
  assert.equal(both.code, 2);
  assert.match(both.err, /two block logs/);
});

test('export and audit a chain file: bit flips, deleted, duplicated and swapped blocks, and a forged truncation caught by --head', () => {
  const demoDir = join(dir, 'demo-export');
  assert.equal(stele('demo', '--dir', demoDir).code, 0);
  const genesis = join(demoDir, 'genesis.json');
  const file = join(dir, 'chain.stele');
  const exported = stele('export', '--data', demoDir, '--out', file, '--json');
  assert.equal(exported.code, 0, exported.err);
  const { blocks, head } = JSON.parse(exported.out) as { blocks: number; head: string };
  assert.equal(blocks, 3);
  assert.equal(stele('export', '--data', demoDir, '--out', file).code, 2, 'no overwrite without --force');
  const ok = JSON.parse(stele('audit', file, '--genesis', genesis, '--head', head, '--json').out);
  assert.equal(ok.valid, true);
  assert.equal(ok.height, 3);

  const original = readFileSync(file);
  const audit = (bytes: Uint8Array, ...extra: string[]): { code: number; report: { valid: boolean; first_error: { height: number; code: string } | null } } => {
    const copy = join(dir, 'copy.stele');
    writeFileSync(copy, bytes);
    const r = stele('audit', copy, '--genesis', genesis, '--json', ...extra);
    return { code: r.code ?? -1, report: JSON.parse(r.out) };
  };
  // Single bit flips anywhere in the file: every copy is refused.
  let state = 12345;
  for (let k = 0; k < 40; k++) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const flipped = Buffer.from(original);
    const at = state % flipped.length;
    flipped[at] = (flipped[at] as number) ^ (1 << (state % 8));
    const r = audit(flipped);
    assert.equal(r.code, 1, `flip at byte ${at}`);
    assert.equal(r.report.valid, false);
  }
  // Rebuild files from the frames to delete, duplicate and swap blocks.
  const frames: Buffer[] = [];
  let at = 52;
  while (at < original.length) {
    const length = original.readUInt32BE(at);
    frames.push(original.subarray(at, at + 4 + length));
    at += 4 + length;
  }
  const withFrames = (list: Buffer[]): Buffer => {
    const headBytes = Buffer.from(original.subarray(0, 52));
    headBytes.writeBigUInt64BE(BigInt(list.length), 44);
    return Buffer.concat([headBytes, ...list]);
  };
  const deleted = audit(withFrames([frames[0]!, frames[2]!]));
  assert.deepEqual([deleted.code, deleted.report.first_error?.height, deleted.report.first_error?.code], [1, 2, 'BLOCK_BAD_HEIGHT']);
  const duplicated = audit(withFrames([frames[0]!, frames[1]!, frames[1]!, frames[2]!]));
  assert.deepEqual([duplicated.code, duplicated.report.first_error?.height], [1, 3]);
  const swapped = audit(withFrames([frames[0]!, frames[2]!, frames[1]!]));
  assert.deepEqual([swapped.code, swapped.report.first_error?.height], [1, 2]);
  // A truncation is a valid prefix on its own; --head with the real head catches it.
  const truncated = withFrames(frames.slice(0, 2));
  assert.equal(audit(truncated).report.valid, true);
  const caught = audit(truncated, '--head', head);
  assert.deepEqual([caught.code, caught.report.first_error?.code, caught.report.first_error?.height], [1, 'AUDIT_HEAD_MISMATCH', 3]);
  // A file of another chain, and usage errors.
  assert.equal(stele('audit', '--genesis', genesis).code, 2);
  assert.equal(stele('audit', file, '--data', demoDir, '--genesis', genesis).code, 2);
  assert.equal(stele('audit', file, '--genesis', genesis, '--head', 'zz').code, 2);
});

test('files that are not what they should be are refused with CLI_IO, never read whole or crashed on', () => {
  const [v, admin] = ['x1', 'x2'].map((n) => {
    const path = join(dir, `${n}.json`);
    stele('keygen', '--out', path, '--force');
    return path;
  });
  const genesis = join(dir, 'genesis-x.json');
  assert.equal(stele('genesis', 'new', '--chain-id', 'files', '--time-ms', '1', '--validator', `v1,${v},127.0.0.1:7201`, '--admin', `root,${admin}`, '--out', genesis, '--force').code, 0);
  // A device is no file to read (since the review of 2026-12-01; /dev/zero was read up to the bound).
  const zero = stele('genesis', 'check', '/dev/zero');
  assert.equal(zero.code, 2);
  assert.match(zero.err, /CLI_IO: cannot read \/dev\/zero: not a regular file, a character device$/m);
  const folder = join(dir, 'a-folder');
  mkdirSync(folder, { recursive: true });
  assert.match(stele('genesis', 'check', folder).err, /CLI_IO: cannot read .*: EISDIR/);
  const audit = stele('audit', folder, '--genesis', genesis);
  assert.equal(audit.code, 2, audit.err);
  assert.match(audit.err, /CLI_IO: cannot read .*: not a regular file/);
});

test('up refuses REST API ports that overlap the validators\' transport ports, before making anything', () => {
  const data = join(dir, 'up-overlap');
  const r = stele('up', '--port', '7101', '--peer-port', '7100', '--data', data);
  assert.equal(r.code, 2);
  assert.match(r.err, /CLI_USAGE: --port 7101\.\.7103 \(the REST APIs\) overlaps --peer-port 7100\.\.7102/);
  assert.throws(() => statSync(data), /ENOENT/);
});

test('keygen --force over an existing world-readable file leaves a 0600 key and no temporary file behind', () => {
  const folder = join(dir, 'rekey');
  mkdirSync(folder, { recursive: true });
  const path = join(folder, 'k.json');
  writeFileSync(path, 'old', { mode: 0o644 });
  chmodSync(path, 0o644);
  const r = stele('keygen', '--out', path, '--force');
  assert.equal(r.code, 0, r.err);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).public_key, r.out.trim());
  assert.deepEqual(readdirSync(folder), ['k.json']);
  // Without --force nothing is replaced and nothing is left over either.
  assert.equal(stele('keygen', '--out', path).code, 2);
  assert.deepEqual(readdirSync(folder), ['k.json']);
  assert.equal(stele('keygen', '--out', join(folder, 'missing-dir-is-made', 'k.json')).code, 0);
});

test('numbers on the command line are decimal digits only: 0x10, +5, 1e3, " 5 " and "" are usage errors', () => {
  const [v, admin] = ['n1', 'n2'].map((n) => {
    const path = join(dir, `${n}.json`);
    stele('keygen', '--out', path, '--force');
    return path;
  });
  const genesis = join(dir, 'genesis-n.json');
  const genesisNew = (time: string) =>
    stele('genesis', 'new', '--chain-id', 'numbers', '--time-ms', time, '--validator', `v1,${v},127.0.0.1:7301`, '--admin', `root,${admin}`, '--out', genesis, '--force', '--json');
  assert.equal(genesisNew('1000').code, 0);
  const bad = ['0x10', '+5', '1e3', ' 5 ', '', '-1', '1.5'];
  for (const text of bad) {
    const r = genesisNew(text);
    assert.equal(r.code, 2, `--time-ms ${JSON.stringify(text)}`);
    assert.equal(JSON.parse(r.out).error.code, 'CLI_USAGE', `--time-ms ${JSON.stringify(text)}`);
  }
  const data = join(dir, 'up-numbers');
  for (const flag of ['--nodes', '--port', '--peer-port']) {
    for (const text of bad) {
      // Ports far from the defaults: were a bad number taken, a cluster started here would
      // not collide with anything else on the machine.
      const ports = flag === '--nodes' ? ['--port', '47180', '--peer-port', '47190'] : [];
      const r = stele('up', '--data', data, ...ports, flag, text, '--json');
      assert.equal(r.code, 2, `${flag} ${JSON.stringify(text)}`);
      assert.equal(JSON.parse(r.out).error.code, 'CLI_USAGE', `${flag} ${JSON.stringify(text)}`);
    }
  }
  assert.throws(() => statSync(data), /ENOENT/, 'nothing made');
  const hex = JSON.parse(readFileSync(admin!, 'utf8')).public_key as string;
  for (const text of [...bad, '0', '1000001']) {
    // Refused before any request: the URL names no server.
    const r = stele('tx', 'transfer', '--to', hex, '--amount', '1', '--asset', 'STL', '--signer', admin!, '--url', 'http://127.0.0.1:9', '--expiry-in', text, '--json');
    assert.equal(r.code, 2, `--expiry-in ${JSON.stringify(text)}`);
    assert.equal(JSON.parse(r.out).error.code, 'CLI_USAGE', `--expiry-in ${JSON.stringify(text)}`);
  }
});

test('genesis new refuses validator addresses the transport would refuse', () => {
  const [v, admin] = ['a1', 'a2'].map((n) => {
    const path = join(dir, `${n}.json`);
    stele('keygen', '--out', path, '--force');
    return path;
  });
  for (const address of ['[::1]:7000', '127.0.0.1:65536', '127.0.0.1:99999', 'host', 'host:', ':7000', 'a_b:7000']) {
    const r = stele('genesis', 'new', '--chain-id', 'addresses', '--validator', `v1,${v},${address}`, '--admin', `root,${admin}`, '--out', join(dir, 'genesis-a.json'), '--force', '--json');
    assert.equal(r.code, 2, address);
    const error = JSON.parse(r.out).error;
    assert.equal(error.code, 'GENESIS_INVALID', address);
    assert.match(error.message, /validators\[0\]\.address/);
  }
  assert.equal(stele('genesis', 'new', '--chain-id', 'addresses', '--validator', `v1,${v},node-1.example:65535`, '--admin', `root,${admin}`, '--out', join(dir, 'genesis-a.json'), '--force').code, 0);
  // Port 0 (any free port): a lone validator may have it; with peers, who dial it, genesis
  // new refuses it (review of 2026-12-02), while a file that has it still reads (its chain
  // stays auditable).
  const v2 = join(dir, 'a3.json');
  stele('keygen', '--out', v2, '--force');
  assert.equal(stele('genesis', 'new', '--chain-id', 'addresses', '--validator', `v1,${v},127.0.0.1:0`, '--admin', `root,${admin}`, '--out', join(dir, 'genesis-a.json'), '--force').code, 0);
  const two = ['genesis', 'new', '--chain-id', 'addresses', '--validator', `v1,${v},127.0.0.1:7000`, '--validator', `v2,${v2},127.0.0.1:0`, '--admin', `root,${admin}`, '--out', join(dir, 'genesis-0.json'), '--force', '--json'];
  const refused = stele(...two);
  assert.equal(refused.code, 2);
  assert.match(JSON.parse(refused.out).error.message, /--validator v2: port 0 \(any free port\) only for a lone validator/);
  assert.equal(existsSync(join(dir, 'genesis-0.json')), false, 'nothing written');
  const json = JSON.parse(readFileSync(join(dir, 'genesis-a.json'), 'utf8')) as { validators: Array<Record<string, string>> };
  json.validators.push({ id: 'v2', public_key: JSON.parse(readFileSync(v2, 'utf8')).public_key, address: '127.0.0.1:7001' });
  json.validators[0]!.address = '127.0.0.1:0';
  writeFileSync(join(dir, 'genesis-0.json'), JSON.stringify(json));
  assert.equal(stele('genesis', 'check', join(dir, 'genesis-0.json')).code, 0, 'an existing genesis with port 0 still reads');
});

test('tx --blob and lint refuse what is not a regular file of bounded size, without reading it whole', () => {
  const key = join(dir, 'blob.key');
  stele('keygen', '--out', key, '--force');
  for (const blob of ['/dev/zero', dir]) {
    const r = spawnSync(process.execPath, [bin, 'tx', 'put', '--key', 'doc', '--blob', blob, '--signer', key, '--url', 'http://127.0.0.1:9', '--json'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 2, `${blob}: ${r.stderr}`);
    assert.deepEqual(JSON.parse(r.stdout).error.code, 'CLI_IO');
    assert.match(JSON.parse(r.stdout).error.message, /not a regular file|EISDIR/);
  }
  const lint = spawnSync(process.execPath, [bin, 'lint', '/dev/zero'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(lint.status, 2, lint.stderr);
  assert.match(lint.stderr, /CLI_IO: cannot read \/dev\/zero: not a regular file, a character device$/m);
});

test('lint, found in review: the files together are bounded (64 MiB), not only each file; past it CLI_IO, exit 2', () => {
  const folder = join(dir, 'lint-total');
  mkdirSync(folder, { recursive: true });
  // Five sparse files of 16 MiB (each at the per-file bound): the fifth passes 64 MiB.
  const files = Array.from({ length: 5 }, (_, i) => {
    const path = join(folder, `big${i}.scl`);
    writeFileSync(path, '');
    truncateSync(path, 16 * 1024 * 1024);
    return path;
  });
  const r = spawnSync(process.execPath, [bin, 'lint', '--json', ...files], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 2, r.stderr);
  const error = JSON.parse(r.stdout).error;
  assert.equal(error.code, 'CLI_IO');
  assert.match(error.message, /more than 67108864 bytes together \(passed at .*big4\.scl\)/);
  rmSync(folder, { recursive: true, force: true });
});

test('a chain file of zero-length (or too short) frames is CHAIN_FILE_INVALID, not an allocation per frame', () => {
  const demoDir = join(dir, 'demo-frames');
  assert.equal(stele('demo', '--dir', demoDir).code, 0);
  const genesis = join(demoDir, 'genesis.json');
  const file = join(dir, 'frames.stele');
  assert.equal(stele('export', '--data', demoDir, '--out', file).code, 0);
  const head = readFileSync(file).subarray(0, 52);
  // A million empty frames; then one short frame followed by one long enough for the count to fit.
  for (const lengths of [Array.from({ length: 1_000_000 }, () => 0), [0, 400], [159, 400]]) {
    const bytes = Buffer.alloc(52 + lengths.reduce((n, l) => n + 4 + l, 0));
    head.copy(bytes);
    bytes.writeBigUInt64BE(BigInt(lengths.length), 44);
    let at = 52;
    for (const length of lengths) {
      bytes.writeUInt32BE(length, at);
      at += 4 + length;
    }
    const copy = join(dir, 'frames-copy.stele');
    writeFileSync(copy, bytes);
    const r = stele('audit', copy, '--genesis', genesis, '--json');
    assert.equal(r.code, 1, r.err);
    const report = JSON.parse(r.out);
    assert.equal(report.first_error.code, 'CHAIN_FILE_INVALID');
    // The walk of the frames stops at the first short one (since the review of 2026-11-30 the
    // frames before a framing error are verified; a count of a million no longer needs its
    // own check, as every frame kept takes at least 164 bytes of the file).
    assert.deepEqual([report.height, report.first_error.height], [0, 1]);
    assert.match(report.first_error.message, /block 1: length \d+ is below 160/);
  }
});

test('a flag that is not repeatable, given twice, is CLI_USAGE naming it in every command, nothing done (parseArgs kept the last; review, 2026-12-01)', () => {
  const folder = join(dir, 'twice');
  mkdirSync(folder, { recursive: true });
  const [a, b] = [join(folder, 'a.json'), join(folder, 'b.json')];
  const key = join(dir, 'twice.key');
  assert.equal(stele('keygen', '--out', key, '--force').code, 0);
  const genesis = (...extra: string[]) => ['genesis', 'new', '--chain-id', 'twice', '--time-ms', '1', '--validator', `v1,${key},127.0.0.1:7401`, '--admin', `root,${key}`, '--asset', 'STL', ...extra];
  const cases: Array<[string[], string]> = [
    [['keygen', '--out', a, '--out', b], '--out'],
    [genesis('--out', a, '--out', b), '--out'],
    [genesis('--chain-id', 'other', '--out', a), '--chain-id'],
    [genesis('--supply', '5', '--supply', '500', '--out', a), '--supply'],
    [['genesis', 'check', a, '--json', '--json'], '--json'],
    [['export', '--url', 'http://127.0.0.1:9', '--url', 'http://127.0.0.1:10', '--out', a], '--url'],
    [['export', '--data', folder, '--out', a, '--out', b], '--out'],
    [['node', '--config', a, '--config', b], '--config'],
    [['audit', a, '--genesis', a, '--genesis', b], '--genesis'],
    [['lint', '--max-paths', '5', '--max-paths', '6', a], '--max-paths'],
    [['demo', '--dir', join(folder, 'd1'), '--dir', join(folder, 'd2')], '--dir'],
    [['up', '--data', join(folder, 'up'), '--port', '47280', '--port', '47290'], '--port'],
  ];
  for (const [args, flag] of cases) {
    const r = stele(...args, '--json');
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    const error = JSON.parse(r.out).error;
    assert.equal(error.code, 'CLI_USAGE', args.join(' '));
    assert.match(error.message, new RegExp(`^CLI_USAGE: ${flag} is given more than once`), args.join(' '));
  }
  assert.deepEqual(readdirSync(folder), [], 'nothing written');
  // Repeatable flags stay repeatable, and a word that is no flag's value is named.
  assert.equal(stele(...genesis('--asset', 'USD', '--out', a)).code, 0);
  const stray = stele('keygen', '--out', b, 'extra', '--json');
  assert.equal(stray.code, 2);
  assert.match(JSON.parse(stray.out).error.message, /^CLI_USAGE: keygen takes no argument "extra"/);
});

test('export --url is checked as audit checks it: a #fragment or ?query is CLI_USAGE (review, 2026-12-01)', () => {
  for (const url of ['http://127.0.0.1:9/#x', 'http://127.0.0.1:9?a=1', 'file:///etc/passwd']) {
    const r = stele('export', '--url', url, '--out', join(dir, 'never.stele'), '--json');
    assert.equal(r.code, 2, url);
    assert.equal(JSON.parse(r.out).error.code, 'CLI_USAGE', url);
    assert.match(JSON.parse(r.out).error.message, /--url expects a node's base URL/);
  }
});

test('stele without a command writes the help to stderr (a usage error, exit 2); asked for, to stdout, exit 0 (review, 2026-12-01)', () => {
  const bare = stele();
  assert.equal(bare.code, 2);
  assert.equal(bare.out, '');
  assert.match(bare.err, /^stele: a permissioned ledger/);
  assert.match(bare.err, /Exit codes:/);
  for (const ask of ['help', '--help', '-h']) {
    const r = stele(ask);
    assert.equal(r.code, 0, ask);
    assert.equal(r.err, '', ask);
    assert.equal(r.out, bare.err, ask);
  }
});

test('demo run again removes only what it wrote; a demo directory holding anything else is refused and left whole (review, 2026-12-01)', () => {
  const demoDir = join(dir, 'demo-again');
  assert.equal(stele('demo', '--dir', demoDir).code, 0);
  const layout = (): string[] => {
    const list = (sub: string): string[] => readdirSync(join(demoDir, sub)).map((n) => join(sub, n));
    return [...list('.'), ...list('keys'), ...list('tampered')].filter((p) => !p.startsWith('index/')).sort();
  };
  const made = layout();
  // A clean rerun works, with the same layout.
  assert.equal(stele('demo', '--dir', demoDir).code, 0);
  assert.deepEqual(layout(), made);
  for (const extra of ['notes.txt', join('keys', 'mine.json'), join('tampered', 'x'), join('index', 'README')]) {
    writeFileSync(join(demoDir, extra), 'keep');
    const genesisBefore = readFileSync(join(demoDir, 'genesis.json'), 'utf8');
    const r = stele('demo', '--dir', demoDir, '--json');
    assert.equal(r.code, 2, `${extra}: ${r.err}`);
    const error = JSON.parse(r.out).error;
    assert.equal(error.code, 'CLI_USAGE');
    assert.match(error.message, new RegExp(`holds what the demo does not write \\(${extra.replace('.', '\\.')}\\); nothing was removed`));
    assert.equal(readFileSync(join(demoDir, extra), 'utf8'), 'keep');
    assert.equal(readFileSync(join(demoDir, 'genesis.json'), 'utf8'), genesisBefore, 'the demo\'s own files are left too');
    rmSync(join(demoDir, extra));
  }
  // One of its names as another type (a directory named genesis.json) is not the demo's either.
  rmSync(join(demoDir, 'genesis.json'));
  mkdirSync(join(demoDir, 'genesis.json'));
  writeFileSync(join(demoDir, 'genesis.json', 'mine'), 'keep');
  assert.equal(stele('demo', '--dir', demoDir).code, 2);
  assert.equal(readFileSync(join(demoDir, 'genesis.json', 'mine'), 'utf8'), 'keep');
});

test('a FIFO named as a file is refused as not a regular file, never opened blocking (every command hung on one; review, 2026-12-01)', () => {
  const folder = join(dir, 'fifo');
  mkdirSync(folder, { recursive: true });
  const fifo = join(folder, 'pipe');
  assert.equal(spawnSync('mkfifo', ['-m', '0600', fifo]).status, 0);
  const key = join(folder, 'k.json');
  assert.equal(stele('keygen', '--out', key).code, 0);
  const genesis = join(folder, 'genesis.json');
  assert.equal(stele('genesis', 'new', '--chain-id', 'fifo', '--time-ms', '1', '--validator', `v1,${key},127.0.0.1:7501`, '--admin', `root,${key}`, '--out', genesis).code, 0);
  const url = ['--url', 'http://127.0.0.1:9'];
  const cases = [
    ['tx', 'put', '--key', 'k', '--blob', fifo, '--signer', key, ...url],
    ['tx', 'deploy', fifo, '--signer', key, ...url],
    ['tx', 'revoke', '--pubkey', '00'.repeat(32), '--signer', fifo, ...url],
    ['genesis', 'check', fifo],
    ['genesis', 'new', '--chain-id', 'fifo', '--validator', `v1,${fifo},127.0.0.1:7501`, '--admin', `root,${key}`, '--out', join(folder, 'g2.json')],
    ['lint', fifo],
    ['node', '--config', fifo],
    ['audit', fifo, '--genesis', genesis],
    ['audit', '--data', folder, '--genesis', fifo],
  ];
  for (const args of cases) {
    // The refusal takes a start of node (seconds on a loaded machine: 8 s was close, review
    // of 2026-12-02); a blocked open takes forever.
    const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
    assert.equal(r.signal, null, `${args.join(' ')} hung`);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr, `stele: CLI_IO: cannot read ${fifo}: not a regular file, a FIFO (named pipe)\n`, args.join(' '));
  }
});
