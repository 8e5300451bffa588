/**
 * `stele audit` on damage found while opening a chain (a data directory's segments, a chain
 * file's framing): the blocks before the damage are verified, and the first bad block is
 * named, whether it is the damage or a block before it. Found in a review of 2026-11-30.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withCertificate, type Block } from '../../ledger/block.js';
import { writeChainFile } from '../../ledger/chain-file.js';
import { genesisToJson } from '../../ledger/genesis.js';
import { genesisState } from '../../ledger/machine.js';
import { toHex } from '../../ledger/assert.js';
import { MappedBlockLog, MappedLog } from '../../native/mapped-log.js';
import { chain, makeChain } from '../support/fixtures.js';

const bin = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
const SEGMENT = 64 * 1024;

interface Report {
  valid: boolean;
  height: number;
  blocks: number;
  first_error: { height: number; code: string; message: string } | null;
  state_hash: string | null;
}

const dir = mkdtempSync(join(tmpdir(), 'stele-audit-damage-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const genesis = join(dir, 'genesis.json');
writeFileSync(genesis, JSON.stringify(genesisToJson(chain.genesis)));
// 24 blocks of 30 transactions: several 64 KiB segments of a few blocks each.
const { blocks } = makeChain(24, 30);

function audit(...args: string[]): { code: number | null; report: Report; err: string } {
  const r = spawnSync(process.execPath, [bin, 'audit', '--genesis', genesis, '--json', ...args], { encoding: 'utf8', timeout: 120_000, killSignal: 'SIGKILL' });
  return { code: r.status, report: JSON.parse(r.stdout) as Report, err: r.stderr };
}

/** Block 5 with one vote of its certificate forged: the same hash, so the chain still links. */
function forgedFifth(): Block[] {
  const fifth = blocks[4]!;
  const vote = fifth.certificate[0]!;
  const signature = Uint8Array.from(vote.signature);
  signature[3] = (signature[3] as number) ^ 1;
  return blocks.map((b, i) => (i === 4 ? withCertificate(fifth, [{ validator: vote.validator, signature }, ...fifth.certificate.slice(1)]) : b));
}

function segmentPath(data: string, index: number): string {
  return join(data, 'blocks', `${String(index).padStart(10, '0')}.seg`);
}

async function dataDir(name: string, list: readonly Block[]): Promise<string> {
  const data = join(dir, name);
  mkdirSync(data);
  const log = MappedBlockLog.open(join(data, 'blocks'), { segmentBytes: SEGMENT });
  for (const b of list) log.append(b.bytes);
  await log.sync();
  await log.close();
  return data;
}

test('audit --data: a missing segment or a bad segment header is invalid at the first block it affects, after the blocks before it are verified', async () => {
  const good = await dataDir('good', blocks);
  // The number of segment k's first record is in its header (u64 at byte 24).
  const first = (data: string, k: number) => Number(readFileSync(segmentPath(data, k)).readBigUInt64LE(24));
  const first1 = first(good, 1);
  assert.ok(first1 > 5 && first(good, 2) > first1, `segment 1 starts at record ${first1}`);
  const whole = audit('--data', good);
  assert.equal(whole.code, 0, whole.err);
  assert.equal(whole.report.height, 24);

  // Segments 0 and 2, no segment 1: blocks 1..first1 are intact and verified.
  const second = readFileSync(segmentPath(good, 1));
  rmSync(segmentPath(good, 1));
  const missing = audit('--data', good);
  assert.equal(missing.code, 1, missing.err);
  assert.deepEqual([missing.report.valid, missing.report.height, missing.report.blocks], [false, first1, first1]);
  assert.deepEqual([missing.report.first_error?.height, missing.report.first_error?.code], [first1 + 1, 'STORE_CORRUPT']);
  assert.match(missing.report.first_error!.message, /segment 1 is missing/);
  writeFileSync(segmentPath(good, 1), second);

  // A bad header in segment 1: the same, the header named.
  const header = Buffer.from(second);
  header[16] = (header[16] as number) ^ 1; // the segment index: the header checksum fails
  writeFileSync(segmentPath(good, 1), header);
  const damaged = audit('--data', good);
  assert.equal(damaged.code, 1, damaged.err);
  assert.deepEqual([damaged.report.height, damaged.report.first_error?.height, damaged.report.first_error?.code], [first1, first1 + 1, 'STORE_CORRUPT']);
  assert.match(damaged.report.first_error!.message, /0000000001\.seg, byte 0: segment header checksum mismatch/);

  // With a forged vote in block 5 of segment 0 as well, block 5 is the first bad block.
  const forged = await dataDir('forged', forgedFifth());
  writeFileSync(segmentPath(forged, 1), header);
  const hidden = audit('--data', forged);
  assert.equal(hidden.code, 1, hidden.err);
  assert.deepEqual([hidden.report.height, hidden.report.first_error?.height, hidden.report.first_error?.code], [4, 5, 'BLOCK_BAD_CERTIFICATE']);
  rmSync(segmentPath(forged, 1));
  assert.deepEqual(audit('--data', forged).report.first_error?.height, 5);
  // Damage at block 1: nothing verified, the genesis state.
  rmSync(segmentPath(forged, 0));
  const none = audit('--data', forged);
  assert.deepEqual([none.code, none.report.height, none.report.first_error?.height, none.report.state_hash], [1, 0, 1, toHex(genesisState(chain.genesis).stateHash)]);
});

