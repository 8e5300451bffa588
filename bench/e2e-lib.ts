/**
 * Pure helpers of bench:e2e (no I/O, no clock): command-line options, which transfer is
 * the k-th, the keys by which committed transactions are recognised in block encodings,
 * /proc parsing, percentiles and the open-loop schedule. Tested in test/bench/e2e-lib.test.ts.
 */
import assert from 'node:assert/strict';

export type Mode = 'batch' | 'single' | 'both';
export type Target = 'all' | 'leader';
/** The form of batch bodies: length-framed encodings, or JSON forms. */
export type Encoding = 'binary' | 'json';

export interface E2eOptions {
  readonly json: boolean;
  readonly seconds: number;
  readonly concurrency: number;
  readonly mode: Mode;
  /** Transfers for the "after N transactions" phase; 0 = skip it. */
  readonly txs: number;
  readonly batch: number;
  readonly runs: number;
  readonly senders: number;
  readonly target: Target;
  /** Open loop only, at this many tx/s (0 = the full run): for latency work. */
  readonly openRate: number;
  /** Batch bodies (single transactions are always sent binary). */
  readonly encoding: Encoding;
  /** The validators' `block_wait_ms` (0 = their default, node/config.ts). */
  readonly blockWaitMs: number;
}

export const E2E_DEFAULTS: E2eOptions = { json: false, seconds: 10, concurrency: 64, mode: 'both', txs: 0, batch: 200, runs: 3, senders: 500, target: 'all', openRate: 0, encoding: 'binary', blockWaitMs: 0 };
/** POST /v1/transactions/batch takes at most this many (api/limits.ts BATCH_TXS_MAX). */
export const BATCH_SIZE_MAX = 1_000;
export const CONCURRENCY_MAX = 4_096;
export const SECONDS_MAX = 3_600;
export const RUNS_MAX = 99;
export const TXS_MAX = 100_000_000;
export const OPEN_RATE_MAX = 1_000_000;
/** node/config.ts accepts block_wait_ms up to this. */
export const BLOCK_WAIT_MS_MAX = 1_000;
/** Senders funded at genesis (genesis holds at most 100,000 identities). */
export const SENDERS_MAX = 50_000;

function integerOption(name: string, text: string | undefined, lo: number, hi: number): number {
  const n = Number(text);
  if (text === undefined || !/^[0-9]+$/.test(text) || !Number.isSafeInteger(n) || n < lo || n > hi) throw new RangeError(`--${name} expects an integer ${lo}..${hi}`);
  return n;
}

/**
 * Parses bench:e2e's arguments (`process.argv.slice(2)`).
 * @throws RangeError naming the bad option.
 * @example parseE2eArgs(['--seconds', '5', '--mode', 'batch']).seconds // 5
 */
export function parseE2eArgs(argv: readonly string[]): E2eOptions {
  const o: { -readonly [K in keyof E2eOptions]: E2eOptions[K] } = { ...E2E_DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i];
    const value = argv[i + 1];
    switch (name) {
      case '--json':
        o.json = true;
        continue;
      case '--seconds':
        o.seconds = integerOption('seconds', value, 1, SECONDS_MAX);
        break;
      case '--concurrency':
        o.concurrency = integerOption('concurrency', value, 1, CONCURRENCY_MAX);
        break;
      case '--txs':
        o.txs = integerOption('txs', value, 0, TXS_MAX);
        break;
      case '--batch':
        o.batch = integerOption('batch', value, 1, BATCH_SIZE_MAX);
        break;
      case '--runs':
        o.runs = integerOption('runs', value, 1, RUNS_MAX);
        break;
      case '--senders':
        o.senders = integerOption('senders', value, 2, SENDERS_MAX);
        break;
      case '--mode':
        if (value !== 'batch' && value !== 'single' && value !== 'both') throw new RangeError('--mode expects batch, single or both');
        o.mode = value;
        break;
      case '--open-rate':
        o.openRate = integerOption('open-rate', value, 0, OPEN_RATE_MAX);
        break;
      case '--target':
        if (value !== 'all' && value !== 'leader') throw new RangeError('--target expects all or leader');
        o.target = value;
        break;
      case '--block-wait-ms':
        o.blockWaitMs = integerOption('block-wait-ms', value, 0, BLOCK_WAIT_MS_MAX);
        break;
      case '--encoding':
        if (value !== 'binary' && value !== 'json') throw new RangeError('--encoding expects binary or json');
        o.encoding = value;
        break;
      default:
        throw new RangeError(`unknown argument ${String(name)}`);
    }
    i++;
  }
  return o;
}

/**
 * The k-th transfer of a run (k = 0, 1, 2, ...): sender k mod S pays a rotating recipient
 * an amount that grows by round, so no two transfers have the same body (the ledger
 * refuses a repeated id) and consecutive ones touch different balances.
 */
