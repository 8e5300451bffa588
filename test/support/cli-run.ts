/**
 * Runs the `stele` CLI as a child process without blocking the test's own process (which
 * may host the servers the command talks to). Shared by the CLI and end-to-end tests.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const STELE_BIN = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
const run = promisify(execFile);

/** The exit code (-1 when killed or not started), stdout and stderr of `stele ...args`. */
export async function stele(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [STELE_BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
    return { code: 0, out: stdout, err: stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: e.stdout, err: e.stderr };
  }
}
