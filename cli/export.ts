import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FileBlockLog } from '../ledger/block-log.js';
import { decodeBlock } from '../ledger/block.js';
import { writeChainFile } from '../ledger/chain-file.js';
import { toHex } from '../ledger/assert.js';
import { SteleError } from '../ledger/errors.js';
import { EXIT_OK, parse, printJson, usage } from './io.js';

/**
 * `stele export --data DIR --out FILE [--force] [--json]`: writes the portable chain file
 * (docs/storage.md) of a validator's data directory: the genesis hash and every whole
 * block with its certificate. Reads the log only; safe while the validator runs.
 */
export async function exportCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { data: { type: 'string' }, out: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' } });
  if (values.data === undefined || values.out === undefined) usage('export needs --data DIR and --out FILE');
  const path = join(values.data, 'blocks.log');
  if (!existsSync(path)) throw new SteleError('CLI_IO', `no block log at ${path}`);
  const log = FileBlockLog.open(path, { readOnly: true });
  try {
    if (log.opened.corruption !== null) throw new SteleError('STORE_CORRUPT', `${path}: ${log.opened.corruption.reason}; audit the directory to see which block`);
    if (log.length === 0) throw new SteleError('CLI_USAGE', `${path} holds no blocks yet: nothing to export`);
    // Block 1's previous hash is the genesis hash: the file names its chain.
    const genesisHash = decodeBlock(log.read(0)).header.prevHash;
    const blocks = (function* () {
      for (let i = 0; i < log.length; i++) yield log.read(i);
    })();
    const count = writeChainFile(values.out, genesisHash, blocks, values.force === true);
    const last = decodeBlock(log.read(count - 1)).hash;
    const result = { out: values.out, blocks: count, genesis_hash: toHex(genesisHash), head: toHex(last) };
    if (values.json === true) printJson(result);
    else process.stdout.write(`exported ${count} blocks to ${values.out}; head ${result.head}\n`);
    return EXIT_OK;
  } finally {
    await log.close();
  }
}
