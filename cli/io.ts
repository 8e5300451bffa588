/** Small command-line helpers: key files, JSON output, exit codes. */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { fromHex, toHex } from '../ledger/assert.js';
import { keyPairFromSeed, Signer, type KeyPair } from '../ledger/ed25519.js';
import { errnoText, SteleError } from '../ledger/errors.js';
import { openRegularFile, placeNew, syncDirectory } from '../ledger/files.js';

/** Exit codes (docs/cli.md): 0 ok, 1 the check failed, 2 usage or I/O. */
export const EXIT_OK = 0;
export const EXIT_CHECK_FAILED = 1;
export const EXIT_USAGE = 2;

const KEY_FILE_BYTES_MAX = 4096;

export function usage(message: string): never {
  throw new SteleError('CLI_USAGE', message);
}

/**
 * The bytes of a regular file of at most `maxBytes`, read without ever holding more than
 * `maxBytes` + 1 bytes (so a huge file named by mistake is refused, not read whole).
 * Anything but a regular file (a FIFO, a device such as /dev/zero, a directory) is refused
 * without blocking (ledger/files.ts openRegularFile).
 * @throws SteleError CLI_IO
 * @example const source = readBytes('horse.scl', 256 * 1024);
 */
export function readBytes(path: string, maxBytes: number): Uint8Array {
  const { fd, size } = openRegularFile(path);
  let data = Buffer.alloc(0);
  let length = 0;
  try {
    // Sized by the file, grown up to maxBytes + 1 should it grow while read.
    data = Buffer.allocUnsafe(Math.min(maxBytes + 1, Math.max(4096, size + 1)));
    for (let n = 1; n > 0 && length <= maxBytes; length += n) {
      if (length === data.length) {
        const grown = Buffer.allocUnsafe(Math.min(maxBytes + 1, 2 * data.length));
        data.copy(grown, 0, 0, length);
        data = grown;
      }
      n = readSync(fd, data, length, data.length - length, null);
    }
  } catch (error) {
    throw new SteleError('CLI_IO', `cannot read ${path}: ${errnoText(error)}`);
  } finally {
    closeSync(fd);
  }
  if (length > maxBytes) throw new SteleError('CLI_IO', `${path} is larger than ${maxBytes} bytes`);
  return data.subarray(0, length);
}

/** A text file of at most `maxBytes` (readBytes, decoded as UTF-8). @throws SteleError CLI_IO */
export function readText(path: string, maxBytes: number): string {
  return Buffer.from(readBytes(path, maxBytes)).toString('utf8');
}

/**
 * Writes a file so that a crash leaves either the old file or the whole new one, with
 * `mode` whatever was there before (a key rewritten with --force over a 0644 file ends
 * 0600): a temporary file in the same directory, created with `mode`, fsynced, then
 * renamed over `path` (or, without `force`, linked to it, which fails if it exists), and
 * the directory fsynced so that the new name survives a crash too.
 * @throws SteleError CLI_IO
 * @example writeNew('keys/v1.key', keyFileText(pair), 0o600, false);
 */
