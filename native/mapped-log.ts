/**
 * The mapped append-only log (C++ in native/src/mapped_log.cc; format and threads in
 * docs/native.md) and two users of it: MappedBlockLog (the ledger's BlockLog interface)
 * and AcceptorLog (durable acceptor state for consensus).
 *
 * All methods run on the main thread; only the msync/flush behind `persist()` runs on the
 * log's persist thread. Views returned by `view()`/`read()` point into the mapping: they
 * stay memory-safe forever, but after `truncate()` their bytes may be zeroed or reused.
 */
import { closeSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { invariant } from '../ledger/assert.js';
import { SteleError } from '../ledger/errors.js';
import { addon, call, nativeError, type NativeLogStats, type NativeMappedLog } from './addon.js';

/** Default segment size: 64 MiB. */
export const SEGMENT_BYTES_DEFAULT = 64 * 1024 * 1024;
/** A segment's header (64 bytes) and one record's frame (8): a segment of S bytes holds a record of at most S - this. */
export const SEGMENT_OVERHEAD_BYTES = 72;
/** Default record limit: 16 MiB (the block size bound) plus 1 KiB of slack. */
export const RECORD_BYTES_MAX_DEFAULT = 16 * 1024 * 1024 + 1024;

export interface MappedLogOptions {
  /** Size of each segment file, a multiple of 4096 in [64 KiB, 2 GiB]. */
  readonly segmentBytes?: number;
  /** Largest record; must fit in one segment. */
  readonly recordBytesMax?: number;
  /**
   * Read-only opens only (default 0): a record shorter than this that is not the log's last
   * is corruption at its number, so a hostile log of tiny records cannot make the open index
   * millions of them (an audit passes the smallest block's size). RangeError on a writable
   * open, which must never refuse its own records.
   */
  readonly recordBytesMin?: number;
  /**
   * Audits: open without creating, cutting or repairing anything; a torn tail is only
   * reported (`stats().tornBytes`) and corruption stops the scan and is reported
   * (`stats().corruption`) instead of thrown. Writes are STORE_IO.
   */
  readonly readOnly?: boolean;
  /**
   * A persist of at most this many new bytes, made while no other is under way, runs its
   * msync on the main thread instead of the persist thread (0, the default: never). For
   * latency-bound callers with small records, such as the consensus acceptor log: it saves
   * two thread hand-offs and blocks the event loop for one small msync.
   */
  readonly inlinePersistBytesMax?: number;
}

export type MappedLogStats = NativeLogStats;

/**
 * A log of records in segment files under one directory.
 * @example
 * const log = MappedLog.open('/var/lib/stele/log');
 * log.append(Uint8Array.of(1, 2, 3));
 * await log.persist();
 */
export class MappedLog {
  /** Position of each record: segment * 2^32 + offset of its frame (mirrors the native index). */
  private readonly positions: number[];
  /** Cached zero-copy views of each segment's mapping, as 32-bit words and as bytes. */
  private readonly words: (Uint32Array | undefined)[] = [];
  private readonly bytes: (Uint8Array | undefined)[] = [];

  private constructor(
    readonly dir: string,
    private readonly native: NativeMappedLog,
    private readonly inlinePersistBytesMax: number,
  ) {
    this.positions = Array.from(native.positions());
  }

  /**
   * Opens (creating if absent) and recovers the log in `dir`: a torn tail in the last
   * segment is cut; a bad record before it is STORE_CORRUPT.
   * @throws SteleError STORE_CORRUPT, STORE_IO, NATIVE_MISSING; RangeError for bad options.
   */
  static open(dir: string, options: MappedLogOptions = {}): MappedLog {
    const segmentBytes = options.segmentBytes ?? SEGMENT_BYTES_DEFAULT;
    const recordBytesMax = options.recordBytesMax ?? Math.min(RECORD_BYTES_MAX_DEFAULT, segmentBytes - SEGMENT_OVERHEAD_BYTES);
    const { MappedLog: Native } = addon();
    const inline = options.inlinePersistBytesMax ?? 0;
    if (!Number.isInteger(inline) || inline < 0 || inline > segmentBytes) throw new RangeError(`inlinePersistBytesMax ${inline} is not in [0, ${segmentBytes}]`);
    const recordBytesMin = options.recordBytesMin ?? 0;
    if (!Number.isInteger(recordBytesMin) || recordBytesMin < 0 || recordBytesMin > recordBytesMax || (recordBytesMin > 0 && options.readOnly !== true)) {
      throw new RangeError(`recordBytesMin ${recordBytesMin} is not in [0, ${recordBytesMax}], or the open is not read-only`);
    }
    return new MappedLog(dir, call(() => new Native(dir, segmentBytes, recordBytesMax, options.readOnly === true, recordBytesMin)), inline);
  }

  get length(): number {
    return this.positions.length;
  }

  /** Copies `record` into the mapping (not yet durable); returns its index. @throws STORE_RECORD_TOO_LARGE, STORE_FULL, STORE_IO, STORE_CLOSED */
  append(record: Uint8Array): number {
    this.positions.push(call(() => this.native.append(record)));
    return this.positions.length - 1;
  }

  /**
   * Resolves when every record appended before the call is durable (group commit).
   * `options.inline: false` sends even a small persist to the persist thread (the caller
   * has other work to do meanwhile), whatever `inlinePersistBytesMax` says.
   */
  async persist(options: PersistOptions = {}): Promise<void> {
    try {
      await call(() => this.native.persist(options.inline === false ? 0 : this.inlinePersistBytesMax));
    } catch (error) {
      throw nativeError(error);
    }
  }

  /** Zero-copy view of record `index`, its checksum verified again (paired with the check at open). */
  read(index: number): Uint8Array {
    const view = this.view(index);
    call(() => this.native.verify(index));
    return view;
  }

  /** Zero-copy view of record `index`, without re-verifying its checksum. */
  view(index: number): Uint8Array {
    const position = this.positions[index];
    if (position === undefined || this.closed) {
      if (this.closed) throw new SteleError('STORE_CLOSED', `${this.dir} is closed`);
      throw new RangeError(`record ${index} of ${this.positions.length}`);
    }
    const segment = Math.floor(position / 2 ** 32);
    const offset = position % 2 ** 32;
    let words = this.words[segment];
    let bytes = this.bytes[segment];
    if (words === undefined || bytes === undefined) {
      const buffer = call(() => this.native.segment(segment));
      words = new Uint32Array(buffer);
      bytes = new Uint8Array(buffer);
      this.words[segment] = words;
      this.bytes[segment] = bytes;
    }
    const length = words[offset / 4] as number; // frames are 8-byte aligned; little-endian host
    // Read from the mapping, so a disk that changed the page since open can make it claim
    // more than the segment holds: corruption, refused rather than cut short by subarray.
    if (offset + 8 + length > bytes.length) {
      throw new SteleError('STORE_CORRUPT', `${this.dir}: record ${index} claims ${length} bytes past the end of its segment`, { path: this.dir, record: index, offset });
    }
    return bytes.subarray(offset + 8, offset + 8 + length);
  }

  private closed = false;

  /** Drops records from `length` on, durably. */
  truncate(length: number): void {
    call(() => this.native.truncate(length));
    const keep = this.positions[length];
    if (keep !== undefined) {
      const segment = Math.floor(keep / 2 ** 32);
      this.words.length = Math.min(this.words.length, segment + 1);
      this.bytes.length = Math.min(this.bytes.length, segment + 1);
    }
    this.positions.length = length;
    invariant(this.native.length === length, 'native and JavaScript indexes agree');
  }

  stats(): MappedLogStats {
    return this.native.stats();
  }

  /** Waits for queued persists, stops the persist thread and releases the mappings (views stay valid). */
  async close(): Promise<void> {
    this.closed = true;
    this.words.length = 0;
    this.bytes.length = 0;
    await this.native.close();
  }
}

/**
 * The ledger's BlockLog (ledger/block-log.ts) on the mapped log; structurally typed so
 * native/ does not import the ledger. `opened` mirrors FileBlockLog's report.
 */
export class MappedBlockLog {
  /** Mirrors FileBlockLog's report: records, torn bytes, and (read-only opens) corruption. */
  readonly opened: {
    readonly records: number;
    readonly tornBytes: number;
    readonly corruption: { readonly record: number; readonly offset: number; readonly reason: string } | null;
  };

  private constructor(private readonly log: MappedLog) {
    const { tornBytes, corruption } = log.stats();
    this.opened = { records: log.length, tornBytes, corruption: corruption === null ? null : { record: corruption.record, offset: corruption.offset, reason: corruption.reason } };
  }

  /** @throws SteleError STORE_CORRUPT, STORE_IO */
  static open(dir: string, options: MappedLogOptions = {}): MappedBlockLog {
    return new MappedBlockLog(MappedLog.open(dir, options));
  }

  get length(): number {
    return this.log.length;
  }

  append(record: Uint8Array): number {
    return this.log.append(record);
  }

  sync(): Promise<void> {
    return this.log.persist();
  }

  read(index: number): Uint8Array {
    return this.log.read(index);
  }

  async truncate(length: number): Promise<void> {
    invariant(Number.isInteger(length) && length >= 0 && length <= this.log.length, 'truncate within the log');
    this.log.truncate(length);
  }

  close(): Promise<void> {
    return this.log.close();
  }

  stats(): MappedLogStats {
    return this.log.stats();
  }
}

const GENERATION = /^gen-(\d{10})$/;
const COMPLETE = 'COMPLETE';
/** A segment file of a mapped log (native/src/mapped_log.cc names them). */
const SEGMENT_FILE = /^\d{10}\.seg$/;

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export interface PersistOptions {
  /** false: never on the calling thread (see MappedLog.persist). */
  readonly inline?: boolean;
}

function generationName(n: number): string {
  return `gen-${String(n).padStart(10, '0')}`;
}

/**
 * The acceptor log's default `inlinePersistBytesMax`: its records answer peers who wait for
 * them, and at low load they are small (one PROMISE or ACCEPT of a small value).
 */
export const ACCEPTOR_INLINE_PERSIST_BYTES = 16 * 1024;

/** The acceptor log's segment size unless a larger record needs more. */
export const ACCEPTOR_SEGMENT_BYTES = 4 * 1024 * 1024;

/**
 * Acceptor log options for records of up to `recordBytesMax` bytes: segments of
 * ACCEPTOR_SEGMENT_BYTES, or larger (rounded up to whole pages) when one such record would
 * not fit. A validator passes its genesis's largest accept record (a whole block): with the
 * fixed 4 MiB segments a genesis allowing blocks above about 4 MiB stopped every validator
 * at the first such block (STORE_RECORD_TOO_LARGE at the accept; found in review, 2026-11-30).
 */
export function acceptorLogOptions(recordBytesMax: number): { segmentBytes: number; recordBytesMax: number } {
  if (!Number.isInteger(recordBytesMax) || recordBytesMax < 1) throw new RangeError(`recordBytesMax ${recordBytesMax} is not a positive integer`);
  const page = 4096;
  const segmentBytes = Math.max(ACCEPTOR_SEGMENT_BYTES, Math.ceil((recordBytesMax + SEGMENT_OVERHEAD_BYTES) / page) * page);
  return { segmentBytes, recordBytesMax };
}

/**
 * Durable acceptor state for consensus: an append-only list of opaque records, replayed
 * in order on open, with `compact()` replacing the whole list atomically (a new generation
 * directory becomes current only once it is durable and marked COMPLETE).
 * @example
 * const state = AcceptorLog.open(dir);
 * for (const r of state.replay()) apply(r);
 * state.append(promiseRecord); await state.persist(); // then answer
 */
export class AcceptorLog {
  /** Settles when the compaction under way (if any) has switched generations. */
  private compacting: Promise<void> | null = null;
  /** Records appended during a compaction, bounded by what one persist batch carries. */
  private readonly held: Uint8Array[] = [];
  private appendedSinceCompaction = 0;
  /** Set when a held record could not be appended after a compaction: every call but close throws it. */
  private failure: SteleError | null = null;

  private constructor(
    readonly dir: string,
    private generation: number,
    private log: MappedLog,
    private readonly options: MappedLogOptions,
  ) {}

  /** @throws SteleError STORE_CORRUPT, STORE_IO */
  static open(dir: string, options: MappedLogOptions = {}): AcceptorLog {
    const opts = {
      segmentBytes: options.segmentBytes ?? ACCEPTOR_SEGMENT_BYTES,
      inlinePersistBytesMax: ACCEPTOR_INLINE_PERSIST_BYTES,
      ...options,
    };
    try {
      mkdirSync(dir, { recursive: true });
      const generations = readdirSync(dir)
        .map((name) => GENERATION.exec(name))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => Number(m[1]))
        .sort((a, b) => a - b);
      const complete = generations.filter((g) => AcceptorLog.isComplete(dir, g));
      let current = complete.at(-1);
      if (current === undefined) {
        // Nothing is wiped that could hold a promise or an accept (review of 2026-12-02:
        // a lost COMPLETE file emptied the log, and an acceptor that forgets what it
        // promised can let a second value be chosen). Only a directory that never got past
        // its creation starts afresh: no generation, or a gen-0 without COMPLETE that holds
        // no record (a crash while it was made; gen-0 is marked before its first append).
        if (generations.some((g) => g !== 0) || (generations.includes(0) && AcceptorLog.mayHoldRecords(join(dir, generationName(0)), opts))) {
          throw new SteleError('STORE_CORRUPT', `acceptor log ${dir}: no generation is marked ${COMPLETE} (${generations.map(generationName).join(', ')}): its files were damaged or removed; this validator's promises cannot be recovered from it: treat it as a lost acceptor/ (docs/operations.md, "The acceptor stamp")`, { path: dir });
        }
        current = 0;
        rmSync(join(dir, generationName(0)), { recursive: true, force: true });
        void MappedLog.open(join(dir, generationName(0)), opts).close();
        AcceptorLog.markComplete(dir, 0);
      } else if (!readdirSync(join(dir, generationName(current))).some((name) => SEGMENT_FILE.test(name))) {
        // A complete generation always has its first segment: opening it would make a new,
        // empty log.
        throw new SteleError('STORE_CORRUPT', `acceptor log ${dir}: ${generationName(current)} is marked ${COMPLETE} but holds no segment file: its files were damaged or removed`, { path: join(dir, generationName(current)) });
      }
      // Unfinished compactions and superseded generations are dropped.
      for (const g of generations) if (g !== current) rmSync(join(dir, generationName(g)), { recursive: true, force: true });
      return new AcceptorLog(dir, current, MappedLog.open(join(dir, generationName(current)), opts), opts);
    } catch (error) {
      if (error instanceof SteleError || error instanceof RangeError) throw error;
      throw new SteleError('STORE_IO', `acceptor log ${dir}: ${(error as Error).message}`, { path: dir });
    }
  }

  /** Whether a generation is marked COMPLETE: only a missing file means no (any other error is STORE_IO). */
  private static isComplete(dir: string, generation: number): boolean {
    try {
      lstatSync(join(dir, generationName(generation), COMPLETE));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }

  /**
   * Whether an unmarked gen-0 may hold a record. Only a crash while it was being made
   * leaves one that cannot: no segment file (its first is still a `.tmp`), or segment 0
   * alone, whole and empty. Anything else may: records, a second segment, a torn tail or
   * damage (a read-only open reports those instead of throwing; the second review of
   * 2026-12-02 found such a gen-0 read as empty and wiped), or a segment that does not open.
   */
  private static mayHoldRecords(gdir: string, opts: MappedLogOptions): boolean {
    const segments = readdirSync(gdir).filter((name) => SEGMENT_FILE.test(name));
    if (segments.length === 0) return false;
    if (segments.length > 1 || segments[0] !== '0000000000.seg') return true;
    try {
      const log = MappedLog.open(gdir, { ...opts, readOnly: true });
      const { corruption, tornBytes } = log.stats();
      const empty = log.length === 0 && corruption === null && tornBytes === 0;
      void log.close();
      return !empty;
    } catch {
      return true;
    }
  }

  private static markComplete(dir: string, generation: number): void {
    const gdir = join(dir, generationName(generation));
    writeFileSync(join(gdir, `${COMPLETE}.tmp`), '');
    const fd = openSync(join(gdir, `${COMPLETE}.tmp`), 'r');
    fsyncSync(fd);
    closeSync(fd);
    renameSync(join(gdir, `${COMPLETE}.tmp`), join(gdir, COMPLETE));
    fsyncDir(gdir);
    fsyncDir(dir);
  }

  /** Records in the log, those held during a compaction included. */
  get length(): number {
    return this.log.length + this.held.length;
  }

  /** Bytes of records appended since this log was opened or last began a compaction. */
  get bytesSinceCompaction(): number {
    return this.appendedSinceCompaction;
  }

  /** The current generation (0 before the first compaction). */
  get generationNumber(): number {
    return this.generation;
  }

  /** The records, oldest first (views into the mapping, checksums verified). */
  *replay(): IterableIterator<Uint8Array> {
    this.checkUsable();
    invariant(this.compacting === null, 'no replay during a compaction');
    for (let i = 0; i < this.log.length; i++) yield this.log.read(i);
  }

  /**
   * Appends a record (durable at the next `persist`). During a compaction the record is
   * held in memory and goes into the new generation once it is current: appending it to
   * the old one would lose it when that generation is deleted.
   */
  append(record: Uint8Array): number {
    this.checkUsable();
    this.appendedSinceCompaction += record.length;
    if (this.compacting !== null) {
      this.held.push(Uint8Array.from(record));
      return this.length - 1;
    }
    return this.log.append(record);
  }

  /**
   * Resolves when every record appended before the call is durable (after a compaction under
   * way, if any). @throws SteleError the log's failure, if it failed (see `compact`)
   */
  async persist(options: PersistOptions = {}): Promise<void> {
    while (this.compacting !== null) await this.compacting;
    this.checkUsable();
    return this.log.persist(options);
  }

  private checkUsable(): void {
    if (this.failure !== null) throw this.failure;
  }

  /**
   * Atomically replaces every record with `records` (durable when it resolves). Safe while
   * the log is in use: appends made meanwhile are held and then appended to the new
   * generation, and a `persist` waits for the switch. `records` is read synchronously, at
   * the call, so it must describe everything appended before the call.
   * @throws SteleError STORE_IO when the new generation cannot be made: the old one stays
   * current and the held records are appended to it. STORE_FULL or STORE_IO when a held
   * record cannot be appended to whichever generation is current (e.g. no room for a new
   * segment): the records after it are in no log, so the log fails, and `append`,
   * `persist`, `replay` and `compact` throw that error until it is closed and reopened
   * (before a review of 2026-12-01 a waiting `persist` resolved without them). No record
   * whose `persist` resolved is lost either way: a persist made during a compaction waits
   * for the switch. The caller should stop.
   */
  compact(records: Iterable<Uint8Array>): Promise<void> {
    this.checkUsable();
    invariant(this.compacting === null, 'one compaction at a time');
    this.appendedSinceCompaction = 0;
    const copies = [...records].map((r) => Uint8Array.from(r));
    const run = this.switchTo(copies).finally(() => {
      this.compacting = null;
      // Held records follow the compacted ones, in their order, in whichever generation is
      // current. Set before a waiting persist resumes (it awaits `compacting`, which settles after this).
      const held = this.held.splice(0);
      let appended = 0;
      try {
        for (const r of held) {
          this.log.append(r);
          appended++;
        }
      } catch (error) {
        const cause = nativeError(error);
        const code = cause instanceof SteleError && cause.code === 'STORE_FULL' ? 'STORE_FULL' : 'STORE_IO';
        const reason = cause instanceof Error ? cause.message : String(cause);
        this.failure = new SteleError(
          code,
          `acceptor log ${this.dir}: ${held.length - appended} of ${held.length} records appended during a compaction are in no log (${reason}); close and reopen it`,
          { path: this.dir },
        );
        throw this.failure;
      }
    });
    this.compacting = run.catch(() => {});
    return run;
  }

  private async switchTo(records: readonly Uint8Array[]): Promise<void> {
    const next = this.generation + 1;
    const nextDir = join(this.dir, generationName(next));
    let log: MappedLog | null = null;
    try {
      rmSync(nextDir, { recursive: true, force: true });
      log = MappedLog.open(nextDir, this.options);
      for (const r of records) log.append(r);
      await log.persist();
      await log.close();
      AcceptorLog.markComplete(this.dir, next);
    } catch (error) {
      // Its persist thread, mapping and descriptor go now, not when it is collected (found
      // in review, 2026-12-01). A second close() does nothing; an error from this one
      // would only hide the compaction's, which is the one to report.
      try {
        await log?.close();
      } catch {
        // reported below: the compaction's error
      }
      rmSync(nextDir, { recursive: true, force: true });
      if (error instanceof SteleError) throw error;
      throw new SteleError('STORE_IO', `acceptor log compaction in ${nextDir}: ${(error as Error).message}`, { path: nextDir });
    }
    // From here the new generation is the one a restart opens.
    await this.log.close();
    rmSync(join(this.dir, generationName(this.generation)), { recursive: true, force: true });
    fsyncDir(this.dir);
    this.generation = next;
    this.log = MappedLog.open(nextDir, this.options);
  }

  async close(): Promise<void> {
    while (this.compacting !== null) await this.compacting;
    return this.log.close();
  }
}