export function transferPlan(k: number, senders: number): { from: number; to: number; amount: bigint } {
  assert.ok(Number.isSafeInteger(k) && k >= 0, 'k is a transfer index');
  assert.ok(Number.isSafeInteger(senders) && senders >= 2, 'at least two senders');
  const from = k % senders;
  const round = Math.floor(k / senders);
  const to = (from + 1 + (round % (senders - 1))) % senders;
  return { from, to, amount: BigInt(1 + round) };
}

/** Balance each sender needs for `transfers` transfers in total: sum of 1..rounds. */
export function balanceNeeded(transfers: number, senders: number): bigint {
  const rounds = BigInt(Math.ceil(transfers / senders));
  return (rounds * (rounds + 1n)) / 2n;
}

/** Bytes of a transaction encoding that key it: the tail of its (last) signature. */
export const TX_KEY_BYTES = 16;

/** Key of one encoded signed transaction (hex of its last 16 bytes). */
export function txKey(txBytes: Uint8Array): string {
  assert.ok(txBytes.length > 64, 'a signed transaction ends with a 64-byte signature');
  return Buffer.from(txBytes.buffer, txBytes.byteOffset + txBytes.length - TX_KEY_BYTES, TX_KEY_BYTES).toString('hex');
}

/**
 * Keys of the transactions of an encoded block, without decoding them: version, kind,
 * u32 header length and header, 64-byte proposer signature, u32 count, then per
 * transaction a u32 length and its bytes (ledger/block.ts encodeBlock). Deterministic
 * Ed25519 signatures of distinct bodies differ, so 16 bytes of one identify the transfer.
 * @throws RangeError when a frame runs past the end.
 */
export function blockTxKeys(block: Uint8Array): string[] {
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
  const need = (at: number, n: number): void => {
    if (at + n > block.length) throw new RangeError(`block frame at byte ${at} needs ${n} bytes; the block has ${block.length}`);
  };
  let at = 2;
  need(at, 4);
  at += 4 + view.getUint32(at);
  at += 64;
  need(at, 4);
  const count = view.getUint32(at);
  at += 4;
  const keys: string[] = [];
  for (let i = 0; i < count; i++) {
    need(at, 4);
    const length = view.getUint32(at);
    at += 4;
    need(at, length);
    if (length <= 64) throw new RangeError(`transaction ${i} of ${length} bytes has no signature`);
    keys.push(Buffer.from(block.buffer, block.byteOffset + at + length - TX_KEY_BYTES, TX_KEY_BYTES).toString('hex'));
    at += length;
  }
  return keys;
}

/** utime + stime (clock ticks) from the text of /proc/PID/stat. */
export function cpuTicksOfStat(stat: string): number {
  // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isSafeInteger(utime) || !Number.isSafeInteger(stime)) throw new RangeError('not the text of /proc/PID/stat');
  return utime + stime;
}

/** VmHWM and VmRSS in KiB from the text of /proc/PID/status. */
export function memoryOfStatus(status: string): { hwmKib: number; rssKib: number; anonKib: number | null; fileKib: number | null } {
  const optional = (name: string): number | null => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status);
    return m === null ? null : Number(m[1]);
  };
  const field = (name: string): number => {
    const v = optional(name);
    if (v === null) throw new RangeError(`no ${name} in /proc/PID/status`);
    return v;
  };
  // RssAnon and RssFile (Linux 4.5 and later) split the resident set: heap and stacks, or
  // mapped files (the program, libraries, the block log).
  return { hwmKib: field('VmHWM'), rssKib: field('VmRSS'), anonKib: optional('RssAnon'), fileKib: optional('RssFile') };
}

/** The value below which a fraction `p` of the sorted values fall (0 when empty). */
export function percentile(sorted: readonly number[], p: number): number {
  assert.ok(p >= 0 && p <= 1, 'p is a fraction');
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number;
}

/**
 * Open loop at `ratePerS` transactions per second in groups of `group`: group i is due
 * `i * group / ratePerS` seconds after the start. Returns how many groups are due at
 * `elapsedMs` (the caller sends those not sent yet, whatever answers are still out).
 */
export function groupsDue(ratePerS: number, group: number, elapsedMs: number): number {
  assert.ok(ratePerS > 0 && group >= 1, 'a positive rate and group');
  if (elapsedMs < 0) return 0;
  return Math.floor((elapsedMs / 1000) * (ratePerS / group)) + 1;
}

/** Scheduled start of group `i` in milliseconds after the start of the open loop. */
export function groupDueMs(ratePerS: number, group: number, i: number): number {
  return ((i * group) / ratePerS) * 1000;
}
