/**
 * Every protocol bound in one place. `_max` names are hard upper bounds of the encoding:
 * a decoder refuses anything larger before doing work. Genesis `limits` may lower the
 * operational ones (see genesis.ts), never raise them. `checkConstants()` runs at import
 * and asserts the bounds agree with each other.
 */
import assert from 'node:assert/strict';

/** Version byte that starts every top-level encoded value. */
export const ENCODING_VERSION = 1;

/** Kind byte that follows the version: domain separation for hashes and signatures. */
export const Kind = {
  TX_BODY: 1,
  TX: 2,
  BLOCK_HEADER: 3,
  BLOCK: 4,
  VOTE: 5,
  PROPOSAL: 6,
  GENESIS: 7,
  WRITE_SET: 8,
  STATE_LINK: 9,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

export const HASH_BYTES = 32;
export const PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;

/** Largest amount or supply of one asset: unsigned 64-bit. */
export const AMOUNT_MAX = (1n << 64n) - 1n;

export const CHAIN_ID_BYTES_MAX = 64;
export const NAME_BYTES_MAX = 64;
export const ADDRESS_BYTES_MAX = 255;
export const ASSET_SYMBOL_BYTES_MAX = 12;
export const SIGNERS_MAX = 8;
export const RECORD_KEY_BYTES_MAX = 256;
export const RECORD_VALUE_BYTES_MAX = 4096;
export const VALIDATORS_MAX = 16;

/** Hard bound of one encoded signed transaction. */
export const TX_BYTES_MAX = 65_536;
/** Hard bound of transactions in one block. */
export const BLOCK_TXS_MAX = 20_000;
/** Hard bound of one encoded block (the transport carries at least this much). */
export const BLOCK_BYTES_MAX = 16 * 1024 * 1024;
/**
 * Room a block keeps for its header and certificate: a leader fills a block with
 * transactions (each after a u32 length) up to block_bytes_max minus this. A genesis's
 * block_bytes_max must therefore be at least tx_bytes_max + 4 + this, or a transaction
 * admitted under tx_bytes_max could fit no block.
 */
export const BLOCK_RESERVED_BYTES = 4_096;
/** Hard bound of the expiry window, in blocks. */
export const EXPIRY_WINDOW_MAX = 100_000;
/** Hard bound of a genesis JSON file. */
export const GENESIS_FILE_BYTES_MAX = 16 * 1024 * 1024;
export const GENESIS_IDENTITIES_MAX = 100_000;
export const GENESIS_ASSETS_MAX = 1_000;
export const GENESIS_BALANCES_MAX = 1_000_000;
/** Heights and times are encoded as u64 but kept as JS numbers: at most 2^53 - 1. */
export const HEIGHT_MAX = Number.MAX_SAFE_INTEGER;
/** Contract transactions (SCL): bounds of the payloads. */
export const CONTRACT_SOURCE_BYTES_MAX = 60_000;
export const CONTRACT_NAME_BYTES_MAX = 128;
export const CONTRACT_PARTIES_MAX = 16;
export const CONTRACT_PARAMS_MAX = 64;
export const CONTRACT_REFS_MAX = 16;
export const CONTRACT_ARGS_MAX = 64;
/** Magnitude bytes of an integer param or argument (2^512 > any useful amount). */
export const CONTRACT_INT_BYTES_MAX = 64;
/**
 * Due entries at one height (a create or act that would need one more there is refused).
 * An entry is a reservation: an instance holds one at every height of its after chain.
 */
export const CONTRACT_DUE_PER_HEIGHT_MAX = 2_000;
/**
 * After transitions that may follow one another from any state of a contract with no act
 * between them (its after chain): a longer contract is refused at deploy. Every height of
 * the chain is reserved on a due list when the instance enters the state (docs/contracts.md).
 */
export const CONTRACT_AFTER_CHAIN_MAX = 16;
/**
 * Keys one contract step (create, act or deadline) may write: instance, counter, the due
 * lists of an old and a new after chain, party balances.
 */
export const CONTRACT_STEP_WRITES_MAX = 2 + 2 * CONTRACT_AFTER_CHAIN_MAX + CONTRACT_PARTIES_MAX;
/** Keys one transaction may write (transfer: two balances and its id; a contract step and its id). */
export const TX_WRITES_MAX = CONTRACT_STEP_WRITES_MAX + 1;
/**
 * Entries in one write set. A block writes at most TX_WRITES_MAX keys per transaction and
 * prunes at most one block's worth of committed ids; genesis writes two keys per identity
 * (`id/`, `name/`), one per asset and balance, and `meta/admins` (1,201,001 at most: the
 * bound was 1,200,000 and the check below counted one key per identity until 2026-11-30,
 * found in review).
 */
export const WRITE_SET_ENTRIES_MAX = 1_250_000;
/** Bound of a state key (ASCII) and value. */
export const STATE_KEY_BYTES_MAX = 512;
/** The largest value is the list of ids committed at one height (32 bytes each). */
export const STATE_VALUE_BYTES_MAX = BLOCK_TXS_MAX * 32;

/** Defaults for genesis `limits` when a file omits them. */
export const LIMITS_DEFAULT = {
  tx_bytes_max: 8_192,
  block_txs_max: 5_000,
  block_bytes_max: 4 * 1024 * 1024,
  expiry_window_blocks: 1_000,
} as const;

function checkConstants(): void {
  assert.ok(LIMITS_DEFAULT.tx_bytes_max <= TX_BYTES_MAX);
  assert.ok(LIMITS_DEFAULT.block_txs_max <= BLOCK_TXS_MAX);
  assert.ok(LIMITS_DEFAULT.block_bytes_max <= BLOCK_BYTES_MAX);
  assert.ok(LIMITS_DEFAULT.block_bytes_max >= LIMITS_DEFAULT.tx_bytes_max + 4 + BLOCK_RESERVED_BYTES);
  assert.ok(BLOCK_BYTES_MAX >= TX_BYTES_MAX + 4 + BLOCK_RESERVED_BYTES);
  assert.ok(LIMITS_DEFAULT.expiry_window_blocks <= EXPIRY_WINDOW_MAX);
  // A full block of maximal transactions must not need more than the block bound allows
  // to be representable; the block bound is checked on its own at encode and decode.
  assert.ok(TX_BYTES_MAX < BLOCK_BYTES_MAX);
  assert.ok(RECORD_KEY_BYTES_MAX + RECORD_VALUE_BYTES_MAX + 1_024 < TX_BYTES_MAX);
  assert.ok(STATE_VALUE_BYTES_MAX > RECORD_VALUE_BYTES_MAX);
  assert.ok(WRITE_SET_ENTRIES_MAX >= BLOCK_TXS_MAX * (TX_WRITES_MAX + 1) + CONTRACT_DUE_PER_HEIGHT_MAX * (CONTRACT_STEP_WRITES_MAX + 1));
  assert.ok(CONTRACT_SOURCE_BYTES_MAX + 1_024 < TX_BYTES_MAX);
  assert.ok(CONTRACT_DUE_PER_HEIGHT_MAX * 8 < STATE_VALUE_BYTES_MAX);
  assert.ok(WRITE_SET_ENTRIES_MAX >= 2 * GENESIS_IDENTITIES_MAX + 1 + GENESIS_ASSETS_MAX + GENESIS_BALANCES_MAX);
  assert.ok(Number.isSafeInteger(HEIGHT_MAX));
}
checkConstants();
