import { fromHex, toHex } from '../ledger/assert.js';
import { GENESIS_FILE_BYTES_MAX } from '../ledger/constants.js';
import { openChainFile } from '../ledger/chain-file.js';
import { checkNodeUrl, fromDataDir, fromUrl, type ChainSource } from './chain-source.js';
import { checkReplicaChain, compareReplica, type ReplicaComparison } from './compare.js';
import { progressBar } from './progress.js';
import { verifyChain, type AuditReport } from '../ledger/chain.js';
import type { Block } from '../ledger/block.js';
import { parseGenesisText, type Genesis } from '../ledger/genesis.js';
import { VerifyPool } from '../ledger/verify-pool.js';
import { EXIT_CHECK_FAILED, EXIT_OK, parse, printJson, readText, usage } from './io.js';
import { isSteleError, SteleError } from '../ledger/errors.js';

function fromFile(path: string, genesisHash: Uint8Array): ChainSource {
  const file = openChainFile(path);
  if (toHex(file.genesisHash) !== toHex(genesisHash)) {
    file.close();
    throw new SteleError('CHAIN_FILE_INVALID', `${path} is a chain of genesis ${toHex(file.genesisHash)}, not of the genesis given (${toHex(genesisHash)})`);
  }
  const blocks = file.blocks();
  // A framing error: the blocks before it are verified first, as with a data directory.
  const damage = file.damage === null ? null : { height: file.damage.height, code: 'CHAIN_FILE_INVALID' as const, message: file.damage.message };
  return {
    blocks: (async function* () {
      yield* blocks;
    })(),
    count: file.count,
    damage,
    tornBytes: 0,
    close: async () => file.close(),
  };
}

/** Replicas one audit compares at most (--compare URL...). */
const COMPARE_URLS_MAX = 16;

/**
 * `stele audit (FILE | --data DIR | --url URL) --genesis GENESIS [--head HASH] [--compare URL...] [--json] [--reference]`:
 * verifies a chain from the genesis file alone. Reads only; never repairs. `--head` names
 * the hash the last block must have, which catches a chain cut short. `--compare` then
 * checks that each other node serves the same blocks on the common prefix (cli/compare.ts).
 */
