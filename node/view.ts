/**
 * The REST API's view of a running validator (api/node-view.ts `NodeView`): reads from the
 * committed store, submissions through the validator's mempool. Every answer reflects
 * committed state only; speculative state never leaks out.
 */
import { toHex } from '../ledger/assert.js';
import { contractInstance, contractTemplate } from '../ledger/contract-state.js';
import { Reader } from '../ledger/encoding.js';
import { isSteleError, SteleError } from '../ledger/errors.js';
import { decodeBlock, type Block } from '../ledger/block.js';

/** Decoded blocks (and their Merkle trees) kept for status and block answers. */
const RECENT_BLOCKS_MAX = 4;
import { BLOCKS_PAGE_BYTES_MAX } from '../api/limits.js';
import { decodeIdentity, keys } from '../ledger/machine.js';
import { leafHash, MerkleTree } from '../ledger/merkle.js';
import type { Tx } from '../ledger/tx.js';
import { lintOnWorker } from './lint-runner.js';
import { ACCOUNT_RECORDS_MAX, type AccountView, type ContractView, type InstanceView, type Metric, type NodeView, type RecordView, type TransactionStatus, type ValidatorHealth } from '../api/node-view.js';
import { failedReason, type Validator } from './validator.js';
import { loopDelay, LOOP_DELAY_WINDOW_MS, startLoopDelay } from './loop-delay.js';
import type { FaultDrops } from './faults.js';

const BALANCES_MAX = 1_000;

/** Where this process's memory is (process.memoryUsage: the main isolate; workers not included). */
function memoryMetrics(): Metric[] {
  const m = process.memoryUsage();
  const gauge = (name: string, help: string, value: number): Metric => ({ name, help, type: 'gauge', samples: [{ value }] });
  return [
    gauge('stele_memory_resident_bytes', 'resident set size of the process', m.rss),
    gauge('stele_memory_heap_total_bytes', 'V8 heap committed by the main isolate', m.heapTotal),
    gauge('stele_memory_heap_used_bytes', 'V8 heap in use by the main isolate', m.heapUsed),
    gauge('stele_memory_external_bytes', 'memory of C++ objects bound to the main isolate, array buffers included', m.external),
    gauge('stele_memory_array_buffers_bytes', 'ArrayBuffer and SharedArrayBuffer memory of the main isolate', m.arrayBuffers),
  ];
}

/** The main thread's event-loop delay over the last complete window (node/loop-delay.ts); none before the first. */
function loopDelayMetrics(): Metric[] {
  const d = loopDelay();
  if (d === null) return [];
  return [
    {
      name: 'stele_event_loop_delay_seconds',
      help: `delay of the main thread's event loop over the last ${LOOP_DELAY_WINDOW_MS / 1000} s (quantile 1: the longest)`,
      type: 'gauge',
      samples: [
        { labels: { quantile: '0.5' }, value: d.p50Ms / 1000 },
        { labels: { quantile: '0.99' }, value: d.p99Ms / 1000 },
        { labels: { quantile: '1' }, value: d.maxMs / 1000 },
      ],
    },
  ];
}

/**
 * Whether test fault injection is on (node/faults.ts, config `test_faults_file`) and what it
 * dropped: always rendered, 0 when off, so a scrape shows that a validator drops nothing.
 */
function testFaultMetrics(testFaults: { readonly drops: FaultDrops } | null): Metric[] {
  return [
    { name: 'stele_test_faults_enabled', help: 'TEST ONLY: 1 when the config\'s test_faults_file turns on fault injection, which drops peer messages as that file says', type: 'gauge', samples: [{ value: testFaults === null ? 0 : 1 }] },
    {
      name: 'stele_test_fault_drops_total',
      help: 'peer messages dropped by test fault injection: to (not sent to a peer in drop_to) and from (received from a peer in drop_from)',
      type: 'counter',
      samples: [
        { labels: { direction: 'to' }, value: testFaults?.drops.to ?? 0 },
        { labels: { direction: 'from' }, value: testFaults?.drops.from ?? 0 },
      ],
    },
  ];
}

/** What /metrics reads of the peer transport (native/transport.ts Transport.counters). */
export interface TransportGauges {
  counters(): { readonly sendQueueBytes: readonly number[]; readonly sendRefused: number; readonly unreachableDropped: number };
}

