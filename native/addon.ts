/**
 * Loads the C++ addon (build/Release/stele_native.node, built by node-gyp during
 * `npm ci`). A missing or broken build is a NATIVE_MISSING error that says how to build it.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, SteleError, type ErrorCode } from '../ledger/errors.js';

/** The raw shapes the addon exports; only the wrappers in native/ use them. */
export interface NativeMappedLog {
  readonly length: number;
  append(record: Uint8Array): number;
  persist(inlineBytesMax?: number): Promise<void>;
  verify(index: number): void;
  segment(index: number): ArrayBuffer;
  positions(): Float64Array;
  truncate(length: number): void;
  close(): Promise<void>;
  stats(): NativeLogStats;
}

export interface NativeLogStats {
  readonly records: number;
  readonly segments: number;
  readonly segmentBytes: number;
  readonly dax: boolean;
  readonly tornBytes: number;
  readonly appendedBytes: number;
  readonly syncs: number;
  /** Persists whose msync ran on the calling thread (`inlinePersistBytesMax`). */
  readonly inlineSyncs: number;
  readonly readOnly: boolean;
  /** Read-only opens stop at corruption instead of throwing: where and why. */
  readonly corruption: { readonly record: number; readonly offset: number; readonly path: string; readonly reason: string } | null;
}

/** The log system calls `injectLogFault` can fail: segment msync, a new segment's fallocate, the directory fsync after creating one, its header write. */
export type LogFaultOp = 'msync' | 'fallocate' | 'fsyncDirectory' | 'headerWrite';

export interface NativeAddon {
  readonly napiVersion: number;
  /** CRC-32C as the log computes it (accelerated), or the portable table version. */
  crc32c(bytes: Uint8Array, portable: boolean): number;
  /** SHA-256 of each item (after the byte `tag`, or nothing when -1), 32 bytes each, concatenated. */
  sha256Many(items: readonly Uint8Array[], tag: number): Uint8Array;
  /** ledger/merkle.ts's root over leaves SHA-256(0x00 || item). */
  merkleRoot(items: readonly Uint8Array[]): Uint8Array;
  readonly fabric: boolean;
  readonly MappedLog: new (dir: string, segmentBytes: number, recordBytesMax: number, readOnly: boolean, recordBytesMin: number) => NativeMappedLog;
  /**
   * Tests only (docs/native.md, "Fault injection"): the next call of `op` by any mapped log
   * in the process, after `skip` that succeed, fails with `errno` instead of running
   * (`headerWrite` with errno 0: a short write). One armed fault per op; arming again replaces it.
   */
  injectLogFault(op: LogFaultOp, errno: number, skip: number): void;
  readonly Transport: new (options: object, onEvent: (...args: never[]) => void) => object;
}

let loaded: NativeAddon | null = null;

/** The addon, loaded once. @throws SteleError NATIVE_MISSING */
export function addon(): NativeAddon {
  if (loaded !== null) return loaded;
  const path = fileURLToPath(new URL('../../build/Release/stele_native.node', import.meta.url));
  // The addon links libfabric, whose PSM provider loads libinfinipath; that library's
  // constructor installs its own handlers for SIGINT, SIGTERM, SIGSEGV, SIGBUS, SIGILL and
  // SIGABRT (a backtrace, then exit 1) unless IPATH_NO_BACKTRACE is set, replacing Node's:
  // a SIGTERM then ended `stele node` with exit 1 and no clean stop once its handlers came
  // before the addon was loaded, and Ctrl-C during `stele export` left its temporary file
  // (found while fixing those, 2026-12-01). Set before the load, where the user has not.
  process.env.IPATH_NO_BACKTRACE ??= '1';
  try {
    loaded = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (error) {
    throw new SteleError(
      'NATIVE_MISSING',
      `cannot load the native addon ${path} (${(error as Error).message}); build it with \`npm run build:native\` (needs g++, make, python3 and Node's headers)`,
      { path },
    );
  }
  return loaded;
}

/** Turns an error thrown by the addon (an Error with a string `code`) into a SteleError. */
export function nativeError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const coded = error as Error & { code?: unknown; reason?: unknown; path?: unknown; offset?: unknown; record?: unknown };
  if (typeof coded.code !== 'string' || !Object.hasOwn(ERROR_CODES, coded.code)) return error;
  const details: Record<string, unknown> = {};
  for (const key of ['path', 'offset', 'record'] as const) if (coded[key] !== undefined) details[key] = coded[key];
  const reason = typeof coded.reason === 'string' ? coded.reason : error.message;
  return new SteleError(coded.code as ErrorCode, reason, details);
}

/** Runs `fn`, converting coded addon errors to SteleErrors. */
export function call<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw nativeError(error);
  }
}
