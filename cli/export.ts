import { toHex } from '../ledger/assert.js';
import { writeChainFile } from '../ledger/chain-file.js';
import { SteleError } from '../ledger/errors.js';
import { checkNodeUrl, fromDataDir, fromUrl } from './chain-source.js';
import { EXIT_OK, parse, printJson, usage } from './io.js';

/**
 * `stele export (--data DIR | --url URL) --out FILE [--force] [--json]`: writes the
 * portable chain file (docs/storage.md): the genesis hash and every block with its
 * certificate. Reads only. Prints the head hash to give to `stele audit --head`.
 */
export async function exportCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { data: { type: 'string' }, url: { type: 'string' }, out: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' } }, false, 'export');
  if ((values.data === undefined) === (values.url === undefined) || values.out === undefined) usage('export needs --out FILE and one of --data DIR or --url URL');
  // Checked as audit checks it: a '#fragment' or '?query' would swallow the API's paths.
  if (values.url !== undefined) checkNodeUrl(values.url, '--url');
  const source = values.data !== undefined ? fromDataDir(values.data) : await fromUrl(values.url as string);
  try {
    if (source.damage !== null) throw new SteleError('STORE_CORRUPT', `${source.damage.message}; audit the directory to see the rest`);
    const { count, genesisHash, head } = await writeChainFile(values.out, source.blocks, values.force === true);
    const result = { out: values.out, blocks: count, genesis_hash: toHex(genesisHash), head: toHex(head) };
    if (values.json === true) printJson(result);
    else process.stdout.write(`exported ${count} blocks to ${values.out}; head ${result.head}\n`);
    return EXIT_OK;
  } finally {
    await source.close();
  }
}