/**
 * Bytes waiting in the send queue to each peer and sends refused at its bound: the queue is
 * bounded per peer by node/run.ts peerTransportLimits (82 MiB at the default block size),
 * and what waits there is resident memory (docs/operations.md).
 */
function transportMetrics(transport: TransportGauges | null, self: number): Metric[] {
  if (transport === null) return [];
  const c = transport.counters();
  return [
    {
      name: 'stele_transport_send_queue_bytes',
      help: 'bytes queued for sending to each peer validator (bounded per peer; docs/operations.md)',
      type: 'gauge',
      samples: c.sendQueueBytes.flatMap((value, peer) => (peer === self ? [] : [{ labels: { peer: String(peer) }, value }])),
    },
    { name: 'stele_transport_send_refused_total', help: 'messages to peers refused because that peer\'s send queue was full (the network may drop messages: consensus sends them again)', type: 'counter', samples: [{ value: c.sendRefused }] },
    { name: 'stele_transport_unreachable_dropped_total', help: 'queued messages dropped because their peer had no open connection for 2 s (consensus sends again; a replica that missed values catches up)', type: 'counter', samples: [{ value: c.unreachableDropped }] },
  ];
}

/**
 * @param health the transport's view of each peer (self is always up)
 * @param testFaults the node's test fault injection (node/faults.ts), null when it has none
 */
