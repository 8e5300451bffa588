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

/** Longest node URL accepted on the command line. */
const URL_CHARS_MAX = 2048;

/** An http(s) base URL from the command line. @throws SteleError CLI_USAGE */
export function checkNodeUrl(url: string, flag: string): string {
  let parsed: URL | null = null;
  if (url.length <= URL_CHARS_MAX && URL.canParse(url)) parsed = new URL(url);
  if (parsed === null || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.search !== '' || parsed.hash !== '') {
    throw new SteleError('CLI_USAGE', `${flag} expects a node's base URL such as http://127.0.0.1:8080, not ${JSON.stringify(url.slice(0, 100))}`);
  }
  return url;
}

/**
 * A node's REST API: every committed block up to the height it reports now (or up to
 * `upTo`, when lower). `height` in the answer is the node's committed height.
 */
export async function fromUrl(url: string, upTo = Number.MAX_SAFE_INTEGER): Promise<ChainSource & { readonly height: number }> {
  const client = new SteleClient({ url });
  let height: number;
  try {
    height = (await client.status()).committed_height;
  } catch (error) {
    throw new SteleError('CLI_IO', `cannot read ${url}: ${error instanceof ApiError ? error.message : (error as Error).message}`);
  }
  // A node's answer is input like any other: a height that is no count of blocks would
  // make every comparison below vacuous.
  if (!Number.isSafeInteger(height) || height < 0) throw new SteleError('CLI_IO', `${url} answered /v1/status with committed_height ${JSON.stringify(height)}, not a block count`);
  const last = Math.min(height, upTo);
  return {
    height,
    blocks: (async function* () {
      // A page may stop early (the server bounds its bytes): advance by what came.
      for (let from = 1; from <= last; ) {
        let page: Uint8Array[];
        try {
          page = await client.blocksBytes(from, Math.min(PAGE_BLOCKS, last - from + 1));
        } catch (error) {
          throw new SteleError('CLI_IO', `cannot read blocks from ${from} of ${url}: ${(error as Error).message}`);
        }
        if (page.length === 0) throw new SteleError('CLI_IO', `${url} served no block at height ${from}`);
        const wanted = page.slice(0, last - from + 1);
        from += wanted.length;
        for (const b of wanted) yield b;
      }
    })(),
    count: last,
    damage: null,
    tornBytes: 0,
    close: async () => {},
  };
}
