/**
 * Fault injection between validators, for the chaos harness on machines where network
 * namespaces are not available. TEST ONLY. Off unless the node's configuration names a
 * file in `test_faults_file` (node/config.ts); the environment variable STELE_FAULTS, which
 * turned it on before, is ignored, and said to be (faultsNotice). The node re-reads that
 * file every 100 ms. The file is JSON:
 *
 *   {"drop_to": [1], "drop_from": [2]}
 *
 * Messages this validator sends to a validator in `drop_to` and messages it receives from
 * one in `drop_from` are dropped silently above the transport (connections stay open, as
 * behind a switch that loses every packet one way). A missing file means no faults; a bad
 * file (FAULTS_INVALID; more than 4 KiB is bad, and no more is read) or one that cannot
 * be read is reported once and the previous setting stays.
 */
import { open } from 'node:fs/promises';
import { SteleError } from '../ledger/errors.js';
import type { PeerMessage, Transport } from '../consensus/driver.js';

const FAULTS_FILE_BYTES_MAX = 4096;
const POLL_MS = 100;

export interface FaultSetting {
  readonly dropTo: ReadonlySet<number>;
  readonly dropFrom: ReadonlySet<number>;
}

const NONE: FaultSetting = { dropTo: new Set(), dropFrom: new Set() };

/** Peer messages dropped since start (GET /metrics `stele_test_fault_drops_total`). */
export interface FaultDrops {
  /** Messages this validator did not send because their receiver is in `drop_to`. */
  readonly to: number;
  /** Messages it received and threw away because their sender is in `drop_from`. */
  readonly from: number;
}

/** The environment variable that turned fault injection on before `test_faults_file`; now only noticed. */
export const FAULTS_ENVIRONMENT_VARIABLE = 'STELE_FAULTS';

/**
 * The line a starting node writes to stderr about fault injection, or null when there is
 * nothing to say: a loud warning when its configuration turns faults on (`configured`, the
 * config's `test_faults_file`), and, when it does not but STELE_FAULTS is set (`environment`),
 * that the variable is ignored, so nobody believes faults are active.
 * @example faultsNotice(null, '/tmp/f.json') // 'ignoring STELE_FAULTS=/tmp/f.json: ...'
 */
export function faultsNotice(configured: string | null, environment: string | undefined): string | null {
  const set = environment !== undefined && environment !== '';
  if (configured !== null) {
    const also = set && environment !== configured ? ` (${FAULTS_ENVIRONMENT_VARIABLE}=${environment} is ignored)` : '';
    return `TEST ONLY: fault injection is on (test_faults_file ${configured}): peer messages are dropped as that file says; never run a production validator so${also}`;
  }
  if (!set) return null;
  return `ignoring ${FAULTS_ENVIRONMENT_VARIABLE}=${environment}: no fault injection; only the test-only config field test_faults_file turns it on`;
}

/** Parses a faults file for a cluster of `validators`. @throws SteleError FAULTS_INVALID */
export function parseFaults(text: string, validators: number): FaultSetting {
  if (text.length > FAULTS_FILE_BYTES_MAX) throw new SteleError('FAULTS_INVALID', `the faults file is over ${FAULTS_FILE_BYTES_MAX} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new SteleError('FAULTS_INVALID', `the faults file is not JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new SteleError('FAULTS_INVALID', 'the faults file must hold a JSON object');
  const o = value as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'drop_to' && k !== 'drop_from') throw new SteleError('FAULTS_INVALID', `unknown field ${k}`, { field: k });
  const list = (field: 'drop_to' | 'drop_from'): Set<number> => {
    const v = o[field] ?? [];
    if (!Array.isArray(v) || v.length > validators) throw new SteleError('FAULTS_INVALID', `${field} must be a list of at most ${validators} validator indices`, { field });
    for (const i of v) {
      if (!Number.isInteger(i) || (i as number) < 0 || (i as number) >= validators) throw new SteleError('FAULTS_INVALID', `${field}: ${String(i)} is not a validator index 0..${validators - 1}`, { field });
    }
    return new Set(v as number[]);
  };
  return { dropTo: list('drop_to'), dropFrom: list('drop_from') };
}

/**
 * The faults file's text, reading at most FAULTS_FILE_BYTES_MAX + 1 bytes: a huge file or
 * a device is refused, never read whole. A missing file is '{}' (no faults).
 * @throws SteleError FAULTS_INVALID when larger; the error of the read when it fails
 */
async function readFaultsFile(path: string): Promise<string> {
  let file;
  try {
    file = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '{}';
    throw error;
  }
  try {
    const buffer = Buffer.alloc(FAULTS_FILE_BYTES_MAX + 1);
    let length = 0;
    for (let n = 1; n > 0 && length < buffer.length; length += n) n = (await file.read(buffer, length, buffer.length - length, null)).bytesRead;
    if (length > FAULTS_FILE_BYTES_MAX) throw new SteleError('FAULTS_INVALID', `the faults file is over ${FAULTS_FILE_BYTES_MAX} bytes`);
    return buffer.toString('utf8', 0, length);
  } finally {
    await file.close();
  }
}

/**
 * Wraps `inner` so that the current setting from `path` applies; returns the wrapped
 * transport, the count of messages it dropped so far (a live object), and a function that
 * stops polling. A problem (a bad file, or one that cannot be read, such as a directory) is
 * logged once, not on every poll, until it changes.
 * @example const faults = faultyTransport(wire, '/tmp/chaos/faults-0.json', 3, console.error);
 */
export function faultyTransport(inner: Transport, path: string, validators: number, log: (line: string) => void): { transport: Transport; drops: FaultDrops; stop: () => void } {
  let setting = NONE;
  const drops = { to: 0, from: 0 };
  let lastText = '';
  let lastProblem = '';
  let polling = false;
  const poll = async (): Promise<void> => {
    if (polling) return;
    polling = true;
    try {
      const text = await readFaultsFile(path);
      lastProblem = '';
      if (text === lastText) return;
      lastText = text;
      setting = parseFaults(text, validators);
      log(`faults now: drop_to [${[...setting.dropTo].join(',')}] drop_from [${[...setting.dropFrom].join(',')}]`);
    } catch (error) {
      const problem = error instanceof SteleError ? `${error.code}: ${path}: ${error.reason}` : `FAULTS_INVALID: ${path}: ${(error as Error).message}`;
      if (problem !== lastProblem) log(`${problem}; keeping the previous setting`);
      lastProblem = problem;
    } finally {
      polling = false;
    }
  };
  void poll();
  const timer = setInterval(() => void poll(), POLL_MS);
  timer.unref();
  return {
    transport: {
      send: (to, bytes) => {
        if (!setting.dropTo.has(to)) return inner.send(to, bytes);
        // Lost on the way, as behind a switch: the sender cannot tell, so it was "queued".
        drops.to++;
        return true;
      },
      flush: () => inner.flush?.(),
      receive: (handler) =>
        inner.receive((batch: readonly PeerMessage[]) => {
          if (setting.dropFrom.size === 0) return handler(batch);
          const kept = batch.filter((m) => !setting.dropFrom.has(m.from));
          drops.from += batch.length - kept.length;
          if (kept.length > 0) handler(kept);
        }),
    },
    drops,
    stop: () => clearInterval(timer),
  };
}
