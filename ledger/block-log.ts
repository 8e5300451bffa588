/**
 * The append-only block log: the interface the native mapped log will implement, and a
 * plain-file implementation.
 *
 * File format (docs/storage.md): a 16-byte header (magic "STELELOG", u32 format 1, u32 0),
 * then records framed as [u32 length][u32 CRC-32 of length bytes and payload][payload],
 * big-endian. On open, the file is scanned: a frame cut short at the end of the file, a
 * bad checksum on the very last frame, or a region of zero bytes running to the end are a
 * torn tail from a crash and are cut off; a bad frame followed by anything else is
 * corruption (STORE_CORRUPT), never skipped.
 */
import { closeSync, fstatSync, fsync, fsyncSync, ftruncateSync, openSync, readSync, renameSync, rmSync, writeSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import { invariant } from './assert.js';
import { BLOCK_BYTES_MAX } from './constants.js';
import { SteleError } from './errors.js';

export interface BlockLog {
  /** Number of records. */
  readonly length: number;
  /** Appends a record (not yet durable) and returns its index. */
  append(record: Uint8Array): number;
  /** Makes every appended record durable: many appends share one sync (group commit). */
  sync(): Promise<void>;
  /** The record at `index` (0-based). */
  read(index: number): Uint8Array;
  /** Drops records from `length` on, durably. */
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

const MAGIC = Buffer.from('STELELOG', 'ascii');
const FORMAT = 1;
const HEADER_BYTES = 16;
const FRAME_BYTES = 8;
/** Largest record: one block plus slack. */
export const LOG_RECORD_BYTES_MAX = BLOCK_BYTES_MAX + 1024;

function frameChecksum(lengthBytes: Uint8Array, payload: Uint8Array): number {
  return crc32(payload, crc32(lengthBytes));
}

export interface OpenReport {
  readonly records: number;
  /** Bytes cut from a torn tail (0 when the file ended cleanly). */
  readonly tornBytes: number;
  /** Read-only opens stop at corruption instead of throwing: where and why. */
  readonly corruption: { readonly record: number; readonly offset: number; readonly reason: string } | null;
}

/**
 * Writes all of `bytes` at `position`. A write that makes no progress (which a full device
 * can answer instead of an error) is STORE_IO rather than a loop that never ends.
 */
function writeAll(fd: number, bytes: Uint8Array, position: number, path: string): void {
  let done = 0;
  while (done < bytes.length) {
    const n = writeSync(fd, bytes, done, bytes.length - done, position + done);
    if (n <= 0) throw new SteleError('STORE_IO', `write ${path}: no progress at byte ${position + done}`, { path });
    done += n;
  }
}

function io<T>(what: string, path: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof SteleError) throw error;
    throw new SteleError('STORE_IO', `${what} ${path}: ${(error as Error).message}`, { path });
  }
}

/** A block log in one plain file, with records indexed in memory. */
export class FileBlockLog implements BlockLog {
  private fd: number;
  private readonly offsets: number[] = [];
  private end = HEADER_BYTES;
  private durableEnd = HEADER_BYTES;
  readonly opened: OpenReport;

  private constructor(
    readonly path: string,
    fd: number,
    readonly readOnly: boolean,
    private readonly recordBytesMin = 0,
  ) {
    this.fd = fd;
    this.opened = this.scan();
  }

