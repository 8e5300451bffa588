/**
 * The acceptor log's stamp: `acceptor/stamp.json` names the chain (genesis hash) and the
 * validator (index and public key) whose Paxos promises and accepts the log holds. It
 * lives inside `acceptor/`, so a copy of the directory carries it along, and a node refuses
 * an acceptor log stamped for another validator or chain before it replays or writes
 * anything there: a replica carrying another replica's promises breaks the quorum's
 * safety (docs/operations.md, "The acceptor stamp"; format in docs/storage.md).
 *
 * Format, version 1: one JSON object of exactly these fields, at most 4 KiB,
 *
 *   {"stele_acceptor_stamp": 1, "genesis_hash": "<64 hex>", "validator_index": 0, "public_key": "<64 hex>"}
 *
 * written once (temporary file, fsync, link into place, directory fsync) and never
 * rewritten by the node.
 */
import { lstatSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { bytesEqual, fromHex, toHex } from '../ledger/assert.js';
import { errnoText, isNoSpaceError, SteleError } from '../ledger/errors.js';
import { syncDirectory } from '../ledger/files.js';
import { REPLICAS_MAX } from '../consensus/replica.js';
import { readBytes, writeNew } from '../cli/io.js';

/** The stamp's file name inside the acceptor log's directory. */
export const ACCEPTOR_STAMP_FILE = 'stamp.json';
/** The format version this build writes and reads (field `stele_acceptor_stamp`). */
export const ACCEPTOR_STAMP_VERSION = 1;
/** A stamp is about 200 bytes; a larger file is not one, and is never read whole. */
export const ACCEPTOR_STAMP_BYTES_MAX = 4096;

const FIELDS = ['stele_acceptor_stamp', 'genesis_hash', 'validator_index', 'public_key'] as const;
const HEX_32 = /^[0-9a-f]{64}$/;

/** Whose acceptor log this is. */
export interface AcceptorStamp {
  /** The chain: its genesis hash (32 bytes). */
  readonly genesisHash: Uint8Array;
  /** The validator's index in the genesis, 0 to REPLICAS_MAX - 1. */
  readonly validatorIndex: number;
  /** The validator's Ed25519 public key (32 bytes). */
  readonly publicKey: Uint8Array;
}

/** What opening found: a stamp written now on an empty log, one written now on a log that had none (from before stamps), or a matching one. */
export type StampOutcome = 'stamped-new' | 'stamped-existing' | 'matched';

/**
 * The stamp file's text (version 1, one line).
 * @example acceptorStampText({ genesisHash, validatorIndex: 0, publicKey }) // '{"stele_acceptor_stamp":1,...}\n'
 */
export function acceptorStampText(stamp: AcceptorStamp): string {
  return `${JSON.stringify({ stele_acceptor_stamp: ACCEPTOR_STAMP_VERSION, genesis_hash: toHex(stamp.genesisHash), validator_index: stamp.validatorIndex, public_key: toHex(stamp.publicKey) })}\n`;
}

function malformed(path: string, why: string): never {
  throw new SteleError(
    'STORE_CORRUPT',
    `${path} is not an acceptor log stamp: ${why}. Nothing was changed. If this acceptor/ directory is known to be this validator's own, remove the file and start again (the log is stamped anew); ` +
      `otherwise move the directory aside and put back this validator's own (docs/operations.md, "The acceptor stamp")`,
    { path },
  );
}

/**
 * Parses a stamp file's text; `path` is for messages.
 * @throws SteleError STORE_CORRUPT naming what is wrong (not JSON, a field missing, unknown or out of range, another version)
 * @example parseAcceptorStamp(readText('data/acceptor/stamp.json', 4096), 'data/acceptor/stamp.json')
 */
export function parseAcceptorStamp(text: string, path: string): AcceptorStamp {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return malformed(path, 'not JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return malformed(path, 'not a JSON object');
  const o = value as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!(FIELDS as readonly string[]).includes(key)) malformed(path, `unknown field ${JSON.stringify(key).slice(0, 80)}`);
  for (const key of FIELDS) if (!Object.hasOwn(o, key)) malformed(path, `field ${key} is missing`);
  const version = o.stele_acceptor_stamp;
  if (version !== ACCEPTOR_STAMP_VERSION) malformed(path, `stele_acceptor_stamp is ${JSON.stringify(version).slice(0, 80)}; this build knows version ${ACCEPTOR_STAMP_VERSION}`);
  const index = o.validator_index;
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= REPLICAS_MAX) malformed(path, `validator_index must be an integer from 0 to ${REPLICAS_MAX - 1}`);
  const hex = (key: 'genesis_hash' | 'public_key'): Uint8Array => {
    const field = o[key];
    if (typeof field !== 'string' || !HEX_32.test(field)) malformed(path, `${key} must be 64 lower-case hex characters`);
    return fromHex(field, 32, key);
  };
  return { genesisHash: hex('genesis_hash'), validatorIndex: index, publicKey: hex('public_key') };
}

