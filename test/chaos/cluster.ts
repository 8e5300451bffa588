/**
 * The chaos harness's cluster: three validator processes (`stele node --config`) on a
 * generated genesis, with the means to hurt them.
 *
 * - Network: each validator in its own network namespace, joined to a bridge by a veth
 *   pair made here; a partition from i to j is a blackhole route to j's address inside i's
 *   namespace. Where namespaces cannot be made (no CAP_NET_ADMIN, no `ip`), every node
 *   runs on loopback and drops messages above its transport (node/faults.ts): each node's
 *   config names its faults file in the test-only field `test_faults_file`.
 * - Disk: each data directory on its own small tmpfs, so a full disk is a filler file; each
 *   node's log (vN.log) is beside it, off the tmpfs.
 *   Without mount rights the full-disk fault is not available and the report says so.
 * - Processes: SIGKILL, SIGSTOP/SIGCONT, restart; a node that stops itself because its
 *   disk is full (exit 75) is restarted after a second, as a supervisor would.
 *
 * Names: namespaces and links carry a tag made from this process's id (unique among live
 * processes), and the subnet is the first 10.231.k.0/24 with no address on this host. If a
 * namespace or link of that tag exists already (a run of a process with the same id that
 * did not clean up), `up()` refuses with an error naming it rather than delete it; and
 * `destroy()` removes only what this cluster made (found in the harness review of 2026-11-30: a tag
 * collision made the error path delete another run's namespaces).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { toHex } from '../../ledger/assert.js';
import { keyPairFromSeed, Signer, type KeyPair } from '../../ledger/ed25519.js';
import { genesisToJson, parseGenesis, type Genesis } from '../../ledger/genesis.js';
import { sha256 } from '../../ledger/hash.js';
import { keyFileText } from '../../cli/io.js';
import { headerOfEncoded } from '../../ledger/block.js';
import { addon } from '../../native/addon.js';
import { faultDropsOf, procState, type Observation } from './checks.js';

const CLI = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
export const EXIT_DISK_FULL = 75;
/** Balance of each workload account at genesis. */
export const ACCOUNT_BALANCE = 1_000_000_000n;
const TMPFS_MIB = 320;
/**
 * How often, at most, a status poll of a validator also asks for its latest committed
 * block (GET /v1/blocks/latest, binary), to record what it reported as committed.
 */
const OBSERVE_EVERY_MS = 250;

export type NetMode = 'netns' | 'transport';
export type DiskMode = 'tmpfs' | 'none';

export interface Exit {
  readonly index: number;
  readonly code: number | null;
  readonly signal: string | null;
  readonly expected: boolean;
  readonly at: number;
  readonly logTail: string;
}