test('audit FILE: a framing error after the header is invalid at the first block it touches, after the blocks before it are verified', async () => {
  const path = join(dir, 'chain.stele');
  await writeChainFile(path, blocks.map((b) => b.bytes), false);
  const original = readFileSync(path);
  const whole = audit(path);
  assert.equal(whole.code, 0, whole.err);
  const copy = join(dir, 'copy.stele');
  const check = (bytes: Uint8Array, expected: { height: number; error: number; code: string; message: RegExp }) => {
    writeFileSync(copy, bytes);
    const r = audit(copy);
    assert.equal(r.code, 1, r.err);
    assert.deepEqual([r.report.valid, r.report.height, r.report.first_error?.height, r.report.first_error?.code], [false, expected.height, expected.error, expected.code], String(expected.message));
    assert.match(r.report.first_error!.message, expected.message);
    return r.report;
  };
  // Bytes after the last block: every block verified, the state hash is the chain's.
  const trailing = check(Buffer.concat([original, Buffer.of(1, 2, 3)]), { height: 24, error: 25, code: 'CHAIN_FILE_INVALID', message: /3 bytes after the last block/ });
  assert.equal(trailing.state_hash, whole.report.state_hash);
  assert.equal(trailing.blocks, 24);
  // A header that counts more blocks than the file holds, and a last frame cut short.
  const counted = Buffer.from(original);
  counted.writeBigUInt64BE(30n, 44);
  check(counted, { height: 24, error: 25, code: 'CHAIN_FILE_INVALID', message: /the header counts 30 blocks; the file ends after block 24/ });
  check(original.subarray(0, original.length - 10), { height: 23, error: 24, code: 'CHAIN_FILE_INVALID', message: /block 24: \d+ bytes run past the end of the file/ });
  // A forged vote in block 5 before the framing error: block 5 is named.
  const forgedPath = join(dir, 'forged.stele');
  await writeChainFile(forgedPath, forgedFifth().map((b) => b.bytes), false);
  check(Buffer.concat([readFileSync(forgedPath), Buffer.of(0)]), { height: 4, error: 5, code: 'BLOCK_BAD_CERTIFICATE', message: /block 5/ });
  // A bad header is still refused at block 1 (nothing before it to verify).
  const magic = Buffer.from(original);
  magic[0] = 0x58;
  const header = check(magic, { height: 0, error: 1, code: 'CHAIN_FILE_INVALID', message: /bad magic/ });
  // At height 0 the state is the genesis state, as for a data directory damaged at block 1
  // (it printed null; found in review, 2026-11-30).
  assert.equal(header.state_hash, toHex(genesisState(chain.genesis).stateHash));
  const text = spawnSync(process.execPath, [bin, 'audit', copy, '--genesis', genesis], { encoding: 'utf8' });
  assert.equal(text.status, 1);
  assert.match(text.stdout, /^INVALID at block 1: CHAIN_FILE_INVALID: .*bad magic/);
});

test('audit --data: a short record before the last in the mapped log is STORE_CORRUPT at its block, so tiny records are never indexed by the million', async () => {
  const data = join(dir, 'tiny');
  mkdirSync(data);
  const log = MappedLog.open(join(data, 'blocks'), { segmentBytes: SEGMENT });
  log.append(blocks[0]!.bytes);
  for (let i = 0; i < 1000; i++) log.append(new Uint8Array(0)); // 8-byte frames with a correct checksum
  log.append(blocks[1]!.bytes);
  await log.persist();
  await log.close();
  const r = audit('--data', data);
  assert.equal(r.code, 1, r.err);
  assert.deepEqual([r.report.height, r.report.blocks, r.report.first_error?.height, r.report.first_error?.code], [1, 1, 2, 'STORE_CORRUPT']);
  assert.match(r.report.first_error!.message, /record length 0 is below 160, the smallest record/);
});
