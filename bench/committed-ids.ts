/**
 * bench:ids: memory and time of replay protection's committed ids in the world state
 * (MemoryState), written exactly as machine.ts writes them: per block, `txat/<height>`
 * with the block's ids and `txid/<id>` with its height, and the block `window + 1` below
 * pruned. The write sets go through an Overlay on the committed state, as blocks do.
 * Reports the memory the state holds at the end, after full collections: array buffers
 * (where the compact structure keeps the ids) and the JavaScript heap (where the plain
 * map's keys would be), and the time per id. The state must still hold the ids compactly
 * at the end (`MemoryState.compactIds`): a fallback to the plain map moves the `txid/` keys
 * into the heap as strings, which the array-buffer figure alone would show as a saving,
 * so the benchmark fails instead. One JSON line last.
 *
 * node --expose-gc dist/bench/committed-ids.js [--blocks 500] [--per-block 2000] [--window 1000]
 */
import { randomBytes } from 'node:crypto';
import { keys } from '../ledger/machine.js';
import { MemoryState, Overlay } from '../ledger/state.js';
import { arg, note, round } from './util.js';

const blocks = arg('blocks', 500);
const perBlock = arg('per-block', 2000);
const window = arg('window', 1000);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

const MiB = 1024 * 1024;
gc();
const before = process.memoryUsage();
const state = new MemoryState();
let busyMs = 0;
for (let height = 1; height <= blocks; height++) {
  const ids = randomBytes(perBlock * 32);
  const start = performance.now();
  const overlay = new Overlay(state);
  const old = height - window - 1;
  if (old >= 1) {
    const list = overlay.get(keys.txat(old));
    if (list !== undefined) for (let at = 0; at < list.length; at += 32) overlay.delete(keys.txid(list.subarray(at, at + 32)));
    overlay.delete(keys.txat(old));
  }
  const value = new Uint8Array(8);
  new DataView(value.buffer).setBigUint64(0, BigInt(height));
  for (let i = 0; i < perBlock; i++) {
    const key = keys.txid(ids.subarray(i * 32, (i + 1) * 32));
    if (overlay.get(key) !== undefined) throw new Error('an id repeated');
    overlay.set(key, value);
  }
  overlay.set(keys.txat(height), Uint8Array.from(ids));
  state.apply(overlay.writeSet());
  busyMs += performance.now() - start;
}
if (!state.compactIds) throw new Error('the state gave up its compact committed ids and fell back to the plain map');
gc();
gc();
const after = process.memoryUsage();
const held = (after.arrayBuffers - before.arrayBuffers) / MiB;
const heap = (after.heapUsed - before.heapUsed) / MiB;
const live = Math.min(blocks, window + 1) * perBlock;
note(`${live} ids held (of ${blocks * perBlock} written): ${round(held, 1)} MiB of array buffers, ${round(heap, 1)} MiB more heap used, ${round((busyMs * 1000) / (blocks * perBlock), 2)} us per id written`);
console.log(
  JSON.stringify({
    bench: 'committed-ids',
    blocks,
    per_block: perBlock,
    window,
    ids_held: live,
    state_keys: state.size,
    compact_ids: state.compactIds,
    array_buffers_mib: round(held, 1),
    bytes_per_id_held: round((held * MiB) / live, 1),
    heap_used_mib: round(heap, 1),
    heap_bytes_per_id_held: round((heap * MiB) / live, 1),
    us_per_id_written: round((busyMs * 1000) / (blocks * perBlock), 2),
  }),
);
