/**
 * Peers named by host name: each dial looks the name up on a thread of its own, so a name
 * server that never answers holds up that one peer's dial and nothing else. Before
 * 2026-12-02 the I/O thread called getaddrinfo itself, and one unanswered lookup (up to the
 * resolver's timeout, seconds) stopped the links to every other peer with it.
 *
 * The transport under test runs in a child process with a mount namespace of its own
 * (`unshare -m`), whose /etc/resolv.conf names a name server run by this test on a loopback
 * address: it answers `here.stele.test` with 127.0.0.1 at once and `late.stele.test` after
 * 1.5 s, `nosuch.stele.test` with NXDOMAIN, and never answers `slow.stele.test`. That needs
 * root (mounts and port 53) and a C library that reads resolv.conf: without them the tests
 * are skipped, saying why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Signer } from '../../ledger/ed25519.js';
import { addon } from '../../native/addon.js';
import { Transport, type TransportCounters, type TransportLogEvent, type TransportMessage } from '../../native/transport.js';
import { freePort, keys, until } from '../support/transport-fixtures.js';

const BACKENDS: ('tcp' | 'fabric')[] = addon().fabric ? ['tcp', 'fabric'] : ['tcp'];
const SERVER = '127.83.0.1'; // any loopback address; port 53, as resolv.conf has no port syntax

/** The queried name of a DNS query, its type, and where its question ends. */
function question(query: Buffer): { name: string; type: number; end: number } | null {
  const labels: string[] = [];
  let at = 12;
  while (at < query.length) {
    const n = query[at]!;
    if (n === 0) {
      if (at + 5 > query.length) return null;
      return { name: labels.join('.').toLowerCase(), type: query.readUInt16BE(at + 1), end: at + 5 };
    }
    if (n > 63) return null;
    labels.push(query.subarray(at + 1, at + 1 + n).toString('latin1'));
    at += 1 + n;
  }
  return null;
}

/** A response to `query`: one A record of 127.0.0.1 (for `here` and `late`), NXDOMAIN (`nosuch`), or no answer (null). */
function answer(query: Buffer): Buffer | null {
  const q = question(query);
  if (q === null || query.length < 12) return null;
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // id
  const asked = query.subarray(12, q.end);
  if (q.name === NAMES.nosuch || q.name.startsWith(`${NAMES.nosuch}.`)) {
    header.writeUInt16BE(0x8183, 2); // response, recursion desired and available, NXDOMAIN
    header.writeUInt16BE(1, 4);
    return Buffer.concat([header, asked]);
  }
  if (q.name !== NAMES.here && q.name !== NAMES.late) return null; // slow.stele.test and anything else: never answered
  header.writeUInt16BE(0x8180, 2);
  header.writeUInt16BE(1, 4);
  if (q.type !== 1) return Buffer.concat([header, asked]); // no records of other types
  header.writeUInt16BE(1, 6);
  const record = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 127, 0, 0, 1]); // name -> question, A, IN, ttl 0, 127.0.0.1
  return Buffer.concat([header, asked, record]);
}

const NAMES = { here: 'here.stele.test', late: 'late.stele.test', nosuch: 'nosuch.stele.test', slow: 'slow.stele.test' };
/** How long the server waits before it answers `late`. */
const LATE_MS = 1500;

interface NameServer {
  /** Names asked for, in order. */
  readonly queries: string[];
  /** When (performance.now()) the answers for `late` were sent. */
  readonly lateAnswers: number[];
  /** A resolv.conf naming it. */
  readonly resolv: string;
  close(): void;
}

