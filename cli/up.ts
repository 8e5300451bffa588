/**
 * `stele up [--nodes 3] [--data ./data] [--port 8080] [--peer-port 7100] [--transport tcp]`:
 * a local cluster for development, the default behind `npm start`.
 *
 * First run: writes DATA/genesis.json, DATA/keys/ (one key per validator and admin.key,
 * files 0600), and DATA/vN/config.json, one per validator, all or nothing (makeAllOrNothing).
 * Every run: starts each validator as its own process (`stele node --config
 * DATA/vN/config.json`, logs in DATA/vN/node.log), waits until the API answers, and
 * prints where everything is. Ctrl-C (or SIGTERM) stops every validator cleanly; running
 * it again resumes from DATA. A signal during the first run's staging takes effect once the
 * staged files are in place (or taken back after a failure), and starts nothing.
 * A validator that stops because its disk is full (exit 75) is restarted every 5 s until
 * there is space again; any other exit of a validator stops the cluster and shows its log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, fstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readSync, renameSync, rmdirSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { toHex } from '../ledger/assert.js';
import { generateKeyPair } from '../ledger/ed25519.js';
import { genesisToJson, hostPort, parseGenesis, parseGenesisText } from '../ledger/genesis.js';
import { GENESIS_FILE_BYTES_MAX } from '../ledger/constants.js';
import { errnoText, isSteleError, SteleError } from '../ledger/errors.js';
import { syncDirectory } from '../ledger/files.js';
import { THREADS_MAX } from '../ledger/verify-pool.js';
import { configBase, NODE_CONFIG_BYTES_MAX, parseNodeConfig, type ApiConfig, type NodeConfig } from '../node/config.js';
import { SteleClient } from '../api/client.js';
import { EXIT_DISK_FULL } from './node.js';
import { EXIT_OK, EXIT_USAGE, keyFileText, parse, printJson, readKeyFile, readText, usage, writeNew } from './io.js';

const ADMIN_BALANCE = '1000000000000';
const DISK_FULL_RETRY_MS = 5000;
/** How long the validators get to answer and elect a leader; each status request's bound. */
const READY_WAIT_MS = 60_000;
const READY_REQUEST_MS = 2_000;

/** Bytes of a validator's log shown when it stops: its last lines, never the whole file. */
const LOG_TAIL_BYTES = 64 * 1024;
const LOG_TAIL_LINES = 15;

/** A flag of decimal digits only (Number() would take '', ' 5 ', '0x10', '+5' and '1e3'). */
function intArg(value: string | undefined, fallback: number, name: string, lo: number, hi: number): number {
  if (value === undefined) return fallback;
  const n = /^[0-9]{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(n >= lo && n <= hi)) usage(`--${name} expects an integer ${lo}..${hi} (got ${JSON.stringify(value)})`);
  return n;
}

/** Where `prepareCluster` put a local cluster's files. */
export interface Layout {
  readonly genesisPath: string;
  readonly adminKey: string;
  readonly configs: string[];
  readonly apiPorts: number[];
  /** The validators' transport ports (genesis addresses). */
  readonly peerPorts: number[];
  readonly transport: string;
  readonly adminPublicKey: string;
  /** SHA-256 of the genesis (hex): what the validators' /v1/status must report. */
  readonly genesisHash: string;
}

/**
 * More for a new genesis than the admin (benchmarks fund many accounts): identities and
 * balances in genesis JSON form, appended after the admin's, and `limits`.
 */
export interface GenesisExtra {
  readonly identities?: ReadonlyArray<{ name: string; public_key: string; roles: string[] }>;
  readonly balances?: ReadonlyArray<{ public_key: string; asset: string; amount: string }>;
  readonly limits?: Readonly<Record<string, number>>;
}

