/**
 * The `stele` command and its output's end (review, 2026-12-01): a reader that closes the
 * pipe (`| head`) ends the command quietly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

test('a reader that closes stdout early (`stele lint --sarif big.scl | head -c1`) ends stele quietly with its exit code, no stack trace (review, 2026-12-01)', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stele-epipe-'));
  try {
    // Far more SARIF than a pipe holds: 400 contracts with an error each.
    const horse = readFileSync(fileURLToPath(new URL('../../../examples/contracts/horse-sale.scl', import.meta.url)), 'utf8');
    const file = join(dir, 'big.scl');
    writeFileSync(file, Array.from({ length: 400 }, (_, i) => horse.replace('HorseSale', `HorseSale${i}`).replace('deposit <= price', 'deposit <= nope')).join('\n'));
    const child = spawn(process.execPath, [bin, 'lint', '--sarif', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const first = await new Promise<Buffer>((resolve) => child.stdout.once('data', resolve));
    assert.equal(first.subarray(0, 1).toString(), '{');
    child.stdout.destroy(); // as head does once it has its byte
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    assert.equal(err, '', 'nothing on stderr');
    assert.equal(code, 1, 'lint found errors: its exit code');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