/** The name server, or why this machine cannot run the test (then the test is skipped, saying so). */
async function nameServer(): Promise<NameServer | string> {
  if (process.getuid?.() !== 0) return 'needs root, for a mount namespace and port 53';
  const server = dgram.createSocket('udp4');
  const queries: string[] = [];
  const lateAnswers: number[] = [];
  const timers = new Set<NodeJS.Timeout>();
  server.on('message', (query, from) => {
    const name = question(query)?.name ?? '?';
    queries.push(name);
    const reply = answer(query);
    if (reply === null) return;
    if (name !== NAMES.late) return void server.send(reply, from.port, from.address);
    const timer = setTimeout(() => {
      timers.delete(timer);
      lateAnswers.push(performance.now());
      server.send(reply, from.port, from.address);
    }, LATE_MS);
    timers.add(timer);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.bind(53, SERVER, () => resolve());
    });
  } catch (error) {
    server.close();
    return `cannot listen on ${SERVER}:53: ${(error as Error).message}`;
  }
  const dir = mkdtempSync(join(tmpdir(), 'stele-lookup-'));
  const resolv = join(dir, 'resolv.conf');
  // One try of 30 s for the unanswered name: far beyond what the test waits.
  writeFileSync(resolv, `nameserver ${SERVER}\noptions timeout:30 attempts:1\n`);
  const close = (): void => {
    for (const t of timers) clearTimeout(t);
    server.close();
    rmSync(dir, { recursive: true, force: true });
  };
  // The namespace must make the C library ask this server: not so where name lookups go to
  // systemd-resolved or nscd instead, or where a security module refuses the mount.
  // Asynchronously: this process's event loop must stay free to answer.
  const probe = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile('unshare', ['-m', 'sh', '-c', 'mount --bind "$1" /etc/resolv.conf && getent ahostsv4 "$2"', 'sh', resolv, NAMES.here], { encoding: 'utf8', timeout: 20_000 }, (error, stdout, stderr) =>
      resolve({ status: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr: stderr || (error?.message ?? '') }),
    );
  });
  if (probe.status !== 0 || !/^127\.0\.0\.1\s/m.test(probe.stdout)) {
    close();
    return `a private mount namespace with its own resolv.conf does not reach this test's name server here (unshare, mount, getent: status ${probe.status}, ${JSON.stringify((probe.stderr || probe.stdout).slice(0, 200))})`;
  }
  return { queries, lateAnswers, resolv, close };
}

/** Runs test/support/lookup-child.js in a mount namespace whose resolv.conf is `resolv`. */
async function runChild(resolv: string, setup: object): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string; exitedAt: number }> {
  const child = spawn(
    'unshare',
    ['-m', 'sh', '-c', 'mount --bind "$1" /etc/resolv.conf && exec "$2" "$3"', 'sh', resolv, process.execPath, fileURLToPath(new URL('../support/lookup-child.js', import.meta.url))],
    { env: { ...process.env, STELE_LOOKUP_TEST: JSON.stringify(setup) }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, out, err, exitedAt: performance.now() })));
}