  /**
   * Opens (creating if absent) and recovers the log at `path`. With `readOnly` (audits),
   * nothing is created or cut: a torn tail is only reported in `opened.tornBytes`.
   * `recordBytesMin` (read-only opens): a shorter record before the last is corruption, so a
   * hostile file of empty frames cannot make the scan index millions of them (an audit
   * passes the smallest block's size; found in review, 2026-11-30).
   * @throws SteleError STORE_*.
   */
  static open(path: string, options: { readOnly?: boolean; recordBytesMin?: number } = {}): FileBlockLog {
    const readOnly = options.readOnly === true;
    return io('open', path, () => {
      if (readOnly) return FileBlockLog.scanOrClose(path, openSync(path, 'r'), true, options.recordBytesMin ?? 0);
      if (!existsSync(path)) {
        // A new log gets its header in a temporary file renamed into place, so a crash while
        // creating it leaves no headerless log (which a later open would call corrupt).
        mkdirSync(dirname(path), { recursive: true });
        const temporary = `${path}.new`;
        const header = Buffer.alloc(HEADER_BYTES);
        MAGIC.copy(header, 0);
        header.writeUInt32BE(FORMAT, 8);
        // A crash's leftover is removed, and the new file is made afresh ('wx': not through a
        // symlink, and with its own permissions).
        rmSync(temporary, { force: true });
        const tfd = openSync(temporary, 'wx', 0o600);
        try {
          writeAll(tfd, header, 0, temporary);
          fsyncSync(tfd);
          closeSync(tfd);
        } catch (error) {
          closeSync(tfd);
          rmSync(temporary, { force: true });
          throw error;
        }
        renameSync(temporary, path);
        const dirFd = openSync(dirname(path), 'r');
        try {
          fsyncSync(dirFd);
        } finally {
          closeSync(dirFd);
        }
      }
      return FileBlockLog.scanOrClose(path, openSync(path, 'r+'), false, 0);
    });
  }