export function writeNew(path: string, text: string, mode: number, force: boolean): void {
  const directory = dirname(path);
  const temporary = join(directory, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const exists = (): never => {
    throw new SteleError('CLI_IO', `${path} exists; pass --force to overwrite it`);
  };
  try {
    mkdirSync(directory, { recursive: true });
  } catch (error) {
    throw new SteleError('CLI_IO', `cannot write ${path}: ${errnoText(error)}`);
  }
  // Checked first to write nothing in vain; the link below is what makes it race-free.
  if (!force && existsSync(path)) exists();
  let fd: number | undefined;
  try {
    fd = openSync(temporary, 'wx', mode);
    writeFileSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    if (force) renameSync(temporary, path);
    else placeNew(temporary, path);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    rmSync(temporary, { force: true });
    if ((error as NodeJS.ErrnoException).code === 'EEXIST' && !force && existsSync(path)) exists();
    throw new SteleError('CLI_IO', `cannot write ${path}: ${errnoText(error)}`);
  }
  // The file is in place: from here on a failure must not be reported as "cannot write"
  // (a rerun would then find it and stop). Best effort: some file systems cannot fsync a
  // directory (found in review).
  syncDirectory(directory);
}

/** The key file format: {"type":"ed25519","public_key":hex,"seed":hex}. */
export function keyFileText(pair: KeyPair): string {
  return `${JSON.stringify({ type: 'ed25519', public_key: toHex(pair.publicKey), seed: toHex(pair.seed) }, null, 2)}\n`;
}

/**
 * A key file's signer. The file must be open to its owner alone (as ssh asks of a private
 * key): its seed signs as this key, so a file that other users can read or write is
 * refused, with the `chmod` that fixes it (before 2026-11-30 the mode was not checked).
 * @throws SteleError CLI_IO
 */
export function readKeyFile(path: string): Signer {
  if (process.platform !== 'win32') {
    let mode: number;
    try {
      mode = statSync(path).mode;
    } catch (error) {
      throw new SteleError('CLI_IO', `cannot read ${path}: ${errnoText(error)}`);
    }
    if ((mode & 0o077) !== 0) {
      const octal = (mode & 0o777).toString(8).padStart(4, '0');
      throw new SteleError('CLI_IO', `${path} is open to other users (mode ${octal}); its seed signs as this key. Run: chmod 600 ${path}`, { path, mode: octal });
    }
  }
  const text = readText(path, KEY_FILE_BYTES_MAX);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SteleError('CLI_IO', `${path} is not a key file (not JSON)`);
  }
  const o = value as { type?: unknown; public_key?: unknown; seed?: unknown };
  if (o === null || typeof o !== 'object' || o.type !== 'ed25519' || typeof o.seed !== 'string' || typeof o.public_key !== 'string') {
    throw new SteleError('CLI_IO', `${path} is not a key file (expected type, public_key and seed)`);
  }
  let pair: KeyPair;
  try {
    pair = keyPairFromSeed(fromHex(o.seed, 32, 'seed'));
  } catch {
    throw new SteleError('CLI_IO', `${path}: seed must be 64 lower-case hex characters`);
  }
  if (toHex(pair.publicKey) !== o.public_key) throw new SteleError('CLI_IO', `${path}: public_key does not match the seed`);
  return new Signer(pair);
}

/** A public key given as 64 hex characters or as the path of a key file. */
export function publicKeyArg(value: string): string {
  if (/^[0-9a-f]{64}$/.test(value)) return value;
  return toHex(readKeyFile(value).publicKey);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
}

/**
 * parseArgs (strict) with every mistake a CLI_USAGE error naming the flag or argument. Two
 * mistakes parseArgs lets through are refused too (review, 2026-12-01):
 * - a flag that is not `multiple` given twice: parseArgs keeps the last value silently, so
 *   `tx transfer --amount 5 --amount 500` sent 500 and `export --out a --out b` wrote b;
 * - with `allowPositionals` false, an argument that is no flag's value: refused naming it
 *   (parseArgs does too), with the hint that a value with spaces needs quotes
 *   (`tx put --value hello world` stored "hello" when every kind took positionals).
 * `command` names the command in the messages ("tx act does not take --param").
 * @throws SteleError CLI_USAGE
 * @example const { values } = parse(args, { out: { type: 'string' } }, false, 'keygen');
 */
export function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, allowPositionals = false, command = 'this command') {
  // A first, lenient pass sees every token in order, so the first mistake is the one named;
  // the strict pass then checks the values (a string flag without one, a boolean with one).
  const { tokens } = parseArgs({ args, options, allowPositionals: true, strict: false, tokens: true });
  const seen = new Map<string, string | undefined>();
  const flags = Object.keys(options).map((name) => `--${name}`);
  for (const token of tokens) {
    if (token.kind === 'positional' && !allowPositionals) {
      usage(`${command} takes no argument ${JSON.stringify(token.value)} (a value with spaces needs quotes)`);
    }
    if (token.kind !== 'option') continue;
    const option = Object.hasOwn(options, token.name) ? options[token.name] : undefined;
    if (option === undefined) usage(`${command} does not take ${token.rawName}${flags.length === 0 ? '' : ` (it takes ${flags.join(', ')})`}`);
    if (option.multiple === true) continue;
    if (seen.has(token.name)) {
      const first = seen.get(token.name);
      const values = first === undefined ? '' : `: ${JSON.stringify(first)}, then ${JSON.stringify(token.value ?? '')}`;
      usage(`${token.rawName} is given more than once${values}; it takes one value, give it once`);
    }
    seen.set(token.name, token.value);
  }
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (error) {
    return usage((error as Error).message);
  }
}