function describe(stamp: AcceptorStamp): string {
  return `validator ${stamp.validatorIndex} (public key ${toHex(stamp.publicKey)}) of the chain of genesis ${toHex(stamp.genesisHash)}`;
}

/** True when both stamps name the same chain and validator. */
export function sameStamp(a: AcceptorStamp, b: AcceptorStamp): boolean {
  return bytesEqual(a.genesisHash, b.genesisHash) && a.validatorIndex === b.validatorIndex && bytesEqual(a.publicKey, b.publicKey);
}

/** The stamp at `path`, or null when there is none. @throws SteleError STORE_CORRUPT, STORE_IO */
function readStamp(path: string): AcceptorStamp | null {
  let size: number;
  try {
    // Not followed: a link is not what the node wrote, and one that dangles would pass for
    // no stamp at all and then fail the write.
    const stats = lstatSync(path);
    if (!stats.isFile()) malformed(path, 'not a regular file');
    size = stats.size;
  } catch (error) {
    if (error instanceof SteleError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new SteleError('STORE_IO', `cannot read ${path}: ${errnoText(error)}`, { path });
  }
  if (size > ACCEPTOR_STAMP_BYTES_MAX) malformed(path, `${size} bytes; a stamp is at most ${ACCEPTOR_STAMP_BYTES_MAX}`);
  let bytes: Uint8Array;
  try {
    // Bounded again as it is read, in case the file grew since the stat.
    bytes = readBytes(path, ACCEPTOR_STAMP_BYTES_MAX);
  } catch (error) {
    throw new SteleError('STORE_IO', `cannot read ${path}: ${error instanceof SteleError ? error.reason : errnoText(error)}`, { path });
  }
  return parseAcceptorStamp(Buffer.from(bytes).toString('utf8'), path);
}

/**
 * Checks, or writes, the stamp of the acceptor log in `dir` (made if absent), before the
 * log is opened: a matching stamp passes; a log without one gets `expected` (an empty or
 * new directory, or a log from before stamps, which cannot be checked retroactively); a
 * stamp of another chain or validator is refused, and so is a file that is not a stamp.
 * Nothing in `dir` is changed unless the stamp is written. Call it while holding the data
 * directory's lock (after LevelDB's index is open).
 * @throws SteleError STORE_MISMATCH (another chain or validator), STORE_CORRUPT (not a stamp), STORE_IO, STORE_FULL
 * @example if (checkAcceptorStamp('data/acceptor', mine) === 'stamped-existing') warn();
 */
export function checkAcceptorStamp(dir: string, expected: AcceptorStamp): StampOutcome {
  const path = join(dir, ACCEPTOR_STAMP_FILE);
  const found = readStamp(path);
  if (found !== null) {
    if (sameStamp(found, expected)) return 'matched';
    throw new SteleError(
      'STORE_MISMATCH',
      `${dir} is the acceptor log of ${describe(found)} (${path}), but this node is ${describe(expected)}. ` +
        `Either the configuration names the wrong key or genesis, or the directory was copied from another validator or chain; running on another replica's Paxos promises and accepts breaks the quorum's safety. ` +
        `Nothing was changed: check the configuration's key and genesis, or else move ${dir} aside and put back this validator's own acceptor/ directory (docs/operations.md, "The acceptor stamp")`,
      { path, found: stampDetails(found), expected: stampDetails(expected) },
    );
  }
  let existing: boolean;
  try {
    // Dot files are left-overs of an interrupted stamp write (writeNew's temporary files).
    existing = readdirSync(dir).some((name) => !name.startsWith('.'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new SteleError('STORE_IO', `cannot read ${dir}: ${errnoText(error)}`, { path: dir });
    existing = false;
  }
  try {
    // writeNew makes the directory if need be; the data directory is fsynced below so that
    // a new acceptor/ survives a crash too.
    writeNew(path, acceptorStampText(expected), 0o644, false);
  } catch (error) {
    const reason = error instanceof SteleError ? error.reason : errnoText(error);
    throw new SteleError(isNoSpaceError(error) ? 'STORE_FULL' : 'STORE_IO', `cannot stamp the acceptor log: ${reason}`, { path });
  }
  syncDirectory(dirname(dir));
  return existing ? 'stamped-existing' : 'stamped-new';
}

function stampDetails(stamp: AcceptorStamp): Record<string, unknown> {
  return { genesis_hash: toHex(stamp.genesisHash), validator_index: stamp.validatorIndex, public_key: toHex(stamp.publicKey) };
}