for (const backend of BACKENDS) {
  test(`transport[${backend}]: a name server that never answers holds up one peer's dial only; failed lookups are logged and counted`, async (t) => {
    const ns = await nameServer();
    if (typeof ns === 'string') return t.skip(ns);
    const pairs = keys(4, 41);
    const ports = [await freePort(), await freePort(), await freePort(), await freePort()];
    const addresses = [`127.0.0.1:${ports[0]}`, `${NAMES.slow}:${ports[1]}`, `${NAMES.here}:${ports[2]}`, `${NAMES.nosuch}:${ports[3]}`];
    // Validator 2 lives in this process, with this machine's own name server (its dials to
    // 1 and 3 fail or hang, which is beside the point); it listens on the address the child
    // finds for here.stele.test.
    const received: TransportMessage[] = [];
    const peerLog: TransportLogEvent[] = [];
    const peer = await Transport.open({
      backend,
      self: 2,
      signer: new Signer(pairs[2]!),
      validators: pairs.map((p, i) => ({ publicKey: p.publicKey, address: addresses[i]! })),
      listen: `127.0.0.1:${ports[2]}`,
      onMessages: (batch) => {
        for (const m of batch) received.push({ from: m.from, bytes: Uint8Array.from(m.bytes) });
      },
      onLog: (e) => peerLog.push(e),
    });
    try {
      const started = performance.now();
      const run = await runChild(ns.resolv, { mode: 'main', seeds: [41, 42, 43, 44], addresses, backend });
      const exitMs = run.exitedAt - started;
      assert.equal(run.code, 0, `child failed (${run.signal ?? ''}): ${run.err}`);
      const out = run.out;
      const report = JSON.parse(out.trim().split('\n').pop() ?? '') as {
        upMs: number | null;
        unresolvedMs: number | null;
        closeMs: number;
        counters: TransportCounters;
        log: TransportLogEvent[];
      };
      assert.ok(ns.queries.includes(NAMES.slow), `the unanswered name was asked for (queries: ${ns.queries.join(', ')})`);
      // The link to validator 2, found by a lookup, opens while the lookup of validator 1
      // hangs (30 s): in well under the wait, not after it.
      assert.notEqual(report.upMs, null, 'validator 2 came up');
      assert.ok(report.upMs! < 5000, `validator 2 up after ${report.upMs} ms`);
      await until('the message to validator 2', () => received.some((m) => m.from === 0 && m.bytes.length === 3 && m.bytes[0] === 7));
      // NXDOMAIN: logged with the peer and the resolver's words, counted, retried with backoff.
      assert.notEqual(report.unresolvedMs, null, 'a failed lookup of validator 3 was logged');
      const unresolved = report.log.filter((e) => e.kind === 'unresolved');
      assert.ok(unresolved.length >= 1 && unresolved.every((e) => e.peer === 3), JSON.stringify(unresolved));
      assert.match((unresolved[0] as { reason: string }).reason, /^host nosuch\.stele\.test: /);
      assert.ok(report.counters.lookupFailures >= 1);
      // The counters were read before the close, so one more failure may be counted whose
      // event the closed transport no longer logged.
      assert.ok(report.counters.lookupFailures - unresolved.length >= 0 && report.counters.lookupFailures - unresolved.length <= 1, JSON.stringify(report.counters));
      // here (at least once), nosuch (each retry), slow (once: still running).
      assert.ok(report.counters.lookups >= report.counters.lookupFailures + 2, JSON.stringify(report.counters));
      // Closing does not wait for the hanging lookup, nor does the process's exit.
      assert.ok(report.closeMs < 2000, `close took ${report.closeMs} ms`);
      assert.ok(exitMs < 20_000, `the child took ${exitMs} ms in all`);
    } finally {
      await peer.close();
      ns.close();
    }
  });
}

test('transport: a worker terminated while a lookup runs does not take the process down when the answer comes (the addon stays loaded)', async (t) => {
  // Node unloads an addon with the environment of a worker that loaded it, unless the
  // process's main thread loaded it too. A lookup's thread outlives its transport (closing
  // never waits for a name server), so its code must stay mapped: the addon is linked with
  // -z nodelete (binding.gyp). Without that, this child died of SIGSEGV when the late answer
  // came (review of 2026-12-02).
  const ns = await nameServer();
  if (typeof ns === 'string') return t.skip(ns);
  try {
    const addresses = [`127.0.0.1:${await freePort()}`, `${NAMES.late}:${await freePort()}`];
    const run = await runChild(ns.resolv, { mode: 'worker', seeds: [51, 52], addresses, backend: 'tcp', waitMs: LATE_MS + 1500 });
    assert.equal(run.signal, null, `the child was killed by ${run.signal}: ${run.err}`);
    assert.equal(run.code, 0, `child failed: ${run.err}`);
    const report = JSON.parse(run.out.trim().split('\n').pop() ?? '') as { lookups: number; terminated: number };
    assert.ok(report.lookups >= 1, 'the worker\'s transport started a lookup');
    assert.equal(report.terminated, 1, 'the worker was terminated, not ended by a crash');
    // The late answer reached the child's lookup thread while the child still lived.
    assert.ok(ns.lateAnswers.length >= 1 && (ns.lateAnswers[0] as number) < run.exitedAt - 500, `late answers at ${ns.lateAnswers.join(', ')}, exit at ${run.exitedAt}`);
  } finally {
    ns.close();
  }
});
