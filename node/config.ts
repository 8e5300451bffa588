/**
 * The validator configuration file (`stele node --config FILE`): JSON, every field
 * checked, unknown fields refused, errors naming the field. Relative paths are resolved
 * against the file's directory.
 *
 * {
 *   "stele_node": 1,
 *   "genesis": "genesis.json",          the chain's genesis file
 *   "key": "keys/v1.key",               this validator's key file (0600)
 *   "data": "v1",                       data directory (block log, index, acceptor log)
 *   "listen": "0.0.0.0:7100",           optional: validator transport listen address
 *   "transport": "tcp",                 optional: tcp | fabric | auto
 *   "provider": "tcp",                  optional: libfabric provider, tcp | verbs
 *   "api": {                            optional: REST API (omit for none)
 *     "host": "127.0.0.1", "port": 8080,
 *     "mode": "open",                   optional: open (default) | members (api/members.ts)
 *     "signed_reads": false,            optional, members only: GET routes signed too
 *     "window_ms": 30000                optional, members only: accepted clock distance
 *   },
 *   "tick_ms": 20,                      optional: consensus tick
 *   "block_wait_ms": 30,                optional: how long a busy leader fills a block that is not full
 *   "verify_threads": 2,                optional: signature worker threads (default: one per core, at most 64)
 *   "mempool_max": 50000,               optional: pending transactions held, at most (1..1,000,000)
 *   "mempool_bytes_max": 67108864,      optional: their encoded bytes, at most (1 MiB..4 GiB)
 *   "test_faults_file": "faults.json"   optional, TEST ONLY: drop peer messages as this file says (node/faults.ts)
 * }
 */
import { dirname, resolve } from 'node:path';
import { SteleError } from '../ledger/errors.js';
import { hostPort } from '../ledger/genesis.js';
import { THREADS_MAX } from '../ledger/verify-pool.js';
import { MEMBERS_WINDOW_MS_DEFAULT, MEMBERS_WINDOW_MS_MAX } from '../api/limits.js';

/**
 * How long a leader lets its oldest transaction that is in no block wait for others while
 * one of its blocks awaits its commit (config `block_wait_ms`); a leader with no block in
 * flight cuts one at once (a busy one, node/busy.ts, no sooner than this long after its
 * previous block), and a full block is cut at once. 30 ms rather than 10: each
 * block costs the cluster several ms of CPU whatever it holds (about 9 ms on two cores,
 * 2026-11-30), so under load fewer, bigger blocks leave the machine less busy
 * (docs/performance.md, "Block wait" and "Cutting blocks").
 */
export const BLOCK_WAIT_MS_DEFAULT = 30;

/**
 * Bounds of `mempool_max` and `mempool_bytes_max` (docs/operations.md); the defaults live in
 * node/validator.ts. The least byte bound holds the largest transaction any genesis allows
 * (TX_BYTES_MAX, 64 KiB), so no configuration can make every transaction too big to admit.
 */
export const MEMPOOL_MAX_LIMIT = 1_000_000;
export const MEMPOOL_BYTES_MIN = 1024 * 1024;
export const MEMPOOL_BYTES_LIMIT = 4 * 1024 * 1024 * 1024;

/**
 * How the REST API admits requests: `open` (reads and writes unsigned: development), or
 * `members` (every write, and every read with `signedReads`, signed by an active registered
 * identity within `windowMs` of the server clock).
 */
export type ApiAccess = { readonly mode: 'open' } | { readonly mode: 'members'; readonly signedReads: boolean; readonly windowMs: number };

export interface ApiConfig {
  readonly host: string;
  readonly port: number;
  readonly access: ApiAccess;
}

export interface NodeConfig {
  readonly genesis: string;
  readonly key: string;
  readonly data: string;
  readonly listen: string | null;
  readonly transport: 'tcp' | 'fabric' | 'auto';
  /** Null when not given: the transport's default (tcp with `fabric`, verbs with `auto`). */
  readonly provider: 'tcp' | 'verbs' | null;
  readonly api: ApiConfig | null;
  readonly tickMs: number;
  readonly blockWaitMs: number;
  /** Re-verify transaction signatures of committed blocks (Validator.verifyCommitted). */
  readonly verifyCommittedSignatures: boolean;
  /** Signature worker threads; null: one per core. */
  readonly verifyThreads: number | null;
  /** Pending transactions held, at most; null: the validator's default. */
  readonly mempoolMax: number | null;
  /** Their encoded bytes, at most; null: the validator's default. */
  readonly mempoolBytesMax: number | null;
  /**
   * TEST ONLY (the chaos harness): the faults file whose setting drops peer messages
   * (node/faults.ts); null, the default: no fault injection, whatever the environment says.
   */
  readonly testFaultsFile: string | null;
}

export const NODE_CONFIG_BYTES_MAX = 64 * 1024;

function bad(field: string, message: string): never {
  throw new SteleError('CONFIG_INVALID', `${field}: ${message}`, { field });
}

function text(o: Record<string, unknown>, field: string, max = 4096): string {
  const v = o[field];
  if (typeof v !== 'string' || v.length === 0 || v.length > max) bad(field, `expected a non-empty string of at most ${max} characters`);
  return v;
}

/**
 * The transport's grammar (ledger/genesis.ts hostPort), so a listen address it would refuse
 * is refused here first. Port 0 with peers is refused when the genesis is read (node/run.ts).
 */
function address(field: string, v: unknown): string {
  if (typeof v !== 'string' || hostPort(v) === null) bad(field, 'expected "host:port" (a host name or IPv4 address, a port 0..65535)');
  return v;
}

