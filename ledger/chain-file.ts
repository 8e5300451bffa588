/**
 * The portable chain file written by `stele export` and read by `stele audit FILE`:
 *
 *   "STELECHN" (8 bytes) | u32 version = 1 | genesis hash (32) | u64 block count
 *   then per block: u32 length | the encoded block (with its certificate)
 *
 * Integers are big-endian. The file carries no checksums of its own: the auditor checks
 * every byte of every block against the genesis file, and the count and lengths are
 * checked against the file's size, so truncation, extension and reframing are caught.
 * A framing error past the header leaves the frames before it readable: the audit verifies
 * those blocks and reports the error at the first block it touches.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, writeSync, renameSync, fsyncSync, rmSync, existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { BLOCK_BYTES_MAX, HASH_BYTES, SIGNATURE_BYTES } from './constants.js';
import { errnoText, SteleError } from './errors.js';
import { bytesEqual, toHex } from './assert.js';
import { decodeBlock } from './block.js';
import { openRegularFile, placeNew, syncDirectory } from './files.js';

const MAGIC = new TextEncoder().encode('STELECHN');
const VERSION = 1;
const HEAD_BYTES = 8 + 4 + HASH_BYTES + 8;
/**
 * No block encodes in fewer bytes: its header holds three hashes (previous, Merkle root,
 * state) and the proposer's signature comes with it. Shorter frames are refused, which also
 * bounds the frames (and the offsets kept of them) by the file's size / (4 + this).
 */
export const BLOCK_ENCODING_BYTES_MIN = 3 * HASH_BYTES + SIGNATURE_BYTES;

export interface ChainFile {
  readonly genesisHash: Uint8Array;
  /** Whole frames: every block when the framing is sound, else those before `damage`. */
  readonly count: number;
  /** The first framing error after the header, at the first block it touches; null when there is none. */
  readonly damage: { readonly height: number; readonly message: string } | null;
  /** The encoded blocks in height order (the `count` whole frames), read from disk one at a time. */
  blocks(): Generator<Uint8Array>;
  close(): void;
}

/** A bad header: the first block it touches is block 1. */
function invalid(path: string, message: string): never {
  throw new SteleError('CHAIN_FILE_INVALID', `${path}: ${message}`, { height: 1 });
}

/**
 * Opens a chain file and checks its header and framing. A bad header is thrown; a framing
 * error after it (a frame that is too short, too long or past the end of the file, fewer
 * frames than the header counts, bytes after the last one) is returned as `damage`, with
 * the whole frames before it (found in review, 2026-11-30: it was thrown, so no block was
 * checked and a bad block before it went unnamed).
 * @throws SteleError CHAIN_FILE_INVALID (the header), CLI_IO
 */