/**
 * Writes genesis, keys and configs on first run, all or nothing (a DATA that holds other
 * files is refused); on later runs checks they match and
 * takes the ports and transport from the files (not from the arguments: the cluster runs
 * as it was made), and `extra` applies only to a new genesis.
 * @throws SteleError CLI_IO, CLI_USAGE, GENESIS_INVALID or CONFIG_INVALID
 * @example const layout = prepareCluster('/tmp/c', 3, 8080, 7100, 'tcp');
 */
export function prepareCluster(dir: string, nodes: number, port: number, peerPort: number, transport: string, extra: GenesisExtra = {}): Layout {
  const genesisPath = join(dir, 'genesis.json');
  const keys = join(dir, 'keys');
  const adminKey = join(keys, 'admin.key');
  const configs = Array.from({ length: nodes }, (_, i) => join(dir, `v${i + 1}`, 'config.json'));
  const apiPorts = Array.from({ length: nodes }, (_, i) => port + i);
  if (existsSync(genesisPath)) {
    const genesis = parseGenesisText(readText(genesisPath, GENESIS_FILE_BYTES_MAX));
    if (genesis.validators.length !== nodes) usage(`${dir} holds a cluster of ${genesis.validators.length} validators; pass --nodes ${genesis.validators.length} or another --data`);
    const made = configs.map((c) => {
      if (!existsSync(c)) throw new SteleError('CLI_IO', `${c} is missing; the data directory is incomplete`);
      const config = parseNodeConfig(readText(c, NODE_CONFIG_BYTES_MAX), configBase(c));
      if (config.api === null) throw new SteleError('CLI_IO', `${c} has no "api"; stele up needs every validator's REST API`);
      // stele up never writes it; a hand-edited one is refused rather than run: the local
      // cluster would drop peer messages as a file says, which only the chaos tests want.
      if (config.testFaultsFile !== null) throw new SteleError('CONFIG_INVALID', `${c}: test_faults_file is for the chaos tests only; stele up does not start validators with fault injection (remove the field)`, { field: 'test_faults_file' });
      return config;
    });
    const admin = readKeyFile(adminKey);
    return {
      genesisPath,
      adminKey,
      configs,
      apiPorts: made.map((c) => (c.api as ApiConfig).port),
      // Genesis addresses passed hostPort when the genesis was parsed.
      peerPorts: genesis.validators.map((v) => (hostPort(v.address) as { port: number }).port),
      transport: (made[0] as NodeConfig).transport,
      adminPublicKey: toHex(admin.publicKey),
      genesisHash: toHex(genesis.hash),
    };
  }
  const validatorKeys = Array.from({ length: nodes }, () => generateKeyPair());
  const admin = generateKeyPair();
  const genesis = parseGenesis({
    stele_genesis: 1,
    chain_id: 'stele-local',
    genesis_time_ms: Date.now(),
    validators: validatorKeys.map((pair, i) => ({ id: `v${i + 1}`, public_key: toHex(pair.publicKey), address: `127.0.0.1:${peerPort + i}` })),
    identities: [{ name: 'admin', public_key: toHex(admin.publicKey), roles: ['admin', 'issuer'] }, ...(extra.identities ?? [])],
    assets: [{ symbol: 'STL', issuer: toHex(admin.publicKey) }],
    balances: [{ public_key: toHex(admin.publicKey), asset: 'STL', amount: ADMIN_BALANCE }, ...(extra.balances ?? [])],
    ...(extra.limits === undefined ? {} : { limits: extra.limits }),
  });
  // Validators sharing this machine share its cores: one verify thread each per core
  // they have (the validator's main thread joins its workers too), so three validators
  // on two cores run three workers rather than six idle isolates.
  const verifyThreads = Math.max(1, Math.min(THREADS_MAX, Math.floor(availableParallelism() / nodes)));
  makeAllOrNothing(dir, (staging) => {
    const stagedKeys = join(staging, 'keys');
    mkdirSync(stagedKeys, { mode: 0o700 });
    validatorKeys.forEach((pair, i) => writeNew(join(stagedKeys, `v${i + 1}.key`), keyFileText(pair), 0o600, false));
    writeNew(join(stagedKeys, 'admin.key'), keyFileText(admin), 0o600, false);
    writeNew(join(staging, 'genesis.json'), `${JSON.stringify(genesisToJson(genesis), null, 2)}\n`, 0o644, false);
    for (let i = 0; i < nodes; i++) {
      const config = { stele_node: 1, genesis: '../genesis.json', key: `../keys/v${i + 1}.key`, data: '.', transport, api: { host: '127.0.0.1', port: apiPorts[i] }, verify_threads: verifyThreads };
      writeNew(join(staging, `v${i + 1}`, 'config.json'), `${JSON.stringify(config, null, 2)}\n`, 0o644, false);
    }
  });
  return { genesisPath, adminKey, configs, apiPorts, peerPorts: validatorKeys.map((_, i) => peerPort + i), transport, adminPublicKey: toHex(admin.publicKey), genesisHash: toHex(genesis.hash) };
}

