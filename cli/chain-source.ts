/**
 * Where `stele audit` and `stele export` read a chain from: a validator's data directory
 * (the plain block log `blocks.log`, or the mapped log `blocks/`), or a node's REST API.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FileBlockLog } from '../ledger/block-log.js';
import { SteleError } from '../ledger/errors.js';
import { MappedBlockLog } from '../native/mapped-log.js';
import { ApiError, SteleClient } from '../api/client.js';

export interface ChainSource {
  readonly blocks: AsyncIterable<Uint8Array>;
  /** Blocks the source holds (known up front). */
  readonly count: number;
  /** A damaged record found on open: block `height` is the first bad one. */
  readonly damage: { height: number; code: 'STORE_CORRUPT'; message: string } | null;
  readonly tornBytes: number;
  close(): Promise<void>;
}

const PAGE_BLOCKS = 100;

/** A data directory, read-only: nothing is repaired or cut, problems are reported. */
export function fromDataDir(dir: string): ChainSource {
  const plain = join(dir, 'blocks.log');
  if (existsSync(plain)) {
    const log = FileBlockLog.open(plain, { readOnly: true });
    const corruption = log.opened.corruption;
    return {
      blocks: (async function* () {
        for (let i = 0; i < log.length; i++) yield log.read(i);
      })(),
      count: log.length,
      damage: corruption === null ? null : { height: corruption.record + 1, code: 'STORE_CORRUPT', message: `block ${corruption.record + 1}: record at byte ${corruption.offset} of the log: ${corruption.reason}` },
      tornBytes: log.opened.tornBytes,
      close: () => log.close(),
    };
  }
  const mapped = join(dir, 'blocks');
  if (!existsSync(mapped)) throw new SteleError('CLI_IO', `no block log in ${dir} (neither blocks.log nor blocks/)`);
  const log = MappedBlockLog.open(mapped, { readOnly: true });
  const corruption = log.opened.corruption;
  return {
    blocks: (async function* () {
      for (let i = 0; i < log.length; i++) yield Uint8Array.from(log.read(i));
    })(),
    count: log.length,
    damage: corruption === null ? null : { height: corruption.record + 1, code: 'STORE_CORRUPT', message: `block ${corruption.record + 1}: record at byte ${corruption.offset} of the mapped log: ${corruption.reason}` },
    tornBytes: log.opened.tornBytes,
    close: () => log.close(),
  };
}

/** A node's REST API: every committed block up to the height it reports now. */
export async function fromUrl(url: string): Promise<ChainSource> {
  const client = new SteleClient({ url });
  let height: number;
  try {
    height = (await client.status()).committed_height;
  } catch (error) {
    throw new SteleError('CLI_IO', `cannot read ${url}: ${error instanceof ApiError ? error.message : (error as Error).message}`);
  }
  return {
    blocks: (async function* () {
      for (let from = 1; from <= height; from += PAGE_BLOCKS) {
        const page = await client.blocksBytes(from, Math.min(PAGE_BLOCKS, height - from + 1));
        if (page.length === 0) throw new SteleError('CLI_IO', `${url} served no block at height ${from}`);
        for (const b of page) yield b;
      }
    })(),
    count: height,
    damage: null,
    tornBytes: 0,
    close: async () => {},
  };
}