  /** A log over `fd`, scanned; a refused scan closes `fd`. */
  private static scanOrClose(path: string, fd: number, readOnly: boolean, recordBytesMin: number): FileBlockLog {
    try {
      return new FileBlockLog(path, fd, readOnly, recordBytesMin);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  get length(): number {
    return this.offsets.length;
  }

  private readAt(position: number, length: number): Buffer {
    const out = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, out, done, length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done === length ? out : out.subarray(0, done);
  }

  private scan(): OpenReport {
    const size = fstatSync(this.fd).size;
    const header = this.readAt(0, HEADER_BYTES);
    if (header.length < HEADER_BYTES || !header.subarray(0, 8).equals(MAGIC)) {
      throw new SteleError('STORE_CORRUPT', `${this.path}: not a Stele block log (bad magic)`, { path: this.path, offset: 0 });
    }
    const format = header.readUInt32BE(8);
    if (format !== FORMAT) throw new SteleError('STORE_CORRUPT', `${this.path}: log format ${format}, expected ${FORMAT}`, { path: this.path });
    let at = HEADER_BYTES;
    while (at < size) {
      const problem = this.frameProblem(at, size);
      if (problem === null) {
        this.offsets.push(at);
        at += FRAME_BYTES + this.readAt(at, 4).readUInt32BE(0);
        continue;
      }
      if (problem === 'torn' || this.zeroToEnd(at, size)) break;
      if (this.readOnly) {
        this.end = at;
        this.durableEnd = at;
        return { records: this.offsets.length, tornBytes: 0, corruption: { record: this.offsets.length, offset: at, reason: problem } };
      }
      throw new SteleError('STORE_CORRUPT', `${this.path}: record ${this.offsets.length} at byte ${at}: ${problem}`, {
        path: this.path,
        offset: at,
        record: this.offsets.length,
      });
    }
    const tornBytes = size - at;
    if (!this.readOnly) {
      if (tornBytes > 0) ftruncateSync(this.fd, at);
      // Always: records a process wrote before it was killed may still be in the page cache
      // only, and the store indexes them (synced) as soon as it opens; a power loss after
      // that left the index ahead of the log (review of 2026-12-02). The mapped log syncs
      // at open too.
      fsyncSync(this.fd);
    }
    this.end = at;
    this.durableEnd = at;
    return { records: this.offsets.length, tornBytes, corruption: null };
  }

  /** null when the frame at `at` is whole and valid; 'torn' when cut by the end of file. */
  private frameProblem(at: number, size: number): string | null {
    if (at + FRAME_BYTES > size) return 'torn';
    const frame = this.readAt(at, FRAME_BYTES);
    const length = frame.readUInt32BE(0);
    if (length > LOG_RECORD_BYTES_MAX) return `length ${length} exceeds ${LOG_RECORD_BYTES_MAX}`;
    if (at + FRAME_BYTES + length > size) return 'torn';
    if (length < this.recordBytesMin && at + FRAME_BYTES + length < size) return `length ${length} is below ${this.recordBytesMin}, the smallest record`;
    const payload = this.readAt(at + FRAME_BYTES, length);
    if (frameChecksum(frame.subarray(0, 4), payload) !== frame.readUInt32BE(4)) {
      return at + FRAME_BYTES + length === size ? 'torn' : 'checksum mismatch';
    }
    return null;
  }

  private zeroToEnd(at: number, size: number): boolean {
    const chunk = 1 << 16;
    for (let p = at; p < size; p += chunk) {
      const part = this.readAt(p, Math.min(chunk, size - p));
      for (const b of part) if (b !== 0) return false;
    }
    return true;
  }

  private checkOpen(): void {
    if (this.fd < 0) throw new SteleError('STORE_CLOSED', `${this.path} is closed`);
  }

  append(record: Uint8Array): number {
    this.checkOpen();
    if (this.readOnly) throw new SteleError('STORE_IO', `${this.path} is open read-only`);
    if (record.length > LOG_RECORD_BYTES_MAX) throw new RangeError(`record of ${record.length} bytes exceeds ${LOG_RECORD_BYTES_MAX}`);
    const frame = Buffer.alloc(FRAME_BYTES + record.length);
    frame.writeUInt32BE(record.length, 0);
    frame.set(record, FRAME_BYTES);
    frame.writeUInt32BE(frameChecksum(frame.subarray(0, 4), record), 4);
    io('write', this.path, () => writeAll(this.fd, frame, this.end, this.path));
    this.offsets.push(this.end);
    this.end += frame.length;
    return this.offsets.length - 1;
  }

  async sync(): Promise<void> {
    this.checkOpen();
    if (this.durableEnd === this.end) return;
    const target = this.end;
    await new Promise<void>((resolve, reject) =>
      fsync(this.fd, (error) => (error ? reject(new SteleError('STORE_IO', `fsync ${this.path}: ${error.message}`)) : resolve())),
    );
    this.durableEnd = Math.max(this.durableEnd, target);
  }

  read(index: number): Uint8Array {
    this.checkOpen();
    const at = this.offsets[index];
    if (at === undefined) throw new RangeError(`record ${index} of ${this.offsets.length}`);
    // The length found by the scan (or the append), not the one on disk now: one rewritten
    // after open made this allocate up to 4 GiB before the checksum caught it (found in
    // review, 2026-12-01).
    const length = (this.offsets[index + 1] ?? this.end) - at - FRAME_BYTES;
    invariant(length >= 0 && length <= LOG_RECORD_BYTES_MAX, 'an indexed record is within the record bound');
    const frame = this.readAt(at, FRAME_BYTES + length);
    if (frame.length < FRAME_BYTES + length || frame.readUInt32BE(0) !== length) {
      const found = frame.length < FRAME_BYTES + length ? `the file ends ${frame.length} bytes into its ${FRAME_BYTES + length}` : `its length field reads ${frame.readUInt32BE(0)}, ${length} at open`;
      throw new SteleError('STORE_CORRUPT', `${this.path}: record ${index} changed on disk after open: ${found}`, { path: this.path, record: index });
    }
    // Paired check: the checksum verified at open is verified again on every read.
    if (frameChecksum(frame.subarray(0, 4), frame.subarray(FRAME_BYTES)) !== frame.readUInt32BE(4)) {
      throw new SteleError('STORE_CORRUPT', `${this.path}: record ${index} changed on disk after open`, { path: this.path, record: index });
    }
    return new Uint8Array(frame.buffer, frame.byteOffset + FRAME_BYTES, length);
  }

  async truncate(length: number): Promise<void> {
    this.checkOpen();
    invariant(Number.isInteger(length) && length >= 0 && length <= this.offsets.length, 'truncate within the log');
    const at = length === this.offsets.length ? this.end : (this.offsets[length] as number);
    io('truncate', this.path, () => {
      ftruncateSync(this.fd, at);
      fsyncSync(this.fd);
    });
    this.offsets.length = length;
    this.end = at;
    this.durableEnd = at;
  }

  async close(): Promise<void> {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }
}
