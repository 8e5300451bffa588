/**
 * Small file-system steps shared by the readers and writers of files (cli/io.ts, the chain
 * file of ledger/chain-file.ts): opening a file that must be a regular one, putting a
 * finished temporary file at a name that must not exist yet, and making a new name durable.
 */
import { closeSync, constants, existsSync, fstatSync, fsyncSync, linkSync, openSync, renameSync, unlinkSync, type Stats } from 'node:fs';
import { errnoText, SteleError } from './errors.js';

/** What a file that is not a regular one is, for messages. */
function kindOf(stat: Stats): string {
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isSocket()) return 'a socket';
  return 'of another type';
}

/**
 * Opens a regular file for reading; anything else is refused. Opened non-blocking, then
 * checked on the descriptor: a plain open of a FIFO blocks until a writer comes, so
 * `--blob FIFO` (or a key, config, genesis or contract file that is one) hung before the
 * check that came after it (review, 2026-12-01); a check by name before the open would
 * leave a window in which the name is swapped. O_NONBLOCK means nothing to a regular file's
 * reads. The caller closes the descriptor.
 * @returns the file descriptor and the file's size
 * @throws SteleError CLI_IO naming `path` (EISDIR for a directory)
 * @example const { fd, size } = openRegularFile('genesis.json');
 */
export function openRegularFile(path: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0));
  } catch (error) {
    throw new SteleError('CLI_IO', `cannot read ${path}: ${errnoText(error)}`);
  }
  let stat: Stats;
  try {
    stat = fstatSync(fd);
  } catch (error) {
    closeSync(fd);
    throw new SteleError('CLI_IO', `cannot read ${path}: ${errnoText(error)}`);
  }
  if (stat.isFile()) return { fd, size: stat.size };
  closeSync(fd);
  if (stat.isDirectory()) throw new SteleError('CLI_IO', `cannot read ${path}: EISDIR: not a regular file, a directory`);
  throw new SteleError('CLI_IO', `cannot read ${path}: not a regular file, ${kindOf(stat)}`);
}

/**
 * Moves `temporary` to `path`, which must not exist: a hard link fails if it does, with no
 * window; where the file system has no hard links (FAT, some network mounts), a check and a
 * rename instead (found in review: keygen failed there).
 * @throws the file system's error; EEXIST when `path` exists
 * @example placeNew('.k.json.123.tmp', 'k.json');
 */
export function placeNew(temporary: string, path: string): void {
  try {
    linkSync(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw error;
    if (existsSync(path)) throw Object.assign(new Error(`${path} exists`), { code: 'EEXIST' });
    renameSync(temporary, path);
    return;
  }
  unlinkSync(temporary);
}

/**
 * fsync of a directory, so that a rename or a link in it survives a crash; best effort.
 * @example syncDirectory('keys');
 */
export function syncDirectory(directory: string): void {
  try {
    const fd = openSync(directory, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Not supported here (EISDIR, EINVAL, EPERM on some platforms): the file was written
    // and fsynced; only its name's durability is left to the file system.
  }
}
