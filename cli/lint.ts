import { statSync } from 'node:fs';
import { checkSources, type CheckOptions, type SourceFile } from '../contracts/checker.js';
import { SOURCE_BYTES_MAX } from '../contracts/limits.js';
import { DEFAULT_OPTIONS } from '../contracts/checker.js';
import { formatJson, formatSarif, formatText } from '../contracts/report.js';
import { errnoText, SteleError } from '../ledger/errors.js';
import { EXIT_CHECK_FAILED, EXIT_OK, parse, readBytes, usage } from './io.js';

/** Files larger than this are not read at all (an I/O refusal, exit 2); smaller ones over the language limit get SYN001. */
const LINT_FILE_BYTES_MAX = 4 * SOURCE_BYTES_MAX;
const LINT_FILES_MAX = 10_000;
/**
 * All files together: the checker needs them at once (refs cross files), so without this
 * 10,000 files of 16 MiB each would all be read before anything is checked (found in
 * review). Reading stops as soon as the next file would pass it.
 */
const LINT_TOTAL_BYTES_MAX = 64 * 1024 * 1024;
/** Largest value accepted by the limit flags. */
const LIMIT_FLAG_MAX = 1_000_000_000_000;

function limitFlag(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (!/^[0-9]{1,13}$/.test(value) || Number(value) < min || Number(value) > LIMIT_FLAG_MAX) {
    usage(`--${name} must be an integer in ${min}..${LIMIT_FLAG_MAX}, not ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/**
 * A source file's bytes (the checker reports bad UTF-8 itself), read with the bounded
 * reader so a device or a file growing while read is refused too; the size is checked
 * first only to say how large the file is. `budgetBytes`: what is left of
 * LINT_TOTAL_BYTES_MAX.
 * @throws SteleError CLI_IO
 */
function readSource(path: string, budgetBytes: number): Uint8Array {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (error) {
    throw new SteleError('CLI_IO', `cannot read ${path}: ${errnoText(error)}`);
  }
  if (size > LINT_FILE_BYTES_MAX) throw new SteleError('CLI_IO', `${path} is ${size} bytes; lint reads at most ${LINT_FILE_BYTES_MAX}`);
  if (size > budgetBytes) throw tooMuch(path);
  const bytes = readBytes(path, LINT_FILE_BYTES_MAX);
  if (bytes.length > budgetBytes) throw tooMuch(path);
  return bytes;
}

function tooMuch(path: string): SteleError {
  return new SteleError('CLI_IO', `the files hold more than ${LINT_TOTAL_BYTES_MAX} bytes together (passed at ${path}); lint reads at most that at once: lint them in smaller groups`);
}

/**
 * `stele lint [--json | --sarif] [--max-paths N] [--max-depth N] [--max-horizon N] FILE...`:
 * checks the files as one unit (refs may cross files). Exit 0 without errors (warnings
 * allowed), 1 with at least one error, 2 on a usage or I/O problem.
 */
export async function lintCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      json: { type: 'boolean' },
      sarif: { type: 'boolean' },
      'max-paths': { type: 'string' },
      'max-depth': { type: 'string' },
      'max-horizon': { type: 'string' },
    },
    true,
    'lint',
  );
  if (values.json === true && values.sarif === true) usage('choose one of --json and --sarif');
  if (positionals.length === 0) usage('lint needs at least one FILE');
  if (positionals.length > LINT_FILES_MAX) usage(`lint reads at most ${LINT_FILES_MAX} files at once`);
  const options: CheckOptions = {
    maxPaths: limitFlag('max-paths', values['max-paths'], DEFAULT_OPTIONS.maxPaths),
    maxDepth: limitFlag('max-depth', values['max-depth'], DEFAULT_OPTIONS.maxDepth, 0),
    maxHorizon: limitFlag('max-horizon', values['max-horizon'], DEFAULT_OPTIONS.maxHorizon),
  };
  const files: SourceFile[] = [];
  let totalBytes = 0;
  for (const file of positionals) {
    const text = readSource(file, LINT_TOTAL_BYTES_MAX - totalBytes);
    totalBytes += text.length;
    files.push({ file, text });
  }
  const result = checkSources(files, options);
  const report = { diagnostics: result.diagnostics, summary: { files: files.length, contracts: result.contracts.length, errors: result.errors, warnings: result.warnings } };
  if (values.json === true) process.stdout.write(formatJson(report));
  else if (values.sarif === true) process.stdout.write(formatSarif(report));
  else {
    // The caret lines are cut from the text as the parser read it: a leading byte order
    // mark is not part of it (contracts/parser.ts), so it must not shift line 1's columns.
    const text = (bytes: string | Uint8Array): string => {
      const t = typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8');
      return t.charCodeAt(0) === 0xfeff ? t.slice(1) : t;
    };
    const sources = new Map(files.map((f) => [f.file, text(f.text)]));
    process.stdout.write(formatText(report, sources));
  }
  return result.errors > 0 ? EXIT_CHECK_FAILED : EXIT_OK;
}