export function nodeView(
  validator: Validator,
  health: (index: number) => ValidatorHealth,
  testFaults: { readonly drops: FaultDrops } | null = null,
  transport: TransportGauges | null = null,
): NodeView {
  startLoopDelay();
  const store = validator.ledger;
  const genesis = store.genesis;
  /**
   * A resubmission of a transaction already in a block answers its outcome there: applied,
   * TX_DUPLICATE with its place; failed, its refusal code with its place, as its waiter was
   * told (a bare "already committed" read as "applied" by a client retrying after a lost
   * answer, found in review).
   */
  /**
   * The last few blocks asked for, decoded, with their Merkle trees once a proof was asked
   * for: a transaction's status decoded its block twice and hashed its whole tree per
   * request (found in review: about 50 ms of this thread for a block of 5,000). Committed
   * blocks never change, so a height is a safe key.
   */
  const recent = new Map<number, { block: Block; tree: MerkleTree | null }>();
  function recentBlock(height: number): { block: Block; tree: MerkleTree | null } {
    let entry = recent.get(height);
    if (entry !== undefined) {
      recent.delete(height); // most recent last
    } else {
      entry = { block: store.block(height), tree: null };
      if (recent.size >= RECENT_BLOCKS_MAX) recent.delete(recent.keys().next().value as number);
    }
    recent.set(height, entry);
    return entry;
  }

  /** Encodings of blocks from `from`: at most `count`, stopping before BLOCKS_PAGE_BYTES_MAX is passed (always one). */
  function pageOfEncodings(from: number, count: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    let bytes = 0;
    for (let h = Math.max(1, from); h <= store.height && out.length < count; h++) {
      const encoded = store.blockBytes(h);
      if (out.length > 0 && bytes + encoded.length > BLOCKS_PAGE_BYTES_MAX) break;
      bytes += encoded.length;
      out.push(encoded);
    }
    return out;
  }

  /**
   * Refusals the chain may overrule: TX_DUPLICATE, and TX_EXPIRED, which the admission check
   * gives before the duplicate check, so a transaction committed and then resubmitted after
   * its expiry height was told it had expired (found in review, 2026-11-30).
   */
  function answeredByChain(error: unknown): boolean {
    return isSteleError(error, 'TX_DUPLICATE') || isSteleError(error, 'TX_EXPIRED');
  }

  async function duplicateOutcome(tx: Tx, error: SteleError): Promise<SteleError> {
    // A failed read answers the refusal as it was: a batch's other items may already be in
    // the mempool, so this must not turn the whole answer into a 500 (found in review, 2026-11-30).
    let at: Awaited<ReturnType<Validator['location']>>;
    try {
      at = await validator.location(tx.idHex);
    } catch {
      return error;
    }
    if (at === undefined || at.height > store.height) return error;
    const details = { id: tx.idHex, height: at.height, index: at.index };
    if (at.failed !== null) return new SteleError(at.failed, failedReason(at.failed, at.height, at.index), details);
    return new SteleError('TX_DUPLICATE', `transaction ${tx.idHex} is already committed, at height ${at.height}, index ${at.index}`, details);
  }
  return {
    chainId: genesis.chainId,
    genesis,
    status() {
      const s = validator.status();
      return {
        chainId: genesis.chainId,
        validators: genesis.validators.map((v, index) => ({ index, id: v.id, publicKey: v.publicKey, address: v.address, health: index === s.index ? 'up' : health(index) })),
        leader: s.leader,
        ballot: s.ballot,
        committedHeight: s.height,
        mempoolSize: validator.mempoolSize,
        ...(testFaults === null ? {} : { testFaultsEnabled: true }),
      };
    },
    async submit(tx: Tx) {
      if (validator.status().leader === null) throw new SteleError('NODE_UNAVAILABLE', 'no leader is known yet; retry shortly', { retry_after_s: 1 });
      try {
        validator.submit(tx);
      } catch (error) {
        throw answeredByChain(error) ? await duplicateOutcome(tx, error as SteleError) : error;
      }
      return { id: tx.id };
    },
    async submitMany(txs: readonly Tx[]) {
      if (validator.status().leader === null) throw new SteleError('NODE_UNAVAILABLE', 'no leader is known yet; retry shortly', { retry_after_s: 1 });
      const outcomes = await validator.submitMany(txs);
      return Promise.all(outcomes.map(async (o, k) => (o instanceof SteleError ? (answeredByChain(o) ? await duplicateOutcome(txs[k] as Tx, o) : o) : { id: (txs[k] as Tx).id })));
    },
    async waitForCommit(id: Uint8Array, timeoutMs: number) {
      const hex = toHex(id);
      const waiting = validator.waitForCommit(hex, timeoutMs);
      // Handled from the start: if the lookup below takes longer than the wait (a stalled
      // disk) or throws, the timeout's rejection must not be an unhandled rejection, which
      // stops the process (chaos seed 31 found this). Callers still get it through `waiting`.
      waiting.catch(() => {});
      // It may have committed between submit and this call.
      // A location above the store's height would be an index entry ahead of the tip: the
      // store writes its batches behind the tip now (docs/storage.md), so this is a guard
      // only; such a block is not readable yet, so wait for the commit as if it were absent.
      const done = await validator.location(hex);
      if (done === undefined || done.height > store.height) return waiting;
      if (done.failed !== null) throw new SteleError(done.failed, failedReason(done.failed, done.height, done.index), { id: hex, height: done.height, index: done.index });
      return { height: done.height, index: done.index };
    },
    async transaction(id: Uint8Array): Promise<TransactionStatus> {
      const s = await validator.transaction(toHex(id));
      if (s.status !== 'committed' && s.status !== 'failed') {
        if (s.status === 'refused') {
          const code = s.code;
          return { status: 'refused', code: code as never, reason: s.reason };
        }
        return s;
      }
      // Indexed above the tip (a guard: the store writes its index behind the tip): pending,
      // rather than a block read past the height (a 500).
      if (s.height > store.height) return { status: 'pending' };
      const recent = recentBlock(s.height);
      recent.tree ??= new MerkleTree(recent.block.txs.map((t) => leafHash(t.bytes)));
      const proof = recent.tree.proof(s.index);
      if (s.status === 'failed') return { status: 'failed', height: s.height, index: s.index, proof, code: s.code, reason: s.reason };
      return { status: 'committed', height: s.height, index: s.index, proof };
    },
    latestHeight: () => store.height,
    blockFailures: (height) => store.failuresAt(height),
    block: (height) => (Number.isInteger(height) && height >= 1 && height <= store.height ? recentBlock(height).block : null),
    // Pages stop once their encodings pass BLOCKS_PAGE_BYTES_MAX (at least one block), before
    // reading or decoding the rest: 100 blocks of 4 MiB each, read in full for an 8 MiB
    // answer, held the main thread for seconds (found in review).
    // Not `.map(decodeBlock)`: map's index would be decodeBlock's byte bound (found in
    // review, 2026-12-02: every JSON page from a validator failed with ENC_TOO_LARGE).
    blocks: (from, count) => pageOfEncodings(from, count).map((encoded) => decodeBlock(encoded)),
    blocksBytes: (from, count) => pageOfEncodings(from, count),
    async account(publicKey: Uint8Array): Promise<AccountView> {
      const hex = toHex(publicKey);
      const balances = new Map<string, bigint>();
      const balancePrefix = `bal/${hex}/`;
      // One more than the bound, to say when the list is cut: anyone may issue assets to any
      // key, so a key can hold more than the bound, and a balance left out of the answer
      // would read as zero (found in review, 2026-11-30).
      const balanceRows = await store.scanState(balancePrefix, BALANCES_MAX + 1);
      for (const { key, value } of balanceRows.slice(0, BALANCES_MAX)) {
        balances.set(key.slice(balancePrefix.length), new DataView(value.buffer, value.byteOffset, 8).getBigUint64(0));
      }
      const recordPrefix = `rec/${hex}/`;
      const rows = await store.scanState(recordPrefix, ACCOUNT_RECORDS_MAX + 1);
      const records: RecordView[] = rows.slice(0, ACCOUNT_RECORDS_MAX).map(({ key, value }) => {
        const r = new Reader(value, value.length, 'record');
        const height = r.u64('height');
        const kind = r.u8('kind');
        const recordValue = kind === 0 ? { kind: 'inline' as const, data: Uint8Array.from(r.bytesField(value.length, 'data')) } : { kind: 'sha256' as const, digest: Uint8Array.from(r.fixed(32, 'digest')) };
        return { key: key.slice(recordPrefix.length), value: recordValue, height };
      });
      const raw = store.state.get(keys.identity(hex));
      const identity = raw === undefined ? null : decodeIdentity(raw);
      // The store's account index names them; the committed state gives their details.
      // The index is written behind the in-memory state (and the store's readers wait for
      // it), so an entry the state does not show is not expected; should one appear it is
      // left out of this answer, never reported half-made.
      const found = await store.accountContracts(hex, ACCOUNT_RECORDS_MAX);
      const contracts: ContractView[] = [];
      for (const name of found.templates) {
        const t = contractTemplate(store.state, name);
        if (t !== undefined) contracts.push({ name, height: t.height });
      }
      const instances: InstanceView[] = [];
      for (const { id, party } of found.instances) {
        const x = contractInstance(store.state, id);
        if (x !== undefined) instances.push({ id, contract: x.contract, state: x.state, party });
      }
      return {
        balances,
        identity,
        records,
        recordsTruncated: rows.length > ACCOUNT_RECORDS_MAX,
        balancesTruncated: balanceRows.length > BALANCES_MAX,
        contracts,
        instances,
        contractsTruncated: found.templatesTruncated,
        instancesTruncated: found.instancesTruncated,
      };
    },
    identity(publicKey: Uint8Array) {
      const raw = store.state.get(keys.identity(toHex(publicKey)));
      return raw === undefined ? null : decodeIdentity(raw);
    },
    onCommittedBlock: (listener) => validator.onCommittedBlock(listener),
    metrics(): Metric[] {
      const c = validator.counters;
      const core = validator.driver.core.counters;
      const counter = (name: string, help: string, value: number): Metric => ({ name, help, type: 'counter', samples: [{ value }] });
      return [
        validator.commitSeconds.metric('stele_transaction_commit_seconds', 'time from admitting a client\'s transaction to storing it committed, on the node the client submitted to'),
        validator.blockSeconds.metric('stele_block_commit_seconds', 'time from proposing a block to storing it committed, on the leader that proposed it'),
        { name: 'stele_committed_height', help: 'height of the last committed block', type: 'gauge', samples: [{ value: store.height }] },
        { name: 'stele_mempool_transactions', help: 'transactions waiting in the mempool', type: 'gauge', samples: [{ value: validator.mempoolSize }] },
        { name: 'stele_mempool_bytes', help: 'encoded bytes of the transactions waiting in the mempool (at most 64 MiB by default; on a leader, forwards may take it to the validators\' count times that)', type: 'gauge', samples: [{ value: validator.mempoolBytes }] },
        { name: 'stele_index_writes_waiting', help: 'LevelDB index batches of committed blocks not yet written (docs/storage.md; at most 4)', type: 'gauge', samples: [{ value: store.indexWritesWaiting }] },
        counter('stele_blocks_committed_total', 'blocks committed by this validator since start', c.committedBlocks),
        counter('stele_transactions_committed_total', 'transactions in committed blocks since start, failed ones included', c.committedTxs),
        counter('stele_blocks_proposed_total', 'blocks this validator proposed as leader', c.proposedBlocks),
        counter('stele_blocks_caught_up_total', "blocks learned from a peer's committed log (catch-up), every signature verified as an auditor would", c.caughtUpBlocks),
        counter('stele_blocks_execution_reused_total', "own blocks stored with the leader's execution from when it proposed them (not executed twice)", store.executionsReused),
        counter('stele_transactions_forwarded_total', 'submissions forwarded to the leader', c.forwarded),
        counter('stele_transactions_reforwarded_total', 'pending submissions a follower sent to the leader again (a forward may have been lost)', c.reforwarded),
        counter('stele_transactions_forwards_unsent_total', 'forward attempts the transport refused (its send queue was full) or that found no connection with the leader open (while one is missing, later admissions wait behind without an attempt); each goes again before anything admitted after it', c.forwardsUnsent),
        {
          name: 'stele_transactions_forwards_dropped_total',
          help: 'forwards this node dropped: as leader (their follower sends them again), mempool_full at its bound for forwards, held_back behind an earlier forward of the same follower dropped at that bound; on arrival, malformed (not a transaction within the genesis tx_bytes_max) or wrong_chain',
          type: 'counter',
          samples: [
            { labels: { reason: 'mempool_full' }, value: c.forwardsDroppedFull },
            { labels: { reason: 'held_back' }, value: c.forwardsHeldBack },
            { labels: { reason: 'malformed' }, value: c.forwardsMalformed },
            { labels: { reason: 'wrong_chain' }, value: c.forwardsWrongChain },
          ],
        },
        counter('stele_blocks_cuts_deferred_total', 'times this leader put off a block because its main thread was busy and its last block was cut less than block_wait_ms before', c.cutsDeferred),
        counter('stele_transactions_forwards_admitted_total', 'forwarded transactions this node admitted as leader (checked when the next block is cut, not dry-run on arrival)', c.forwardedAdmitted),
        counter('stele_transactions_refused_total', 'pending transactions refused after admission: invalid at a cut, or expired', c.refused),
        counter('stele_transactions_failed_total', 'transactions in committed blocks as failed (their state-dependent checks failed at the cut)', c.failedTxs),
        counter('stele_acceptor_compactions_total', 'acceptor log compactions since start', c.acceptorCompactions),
        { name: 'stele_acceptor_log_records', help: 'records in the acceptor log (bounded by compaction)', type: 'gauge', samples: [{ value: validator.acceptorLogRecords ?? 0 }] },
        counter('stele_consensus_garbage_total', 'peer messages that failed to decode, or carried a value that is not a block of this chain at its height', core.garbage),
        counter('stele_consensus_dropped_total', 'stale or misplaced peer messages dropped', core.dropped),
        counter('stele_consensus_elections_total', 'elections this validator started', core.elections),
        counter('stele_consensus_rounds_exhausted_total', 'elections not started because a peer claimed a ballot round near 2^32 (this validator stays an acceptor and learner)', core.roundsExhausted),
        counter('stele_consensus_bad_signatures_total', 'votes or certificates with a bad signature', core.badSignatures),
        counter('stele_consensus_accepts_refused_learner_behind_total', 'ACCEPTs this acceptor refused because it held its bound above the learner\'s applied height (docs/consensus.md, "What an acceptor holds")', core.learnerBehind),
        counter('stele_consensus_accepts_repeated_total', 'ACCEPTs for a value this acceptor already held at that slot and ballot (resends, duplicates): answered again without appending to the acceptor log', core.acceptsRepeated),
        { name: 'stele_consensus_held_bytes', help: 'what this acceptor holds above the learner\'s applied height, values plus 1 KiB each (refuses ACCEPTs past stele_consensus_held_bytes_max)', type: 'gauge', samples: [{ value: validator.driver.core.heldAboveApplied().bytes }] },
        { name: 'stele_consensus_held_bytes_max', help: 'the bound on stele_consensus_held_bytes: 4 x window x (block_bytes_max + 1 KiB)', type: 'gauge', samples: [{ value: validator.driver.core.heldAboveApplied().bytesMax }] },
        ...transportMetrics(transport, validator.status().index),
        ...memoryMetrics(),
        ...loopDelayMetrics(),
        ...testFaultMetrics(testFaults),
      ];
    },
    // On a worker thread with time and memory bounds (node/lint-runner.ts), never on this one.
    lint: (files, options) => lintOnWorker(files, options),
  };
}