function run(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function tryRun(cmd: string, args: string[]): boolean {
  try {
    run(cmd, args);
    return true;
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Can this process make network namespaces? (Tried, then removed.) */
export function netnsAvailable(): boolean {
  const probe = `stele-probe-${process.pid}`;
  if (!tryRun('ip', ['netns', 'add', probe])) return false;
  tryRun('ip', ['netns', 'del', probe]);
  return true;
}

/** Can this process mount a tmpfs? (Tried on a scratch directory, then unmounted.) */
export function tmpfsAvailable(scratch: string): boolean {
  mkdirSync(scratch, { recursive: true });
  if (!tryRun('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', scratch])) return false;
  tryRun('umount', [scratch]);
  return true;
}

class Node {
  child: ChildProcess | null = null;
  paused = false;
  /** Set before a kill or stop the harness means to do. */
  expectExit = false;
  restarts = 0;
  /** The supervisor's pending restart after an unexpected exit. */
  restartTimer: NodeJS.Timeout | null = null;
  constructor(
    readonly index: number,
    readonly dir: string,
    readonly url: string,
  ) {}
  get pid(): number | undefined {
    return this.child?.pid;
  }
  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }
  /**
   * Beside the data directory's tmpfs, not on it: a log on the disk being filled could not
   * hold the STOPPED ... (STORE_FULL) line the full disk must produce.
   */
  get log(): string {
    return `${this.dir}.log`;
  }
}

export interface ClusterOptions {
  readonly dir: string;
  readonly seed: number;
  readonly accounts: number;
  readonly net: NetMode;
  readonly disk: DiskMode;
  readonly log: (line: string) => void;
}

export class ChaosCluster {
  readonly nodes: Node[] = [];
  readonly genesis: Genesis;
  readonly genesisPath: string;
  readonly accounts: Signer[];
  readonly exits: Exit[] = [];
  /**
   * Blocks the validators reported as committed when polled (`statuses()`), at most one
   * sample per validator every OBSERVE_EVERY_MS, each (validator, height, hash) once: the
   * harness checks them against the final chains (checks.ts, checkObserved).
   */
  readonly observed: Observation[] = [];
  private readonly observedKeys = new Set<string>();
  private readonly lastObserved = [0, 0, 0];
  private readonly tag: string;
  private readonly subnet: string;
  private closing = false;
  private destroying: Promise<void> | null = null;
  /** What this cluster made, in order, and removes on destroy (nothing else). */
  private readonly made = { namespaces: [] as string[], links: [] as string[], mounts: [] as string[] };
  private readonly partitions = new Set<string>(); // "i>j": i's messages to j are lost
  private readonly fillers = new Map<number, string>();

  private constructor(
    readonly options: ClusterOptions,
    genesis: Genesis,
    genesisPath: string,
    accounts: Signer[],
    urls: string[],
    tag: string,
    subnet: string,
    private readonly validatorKeys: KeyPair[],
    private readonly hosts: string[],
    private readonly apiPorts: number[],
  ) {
    this.genesis = genesis;
    this.genesisPath = genesisPath;
    this.accounts = accounts;
    this.tag = tag;
    this.subnet = subnet;
    urls.forEach((url, i) => this.nodes.push(new Node(i, join(options.dir, `v${i + 1}`), url)));
  }

  /**
   * Writes keys and genesis, and picks names and addresses; makes nothing outside `dir`
   * (so a caller can install its signal handlers before `up()` makes namespaces, mounts
   * and processes). Then `up()`.
   */
  static async prepare(options: ClusterOptions): Promise<ChaosCluster> {
    const { dir, seed } = options;
    mkdirSync(join(dir, 'keys'), { recursive: true, mode: 0o700 });
    const pair = (label: string): KeyPair => keyPairFromSeed(sha256(new TextEncoder().encode(`stele-chaos:${seed}:${label}`)));
    const validators = [0, 1, 2].map((i) => pair(`validator:${i}`));
    const accounts = Array.from({ length: options.accounts }, (_, i) => new Signer(pair(`account:${i}`)));
    // Base 36 of the pid: at most 5 characters (pid_max is 2^22), so names stay within
    // the 15 characters of an interface name.
    const tag = `sc${process.pid.toString(36)}`;
    const subnet = options.net === 'netns' ? freeSubnet(process.pid % 250) : '127.0.0';
    const peerPorts = options.net === 'netns' ? [7100, 7100, 7100] : [await freePort(), await freePort(), await freePort()];
    const apiPorts = options.net === 'netns' ? [8080, 8080, 8080] : [await freePort(), await freePort(), await freePort()];
    const hosts = options.net === 'netns' ? [1, 2, 3].map((h) => `${subnet}.${h}`) : ['127.0.0.1', '127.0.0.1', '127.0.0.1'];
    const genesis = parseGenesis({
      stele_genesis: 1,
      chain_id: `stele-chaos-${seed}`,
      genesis_time_ms: Date.now(),
      validators: validators.map((v, i) => ({ id: `v${i + 1}`, public_key: toHex(v.publicKey), address: `${hosts[i]}:${peerPorts[i]}` })),
      identities: accounts.map((a, i) => ({ name: i === 0 ? 'admin' : `account${i}`, public_key: toHex(a.publicKey), roles: i === 0 ? ['admin', 'issuer'] : [] })),
      assets: [{ symbol: 'STL', issuer: toHex((accounts[0] as Signer).publicKey) }],
      balances: accounts.map((a) => ({ public_key: toHex(a.publicKey), asset: 'STL', amount: ACCOUNT_BALANCE.toString() })),
    });
    const genesisPath = join(dir, 'genesis.json');
    writeFileSync(genesisPath, `${JSON.stringify(genesisToJson(genesis), null, 2)}\n`);
    const urls = hosts.map((h, i) => `http://${h}:${apiPorts[i]}`);
    return new ChaosCluster(options, genesis, genesisPath, accounts, urls, tag, subnet, validators, hosts, apiPorts);
  }

  /**
   * Builds the network and disks and starts every node. On failure, removes what it made
   * and rethrows; after `destroy()` (a signal during start-up) it throws.
   * @throws Error when a namespace or link of this cluster's names exists already
   */
  async up(): Promise<void> {
    const { dir } = this.options;
    if (this.closing) throw new Error('the chaos cluster was stopped before it started');
    try {
      if (this.options.net === 'netns') this.buildNetwork();
      this.validatorKeys.forEach((v, i) => {
        const node = this.nodes[i] as Node;
        mkdirSync(node.dir, { recursive: true });
        if (this.options.disk === 'tmpfs') {
          run('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_MIB}m`, 'tmpfs', node.dir]);
          this.made.mounts.push(node.dir);
        }
        writeFileSync(join(dir, 'keys', `v${i + 1}.key`), keyFileText(v), { mode: 0o600 });
        const config = {
          stele_node: 1,
          genesis: this.genesisPath,
          key: join(dir, 'keys', `v${i + 1}.key`),
          data: join(node.dir, 'data'),
          api: { host: this.hosts[i], port: this.apiPorts[i] },
          // Written by writeFaults; until then absent, which the node reads as no faults.
          ...(this.options.net === 'transport' ? { test_faults_file: join(dir, `faults-${i}.json`) } : {}),
        };
        writeFileSync(join(dir, `v${i + 1}.json`), `${JSON.stringify(config, null, 2)}\n`);
      });
      for (const node of this.nodes) this.start(node.index);
      await this.waitReady(60_000);
    } catch (error) {
      await this.destroy();
      throw error;
    }
  }

  private ns(i: number): string {
    return `${this.tag}-${i}`;
  }

  private buildNetwork(): void {
    const bridge = `${this.tag}br`;
    const hosts = [0, 1, 2].map((i) => `${this.tag}h${i}`);
    const insides = [0, 1, 2].map((i) => `${this.tag}n${i}`);
    // Refuse, naming it, anything of ours that exists already: it is not ours to delete.
    const namespaces = new Set(listNamespaces());
    for (const ns of [0, 1, 2].map((i) => this.ns(i))) {
      if (namespaces.has(ns)) throw new Error(`chaos cluster: network namespace ${ns} exists already (another run, or one that did not clean up: \`ip netns del ${ns}\`); not touching it`);
    }
    for (const link of [bridge, ...hosts, ...insides]) {
      if (tryRun('ip', ['link', 'show', 'dev', link])) throw new Error(`chaos cluster: network link ${link} exists already (another run, or one that did not clean up: \`ip link del ${link}\`); not touching it`);
    }
    run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    this.made.links.push(bridge);
    run('ip', ['addr', 'add', `${this.subnet}.254/24`, 'dev', bridge]);
    run('ip', ['link', 'set', bridge, 'up']);
    for (let i = 0; i < 3; i++) {
      const ns = this.ns(i);
      const host = hosts[i] as string;
      const inside = insides[i] as string;
      run('ip', ['netns', 'add', ns]);
      this.made.namespaces.push(ns);
      run('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', inside]);
      this.made.links.push(host); // its peer goes with it (or with the namespace)
      run('ip', ['link', 'set', inside, 'netns', ns]);
      run('ip', ['link', 'set', host, 'master', bridge]);
      run('ip', ['link', 'set', host, 'up']);
      run('ip', ['-n', ns, 'addr', 'add', `${this.subnet}.${i + 1}/24`, 'dev', inside]);
      run('ip', ['-n', ns, 'link', 'set', inside, 'up']);
      run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
  }

  /** Starts (or restarts) node `i`. */
  start(i: number): void {
    const node = this.nodes[i] as Node;
    if (node.running || this.closing) return;
    const config = join(this.options.dir, `v${i + 1}.json`);
    const log = openSync(node.log, 'a');
    const args = [CLI, 'node', '--config', config];
    // Faults come from the config (test_faults_file), not the environment: a STELE_FAULTS
    // exported by whoever runs the harness is passed on and only noted by the node as ignored.
    const child =
      this.options.net === 'netns'
        ? spawn('ip', ['netns', 'exec', this.ns(i), process.execPath, ...args], { stdio: ['ignore', log, log] })
        : spawn(process.execPath, args, { stdio: ['ignore', log, log] });
    closeSync(log);
    node.child = child;
    node.paused = false;
    node.expectExit = false;
    child.once('exit', (code, signal) => {
      const expected = node.expectExit;
      this.exits.push({ index: i, code, signal, expected, at: Date.now(), logTail: expected ? '' : tail(node.log) });
      if (!expected && !this.closing) {
        if (code !== EXIT_DISK_FULL) this.options.log(`validator v${i + 1} exited unexpectedly (code ${code}, signal ${signal}); restarting`);
        // A supervisor's restart, with a pause so a full disk is not hammered.
        node.restartTimer = setTimeout(() => {
          node.restartTimer = null;
          if (!this.closing && node.child === child) {
            node.restarts++;
            this.start(i);
          }
        }, 1000);
        node.restartTimer.unref();
      }
    });
  }

  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.closing) throw new Error('the chaos cluster was stopped while it started');
      const states = await Promise.all(this.nodes.map((n) => status(n.url)));
      if (states.every((s) => s !== null && s.leader !== null)) {
        // A node that did not turn its fault injection on would make every partition a no-op.
        const unfaulted = states.findIndex((s) => this.options.net === 'transport' && s?.test_faults_enabled !== true);
        if (unfaulted >= 0) throw new Error(`chaos cluster: validator v${unfaulted + 1} does not report test_faults_enabled in /v1/status, so partitions would not reach it`);
        return;
      }
      await sleep(100);
    }
    throw new Error(`the chaos cluster did not come up in ${timeoutMs} ms; logs: ${this.nodes.map((n) => `\n--- v${n.index + 1}\n${tail(n.log)}`).join('')}`);
  }

  /**
   * SIGKILL; resolves once the process is gone. Also cancels a pending supervisor restart,
   * so the node stays down until `start(i)` (a restart during the harness's down time made
   * `tear()` throw). Returns false when the node was not running (nothing was killed).
   */
  async kill(i: number): Promise<boolean> {
    const node = this.nodes[i] as Node;
    if (node.restartTimer !== null) {
      clearTimeout(node.restartTimer);
      node.restartTimer = null;
    }
    const child = node.child;
    if (child === null || !node.running) return false;
    node.expectExit = true;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
    return true;
  }

  /** SIGSTOP; false when the node was down or paused already (nothing was done). */
  pause(i: number): boolean {
    const node = this.nodes[i] as Node;
    if (!node.running || node.paused) return false;
    node.child?.kill('SIGSTOP');
    node.paused = true;
    return true;
  }

  /**
   * Waits (at most `timeoutMs`) until node i's process is seen stopped in /proc/PID/stat
   * (state T or t), and returns the last state read: null when it could not be read.
   */
  async waitStopped(i: number, timeoutMs = 1000): Promise<string | null> {
    const pid = (this.nodes[i] as Node).pid;
    const deadline = Date.now() + timeoutMs;
    let state: string | null = null;
    while (pid !== undefined) {
      try {
        state = procState(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        state = null;
      }
      if (state === 'T' || state === 't' || Date.now() >= deadline) break;
      await sleep(10);
    }
    return state;
  }

  /**
   * Each node's transport fault layer's drops since it started (`stele_test_fault_drops_total`,
   * both directions); null where it is down, paused or does not answer.
   */
  faultDrops(): Promise<Array<number | null>> {
    return Promise.all(
      this.nodes.map(async (n) => {
        if (!n.running || n.paused) return null;
        try {
          const r = await fetch(`${n.url}/metrics`, { signal: AbortSignal.timeout(1000) });
          return r.ok ? faultDropsOf(await r.text()) : null;
        } catch {
          return null;
        }
      }),
    );
  }

  resume(i: number): void {
    const node = this.nodes[i] as Node;
    if (!node.paused) return;
    node.paused = false;
    if (node.running) node.child?.kill('SIGCONT');
  }

  /** Messages from i to j are lost from now on (until heal). */
  cut(i: number, j: number): void {
    this.partitions.add(`${i}>${j}`);
    if (this.options.net === 'netns') run('ip', ['-n', this.ns(i), 'route', 'add', 'blackhole', `${this.subnet}.${j + 1}/32`]);
    else this.writeFaults();
  }

  healNetwork(): void {
    for (const p of this.partitions) {
      const [i, j] = p.split('>').map(Number) as [number, number];
      if (this.options.net === 'netns') tryRun('ip', ['-n', this.ns(i), 'route', 'del', 'blackhole', `${this.subnet}.${j + 1}/32`]);
    }
    this.partitions.clear();
    if (this.options.net === 'transport') this.writeFaults();
  }

  private writeFaults(): void {
    for (let i = 0; i < 3; i++) {
      const dropTo = [...this.partitions].filter((p) => p.startsWith(`${i}>`)).map((p) => Number(p.split('>')[1]));
      const dropFrom = [...this.partitions].filter((p) => p.endsWith(`>${i}`)).map((p) => Number(p.split('>')[0]));
      // Written aside and renamed over: a node re-reading the file mid-write would find half a
      // document, keep its previous setting, and so miss a partition or a heal until its
      // next read.
      const path = join(this.options.dir, `faults-${i}.json`);
      writeFileSync(`${path}.tmp`, JSON.stringify({ drop_to: dropTo, drop_from: dropFrom }));
      renameSync(`${path}.tmp`, path);
    }
  }

  /** Fills node i's tmpfs to the last byte. */
  fillDisk(i: number): number {
    const path = join((this.nodes[i] as Node).dir, 'filler');
    this.fillers.set(i, path);
    const fd = openSync(path, 'w');
    const chunk = Buffer.alloc(1024 * 1024, 0xa5);
    let written = 0;
    try {
      for (;;) written += writeSync(fd, chunk);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
    }
    // Top up the last partial megabyte.
    for (let size = 64 * 1024; size >= 512; size >>= 1) {
      try {
        for (;;) written += writeSync(fd, chunk.subarray(0, size));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
      }
    }
    closeSync(fd);
    return written;
  }

  /** The size of node i's log now (where a later `logSince` starts). */
  logSize(i: number): number {
    try {
      return statSync((this.nodes[i] as Node).log).size;
    } catch {
      return 0;
    }
  }

  /** What node i logged from byte `offset` on. */
  logSince(i: number, offset: number): string {
    try {
      return readFileSync((this.nodes[i] as Node).log).subarray(offset).toString('utf8');
    } catch {
      return '';
    }
  }

  freeDisk(i: number): void {
    const path = this.fillers.get(i);
    if (path !== undefined && existsSync(path)) unlinkSync(path);
    this.fillers.delete(i);
  }

  /**
   * Writes a torn record at the tail of node i's block log or acceptor log, as an append
   * cut short by the crash would leave it: a frame header claiming more bytes than follow.
   * Only for a node that is down. Returns the file and offset torn; `existing` when the
   * SIGKILL had left a torn frame there already, which is then left as it is (a second torn
   * frame after it is a log no crash leaves, and recovery rightly refuses it as
   * STORE_CORRUPT: found in review, 2026-12-01).
   */
  tear(i: number, which: 'blocks' | 'acceptor', bytesWritten: number): { file: string; offset: number; existing: boolean } | null {
    const node = this.nodes[i] as Node;
    if (node.running) throw new Error('tear needs the node down');
    const data = join(node.dir, 'data');
    let dir = join(data, 'blocks');
    if (which === 'acceptor') {
      const gens = existsSync(join(data, 'acceptor')) ? readdirSync(join(data, 'acceptor')).filter((g) => existsSync(join(data, 'acceptor', g, 'COMPLETE'))).sort() : [];
      if (gens.length === 0) return null;
      dir = join(data, 'acceptor', gens.at(-1) as string);
    }
    if (!existsSync(dir)) return null;
    const segments = readdirSync(dir).filter((f) => f !== 'COMPLETE' && !f.endsWith('.tmp')).sort();
    const last = segments.at(-1);
    if (last === undefined) return null;
    const file = join(dir, last);
    const bytes = readFileSync(file);
    const { offset: at, torn } = segmentTail(bytes);
    if (torn) return { file, offset: at, existing: true };
    const claimed = Math.max(bytesWritten + 1, 256);
    if (at + 8 + bytesWritten > bytes.length) return null;
    const frame = Buffer.alloc(8 + bytesWritten, 0x5c);
    frame.writeUInt32LE(claimed, 0);
    frame.writeUInt32LE(0xdeadbeef, 4);
    const fd = openSync(file, 'r+');
    writeSync(fd, frame, 0, frame.length, at);
    closeSync(fd);
    return { file, offset: at, existing: false };
  }

  /** Statuses of every node (null where it does not answer). */
  statuses(): Promise<Array<StatusLite | null>> {
    return Promise.all(
      this.nodes.map(async (n) => {
        if (!n.running || n.paused) return null;
        const now = Date.now();
        const observe = now - (this.lastObserved[n.index] as number) >= OBSERVE_EVERY_MS;
        if (observe) this.lastObserved[n.index] = now;
        const [s, latest] = await Promise.all([status(n.url), observe ? latestBlock(n.url) : Promise.resolve(null)]);
        if (latest !== null) {
          const key = `${n.index}:${latest.height}:${latest.hash}`;
          if (!this.observedKeys.has(key)) {
            this.observedKeys.add(key);
            this.observed.push({ node: n.index, height: latest.height, hash: latest.hash, at: Date.now() });
          }
        }
        return s;
      }),
    );
  }

  /** Heals everything: network, disks, pauses; starts nodes that are down. */
  healAll(): void {
    this.healNetwork();
    for (const i of [...this.fillers.keys()]) this.freeDisk(i);
    for (const n of this.nodes) {
      this.resume(n.index);
      if (!n.running) this.start(n.index);
    }
  }

  /** SIGTERM every node and waits; returns the exit codes. */
  async stopAll(timeoutMs = 20_000): Promise<Array<number | null>> {
    this.closing = true;
    const codes = await Promise.all(
      this.nodes.map(async (n) => {
        const child = n.child;
        if (child === null || !n.running) return child?.exitCode ?? null;
        n.expectExit = true;
        if (n.paused) this.resume(n.index);
        const gone = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        const code = await gone;
        clearTimeout(timer);
        return code;
      }),
    );
    return codes;
  }

  /**
   * Stops everything and removes the namespaces, links and mounts this cluster made and
   * (unless `keep`) the directory. Once: a second call (a signal during the harness's own
   * clean-up) waits for the first.
   */
  destroy(keep = false): Promise<void> {
    this.destroying ??= this.teardown(keep);
    return this.destroying;
  }

  private async teardown(keep: boolean): Promise<void> {
    this.closing = true;
    const gone: Array<Promise<unknown>> = [];
    for (const n of this.nodes) {
      if (n.restartTimer !== null) clearTimeout(n.restartTimer);
      n.restartTimer = null;
      const child = n.child;
      if (child !== null && n.running) {
        n.expectExit = true;
        gone.push(new Promise((r) => child.once('exit', r)));
        child.kill('SIGKILL');
      }
    }
    await Promise.race([Promise.all(gone), sleep(5000)]);
    for (const ns of this.made.namespaces) tryRun('ip', ['netns', 'del', ns]);
    for (const link of this.made.links) if (tryRun('ip', ['link', 'show', 'dev', link])) tryRun('ip', ['link', 'del', link]);
    for (const mount of this.made.mounts) {
      // Keep the data: copy it off the tmpfs before unmounting.
      if (keep) tryRun('cp', ['-a', mount, `${mount}.saved`]);
      tryRun('umount', ['-l', mount]);
    }
    if (!keep) rmSync(this.options.dir, { recursive: true, force: true });
  }
}