export async function auditCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      genesis: { type: 'string' },
      data: { type: 'string' },
      url: { type: 'string' },
      head: { type: 'string' },
      compare: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      reference: { type: 'boolean' },
    },
    true,
    'audit',
  );
  if (values.genesis === undefined) usage('audit needs --genesis FILE');
  // `--compare A B C` as well as `--compare A --compare B`: with --compare, positionals that
  // are node URLs are more replicas to compare (a chain FILE is never an http(s) URL).
  const extraUrls = values.compare === undefined ? [] : positionals.filter((p) => /^https?:\/\//.test(p));
  const files = positionals.filter((p) => !extraUrls.includes(p));
  const sources = (values.data === undefined ? 0 : 1) + (values.url === undefined ? 0 : 1) + files.length;
  if (sources !== 1) usage('audit needs one chain: a FILE from `stele export`, --data DIR, or --url URL');
  let head: Uint8Array | null = null;
  if (values.head !== undefined) {
    try {
      head = fromHex(values.head, 32, '--head');
    } catch {
      usage('--head expects a block hash: 64 lower-case hex characters');
    }
  }
  const compareUrls = [...(values.compare ?? []), ...extraUrls];
  if (compareUrls.length > COMPARE_URLS_MAX) usage(`--compare takes at most ${COMPARE_URLS_MAX} URLs`);
  for (const url of compareUrls) checkNodeUrl(url, '--compare');
  if (values.url !== undefined) checkNodeUrl(values.url, '--url');
  const json = values.json === true;
  const genesis = parseGenesisText(readText(values.genesis, GENESIS_FILE_BYTES_MAX));
  const started = performance.now();
  let source: ChainSource;
  try {
    if (values.data !== undefined) source = fromDataDir(values.data);
    else if (values.url !== undefined) source = await fromUrl(values.url);
    else source = fromFile(files[0] as string, genesis.hash);
  } catch (error) {
    if (!isSteleError(error, 'CHAIN_FILE_INVALID')) throw error;
    // A file whose header is broken is an invalid chain (exit 1), not an I/O failure: a
    // source of no blocks damaged at block 1, reported like any other (the genesis state at
    // height 0; it printed state_hash null, found in review, 2026-11-30).
    const height = typeof error.details.height === 'number' ? error.details.height : 1;
    source = { blocks: (async function* () {})(), count: 0, damage: { height, code: 'CHAIN_FILE_INVALID', message: error.reason }, tornBytes: 0, close: async () => {} };
  }
  const pool = values.reference === true ? undefined : new VerifyPool();
  try {
    let lastHash: Uint8Array | null = null;
    // Block hashes of the audited chain, kept only when replicas are to be compared.
    const hashes: Uint8Array[] = [];
    const progress = progressBar('blocks', source.count, { quiet: json });
    let seen = 0;
    const tracked = (async function* () {
      for await (const bytes of source.blocks) {
        yield bytes;
        progress.update(++seen);
      }
    })();
    // Each block that verified, once decoded by verifyChain (decoding hashes every
    // transaction, so this no longer decodes every block a second time).
    const onBlock = (block: Block): void => {
      lastHash = block.hash;
      if (compareUrls.length > 0) hashes.push(block.hash);
    };
    let report: AuditReport;
    try {
      report = await verifyChain(genesis, tracked, { pool, reference: values.reference === true, onBlock });
    } finally {
      progress.finish();
    }
    if (report.ok && source.damage !== null) {
      // Every block before the damaged record verified; the damaged one is the first bad block.
      report = { ...report, ok: false, failure: source.damage };
    }
    if (report.ok && head !== null) {
      const last = report.height === 0 ? genesis.hash : lastHash;
      if (last === null || toHex(last) !== toHex(head)) {
        report = {
          ...report,
          ok: false,
          failure: { height: report.height + 1, code: 'AUDIT_HEAD_MISMATCH', message: `the chain ends at block ${report.height} (${last === null ? 'unknown' : toHex(last)}), not at the expected head ${toHex(head)}: it was cut short or is another chain` },
        };
      }
    }
    // Replicas are compared against a chain that verified (an invalid one has no meaning to agree on).
    const compare: ReplicaComparison[] = [];
    if (report.ok) {
      hashes.length = report.height;
      for (const url of compareUrls) compare.push(await compareOne(genesis, url, hashes, json));
      const worst = compare.filter((c) => c.first_difference !== null).sort((a, b) => (a.first_difference?.height ?? 0) - (b.first_difference?.height ?? 0));
      const first = worst[0]?.first_difference;
      if (first !== undefined && first !== null) {
        const urls = worst.filter((c) => c.first_difference?.height === first.height).map((c) => c.url);
        report = { ...report, ok: false, failure: { height: first.height, code: first.code, message: `${urls.join(', ')} ${urls.length > 1 ? 'disagree' : 'disagrees'} with the audited chain at block ${first.height}: ${first.message}` } };
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const full = {
      valid: report.ok,
      height: report.height,
      blocks: source.count,
      transactions: report.transactions,
      failed_transactions: report.failed_transactions,
      first_error: report.failure,
      chain_id: report.chain_id,
      genesis_hash: report.genesis_hash,
      state_hash: report.state_hash,
      torn_tail_bytes: source.tornBytes,
      seconds: Number(seconds.toFixed(3)),
      verifier: values.reference === true ? 'reference' : 'fast',
      compare,
    };
    if (json) printJson(full);
    else if (report.ok) {
      const failed = report.failed_transactions > 0 ? ` (${report.failed_transactions} failed)` : '';
      process.stdout.write(`valid: ${report.height} blocks, ${report.transactions} transactions${failed}, state ${report.state_hash}\n`);
      if (source.tornBytes > 0) process.stderr.write(`note: ${source.tornBytes} bytes of torn tail after the last whole block\n`);
      for (const c of compare) process.stdout.write(`agrees: ${c.url} (blocks 1..${c.common_height} of its ${c.height})\n`);
    } else {
      const f = report.failure;
      process.stdout.write(`INVALID at block ${f?.height}: ${f?.code}: ${f?.message}\n`);
      process.stderr.write(report.height > 0 ? `blocks 1..${report.height} are valid\n` : 'no block is valid\n');
      // Only when the audited chain verified and a replica differs (else nothing is compared).
      for (const c of compare) {
        const d = c.first_difference;
        process.stdout.write(d === null ? `agrees: ${c.url} (blocks 1..${c.common_height} of its ${c.height})\n` : `DIFFERS: ${c.url} at block ${d.height}: ${d.code}: ${d.message}\n`);
      }
    }
    return report.ok ? EXIT_OK : EXIT_CHECK_FAILED;
  } finally {
    await pool?.close();
    await source.close();
  }
}

/** Reads one replica's common prefix and compares it (cli/compare.ts). @throws SteleError CLI_IO */
async function compareOne(genesis: Genesis, url: string, hashes: readonly Uint8Array[], quiet: boolean): Promise<ReplicaComparison> {
  // A node that serves fewer blocks than it reports is a mismatch (compareReplica), not an I/O failure.
  const source = await fromUrl(url, { upTo: hashes.length, shortEnds: true });
  const otherChain = checkReplicaChain(genesis, url, source);
  if (otherChain !== null) {
    await source.close();
    return otherChain;
  }
  const progress = progressBar(`blocks of ${url}`, source.count, { quiet });
  let seen = 0;
  try {
    return await compareReplica(genesis, url, source.height, source, hashes, () => progress.update(++seen));
  } finally {
    progress.finish();
    await source.close();
  }
}
