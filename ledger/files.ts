/**
 * Small file-system steps shared by the writers of new files (cli/io.ts writeNew, the chain
 * file of ledger/chain-file.ts): putting a finished temporary file at a name that must not
 * exist yet, and making a new name durable.
 */
import { closeSync, existsSync, fsyncSync, linkSync, openSync, renameSync, unlinkSync } from 'node:fs';

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
