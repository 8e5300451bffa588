/**
 * A batch of signatures packed into one SharedArrayBuffer, verified by whoever claims its
 * chunks: the pool's workers, and the calling thread once it has nothing better to do.
 * Claiming is an atomic add on a shared counter, so every thread stays busy until the
 * batch is exhausted and no core idles while another still has a long queue.
 *
 * Layout (all integers little-endian, as Int32Array/Uint32Array see them):
 *   control   Int32Array[4]: next unclaimed item, item count, chunk size, 0
 *   verdicts  Uint8Array[count] (padded to 4): 1 valid, 0 not
 *   offsets   Uint32Array[count]: byte offset of each record
 *   records   [u32 message length][u8 lengths ok][32 key][64 signature][message]
 */
import { invariant } from './assert.js';
import { verify } from './ed25519.js';

export interface VerifyItem {
  readonly publicKey: Uint8Array;
  readonly message: Uint8Array;
  readonly signature: Uint8Array;
}

const CONTROL_BYTES = 16;
const RECORD_HEAD = 101;
/** Items per claim: about 1.5 ms of work, small enough to balance, large enough to amortise. */
export const CHUNK_ITEMS = 16;

function layout(count: number): { verdicts: number; offsets: number; records: number } {
  const verdicts = CONTROL_BYTES;
  const offsets = verdicts + Math.ceil(count / 4) * 4;
  return { verdicts, offsets, records: offsets + count * 4 };
}

/** Packs items into a shared buffer ready to be claimed. */
export function packBatch(items: readonly VerifyItem[]): SharedArrayBuffer {
  const count = items.length;
  const at0 = layout(count);
  let size = at0.records;
  for (const x of items) size += RECORD_HEAD + x.message.length;
  const shared = new SharedArrayBuffer(size);
  const bytes = new Uint8Array(shared);
  const view = new DataView(shared);
  const offsets = new Uint32Array(shared, at0.offsets, count);
  const control = new Int32Array(shared, 0, 4);
  control[0] = 0;
  control[1] = count;
  control[2] = CHUNK_ITEMS;
  let at = at0.records;
  for (let i = 0; i < count; i++) {
    const { publicKey, message, signature } = items[i] as VerifyItem;
    offsets[i] = at;
    view.setUint32(at, message.length, true);
    // A wrong length cannot be packed; the flag makes the verdict 0 without a verify.
    const ok = publicKey.length === 32 && signature.length === 64;
    bytes[at + 4] = ok ? 1 : 0;
    if (ok) {
      bytes.set(publicKey, at + 5);
      bytes.set(signature, at + 37);
    }
    bytes.set(message, at + RECORD_HEAD);
    at += RECORD_HEAD + message.length;
  }
  return shared;
}

/** Claims and verifies chunks until none are left; returns how many items this thread did. */
export function drainBatch(shared: SharedArrayBuffer): number {
  const control = new Int32Array(shared, 0, 4);
  const count = control[1] as number;
  const chunk = control[2] as number;
  invariant(count >= 0 && chunk >= 1, 'batch header');
  const at0 = layout(count);
  const bytes = new Uint8Array(shared);
  const view = new DataView(shared);
  const verdicts = new Uint8Array(shared, at0.verdicts, count);
  const offsets = new Uint32Array(shared, at0.offsets, count);
  let done = 0;
  for (;;) {
    const from = Atomics.add(control, 0, chunk);
    if (from >= count) return done;
    const to = Math.min(count, from + chunk);
    for (let i = from; i < to; i++) {
      const at = offsets[i] as number;
      const length = view.getUint32(at, true);
      const valid =
        bytes[at + 4] === 1 &&
        verify(bytes.subarray(at + 5, at + 37), bytes.subarray(at + RECORD_HEAD, at + RECORD_HEAD + length), bytes.subarray(at + 37, at + 101));
      Atomics.store(verdicts, i, valid ? 1 : 0);
    }
    done += to - from;
  }
}

/** The verdicts of a fully drained batch (a private copy). */
export function batchVerdicts(shared: SharedArrayBuffer): Uint8Array {
  const control = new Int32Array(shared, 0, 4);
  const count = control[1] as number;
  invariant((Atomics.load(control, 0) as number) >= count, 'every chunk of the batch was claimed');
  const verdicts = new Uint8Array(shared, layout(count).verdicts, count);
  return Uint8Array.from(verdicts, (_, i) => Atomics.load(verdicts, i));
}
