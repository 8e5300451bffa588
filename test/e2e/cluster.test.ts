/**
 * End to end through the command line against `stele up` (three validator processes and
 * their REST APIs) on a temporary directory and ports.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const CLI = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
const EXAMPLES = fileURLToPath(new URL('../../../examples/contracts/', import.meta.url));
const run = promisify(execFile);

async function stele(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
    return { code: 0, out: stdout, err: stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: e.stdout, err: e.stderr };
  }
}

test('stele up: transactions, a contract, reads, export and audit through the CLI; refusals with their codes; a clean stop', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stele-e2e-'));
  const data = join(dir, 'data');
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const up = spawn(process.execPath, [CLI, 'up', '--data', data, '--port', String(port), '--peer-port', String(port + 100), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  up.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  up.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => up.once('exit', (code) => r(code)));
  try {
    type Info = { url: string; admin_key: string; admin_public_key: string; genesis: string };
    let info = null as Info | null;
    for (let t = 0; t < 600 && info === null; t++) {
      await new Promise((r) => setTimeout(r, 100));
      try {
        info = JSON.parse(stdout) as Info; // printed once, when every validator answers
      } catch {
        assert.equal(up.exitCode, null, `stele up exited: ${stderr}`);
      }
    }
    if (info === null) assert.fail(`stele up did not come up: ${stderr}`);
    const url = info.url;
    const bob = JSON.parse((await stele('keygen', '--out', join(dir, 'bob.key'), '--json')).out) as { public_key: string };
    const carol = JSON.parse((await stele('keygen', '--out', join(dir, 'carol.key'), '--json')).out) as { public_key: string };
    const tx = async (signer: string, ...args: string[]) => stele('tx', ...args, '--signer', signer, '--url', url, '--wait', '--json');
    const committed = async (signer: string, ...args: string[]) => {
      const r = await tx(signer, ...args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.out} ${r.err}`);
      const answer = JSON.parse(r.out) as { status: string; height: number };
      assert.equal(answer.status, 'committed', r.out);
      return answer;
    };
    await committed(info.admin_key, 'register', '--pubkey', bob.public_key, '--name', 'bob', '--role', 'submitter');
    await committed(info.admin_key, 'transfer', '--to', bob.public_key, '--amount', '100', '--asset', 'STL');
    await committed(join(dir, 'bob.key'), 'put', '--key', 'doc', '--value', 'hello');
    // A contract: the horse sale; bob buys from the admin.
    await committed(info.admin_key, 'deploy', join(EXAMPLES, 'horse-sale.scl'));
    await committed(
      join(dir, 'bob.key'),
      'create', '--contract', 'HorseSale', '--party', `seller=${info.admin_public_key}`, '--party', `buyer=${bob.public_key}`,
      '--param', 'price=int:50', '--param', 'deposit=int:10', '--param', 'penalty=int:5', '--param', 'window=int:100', '--param', 'usd=asset:STL',
    );
    await committed(join(dir, 'bob.key'), 'act', '--instance', '1', '--party', 'buyer', '--action', 'complete');
    // Read everything back.
    const account = (await (await fetch(`${url}/v1/accounts/${bob.public_key}`)).json()) as { balances: Record<string, string>; identity: { name: string }; records: Array<{ key: string }> };
    assert.deepEqual(account.balances, { STL: '50' });
    assert.equal(account.identity.name, 'bob');
    assert.deepEqual(account.records.map((r) => r.key), ['doc']);
    // Refusals: an unregistered signer, a missing role, an overdraft; nothing changes.
    const unknown = await tx(join(dir, 'carol.key'), 'transfer', '--to', bob.public_key, '--amount', '1', '--asset', 'STL');
    assert.equal(unknown.code, 1);
    assert.equal((JSON.parse(unknown.out) as { error: { code: string } }).error.code, 'TX_UNKNOWN_SIGNER');
    const noRole = await tx(join(dir, 'bob.key'), 'issue', '--to', bob.public_key, '--amount', '1', '--asset', 'STL');
    assert.equal((JSON.parse(noRole.out) as { error: { code: string } }).error.code, 'TX_MISSING_ROLE');
    const overdraft = await tx(join(dir, 'bob.key'), 'transfer', '--to', info.admin_public_key, '--amount', '51', '--asset', 'STL');
    assert.equal((JSON.parse(overdraft.out) as { error: { code: string } }).error.code, 'TX_INSUFFICIENT_BALANCE');
    const after = (await (await fetch(`${url}/v1/accounts/${bob.public_key}`)).json()) as { balances: Record<string, string> };
    assert.deepEqual(after.balances, { STL: '50' });
    // Export from the API and audit the file; audit the API directly too.
    const file = join(dir, 'chain.stele');
    const exported = await stele('export', '--url', url, '--out', file, '--json');
    assert.equal(exported.code, 0, exported.err);
    const { head, blocks } = JSON.parse(exported.out) as { head: string; blocks: number };
    assert.ok(blocks >= 6);
    const audited = JSON.parse((await stele('audit', file, '--genesis', info.genesis, '--head', head, '--json')).out) as { valid: boolean; height: number };
    assert.deepEqual([audited.valid, audited.height], [true, blocks]);
    const live = JSON.parse((await stele('audit', '--url', url, '--genesis', info.genesis, '--json')).out) as { valid: boolean };
    assert.equal(live.valid, true);
    // Every copy with one flipped bit is rejected.
    const original = readFileSync(file);
    for (let k = 0; k < 10; k++) {
      const copy = Buffer.from(original);
      const at = 52 + Math.floor(((k + 1) / 11) * (copy.length - 52));
      copy[at] = (copy[at] as number) ^ 0x10;
      writeFileSync(join(dir, 'flipped.stele'), copy);
      assert.equal((await stele('audit', join(dir, 'flipped.stele'), '--genesis', info.genesis)).code, 1, `flip at ${at}`);
    }
    // A clean stop, then the data directories audit from disk.
    up.kill('SIGINT');
    assert.equal(await exited, 0, stderr);
    for (const v of ['v1', 'v2', 'v3']) {
      const r = JSON.parse((await stele('audit', '--data', join(data, v), '--genesis', info.genesis, '--json')).out) as { valid: boolean; height: number };
      assert.equal(r.valid, true, v);
      assert.ok(r.height >= blocks, `${v} at ${r.height}`);
    }
  } finally {
    if (up.exitCode === null) up.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
