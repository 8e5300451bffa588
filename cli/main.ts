#!/usr/bin/env node
/**
 * The `stele` command. Data goes to stdout, messages to stderr; `--json` prints exactly
 * one JSON document. Exit codes: 0 ok, 1 the check failed, 2 usage or I/O error, 70 an
 * internal error (stele node also exits 3 and 75: cli/node.ts; stele export 130 and 143
 * when a signal stops it: cli/export.ts).
 */
import { isSteleError } from '../ledger/errors.js';
import { EXIT_CHECK_FAILED, EXIT_OK, EXIT_USAGE, printJson, usage } from './io.js';
import { auditCommand } from './audit.js';
import { exportCommand } from './export.js';
import { nodeCommand } from './node.js';
import { upCommand } from './up.js';
import { txCommand } from './tx.js';
import { genesisCommand } from './genesis.js';
import { keygenCommand } from './keygen.js';
import { demoCommand } from './demo.js';
import { lintCommand } from './lint.js';

const HELP = `stele: a permissioned ledger (see README.md and docs/cli.md)

Usage:
  stele keygen --out FILE [--json] [--force]
  stele genesis new --chain-id ID --validator ID,KEY,HOST:PORT... --admin NAME,KEY... [--asset SYM]... [--supply N] [--time-ms T] --out FILE [--force] [--json]
  stele genesis check FILE [--json]
  stele audit (FILE | --data DIR | --url URL) --genesis GENESIS [--head HASH] [--compare URL]... [--json] [--reference]
  stele export (--data DIR | --url URL) --out FILE [--force] [--json]
  stele up [--nodes 1|3|5|7] [--data ./data] [--port 8080] [--peer-port 7100] [--transport tcp|fabric|auto] [--json]
  stele node --config FILE
  stele tx register|revoke|transfer|issue|put|deploy|create|act ... --signer KEYFILE --url URL [--wait] [--expiry-in N | --expiry H] [--chain-id ID] [--json]
  stele demo [--dir DIR] [--json]
  stele lint [--json | --sarif] [--max-paths N] [--max-depth N] [--max-horizon N] FILE...

KEY is 64 hex characters or the path of a key file written by keygen. --nodes (default 3)
must be odd. --expiry-in N (default 50): the expiry is the committed height plus N;
--expiry H: height H, to send the very same transaction again (tx prints its id and
expiry before sending it). With --json, exactly one JSON document goes to stdout.

Exit codes: 0 ok; 1 the check failed (audit, lint, demo) or the ledger refused the
transaction (tx); 2 usage, I/O, an unreachable node, a bad answer or a tx --wait that
ended before the commit; stele node only: 3 halted (a committed block could not be
applied, or its disk failed), 75 disk full; stele export only: 130/143 stopped by
SIGINT/SIGTERM; 70 an internal error (a bug in stele: please report it with the message).
`;

type Command = (args: string[]) => Promise<number>;

const commands: Record<string, Command> = {
  keygen: keygenCommand,
  genesis: genesisCommand,
  audit: auditCommand,
  export: exportCommand,
  node: nodeCommand,
  up: upCommand,
  tx: txCommand,
  demo: demoCommand,
  lint: lintCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  // Asked for, the help is the output (stdout, exit 0); with no command it is a usage
  // error's message (stderr, exit 2: it went to stdout before the review of 2026-12-01).
  if (name === undefined) {
    process.stderr.write(HELP);
    return EXIT_USAGE;
  }
  if (name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(HELP);
    return EXIT_OK;
  }
  const command = commands[name];
  if (command === undefined) usage(`unknown command ${JSON.stringify(name)}; try "stele help"`);
  return command(rest);
}

// A reader that goes away (`stele lint --sarif big.scl | head -c1`) is no failure to
// report: stele stops at once and quietly, with the exit code the command came to (2 if it
// had not finished). Found in review (2026-12-01): the unhandled 'error' event printed a
// stack trace. Any other error on these streams stays fatal.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(process.exitCode ?? EXIT_USAGE);
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const json = process.argv.includes('--json');
    if (isSteleError(error)) {
      if (json) printJson({ ok: false, error: { code: error.code, message: error.message, details: error.details } });
      else process.stderr.write(`stele: ${error.message}\n`);
      process.exitCode = error.code.startsWith('BLOCK_') ? EXIT_CHECK_FAILED : EXIT_USAGE;
      return;
    }
    process.stderr.write(`stele: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 70;
  },
);
