import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { GENESIS_FILE_BYTES_MAX } from '../ledger/constants.js';
import { FileBlockLog } from '../ledger/block-log.js';
import { verifyChain } from '../ledger/chain.js';
import { parseGenesisText } from '../ledger/genesis.js';
import { VerifyPool } from '../ledger/verify-pool.js';
import { verify } from '../ledger/ed25519.js';
import { EXIT_CHECK_FAILED, EXIT_OK, parse, printJson, readText, usage } from './io.js';
import { SteleError } from '../ledger/errors.js';

/**
 * `stele audit --genesis FILE --data DIR [--json] [--reference]`: verifies the chain in a
 * data directory from the genesis file alone. Reads only; never repairs.
 */
export async function auditCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {
    genesis: { type: 'string' },
    data: { type: 'string' },
    json: { type: 'boolean' },
    reference: { type: 'boolean' },
  });
  if (values.genesis === undefined || values.data === undefined) usage('audit needs --genesis FILE and --data DIR');
  const genesis = parseGenesisText(readText(values.genesis, GENESIS_FILE_BYTES_MAX));
  const path = join(values.data, 'blocks.log');
  if (!existsSync(path)) throw new SteleError('CLI_IO', `no block log at ${path}`);
  const started = performance.now();
  const log = FileBlockLog.open(path, { readOnly: true });
  const pool = values.reference === true ? undefined : new VerifyPool();
  try {
    const records = function* () {
      for (let i = 0; i < log.length; i++) yield log.read(i);
    };
    let report = await verifyChain(genesis, records(), { pool, reference: values.reference === true });
    const corruption = log.opened.corruption;
    if (report.ok && corruption !== null) {
      // Every block before the damaged record verified; the damaged one is the first bad block.
      report = {
        ...report,
        ok: false,
        failure: {
          height: corruption.record + 1,
          code: 'STORE_CORRUPT',
          message: `block ${corruption.record + 1}: record at byte ${corruption.offset} of the log: ${corruption.reason}`,
        },
      };
    }
    const seconds = (performance.now() - started) / 1000;
    const full = { ...report, torn_tail_bytes: log.opened.tornBytes, seconds: Number(seconds.toFixed(3)), verifier: values.reference === true ? 'reference' : 'fast' };
    if (values.json === true) printJson(full);
    else if (report.ok) {
      process.stdout.write(`ok: ${report.height} blocks, ${report.transactions} transactions, state ${report.state_hash}\n`);
      if (log.opened.tornBytes > 0) process.stderr.write(`note: ${log.opened.tornBytes} bytes of torn tail after the last whole block\n`);
    } else {
      const f = report.failure;
      process.stdout.write(`FAILED at block ${f?.height}: ${f?.code}: ${f?.message}\n`);
      process.stderr.write(`blocks 1..${report.height} are valid\n`);
    }
    return report.ok ? EXIT_OK : EXIT_CHECK_FAILED;
  } finally {
    await pool?.close();
    await log.close();
  }
}