/** Prefix of the directory a first run stages its files in (a crash may leave one behind). */
const STAGING_PREFIX = '.stele-up-';

/**
 * Makes the data directory `dir` with what `write` puts in a staging directory, all or
 * nothing: a run that fails midway leaves no half-made cluster that every later run would
 * refuse (found in review: a first run that failed after writing keys and genesis left
 * such a directory, and a left-over key made it ask for a --force that up does not have).
 * A `dir` that does not exist is staged beside it and renamed into place at once. An empty
 * existing `dir` (perhaps a mount point, which no rename can replace) is staged inside, and
 * the entries move in with genesis.json last: a cluster counts as made once genesis.json
 * is there, and a failure takes back what moved. Anything else in `dir` is refused.
 * @throws SteleError CLI_IO
 */
function makeAllOrNothing(dir: string, write: (staging: string) => void): void {
  let entries: string[] | null = null;
  try {
    entries = readdirSync(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw new SteleError('CLI_IO', `cannot make the data directory ${dir}: ENOTDIR (it, or a directory on its path, is a file); choose another --data`);
    if (code !== 'ENOENT') throw new SteleError('CLI_IO', `cannot read ${dir}: ${errnoText(error)}`);
  }
  if (entries !== null && entries.length > 0) {
    const shown = entries.sort().slice(0, 5).join(', ') + (entries.length > 5 ? `, and ${entries.length - 5} more` : '');
    // Only a crash or SIGKILL in the middle of a first run leaves these (signals wait for
    // the staging to end: upCommand); nothing is removed here on a guess (see upCommand).
    const staged = entries.some((e) => e.startsWith(STAGING_PREFIX)) ? ` (${STAGING_PREFIX}* is where a first run stages its files: one left by a run that was killed, with no genesis.json here, holds nothing in use)` : '';
    throw new SteleError('CLI_IO', `${dir} holds no genesis.json but is not empty (${shown}): not a cluster stele up made${staged}; move those away or choose another --data`);
  }
  const inside = entries !== null;
  const parent = inside ? dir : dirname(dir);
  let staging: string;
  try {
    mkdirSync(parent, { recursive: true });
    staging = mkdtempSync(join(parent, inside ? STAGING_PREFIX : `.${basename(dir)}${STAGING_PREFIX}`));
  } catch (error) {
    throw new SteleError('CLI_IO', `cannot make ${dir}: ${errnoText(error)}`);
  }
  const moved: string[] = [];
  try {
    write(staging);
    if (!inside) renameSync(staging, dir);
    else {
      const names = readdirSync(staging).sort((a, b) => Number(a === 'genesis.json') - Number(b === 'genesis.json'));
      for (const name of names) {
        renameSync(join(staging, name), join(dir, name));
        moved.push(name);
      }
      rmdirSync(staging);
    }
  } catch (error) {
    for (const name of moved) rmSync(join(dir, name), { recursive: true, force: true });
    rmSync(staging, { recursive: true, force: true });
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTEMPTY') throw new SteleError('CLI_IO', `cannot make ${dir}: it was made meanwhile (another stele up?); nothing written`);
    // Messages of writeNew name the staging directory, which is gone: name where it was going.
    const reason = error instanceof SteleError ? error.reason.replaceAll(staging, dir) : errnoText(error);
    throw new SteleError('CLI_IO', `cannot make ${dir}: ${reason}; nothing written`);
  }
  syncDirectory(parent);
}

/**
 * The last lines of a validator's log, read from its last 64 KiB only (a log may be
 * gigabytes); '(no log)' when it cannot be read.
 * @example process.stderr.write(logTail('data/v1/node.log'));
 */
export function logTail(path: string): string {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - LOG_TAIL_BYTES);
    const bytes = Buffer.alloc(size - start);
    const read = readSync(fd, bytes, 0, bytes.length, start);
    const lines = bytes.toString('utf8', 0, read).split('\n');
    // Started inside a line: drop that partial line.
    return (start > 0 ? lines.slice(1) : lines).slice(-LOG_TAIL_LINES).join('\n');
  } catch {
    return '(no log)';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * A validator that stopped (`code`: its exit code, or `signal`: the signal that ended it,
 * one of them null) or could not be started (`error`: why; both null).
 */
export interface Exit {
  readonly index: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error?: string;
}

/**
 * How a validator ended, for messages: `exit 1`, `signal SIGKILL` (found in review: an
 * out-of-memory kill or a SIGSEGV read "exit null").
 * @example howEnded({ index: 0, code: null, signal: 'SIGKILL' }) // 'signal SIGKILL'
 */
export function howEnded(exit: Exit): string {
  return exit.signal !== null ? `signal ${exit.signal}` : `exit ${exit.code}`;
}

/** Validator processes started by `startValidators`. */
export interface RunningCluster {
  readonly children: readonly ChildProcess[];
  /** DATA/vN/node.log, stdout and stderr of each validator. */
  readonly logs: readonly string[];
  /** True once every validator's API answers for this genesis and knows a leader (false after 60 s, or `readyWaitMs`). */
  readonly ready: Promise<boolean>;
  /**
   * The first validator (index) that did not answer for this genesis with a leader at the
   * last look of the readiness wait; null before the first look and once all did.
   */
  notReady(): number | null;
  /** The first validator that exits before `stop` was called, or that could not be started. */
  readonly exited: Promise<Exit>;
  /** SIGTERM to each, SIGKILL to those still running after 10 s (a monotonic clock's). */
  stop(): Promise<void>;
  /** The malloc library preloaded into each validator, or null for the C library's (validatorMalloc). */
  readonly malloc: string | null;
}

/**
 * Node.js flags every validator runs with. A young generation of 4 MiB semi-spaces instead
 * of V8's default 16: about 80 MiB less resident memory per validator under load, at no
 * measurable CPU cost (docs/performance.md). `--heap-growing-percent=100`: the old
 * generation is collected when it has doubled since the last full collection, instead of
 * when V8's own factor (up to 4) says; under a million-transaction load a leader's heap
 * reached 145 MiB committed for 18 MiB live without it, and RSS right after the million
 * was 214-280 MiB with it (four runs) against 250-379 without (two), for about 4 % more
 * CPU per transaction near saturation and 1.5 % at 2,000 tx/s (docs/performance.md). It is a factor, not a cap: the limit grows with the
 * live heap. `--expose-gc` lets an idle validator run one full collection
 * (node/idle-gc.ts). Operators running `stele node` themselves pass the same
 * (docs/operations.md).
 */
export const VALIDATOR_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--heap-growing-percent=100', '--expose-gc'];

/** Where Debian, Ubuntu, Fedora and others install jemalloc's shared library. */
const JEMALLOC_PATHS: readonly string[] = [
  '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2',
  '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2',
  '/usr/lib64/libjemalloc.so.2',
  '/usr/lib/libjemalloc.so.2',
];

/**
 * The malloc the validators run with, chosen by STELE_MALLOC: `auto` (default) preloads
 * jemalloc when the system has it (Debian: `apt-get install libjemalloc2`), else keeps the
 * C library's; `system` keeps the C library's; a path preloads that library. Why: with
 * glibc's malloc, a validator kept 270-350 MiB of anonymous memory after a run of
 * 335,000 transactions and 20 s of idling, fragmentation that malloc_trim did not give
 * back; with jemalloc, 117-198 MiB (docs/performance.md, Memory).
 * @returns the library to preload, or null for the C library's malloc.
 * @throws SteleError CLI_USAGE when STELE_MALLOC names a file that does not exist
 */
export function validatorMalloc(env: NodeJS.ProcessEnv = process.env, exists: (path: string) => boolean = existsSync): string | null {
  const choice = env.STELE_MALLOC ?? 'auto';
  if (choice === 'system') return null;
  if (choice === 'auto' || choice === '') return JEMALLOC_PATHS.find((p) => exists(p)) ?? null;
  if (!choice.startsWith('/') || !exists(choice)) {
    throw new SteleError('CLI_USAGE', `STELE_MALLOC must be auto, system or the absolute path of a malloc library; ${JSON.stringify(choice)} is none`);
  }
  return choice;
}

/**
 * jemalloc's settings for validators (MALLOC_CONF, unless the operator set one): freed
 * pages go back to the system after about 1 s instead of 10 s (`dirty_decay_ms`), so a
 * validator's resident memory follows its load down within seconds
 * (docs/performance.md, Memory).
 */
export const VALIDATOR_JEMALLOC_CONF = 'dirty_decay_ms:1000';

/** The validators' environment: the malloc to preload, and jemalloc's settings when it is jemalloc. */
export function validatorEnv(malloc: string | null, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  if (malloc === null) return env;
  const out: NodeJS.ProcessEnv = { ...env, LD_PRELOAD: [malloc, env.LD_PRELOAD].filter((x) => x !== undefined && x !== '').join(' ') };
  if (basename(malloc).startsWith('libjemalloc') && env.MALLOC_CONF === undefined) out.MALLOC_CONF = VALIDATOR_JEMALLOC_CONF;
  return out;
}

/**
 * Starts one `stele node --config` process per configuration of `layout`, logs appended
 * to node.log next to each configuration.
 * @example const cluster = startValidators(prepareCluster(dir, 3, 8080, 7100, 'tcp')); await cluster.ready;
 */
export function startValidators(layout: Layout, options: { readyWaitMs?: number } = {}): RunningCluster {
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const malloc = validatorMalloc();
  const env = validatorEnv(malloc);
  const children: ChildProcess[] = [];
  let stopping = false;
  const logs = layout.configs.map((c) => join(c, '..', 'node.log'));
  // Relaunches waiting for disk space: cancelled by stop, so none outlives it.
  const retries = new Set<NodeJS.Timeout>();
  const exited = new Promise<Exit>((resolveExit) => {
    let failed = false;
    // A validator that cannot be started ends the cluster as one that exits does, with why:
    // found in review, a node.log that could not be opened threw out of here, leaving the
    // validators already started running and the readiness poll going for a minute.
    const fail = (index: number, error: string): void => {
      failed = true;
      resolveExit({ index, code: null, signal: null, error });
    };
    const launch = (config: string, index: number): void => {
      if (stopping || failed) return;
      let log: number;
      try {
        log = openSync(logs[index] as string, 'a');
      } catch (error) {
        return fail(index, `cannot open ${logs[index]}: ${errnoText(error)}`);
      }
      // STELE_NODE_FLAGS: extra Node.js flags for the validators (profiling: docs/performance.md);
      // they come after VALIDATOR_NODE_FLAGS, so they can override them.
      const flags = [...VALIDATOR_NODE_FLAGS, ...(process.env.STELE_NODE_FLAGS ?? '').split(' ').filter((f) => f.startsWith('--'))];
      let child: ChildProcess;
      try {
        child = spawn(process.execPath, [...flags, main, 'node', '--config', config], { stdio: ['ignore', log, log], env });
      } catch (error) {
        return fail(index, `cannot start validator v${index + 1}: ${errnoText(error)}`);
      } finally {
        closeSync(log);
      }
      // A process that could not be started (or signalled) says so here, not with 'exit'.
      child.on('error', (error) => {
        if (!stopping) fail(index, `validator v${index + 1}: ${errnoText(error)}`);
      });
      child.on('exit', (code, signal) => {
        if (stopping) return;
        if (code === EXIT_DISK_FULL) {
          // Nothing acknowledged is lost; the others go on. Try again until there is space.
          process.stderr.write(`validator v${index + 1} stopped: its disk is full (see ${logs[index]}); restarting it in ${DISK_FULL_RETRY_MS / 1000} s\n`);
          const retry = setTimeout(() => {
            retries.delete(retry);
            launch(config, index);
          }, DISK_FULL_RETRY_MS);
          retries.add(retry);
          return;
        }
        resolveExit({ index, code, signal });
      });
      children[index] = child;
    };
    layout.configs.forEach(launch);
  });
  const stop = async (): Promise<void> => {
    stopping = true;
    for (const retry of retries) clearTimeout(retry);
    retries.clear();
    // Holes are validators that were never started.
    const started = children.filter((c) => c !== undefined);
    for (const c of started) if (c.exitCode === null) c.kill('SIGTERM');
    // performance.now(), not Date.now(): a wall clock stepped back would hold the stop up,
    // one stepped forward would SIGKILL validators still writing (found in review).
    const deadline = performance.now() + 10_000;
    while (started.some((c) => c.exitCode === null && c.signalCode === null) && performance.now() < deadline) await sleep(50);
    for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };
  // Wait until every validator's API answers for this cluster's genesis and knows a leader.
  // Found in review: any server on those ports was taken for the cluster (another cluster's
  // validator, still running, made up announce it), and a server that never answered held
  // the wait up for good.
  const clients = layout.apiPorts.map((p) => new SteleClient({ url: `http://127.0.0.1:${p}`, timeoutMs: READY_REQUEST_MS }));
  // Which validator was not ready at the last look: named when the wait runs out (found in
  // review: v1 was named whichever did not come up).
  let notReady: number | null = null;
  const ready = (async () => {
    // Monotonic, as stop's deadline.
    for (const deadline = performance.now() + (options.readyWaitMs ?? READY_WAIT_MS); performance.now() < deadline; await sleep(100)) {
      if (stopping) return false;
      const answers = await Promise.all(
        clients.map(async (client) => {
          try {
            const status = await client.status();
            return status.genesis_hash === layout.genesisHash && status.leader !== null;
          } catch {
            return false;
          }
        }),
      );
      const first = answers.indexOf(false);
      notReady = first < 0 ? null : first;
      if (notReady === null) return true;
    }
    return false;
  })();
  return { children, logs, ready, notReady: () => notReady, exited, stop, malloc };
}

export async function upCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {
    nodes: { type: 'string' },
    data: { type: 'string' },
    port: { type: 'string' },
    'peer-port': { type: 'string' },
    transport: { type: 'string' },
    json: { type: 'boolean' },
  }, false, 'up');
  const dir = resolve(values.data ?? 'data');
  // A cluster made before resumes with its own number of validators when --nodes is left
  // out, as it does with its ports (before 2026-12-02 the default of 3 applied, and a
  // cluster of 1 or 5 needed --nodes again; review). A --nodes that says otherwise is
  // refused by prepareCluster, and so is a genesis.json that does not parse.
  let nodesMade = 3;
  const made = join(dir, 'genesis.json');
  if (values.nodes === undefined && existsSync(made)) {
    try {
      const count = parseGenesisText(readText(made, GENESIS_FILE_BYTES_MAX)).validators.length;
      if (count <= 7) nodesMade = count; // more: prepareCluster refuses it, naming the count
    } catch {
      // prepareCluster reads it again and reports what is wrong with it.
    }
  }
  const nodes = intArg(values.nodes, nodesMade, 'nodes', 1, 7);
  if (nodes % 2 === 0) usage('--nodes must be odd (1, 3, 5 or 7): a majority of 2f+1 survives f failures');
  const port = intArg(values.port, 8080, 'port', 1, 65535 - nodes);
  const peerPort = intArg(values['peer-port'], 7100, 'peer-port', 1, 65535 - nodes);
  if (port < peerPort + nodes && peerPort < port + nodes) usage(`--port ${port}..${port + nodes - 1} (the REST APIs) overlaps --peer-port ${peerPort}..${peerPort + nodes - 1} (the validators' transport)`);
  const transport = values.transport ?? 'tcp';
  if (!['tcp', 'fabric', 'auto'].includes(transport)) usage('--transport expects tcp, fabric or auto');
  // Installed before the first run stages its files, not only before the validators start.
  // Staging is synchronous, so a Ctrl-C or SIGTERM meanwhile waits for it to end: made
  // whole, or taken back after a failure. Found in review: with Node's default, a signal
  // then killed this process mid-way, leaving DATA/.stele-up-* (or keys/ and vN/ moved in
  // without genesis.json), and every later run refused DATA as not empty. The other way,
  // removing such leftovers when genesis.json is absent, was not taken: it would remove
  // what it only guesses is its own (the staging of another stele up running on the same
  // DATA, or keys/ that someone else put there), and a crash or SIGKILL, which no handler
  // sees, is left to the refusal's message, which names the staging.
  // Before the validators start, so that a signal during start-up stops them too, or
  // they would outlive this process. Kept for every signal, not once: found in review, a
  // second Ctrl-C or SIGTERM during the stop took Node's default, killing this process and
  // leaving the validators running.
  let signalled = false;
  let started = false;
  const signal = new Promise<string>((resolveSignal) => {
    const onSignal = (name: string): void => {
      if (signalled) {
        if (started) process.stderr.write(`${name}: already stopping the validators (any still running after 10 s get SIGKILL)\n`);
        return;
      }
      signalled = true;
      process.stderr.write(started ? `${name}: stopping every validator\n` : `${name}: starting no validator\n`);
      resolveSignal(name);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  const layout = prepareCluster(dir, nodes, port, peerPort, transport);
  // A cluster made before runs as its files say; a flag that says otherwise is a mistake
  // (its REST APIs would be polled on the wrong ports).
  const conflict =
    (values.port !== undefined && layout.apiPorts.some((p, i) => p !== port + i)) ||
    (values['peer-port'] !== undefined && layout.peerPorts.some((p, i) => p !== peerPort + i)) ||
    (values.transport !== undefined && layout.transport !== transport);
  if (conflict) {
    usage(`${dir} holds a cluster made with --port ${layout.apiPorts[0]} --peer-port ${layout.peerPorts[0]} --transport ${layout.transport}; leave those flags out, pass these, or use another --data`);
  }
  // A signal that came during the staging is taken now, before anything starts: libuv
  // reads it in the poll phase of the event loop, and only the second of two turns surely
  // comes after one (this may run inside a poll phase: the first could end that same
  // iteration). Should one come later still, the start-up race below takes it.
  await nextTurn();
  await nextTurn();
  if (signalled) {
    process.stderr.write(`started no validator; ${dir} is ${existsSync(layout.genesisPath) ? 'made, and a later run starts it' : 'as it was'}\n`);
    return EXIT_OK;
  }
  started = true;
  const cluster = startValidators(layout);
  const { logs, stop } = cluster;
  // Once the info document (or text) is out, a later failure goes to stderr only: with
  // --json, stdout holds exactly one JSON document (found in review: main printed a second,
  // {"ok":false,...}, after a validator died). The exit code stays main's for it.
  let announced = false;
  // Every way out stops the validators first: none may outlive this process.
  try {
    const url = `http://127.0.0.1:${layout.apiPorts[0]}`;
    const first = await Promise.race([cluster.ready.then((ok) => ({ ready: ok })), cluster.exited.then((e) => ({ exited: e })), signal.then((s) => ({ signal: s }))]);
    if ('signal' in first) {
      await stop();
      process.stderr.write(`stopped every validator (${first.signal} during start-up)\n`);
      return EXIT_OK;
    }
    if (!('ready' in first) || !first.ready) {
      await stop();
      if ('exited' in first) {
        const exited = first.exited;
        if (exited.error !== undefined) throw new SteleError('CLI_IO', `${exited.error}; stopped the validators already started`);
        throw new SteleError('CLI_IO', `validator v${exited.index + 1} stopped (${howEnded(exited)}) before it came up; last lines of ${logs[exited.index]}:\n${logTail(logs[exited.index] as string)}`);
      }
      const which = cluster.notReady() ?? 0;
      throw new SteleError(
        'CLI_IO',
        `validator v${which + 1} did not come up (no answer for this cluster's genesis with a leader within ${READY_WAIT_MS / 1000} s); last lines of ${logs[which]}:\n${logTail(logs[which] as string)}`,
      );
    }
    const info = {
      url,
      apis: layout.apiPorts.map((p) => `http://127.0.0.1:${p}`),
      data: dir,
      genesis: layout.genesisPath,
      admin_key: layout.adminKey,
      admin_public_key: layout.adminPublicKey,
      logs,
      malloc: cluster.malloc ?? 'system',
    };
    if (values.json === true) printJson(info);
    else {
      process.stdout.write(
        [
          `Stele is up: ${nodes} validator${nodes === 1 ? '' : 's'}, REST API at ${url}${info.apis.length > 1 ? ` (also ${info.apis.slice(1).join(', ')})` : ''}`,
          `  data        ${dir}`,
          `  genesis     ${layout.genesisPath}`,
          `  admin key   ${layout.adminKey} (public key ${layout.adminPublicKey}; holds ${ADMIN_BALANCE} STL)`,
          `  logs        ${logs.join(', ')}`,
          `  malloc      ${cluster.malloc ?? "the C library's (install libjemalloc2 for less memory per validator; docs/operations.md)"}`,
          '',
          `Try (stele is node ${process.argv[1] ?? 'dist/cli/main.js'}):`,
          `  curl ${url}/v1/accounts/${layout.adminPublicKey}`,
          `  stele keygen --out bob.key`,
          `  stele tx register --pubkey <bob's key> --name bob --role submitter --signer ${layout.adminKey} --url ${url} --wait`,
          `  stele tx transfer --to <bob's key> --amount 10 --asset STL --signer ${layout.adminKey} --url ${url} --wait`,
          `  stele export --url ${url} --out chain.stele && stele audit chain.stele --genesis ${layout.genesisPath}`,
          '',
          'Ctrl-C stops every validator; run it again to resume.',
          '',
        ].join('\n'),
      );
    }
    announced = true;
    const end = await Promise.race([signal.then((s) => ({ signal: s })), cluster.exited.then((e) => ({ exited: e }))]);
    await stop();
    if ('exited' in end && end.exited.error !== undefined) throw new SteleError('CLI_IO', `validator v${end.exited.index + 1} could not be restarted: ${end.exited.error}; stopped every validator`);
    if ('exited' in end) {
      throw new SteleError('CLI_IO', `validator v${end.exited.index + 1} stopped (${howEnded(end.exited)}); last lines of ${logs[end.exited.index]}:\n${logTail(logs[end.exited.index] as string)}`);
    }
    process.stderr.write('stopped every validator\n');
    return EXIT_OK;
  } catch (error) {
    await stop();
    if (!announced || !isSteleError(error)) throw error;
    // As main reports a SteleError without --json, whatever the flags.
    process.stderr.write(`stele: ${error.message}\n`);
    return EXIT_USAGE;
  }
}
