import { toHex } from '../ledger/assert.js';
import { writeChainFile } from '../ledger/chain-file.js';
import { SteleError } from '../ledger/errors.js';
import { checkNodeUrl, fromDataDir, fromUrl } from './chain-source.js';
import { EXIT_OK, parse, printJson, usage } from './io.js';

/** Exit codes of an export stopped by a signal: 128 + its number, as a shell reports it. */
const EXIT_SIGNAL = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * `stele export (--data DIR | --url URL) --out FILE [--force] [--json]`: writes the
 * portable chain file (docs/storage.md): the genesis hash and every block with its
 * certificate. Reads only. Prints the head hash to give to `stele audit --head`.
 * SIGINT or SIGTERM stops it with no file left behind, FILE or temporary: exit 130 or 143,
 * CLI_INTERRUPTED on stderr (and as the JSON document with --json).
 */
export async function exportCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { data: { type: 'string' }, url: { type: 'string' }, out: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' } }, false, 'export');
  if ((values.data === undefined) === (values.url === undefined) || values.out === undefined) usage('export needs --out FILE and one of --data DIR or --url URL');
  // Checked as audit checks it: a '#fragment' or '?query' would swallow the API's paths.
  if (values.url !== undefined) checkNodeUrl(values.url, '--url');
  const out = values.out;
  // Found in review (2026-12-01): a Ctrl-C took Node's default and left the temporary file
  // (as large as the chain read so far) hidden beside FILE.
  const controller = new AbortController();
  const onSignal = (name: keyof typeof EXIT_SIGNAL): void => {
    controller.abort(name); // removes the temporary file, there and then (writeChainFile)
    const error = new SteleError('CLI_INTERRUPTED', `export stopped by ${name}: ${out} was not written, and no temporary file is left`);
    if (values.json === true) printJson({ ok: false, error: { code: error.code, message: error.message, details: { signal: name } } });
    process.stderr.write(`stele: ${error.message}\n`);
    // At once rather than by process.exitCode: the read in progress (a node's answer) could
    // hold the process for its whole timeout, and a signal asks to stop now.
    process.exit(EXIT_SIGNAL[name]);
  };
  const listen = (on: boolean): void => {
    for (const name of ['SIGINT', 'SIGTERM'] as const) {
      if (on) process.on(name, onSignal);
      else process.off(name, onSignal);
    }
  };
  listen(true);
  try {
    const source = values.data !== undefined ? fromDataDir(values.data) : await fromUrl(values.url as string);
    try {
      if (source.damage !== null) throw new SteleError('STORE_CORRUPT', `${source.damage.message}; audit the directory to see the rest`);
      const { count, genesisHash, head } = await writeChainFile(out, source.blocks, values.force === true, { signal: controller.signal });
      listen(false); // FILE is in place: a signal from here on has nothing to take back
      const result = { out, blocks: count, genesis_hash: toHex(genesisHash), head: toHex(head) };
      if (values.json === true) printJson(result);
      else process.stdout.write(`exported ${count} blocks to ${out}; head ${result.head}\n`);
      return EXIT_OK;
    } finally {
      await source.close();
    }
  } finally {
    listen(false);
  }
}
