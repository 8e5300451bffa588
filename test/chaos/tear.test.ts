/**
 * The chaos harness's torn write (test/chaos/cluster.ts, tear and segmentTail) against the
 * real mapped log: it must leave a log that a crash can leave, which recovery then cuts.
 */
import assert from 'node:assert/strict';
import { closeSync, cpSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MappedLog } from '../../native/mapped-log.js';
import { ChaosCluster, segmentTail } from './cluster.js';

const SEGMENT = 64 * 1024;

/** A cluster's directory with validator v1's block log holding `records` records of 100 bytes; nothing runs. */
async function setUp(records: number): Promise<{ dir: string; cluster: ChaosCluster; blocks: string; segment: string; end: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'stele-chaos-tear-'));
  try {
    return await fill(dir, records);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

async function fill(dir: string, records: number): Promise<{ dir: string; cluster: ChaosCluster; blocks: string; segment: string; end: number }> {
  const cluster = await ChaosCluster.prepare({ dir, seed: 1, accounts: 2, net: 'transport', disk: 'none', log: () => {} });
  const blocks = join(dir, 'v1', 'data', 'blocks');
  mkdirSync(join(dir, 'v1', 'data'), { recursive: true });
  const log = MappedLog.open(blocks, { segmentBytes: SEGMENT });
  for (let r = 0; r < records; r++) log.append(new Uint8Array(100).fill(r + 1));
  await log.persist();
  await log.close();
  const segment = join(blocks, readdirSync(blocks).filter((f) => f.endsWith('.seg')).sort().at(-1) as string);
  const tail = segmentTail(readFileSync(segment));
  assert.equal(tail.torn, false);
  return { dir, cluster, blocks, segment, end: tail.offset };
}

function poke(path: string, offset: number, bytes: Uint8Array): void {
  const fd = openSync(path, 'r+');
  writeSync(fd, bytes, 0, bytes.length, offset);
  closeSync(fd);
}

/** A frame whose append the crash cut short: its header claims 200 bytes, 10 follow. */
function partialFrame(): Buffer {
  const frame = Buffer.alloc(18, 0x11);
  frame.writeUInt32LE(200, 0);
  frame.writeUInt32LE(0xdeadbeef, 4);
  return frame;
}

test('segmentTail: stops at a whole log\'s end, and at the first frame that is not whole', async () => {
  const { dir, segment, end } = await setUp(3);
  try {
    const bytes = readFileSync(segment);
    assert.equal(end, 64 + 3 * 112, 'three 100-byte records, each 8 + 100 bytes padded to 112');
    // The walk checks each frame's checksum: the partial frame is where it stops, torn.
    partialFrame().copy(bytes, end);
    assert.deepEqual(segmentTail(bytes), { offset: end, torn: true });
    // A flipped payload byte of a middle record fails its checksum there.
    const flipped = readFileSync(segment);
    flipped.writeUInt8(flipped.readUInt8(64 + 112 + 8 + 5) ^ 1, 64 + 112 + 8 + 5);
    assert.deepEqual(segmentTail(flipped), { offset: 64 + 112, torn: true });
    // A length past the end of the segment.
    const long = readFileSync(segment);
    long.writeUInt32LE(SEGMENT, end);
    long.writeUInt32LE(1, end + 4);
    assert.deepEqual(segmentTail(long), { offset: end, torn: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tear: a log whose SIGKILL left a torn frame is left as it is, and recovery cuts that frame', async () => {
  const { dir, cluster, blocks, segment, end } = await setUp(3);
  try {
    poke(segment, end, partialFrame());
    const before = readFileSync(segment);
    // Before the fix the walk followed the partial frame's length past it and wrote a second
    // torn frame there: offset end + 208, a log the mapped log refuses (below).
    assert.deepEqual(cluster.tear(0, 'blocks', 20), { file: segment, offset: end, existing: true });
    assert.ok(readFileSync(segment).equals(before), 'nothing written');
    const log = MappedLog.open(blocks, { segmentBytes: SEGMENT });
    assert.equal(log.length, 3);
    assert.ok(log.stats().tornBytes > 0, 'the torn frame was cut');
    await log.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tear: a whole log gets one torn frame at its end, which recovery cuts; a second torn frame after a first is STORE_CORRUPT', async () => {
  const { dir, cluster, blocks, segment, end } = await setUp(3);
  try {
    assert.deepEqual(cluster.tear(0, 'blocks', 20), { file: segment, offset: end, existing: false });
    assert.deepEqual(segmentTail(readFileSync(segment)), { offset: end, torn: true });
    // What the walk that ignored checksums made of a torn tail: the tear it wrote (claiming
    // 256 bytes) followed, 264 bytes on, by another. No crash leaves that, and recovery refuses it.
    const second = Buffer.alloc(28, 0x5c);
    second.writeUInt32LE(256, 0);
    second.writeUInt32LE(0xdeadbeef, 4);
    const corrupt = join(dir, 'corrupt');
    cpSync(blocks, corrupt, { recursive: true });
    poke(join(corrupt, segment.split('/').at(-1) as string), end + 264, second);
    assert.throws(() => MappedLog.open(corrupt, { segmentBytes: SEGMENT }), (error: Error & { code?: string }) => error.code === 'STORE_CORRUPT');
    // The single tear is cut and every record kept.
    const log = MappedLog.open(blocks, { segmentBytes: SEGMENT });
    assert.equal(log.length, 3);
    assert.ok(log.stats().tornBytes > 0);
    await log.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