/**
 * Where the records of a mapped-log segment end (native/src/mapped_log.cc, Scan): after the
 * 64-byte segment header, frames of [u32 length][u32 CRC-32C of the length's four bytes and
 * the payload][payload], each padded to 8 bytes. `torn` when the walk stops at a frame
 * that is not whole (its length runs past the segment, or its checksum fails) rather than
 * at an empty header (length and checksum zero) or the end of the segment: the tail an
 * append cut short by a crash leaves, at `offset`.
 */
export function segmentTail(bytes: Uint8Array, crc32c: (bytes: Uint8Array) => number = (b) => addon().crc32c(b, false)): { offset: number; torn: boolean } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 64;
  while (at + 8 <= bytes.length) {
    const length = view.getUint32(at, true);
    const checksum = view.getUint32(at + 4, true);
    if (length === 0 && checksum === 0) return { offset: at, torn: !allZero(bytes, at) };
    if (at + 8 + length > bytes.length) return { offset: at, torn: true };
    const covered = new Uint8Array(4 + length);
    covered.set(bytes.subarray(at, at + 4), 0);
    covered.set(bytes.subarray(at + 8, at + 8 + length), 4);
    if (crc32c(covered) !== checksum) return { offset: at, torn: true };
    at += (8 + length + 7) & ~7;
  }
  return { offset: at, torn: false };
}

