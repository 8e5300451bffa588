import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSteleError } from '../../ledger/errors.js';
import { prepareCluster, startValidators, VALIDATOR_JEMALLOC_CONF, VALIDATOR_NODE_FLAGS, validatorEnv, validatorMalloc } from '../../cli/up.js';
import { randomPortBase } from '../../bench/util.js';

test('validatorMalloc: auto finds jemalloc or falls back; system; an explicit path; bad values are usage errors', () => {
  const only = (path: string) => (p: string) => p === path;
  assert.equal(validatorMalloc({}, only('/usr/lib64/libjemalloc.so.2')), '/usr/lib64/libjemalloc.so.2');
  assert.equal(validatorMalloc({ STELE_MALLOC: 'auto' }, () => false), null);
  assert.equal(validatorMalloc({ STELE_MALLOC: 'system' }, () => true), null);
  assert.equal(validatorMalloc({ STELE_MALLOC: '/opt/lib/libtcmalloc.so' }, only('/opt/lib/libtcmalloc.so')), '/opt/lib/libtcmalloc.so');
  for (const bad of ['/nowhere/libjemalloc.so.2', 'libjemalloc.so.2', 'jemalloc']) {
    assert.throws(() => validatorMalloc({ STELE_MALLOC: bad }, only('libjemalloc.so.2')), (e: unknown) => isSteleError(e, 'CLI_USAGE'), bad);
  }
});

test('validatorEnv: preloads the malloc; tunes jemalloc unless the operator set MALLOC_CONF; leaves the C library alone', () => {
  const jemalloc = validatorEnv('/usr/lib/x86_64-linux-gnu/libjemalloc.so.2', { LD_PRELOAD: '/opt/x.so', PATH: '/bin' });
  assert.equal(jemalloc.LD_PRELOAD, '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /opt/x.so');
  assert.equal(jemalloc.MALLOC_CONF, VALIDATOR_JEMALLOC_CONF);
  assert.equal(jemalloc.PATH, '/bin');
  assert.equal(validatorEnv('/usr/lib64/libjemalloc.so.2', { MALLOC_CONF: 'narenas:1' }).MALLOC_CONF, 'narenas:1');
  const other = validatorEnv('/opt/lib/libtcmalloc.so', {});
  assert.equal(other.LD_PRELOAD, '/opt/lib/libtcmalloc.so');
  assert.equal(other.MALLOC_CONF, undefined);
  const plain = { PATH: '/bin' };
  assert.equal(validatorEnv(null, plain), plain);
});

/** A base port with `count` free ports after it (best effort: checked, then released). */
async function freeRun(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = randomPortBase(count);
    const servers: net.Server[] = [];
    let ok = true;
    for (let i = 0; i < count && ok; i++) {
      const server = net.createServer();
      ok = await new Promise<boolean>((resolve) => {
        server.once('error', () => resolve(false));
        server.listen(base + i, '127.0.0.1', () => resolve(true));
      });
      if (ok) servers.push(server);
    }
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    if (ok) return base;
  }
  throw new Error('no free run of ports');
}

test('prepareCluster: a data path that is a file, or a damaged admin key, is refused with CLI_IO', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stele-up-'));
  try {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a directory');
    assert.throws(() => prepareCluster(file, 3, 18080, 17100, 'tcp'), (e: unknown) => isSteleError(e, 'CLI_IO') && /cannot make .*: ENOTDIR/.test(e.message));
    const made = join(dir, 'c');
    prepareCluster(made, 1, 18080, 17100, 'tcp');
    writeFileSync(join(made, 'keys', 'admin.key'), '');
    assert.throws(() => prepareCluster(made, 1, 18080, 17100, 'tcp'), (e: unknown) => isSteleError(e, 'CLI_IO') && /admin\.key is not a key file/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('startValidators (npm start): three validators come up, each with the malloc validatorMalloc chose', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stele-up-'));
  const api = await freeRun(3);
  const peers = await freeRun(3);
  const cluster = startValidators(prepareCluster(join(dir, 'c'), 3, api, peers, 'tcp'));
  try {
    assert.equal(await cluster.ready, true, 'every validator answers and knows a leader');
    for (const child of cluster.children) {
      const maps = readFileSync(`/proc/${child.pid}/maps`, 'utf8');
      if (cluster.malloc === null) assert.doesNotMatch(maps, /libjemalloc/);
      else assert.ok(maps.includes(realpathSync(cluster.malloc)), `validator ${child.pid} maps ${cluster.malloc}`);
      // Node's flags, and jemalloc's settings when it is jemalloc.
      const argv = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
      for (const flag of VALIDATOR_NODE_FLAGS) assert.ok(argv.includes(flag), `validator ${child.pid} runs with ${flag}`);
      const environ = readFileSync(`/proc/${child.pid}/environ`, 'utf8').split('\0');
      if (cluster.malloc?.includes('libjemalloc') === true && process.env.MALLOC_CONF === undefined) {
        assert.ok(environ.includes(`MALLOC_CONF=${VALIDATOR_JEMALLOC_CONF}`), `validator ${child.pid} has jemalloc's settings`);
      }
    }
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