export function openChainFile(path: string): ChainFile {
  // Non-blocking, then checked on the descriptor: a FIFO blocked the open (review, 2026-12-01).
  const { fd, size } = openRegularFile(path);
  try {
    const head = Buffer.alloc(HEAD_BYTES);
    if (size < HEAD_BYTES || readSync(fd, head, 0, HEAD_BYTES, 0) !== HEAD_BYTES) invalid(path, 'shorter than the header');
    if (!bytesEqual(head.subarray(0, 8), MAGIC)) invalid(path, 'not a Stele chain file (bad magic)');
    const version = head.readUInt32BE(8);
    if (version !== VERSION) invalid(path, `unknown version ${version}`);
    const genesisHash = new Uint8Array(head.subarray(12, 12 + HASH_BYTES));
    const counted = head.readBigUInt64BE(12 + HASH_BYTES);
    // Walk the frames once, up to the first bad one. Every frame kept takes at least
    // 4 + BLOCK_ENCODING_BYTES_MIN bytes of the file, so a count far beyond the file's size
    // costs nothing: the walk stops where the frames do.
    const lengthBytes = Buffer.alloc(4);
    let at = HEAD_BYTES;
    const offsets: number[] = [];
    /** Each kept frame's length, as checked here: blocks() reads no length from the file again. */
    const lengths: number[] = [];
    /** What is wrong with the next frame, at `at` (its length is left in lengthBytes), or null. */
    const frameProblem = (): string | null => {
      const height = offsets.length + 1;
      if (at === size) return `the header counts ${counted} blocks; the file ends after block ${offsets.length}`;
      if (at + 4 > size || readSync(fd, lengthBytes, 0, 4, at) !== 4) return `block ${height}: frame past the end of the file`;
      const length = lengthBytes.readUInt32BE(0);
      if (length > BLOCK_BYTES_MAX) return `block ${height}: length ${length} exceeds ${BLOCK_BYTES_MAX}`;
      if (length < BLOCK_ENCODING_BYTES_MIN) return `block ${height}: length ${length} is below ${BLOCK_ENCODING_BYTES_MIN}, the smallest block`;
      if (at + 4 + length > size) return `block ${height}: ${length} bytes run past the end of the file`;
      return null;
    };
    let damage: { height: number; message: string } | null = null;
    while (damage === null && BigInt(offsets.length) < counted) {
      const problem = frameProblem();
      if (problem !== null) {
        damage = { height: offsets.length + 1, message: `${path}: ${problem}` };
      } else {
        const length = lengthBytes.readUInt32BE(0);
        offsets.push(at);
        lengths.push(length);
        at += 4 + length;
      }
    }
    if (damage === null && at !== size) damage = { height: offsets.length + 1, message: `${path}: ${size - at} bytes after the last block` };
    let closed = false;
    return {
      genesisHash,
      count: offsets.length,
      damage,
      // The lengths checked at open, not read again: the file may change while it is read
      // (review of 2026-12-02: a length rewritten after the open was allocated as it said,
      // up to 4 GiB, and a short read went unnoticed). A frame that differs now, or reads
      // short, is CHAIN_FILE_INVALID at its height.
      *blocks() {
        const frame = Buffer.alloc(4);
        for (let i = 0; i < offsets.length; i++) {
          const offset = offsets[i] as number;
          const length = lengths[i] as number;
          const changed = (what: string): never => {
            throw new SteleError('CHAIN_FILE_INVALID', `${path}: block ${i + 1}: ${what} since the file was opened`, { height: i + 1 });
          };
          if (readSync(fd, frame, 0, 4, offset) !== 4 || frame.readUInt32BE(0) !== length) changed('its frame length changed');
          const block = Buffer.alloc(length);
          if (readSync(fd, block, 0, length, offset + 4) !== length) changed('the file was cut short');
          yield new Uint8Array(block.buffer, block.byteOffset, block.length);
        }
      },
      close() {
        if (!closed) closeSync(fd);
        closed = true;
      },
    };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/**
 * Writes all of `bytes` at `position` (null: the file's current position). writeSync may
 * write fewer bytes than asked (a full disk, a file size limit, a signal) and says so only
 * in its return value: until 2026-12-01 that was ignored, and the file came out short.
 * @throws Error when a write makes no progress (the caller names the file)
 */
function writeAll(fd: number, bytes: Uint8Array, position: number | null): void {
  for (let done = 0; done < bytes.length; ) {
    const n = writeSync(fd, bytes, done, bytes.length - done, position === null ? null : position + done);
    if (!(n > 0)) throw new Error(`a write of ${bytes.length - done} bytes wrote ${n}`);
    done += n;
  }
}

/**
 * The loop that writes blocks gives the event loop a turn at least this often, so that a
 * signal is handled while a data directory's blocks are written (each read there is only a
 * promise's turn, which lets no signal in).
 */
const WRITE_TURN_MS = 50;

export interface WriteChainFileOptions {
  /**
   * Once aborted, the temporary file is removed at once (in the abort itself, so a process
   * may exit right after) and the write throws CLI_INTERRUPTED at its next block; nothing is
   * put at `path`. `stele export` aborts it on SIGINT or SIGTERM.
   */
  readonly signal?: AbortSignal;
}

/**
 * Writes a chain file atomically: a temporary file, fsynced, then renamed over `path` (with
 * `force`) or linked to it (without: fails if it exists, even if it was made meanwhile). The
 * genesis hash is block 1's previous hash; the header is completed once the count is known.
 * The blocks must form a chain from height 1 (each the next height, its previous hash the
 * hash of the block before): a source that repeats or skips blocks (a node's API serving a
 * page twice) is refused rather than exported, since the file would name it a chain.
 * @returns the block count, the genesis hash and the last block's hash
 * @throws SteleError CLI_IO (also for blocks that do not follow each other); CLI_USAGE for an empty chain; CLI_INTERRUPTED once `options.signal` aborts
 * @example await writeChainFile('chain.stele', source.blocks, false, { signal: controller.signal });
 */
export async function writeChainFile(
  path: string,
  blocks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  force: boolean,
  options: WriteChainFileOptions = {},
): Promise<{ count: number; genesisHash: Uint8Array; head: Uint8Array }> {
  const { signal } = options;
  // A function: the flag changes while the blocks are awaited.
  const aborted = (): boolean => signal?.aborted === true;
  const interrupted = (): SteleError => new SteleError('CLI_INTERRUPTED', `stopped by ${String(signal?.reason)}: ${path} was not written`);
  if (aborted()) throw interrupted();
  const exists = (): SteleError => new SteleError('CLI_IO', `${path} exists; pass --force to overwrite it`);
  // Checked first to fetch and write nothing in vain; the link at the end is what makes it
  // race-free (found in review: the check came after the whole chain was read, and a check
  // then a rename could replace a file made in between).
  if (!force && existsSync(path)) throw exists();
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number;
  try {
    fd = openSync(temporary, 'wx', 0o644);
  } catch (error) {
    // The user's path, not the temporary one (a missing directory named the latter).
    throw new SteleError('CLI_IO', `cannot write ${path}: ${errnoText(error)}`);
  }
  // Found in review (2026-12-01): a Ctrl-C during a large export left this hidden file
  // behind. Removed in the abort itself; the descriptor stays open until the loop stops,
  // as closing it here would let its number be reused by a file the loop then wrote to.
  const discard = (): void => rmSync(temporary, { force: true });
  signal?.addEventListener('abort', discard, { once: true });
  let count = 0;
  let genesisHash: Uint8Array | null = null;
  let head: Uint8Array | null = null;
  try {
    const header = Buffer.alloc(HEAD_BYTES);
    writeAll(fd, header, null); // completed at the end
    const length = Buffer.alloc(4);
    let turnAt = performance.now();
    for await (const block of blocks) {
      if (performance.now() - turnAt >= WRITE_TURN_MS) {
        await nextTurn();
        turnAt = performance.now();
      }
      if (aborted()) throw interrupted();
      const decoded = decodeBlock(block);
      const { height, prevHash } = decoded.header;
      if (height !== count + 1) throw new SteleError('CLI_IO', `the source served block ${height} where block ${count + 1} belongs: not a chain, nothing written`, { height: count + 1 });
      if (head !== null && !bytesEqual(prevHash, head)) {
        throw new SteleError('CLI_IO', `block ${height} does not follow block ${count}: its previous hash is ${toHex(prevHash)}, block ${count} has hash ${toHex(head)}; nothing written`, { height });
      }
      if (genesisHash === null) genesisHash = prevHash;
      head = decoded.hash;
      length.writeUInt32BE(block.length, 0);
      writeAll(fd, length, null);
      writeAll(fd, block, null);
      count++;
    }
    if (aborted()) throw interrupted();
    if (genesisHash === null || head === null) throw new SteleError('CLI_USAGE', 'the chain holds no blocks yet: nothing to export');
    header.set(MAGIC, 0);
    header.writeUInt32BE(VERSION, 8);
    header.set(genesisHash, 12);
    header.writeBigUInt64BE(BigInt(count), 12 + HASH_BYTES);
    writeAll(fd, header.subarray(0, HEAD_BYTES), 0);
    fsyncSync(fd);
    closeSync(fd);
    if (force) renameSync(temporary, path);
    else placeNew(temporary, path);
  } catch (error) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(temporary, { force: true });
    if (error instanceof SteleError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'EEXIST' && !force) throw exists();
    throw new SteleError('CLI_IO', `cannot write ${path}: ${errnoText(error)}`);
  } finally {
    signal?.removeEventListener('abort', discard);
  }
  syncDirectory(dirname(path));
  return { count, genesisHash, head };
}