/** Parses and validates a configuration; `base` resolves relative paths. @throws SteleError CONFIG_INVALID */
export function parseNodeConfig(source: string, base: string): NodeConfig {
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch (error) {
    bad('(file)', `not JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) bad('(file)', 'expected a JSON object');
  const o = value as Record<string, unknown>;
  const known = new Set(['stele_node', 'genesis', 'key', 'data', 'listen', 'transport', 'provider', 'api', 'tick_ms', 'block_wait_ms', 'verify_committed_signatures', 'verify_threads', 'mempool_max', 'mempool_bytes_max', 'test_faults_file']);
  for (const k of Object.keys(o)) if (!known.has(k)) bad(k, 'unknown field');
  if (o.stele_node !== 1) bad('stele_node', 'expected 1 (the format version)');
  const transport = o.transport ?? 'tcp';
  if (transport !== 'tcp' && transport !== 'fabric' && transport !== 'auto') bad('transport', 'expected tcp, fabric or auto');
  // Null when not given, so that `auto` picks verbs where an RDMA device exists: a default
  // of tcp here made auto use libfabric's tcp provider even then (review of 2026-12-02).
  const provider = o.provider ?? null;
  if (provider !== null && provider !== 'tcp' && provider !== 'verbs') bad('provider', 'expected tcp or verbs');
  // The provider is libfabric's: with the tcp transport it was ignored without a word (review of 2026-12-02).
  if (o.provider !== undefined && transport === 'tcp') bad('provider', 'only with "transport": "fabric" or "auto" (the tcp transport uses no libfabric provider)');
  const api = o.api === undefined ? null : apiConfig(o.api);
  const tickMs = o.tick_ms ?? 20;
  if (typeof tickMs !== 'number' || !Number.isInteger(tickMs) || tickMs < 1 || tickMs > 1000) bad('tick_ms', 'expected an integer 1..1000');
  const blockWaitMs = o.block_wait_ms ?? BLOCK_WAIT_MS_DEFAULT;
  if (typeof blockWaitMs !== 'number' || !Number.isInteger(blockWaitMs) || blockWaitMs < 1 || blockWaitMs > 1000) bad('block_wait_ms', 'expected an integer 1..1000');
  const verifyCommitted = o.verify_committed_signatures ?? false;
  if (typeof verifyCommitted !== 'boolean') bad('verify_committed_signatures', 'expected true or false');
  const verifyThreads = o.verify_threads ?? null;
  if (verifyThreads !== null && (typeof verifyThreads !== 'number' || !Number.isInteger(verifyThreads) || verifyThreads < 1 || verifyThreads > THREADS_MAX)) bad('verify_threads', `expected an integer 1..${THREADS_MAX}`);
  const mempoolMax = o.mempool_max ?? null;
  if (mempoolMax !== null && (typeof mempoolMax !== 'number' || !Number.isInteger(mempoolMax) || mempoolMax < 1 || mempoolMax > MEMPOOL_MAX_LIMIT)) bad('mempool_max', `expected an integer 1..${MEMPOOL_MAX_LIMIT}`);
  const mempoolBytesMax = o.mempool_bytes_max ?? null;
  if (mempoolBytesMax !== null && (typeof mempoolBytesMax !== 'number' || !Number.isInteger(mempoolBytesMax) || mempoolBytesMax < MEMPOOL_BYTES_MIN || mempoolBytesMax > MEMPOOL_BYTES_LIMIT)) {
    bad('mempool_bytes_max', `expected an integer ${MEMPOOL_BYTES_MIN}..${MEMPOOL_BYTES_LIMIT} (bytes)`);
  }
  return {
    genesis: resolve(base, text(o, 'genesis')),
    key: resolve(base, text(o, 'key')),
    data: resolve(base, text(o, 'data')),
    listen: o.listen === undefined ? null : address('listen', o.listen),
    transport,
    provider,
    api,
    tickMs,
    blockWaitMs,
    verifyCommittedSignatures: verifyCommitted,
    verifyThreads,
    mempoolMax,
    mempoolBytesMax,
    // Present only where a test asked for it: `null` or an empty string is refused, not read as "off".
    testFaultsFile: o.test_faults_file === undefined ? null : resolve(base, text(o, 'test_faults_file')),
  };
}

function apiConfig(value: unknown): ApiConfig {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) bad('api', 'expected {"host", "port"} and optionally "mode", "signed_reads", "window_ms"');
  const a = value as Record<string, unknown>;
  const known = new Set(['host', 'port', 'mode', 'signed_reads', 'window_ms']);
  for (const k of Object.keys(a)) if (!known.has(k)) bad(`api.${k}`, 'unknown field');
  const host = text(a, 'host', 253);
  const port = a.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) bad('api.port', 'expected an integer 0..65535');
  const mode = a.mode ?? 'open';
  if (mode !== 'open' && mode !== 'members') bad('api.mode', 'expected "open" or "members"');
  if (mode === 'open') {
    // Settings that only mean something in members mode are refused rather than ignored:
    // an operator who writes them believes the API is guarded.
    for (const k of ['signed_reads', 'window_ms']) if (a[k] !== undefined) bad(`api.${k}`, 'only allowed with "mode": "members"');
    return { host, port, access: { mode: 'open' } };
  }
  const signedReads = a.signed_reads ?? false;
  if (typeof signedReads !== 'boolean') bad('api.signed_reads', 'expected true or false');
  const windowMs = a.window_ms ?? MEMBERS_WINDOW_MS_DEFAULT;
  if (typeof windowMs !== 'number' || !Number.isInteger(windowMs) || windowMs < 1000 || windowMs > MEMBERS_WINDOW_MS_MAX) bad('api.window_ms', `expected an integer 1000..${MEMBERS_WINDOW_MS_MAX}`);
  return { host, port, access: { mode: 'members', signedReads, windowMs } };
}

export function configBase(path: string): string {
  return dirname(resolve(path));
}
