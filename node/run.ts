/**
 * One validator process (`stele node --config FILE`): opens the data directory (blocks on
 * the mapped log, LevelDB index and state, the acceptor log), connects to the other
 * validators over the native transport, orders and commits blocks, and serves the REST
 * API when the configuration asks for it. SIGTERM or SIGINT stops it cleanly; a restart
 * resumes from the data directory and catches up.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { bytesEqual } from '../ledger/assert.js';
import { GENESIS_FILE_BYTES_MAX } from '../ledger/constants.js';
import { errnoText, SteleError } from '../ledger/errors.js';
import { hostPort, parseGenesisText, undialable } from '../ledger/genesis.js';
import { LedgerStore } from '../ledger/store.js';
import { VerifyPool } from '../ledger/verify-pool.js';
import { ACCEPT_RECORD_OVERHEAD_BYTES, decodeRecord } from '../consensus/messages.js';
import { promiseBytesMax, recoverDurable, REPLICAS_MAX, ZERO_DIGEST } from '../consensus/replica.js';
import type { PeerMessage, Transport as PeerTransport } from '../consensus/driver.js';
import { acceptorLogOptions, AcceptorLog, MappedBlockLog } from '../native/mapped-log.js';
import { Transport } from '../native/transport.js';
import { readKeyFile, readText } from '../cli/io.js';
import { checkAcceptorStamp, type AcceptorStamp } from './acceptor-stamp.js';
import { configBase, NODE_CONFIG_BYTES_MAX, parseNodeConfig, type NodeConfig } from './config.js';
import { CONSENSUS_WINDOW, Validator } from './validator.js';
import { nodeView } from './view.js';
import { FAULTS_ENVIRONMENT_VARIABLE, faultsNotice, faultyTransport } from './faults.js';
import { idleCollector } from './idle-gc.js';
import { limitedLines } from '../ledger/log-limit.js';
import { buildApp, listen } from '../api/server.js';
import type { FastifyInstance } from 'fastify';

/**
 * The acceptor log is cut down every this many applied blocks, or once this many bytes were
 * appended to it, whichever comes first. It then holds at most about that many blocks'
 * accepts (plus the window in flight) or bytes, which bounds both its disk space (and its
 * mapped pages) and what a restart replays into memory. A compaction delays this
 * validator's acknowledgements by 10-40 ms here, so small blocks (moderate load) should not
 * trigger one every second: by bytes, large blocks still do so often enough.
 */
export const ACCEPTOR_COMPACT_BLOCKS = 1024;
export const ACCEPTOR_COMPACT_BYTES = 16 * 1024 * 1024;

/** The transport's default bound on bytes queued to one peer, kept when it is enough. */
const SEND_QUEUE_BYTES_MIN = 64 * 1024 * 1024;

/**
 * The peer transport's bounds for blocks of at most `blockBytesMax` bytes. A message holds
 * one block with room to spare (a PROMISE chunk or a catch-up answer of the largest block).
 * The send queue to one peer holds an acceptor's largest promise (promiseBytesMax: sent in
 * one burst, and a chunk dropped there costs the election) on top of two largest messages
 * already queued; before 2026-12-02 it was 64 MiB whatever the block size, which blocks
 * over about 4 MiB exceed (review of 2026-12-02; docs/consensus.md).
 */
export function peerTransportLimits(blockBytesMax: number): { messageBytesMax: number; sendQueueBytesMax: number } {
  const messageBytesMax = blockBytesMax * 2 + 1024 * 1024;
  const needed = promiseBytesMax({ window: CONSENSUS_WINDOW, valueBytesMax: blockBytesMax }) + 2 * messageBytesMax;
  return { messageBytesMax, sendQueueBytesMax: Math.max(SEND_QUEUE_BYTES_MIN, needed) };
}

export interface RunningNode {
  readonly validator: Validator;
  readonly config: NodeConfig;
  /** The REST API's address, when the configuration asks for one. */
  readonly url: string | null;
  /** The peer transport in use: with `transport: "auto"` this says whether RDMA (fabric, verbs) was found. */
  readonly transport: { readonly backend: 'tcp' | 'fabric'; readonly provider: 'tcp' | 'verbs' | null };
  stop(): Promise<void>;
}

/**
 * Opens this validator's acceptor log in `dir` after checking (or writing) its stamp, so
 * that another validator's or chain's log is refused before anything in it is replayed,
 * cut or written (node/acceptor-stamp.ts). Call it holding the data directory's lock.
 * @throws SteleError STORE_MISMATCH, STORE_CORRUPT, STORE_IO, STORE_FULL
 */