/** Whether every byte of `bytes` from `from` on is zero (compared a chunk at a time). */
function allZero(bytes: Uint8Array, from: number): boolean {
  const zeros = new Uint8Array(64 * 1024);
  for (let at = from; at < bytes.length; at += zeros.length) {
    const chunk = bytes.subarray(at, Math.min(bytes.length, at + zeros.length));
    if (Buffer.compare(chunk, zeros.subarray(0, chunk.length)) !== 0) return false;
  }
  return true;
}

/** Names of the network namespaces on this host. */
function listNamespaces(): string[] {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      .split('\n')
      .map((line) => line.split(' ')[0] ?? '')
      .filter((name) => name !== '');
  } catch {
    return [];
  }
}

/**
 * The first subnet 10.231.k.0/24, from k = `first` on (mod 250), with no IPv4 address of
 * this host in it (another run's bridge holds .254 of its own).
 * @throws Error when all 250 are taken
 */
function freeSubnet(first: number): string {
  let addresses = '';
  try {
    addresses = execFileSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    // No `ip`: up() fails with its own error.
  }
  for (let k = 0; k < 250; k++) {
    const subnet = `10.231.${(first + k) % 250}`;
    if (!addresses.includes(` ${subnet}.`)) return subnet;
  }
  throw new Error('chaos cluster: every subnet 10.231.0-249.0/24 has an address on this host');
}

export interface StatusLite {
  readonly leader: number | null;
  readonly committed_height: number;
  readonly mempool_size: number;
  /** Present, and true, on a node whose config turns test fault injection on. */
  readonly test_faults_enabled?: true;
}

export async function status(url: string): Promise<StatusLite | null> {
  try {
    const r = await fetch(`${url}/v1/status`, { signal: AbortSignal.timeout(1000) });
    if (!r.ok) return null;
    return (await r.json()) as StatusLite;
  } catch {
    return null;
  }
}

/** The height and hash of a validator's latest committed block; null when it does not answer one. */
export async function latestBlock(url: string): Promise<{ height: number; hash: string } | null> {
  try {
    const r = await fetch(`${url}/v1/blocks/latest`, { headers: { accept: 'application/octet-stream' }, signal: AbortSignal.timeout(1000) });
    if (!r.ok) return null;
    const { header, hash } = headerOfEncoded(new Uint8Array(await r.arrayBuffer()));
    return { height: header.height, hash: toHex(hash) };
  } catch {
    return null;
  }
}

export function tail(path: string, lines = 20): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