function openAcceptorLog(dir: string, stamp: AcceptorStamp, blockBytesMax: number): AcceptorLog {
  const outcome = checkAcceptorStamp(dir, stamp);
  if (outcome === 'stamped-existing') {
    process.stderr.write(`stele node: ${dir} had no stamp (it predates them) and is now stamped as validator ${stamp.validatorIndex}'s of this chain; whose log it was could not be checked\n`);
  }
  // Sized for this chain's largest accept record: a whole block.
  return AcceptorLog.open(dir, acceptorLogOptions(blockBytesMax + ACCEPT_RECORD_OVERHEAD_BYTES));
}

/** Opens everything and starts the validator. @throws SteleError CONFIG_INVALID, STORE_*, TRANSPORT_* */
export async function startNode(configPath: string, onFatal: (error: unknown) => void): Promise<RunningNode> {
  const config = parseNodeConfig(readText(configPath, NODE_CONFIG_BYTES_MAX), configBase(configPath));
  const genesis = parseGenesisText(readText(config.genesis, GENESIS_FILE_BYTES_MAX));
  if (genesis.validators.length > REPLICAS_MAX) {
    throw new SteleError('CONFIG_INVALID', `${config.genesis} names ${genesis.validators.length} validators; a node runs with 1 to ${REPLICAS_MAX}`, { field: 'genesis' });
  }
  const signer = readKeyFile(config.key);
  const index = genesis.validators.findIndex((v) => bytesEqual(v.publicKey, signer.publicKey));
  if (index < 0) throw new SteleError('CONFIG_INVALID', `${config.key} is not the key of a validator in ${config.genesis}`, { field: 'key' });
  // Port 0 listens on any free port, where no peer dials: such a validator ran cut off
  // without a word (review of 2026-12-02). A lone validator has no peer to miss it.
  if (config.listen !== null && hostPort(config.listen)?.port === 0 && genesis.validators.length > 1) {
    throw new SteleError('CONFIG_INVALID', `listen: port 0 (any free port) only for a lone validator: its ${genesis.validators.length - 1} peers dial ${genesis.validators[index]?.address}`, { field: 'listen' });
  }
  const cutOff = undialable(genesis);
  if (cutOff.includes(index)) {
    throw new SteleError('CONFIG_INVALID', `${config.genesis} gives this validator the address ${genesis.validators[index]?.address}: port 0 (any free port) only for a lone validator, its peers cannot dial it`, { field: 'genesis' });
  }
  for (const i of cutOff) process.stderr.write(`stele node: validator ${i} (${genesis.validators[i]?.id}) has port 0 in ${config.genesis}: no validator can dial it\n`);
  try {
    mkdirSync(config.data, { recursive: true });
  } catch (error) {
    throw new SteleError('CONFIG_INVALID', `data: cannot use ${config.data} as the data directory: ${errnoText(error)}`, { field: 'data' });
  }
  const pool = new VerifyPool(config.verifyThreads ?? undefined);
  const store = await LedgerStore.open(config.data, genesis, { log: () => MappedBlockLog.open(join(config.data, 'blocks')), pool });
  let acceptor: AcceptorLog;
  try {
    acceptor = openAcceptorLog(join(config.data, 'acceptor'), { genesisHash: genesis.hash, validatorIndex: index, publicKey: signer.publicKey }, genesis.limits.block_bytes_max);
  } catch (error) {
    // Nothing half-opened stays behind: the process must be able to exit with the error.
    await store.close();
    await pool.close();
    throw error;
  }
  const limits = { replicas: genesis.validators.length, valueBytesMax: genesis.limits.block_bytes_max };
  let deliver: ((batch: readonly PeerMessage[]) => void) | null = null;
  let records;
  let transport: Transport;
  try {
    records = [...acceptor.replay()].map((bytes) => decodeRecord(bytes, limits));
    const refusalLine = limitedLines((line) => process.stderr.write(line), 'stele node: transport refusals');
    const lookupLine = limitedLines((line) => process.stderr.write(line), 'stele node: failed lookups');
    // Peer health for GET /v1/status: an open connection in either direction means up (Transport.peerUp).
    transport = await Transport.open({
      self: index,
      signer,
      validators: genesis.validators.map((v) => ({ publicKey: v.publicKey, address: v.address })),
      // A peer started with another genesis file is refused at the handshake.
      chain: genesis.hash,
      ...(config.listen === null ? {} : { listen: config.listen }),
      backend: config.transport,
      ...(config.provider === null ? {} : { provider: config.provider }),
      ...peerTransportLimits(genesis.limits.block_bytes_max),
      onMessages: (batch) => deliver?.(batch),
      onLog: (event) => {
        if (event.kind === 'refused') refusalLine(`stele node: transport refused ${event.peer >= 0 ? `validator ${event.peer}` : 'a connection'}: ${event.reason}\n`);
        else if (event.kind === 'unresolved') lookupLine(`stele node: validator ${event.peer}'s address did not resolve: ${event.reason}\n`);
      },
    });
  } catch (error) {
    // A damaged acceptor record, or a listen address in use: nothing opened stays behind,
    // so the process can exit with the error (it held the index's lock and the log's maps).
    await acceptor.close();
    await store.close();
    await pool.close();
    throw error;
  }
  const wire: PeerTransport = {
    // False when the send queue to that peer is full: the validator keeps its forwards in order with it.
    send: (to, bytes) => transport.send(to, bytes),
    flush: () => transport.flush(),
    receive: (handler) => {
      deliver = handler;
    },
  };
  // The chaos harness's partitions where network namespaces are not available: only when
  // the configuration asks (test_faults_file), never because of the environment.
  const notice = faultsNotice(config.testFaultsFile, process.env[FAULTS_ENVIRONMENT_VARIABLE]);
  if (notice !== null) process.stderr.write(`stele node: ${notice}\n`);
  const faults = config.testFaultsFile === null ? null : faultyTransport(wire, config.testFaultsFile, genesis.validators.length, (line) => process.stderr.write(`stele node: ${line}\n`));
  const peers = faults?.transport ?? wire;
  const validator = new Validator({
    genesis,
    index,
    signer,
    store,
    transport: peers,
    acceptorLog: acceptor,
    durable: recoverDurable(records, 0, ZERO_DIGEST),
    compaction: { log: acceptor, everyBlocks: ACCEPTOR_COMPACT_BLOCKS, everyBytes: ACCEPTOR_COMPACT_BYTES },
    tickMs: config.tickMs,
    blockWaitMs: config.blockWaitMs,
    ...(config.mempoolMax === null ? {} : { mempoolMax: config.mempoolMax }),
    ...(config.mempoolBytesMax === null ? {} : { mempoolBytesMax: config.mempoolBytesMax }),
    pool,
    verifyCommitted: config.verifyCommittedSignatures,
    onFatal,
  });
  validator.start();
  // With `--expose-gc` (as `stele up` starts validators), one full collection once idle.
  const idle = idleCollector(() => validator.counters.committedBlocks, (globalThis as { gc?: () => void }).gc);
  let app: FastifyInstance | null = null;
  let url: string | null = null;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    idle.stop();
    // Before the API closes: closing waits for requests in progress, and a request waiting
    // for a commit would hold the stop for up to its timeout.
    validator.releaseWaiters();
    await app?.close();
    faults?.stop();
    // Everything is closed whatever fails on the way; the first failure is the stop's
    // error, and so is an index write that failed during the stop (the store does not throw
    // it from close: the log holds the blocks and the next open replays them), so that a
    // disk that filled while the node stopped still exits 75 (review, 2026-12-02: exit 0).
    let failure: { error: unknown } | null = null;
    const attempt = async (step: () => Promise<void>): Promise<void> => {
      try {
        await step();
      } catch (error) {
        failure ??= { error };
      }
    };
    await attempt(() => validator.stop());
    await attempt(() => transport.close());
    await attempt(() => acceptor.close());
    await attempt(() => store.close());
    await attempt(() => pool.close());
    await attempt(() => store.indexed());
    if (failure !== null) throw (failure as { error: unknown }).error;
  };
  if (config.api !== null) {
    const access = config.api.access;
    const members = access.mode === 'members' ? { enabled: true, signedReads: access.signedReads, windowMs: access.windowMs } : { enabled: false };
    app = buildApp(nodeView(validator, (i) => (transport.peerUp(i) ? 'up' : 'down'), faults, transport), { members });
    try {
      url = await listen(app, { host: config.api.host, port: config.api.port });
    } catch (error) {
      // Nothing half-started stays behind: a validator without its API would run on unseen.
      await stop();
      throw new SteleError('CONFIG_INVALID', `api: cannot listen on ${config.api.host}:${config.api.port}: ${errnoText(error)}`, { field: 'api' });
    }
  }
  return { validator, config, url, transport: { backend: transport.backend, provider: transport.provider }, stop };
}
