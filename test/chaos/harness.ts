/**
 * Chaos runs: a workload of transfers and record puts against a three-validator cluster
 * of real processes while a seeded nemesis hurts it, then a checker over what every
 * replica holds. See docs/reliability.md for what is injected and what is checked.
 *
 * Faults, one at a time, each followed by a heal and a wait for recovery (the schedule of
 * kinds, targets and durations comes from the seed alone: test/chaos/schedule.ts):
 *   kill         SIGKILL of a validator (the leader half the time), restart after a pause
 *   torn_write   the same, with a torn record written at the tail of its block or
 *                acceptor log before the restart (an append cut short by the crash)
 *   pause        SIGSTOP, SIGCONT 1-4 s later (the leader half the time)
 *   partition    isolate one validator, cut a pair both ways, or cut one direction (which
 *                under namespaces is one-way for IP packets only: see PARTITION_MECHANISM)
 *   full_disk    fill a validator's tmpfs: it must stop with STORE_FULL (exit 75), be
 *                restarted, and recover once the filler is gone
 *
 * The checker: every acknowledged transaction (the API answered "committed at height h,
 * index i") is in the chain exactly once, at that place, and applied; a transaction refused
 * at admission is in no block, and one refused as failed in a block is there, failed with
 * the code its client was told; nothing is in the chain that was not submitted; every
 * replica holds the identical chain, as long as the height it reported and its audit found,
 * and passes `stele audit`; every replica serves the balances and records that a model of
 * the workload (plain BigInt arithmetic over the transactions the chain holds) computes;
 * no validator gave an answer a correct one cannot give (answers.ts); each fault recovered:
 * from the heal to every validator naming the same leader and holding a block
 * acknowledged after the heal.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { toHex } from '../../ledger/assert.js';
import { decodeBlock } from '../../ledger/block.js';
import { executeBlock, genesisState } from '../../ledger/machine.js';
import { signTx, type Payload } from '../../ledger/tx.js';
import type { Signer } from '../../ledger/ed25519.js';
import { SteleClient, type AccountAnswer } from '../../api/client.js';
import { fromDataDir } from '../../cli/chain-source.js';
import { Rng } from '../../consensus/sim/simulator.js';
import { judgeAnswer, judgeError, type Verdict } from './answers.js';
import { checkObserved, dropsBetween, judgeFullDisk, type FullDiskFault } from './checks.js';
import { ACCOUNT_BALANCE, ChaosCluster, EXIT_DISK_FULL, netnsAvailable, tmpfsAvailable, type DiskMode, type NetMode } from './cluster.js';
import { judgeRefusal, modelWorkload, type Sent } from './model.js';
import { FaultSchedule, type FaultKind, type PartitionShape } from './schedule.js';

const CLI = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
const execFileAsync = promisify(execFile);

export interface ChaosOptions {
  readonly seconds: number;
  readonly seed: number;
  readonly net?: NetMode | 'auto';
  readonly disk?: DiskMode | 'auto';
  readonly clients?: number;
  /** Keep the directory (data, logs) for inspection. */
  readonly keep?: boolean;
  readonly log?: (line: string) => void;
}

interface FaultRecord {
  kind: FaultKind;
  detail: string;
  readonly target: number;
  readonly leader: boolean;
  /** The fault did nothing: a kill or pause of a validator that was down (or paused) already. */
  noop: boolean;
  shape: PartitionShape | null;
  /** kill, torn_write: from the SIGKILL to the restart. */
  downMs: number | null;
  recoveryMs: number | null;
}

interface Outcome {
  readonly id: string;
  /** contended: one of two transfers sent at once that the balance covers only one of. */
  readonly kind: 'transfer' | 'put' | 'contended';
  readonly sent: Sent;
  /** The validator it was submitted to, and when (ms since the epoch). */
  readonly node: number;
  readonly sentAt: number;
  answeredAt: number;
  status: 'acknowledged' | 'indeterminate' | 'refused';
  height?: number;
  index?: number;
  code?: string;
  /** Why no correct validator gives this answer (answers.ts). */
  bad?: string;
  /** API_INTERNAL: acceptable only while this validator's disk was full. */
  diskFullOnly?: boolean;
}

/** An error answer to a read of the workload (a balance before a contended pair). */
interface ReadError {
  readonly node: number;
  readonly sentAt: number;
  readonly answeredAt: number;
  readonly code: string;
  readonly bad?: string;
  readonly diskFullOnly?: boolean;
}

type Stats = { count: number; p50: number; max: number };

export interface ChaosReport {
  readonly chaos: 'stele';
  readonly seed: number;
  readonly seconds: number;
  readonly net: NetMode;
  readonly disk: DiskMode;
  readonly submitted: number;
  readonly acknowledged: number;
  readonly indeterminate: number;
  /** Indeterminate outcomes by what was answered (answers.ts): TIMEOUT, NET_*, WAIT_TIMED_OUT, NODE_UNAVAILABLE, ... */
  readonly indeterminate_by_code: Record<string, number>;
  readonly refused: Record<string, number>;
  /** Answers (to submissions and reads) that no correct validator gives this workload, by code: each is a problem. */
  readonly bad_answers: Record<string, number>;
  /** 500 API_INTERNAL answers from a validator while its disk was full (accepted). */
  readonly internal_errors_on_full_disk: number;
  readonly lost: number;
  readonly duplicated: number;
  /**
   * Transactions a client was told were refused (a TX_* answer) that are in the chain
   * other than as failed with that code at the place the answer named, or that the answer
   * placed in a block that does not hold them.
   */
  readonly refused_committed: number;
  /** Of those: refused at admission (no place named), yet in a block. */
  readonly refused_no_place_in_chain: number;
  /** Transactions the chain holds as failed (ledger/machine.ts), found by replaying it. */
  readonly failed_in_chain: number;
  /** Transfers the model of the workload finds failing (balance below the amount). */
  readonly model_failed: number;
  /** Transactions the replay and the model disagree on (failed in one, applied in the other). */
  readonly model_disagreements: number;
  /** Refusals whose answer named a height and index, found failed there with that code. */
  readonly refused_at_place: number;
  readonly unexpected: number;
  readonly divergent: number;
  /** Blocks the validators reported as committed when polled during the run ((validator, height, hash), each once). */
  readonly observed_blocks: number;
  /** Of those: not in that validator's final chain at that height (lost or replaced after being committed). */
  readonly observed_mismatch: number;
  readonly audit_ok: boolean;
  /** Blocks in each replica's log as read after the stop, and the height its audit reported. */
  readonly chain_heights: number[];
  readonly audit_heights: Array<number | null>;
  readonly supply_ok: boolean;
  /** Every replica's balance of every workload account equals the model's. */
  readonly balances_ok: boolean;
  readonly balance_mismatches: number;
  /** Every replica's records of every workload account equal the model's (value and height). */
  readonly records_ok: boolean;
  readonly record_mismatches: number;
  readonly records_checked: number;
  /** Keys whose record, read from every replica, is an acknowledged put's value. */
  readonly puts_read_back: number;
  readonly converged: boolean;
  readonly heights: number[];
  readonly committed_txs: number;
  /** Faults that did something, by kind (and kind_leader). */
  readonly faults: Record<string, number>;
  /** Kills and pauses of a validator that was down or paused already: not counted above. */
  readonly faults_noop: Record<string, number>;
  readonly partition_shapes: Record<string, number>;
  readonly partition_mechanism: string;
  readonly recovery_measured: string;
  readonly recovery_ms: Record<string, Stats>;
  /** kill, torn_write: how long the validator was down (SIGKILL to restart). */
  readonly down_ms: Record<string, Stats>;
  readonly unrecovered: number;
  /** Exits with code 75 of a full_disk fault's target between its fill and its heal. */
  readonly disk_full_stops: number;
  /** full_disk faults whose target did not stop with 75 while its disk was full, or did not log STORE_FULL. */
  readonly disk_full_unproven: number;
  readonly unexpected_exits: Array<{ validator: number; code: number | null; signal: string | null; log: string }>;
  readonly problems: string[];
  readonly ok: boolean;
  readonly dir: string | null;
  readonly wall_s: number;
}

const RECOVERY_TIMEOUT_MS = 30_000;
/** Bad answers listed one by one in `problems`; the rest are counted in one line. */
const BAD_ANSWERS_LISTED_MAX = 10;

export const RECOVERY_MEASURED =
  'from the heal (restart, SIGCONT, routes restored, filler removed) until every validator answers, all name the same leader, and all hold a block at least as high as one acknowledged to a client after the heal and above the highest height at the heal';

/** How a partition is made, and what "one-way" means there. */
export function partitionMechanism(net: NetMode): string {
  return net === 'netns'
    ? 'netns: a blackhole route to the receiver in the sender\'s namespace (IP packets dropped one way); TCP needs both ways, so a one-way cut also fails new connections the other way and stalls that way\'s open connections once their acknowledgements are lost: "one-way" is one-way for IP only. Client API traffic is not cut.'
    : 'transport: the node drops messages to (drop_to) and from (drop_from) the cut peer above its transport (node/faults.ts); connections stay open; a one-way cut loses one direction\'s messages only. Client API traffic is not cut.';
}

function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  return { count: s.length, p50: s.length === 0 ? 0 : (s[Math.floor((s.length - 1) / 2)] as number), max: s.length === 0 ? 0 : (s.at(-1) as number) };
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), `stele-chaos-${options.seed}-`));
  const net: NetMode = options.net === undefined || options.net === 'auto' ? (netnsAvailable() ? 'netns' : 'transport') : options.net;
  const disk: DiskMode = options.disk === undefined || options.disk === 'auto' ? (tmpfsAvailable(join(dir, 'probe')) ? 'tmpfs' : 'none') : options.disk;
  const clients = options.clients ?? 6;
  log(`chaos seed ${options.seed}: ${options.seconds} s, network faults by ${net}, disk ${disk}, ${clients} clients, in ${dir}`);
  const cluster = await ChaosCluster.prepare({ dir, seed: options.seed, accounts: clients + 2, net, disk, log });
  // Ctrl-C or a kill of the harness still removes the namespaces, mounts and processes it
  // made (the data stays, for a look at what was happening). Installed before the cluster
  // makes any of them (found in review: a signal during start-up leaked them all).
  const interrupted = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping the cluster, keeping ${dir}`);
    void cluster.destroy(true).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const problems: string[] = [];
  const outcomes: Outcome[] = [];
  const readErrors: ReadError[] = [];
  const faults: FaultRecord[] = [];
  /** Answer time and height of every acknowledgement, in the order they came. */
  const acks: Array<{ at: number; height: number }> = [];
  /** When each validator's disk was full: from the fill until that fault recovered. */
  const diskFull: Array<{ node: number; from: number; to: number }> = [];
  /** Each full_disk fault, for its own judgment (checks.ts, judgeFullDisk). */
  const fullDisks: FullDiskFault[] = [];
  const allIds = new Set<string>();
  let knownHeight = 0;
  let stopWorkload = false;
  let report: ChaosReport | null = null;
  try {
    await cluster.up();
    // ------------------------------------------------------------------ workload
    const window = cluster.genesis.limits.expiry_window_blocks;
    const indexOf = new Map(cluster.accounts.map((a, i) => [toHex(a.publicKey), i]));
    const workload = Array.from({ length: clients }, async (_, c) => {
      const wr = new Rng(options.seed * 1000 + c + 1);
      const me = cluster.accounts[c] as Signer;
      // A transaction's id is the hash of its body, which has no nonce: two transfers with
      // the same recipient, amount and expiry would be one transaction. Each submission
      // gets an id of its own (found in review), so every outcome is about one transaction.
      const mine = new Set<string>();
      /** Signs `payload` with an id this client has not used yet (moving a transfer's amount up). */
      const signFresh = (payload: Payload) => {
        let tx = signTx({ chainId: cluster.genesis.chainId, expiry: knownHeight + Math.floor(window / 2), payload }, [me]);
        for (let more = 1n; mine.has(toHex(tx.id)) && payload.type === 'transfer'; more++) {
          tx = signTx({ chainId: cluster.genesis.chainId, expiry: knownHeight + Math.floor(window / 2), payload: { ...payload, amount: payload.amount + more } }, [me]);
        }
        mine.add(toHex(tx.id));
        return tx;
      };
      const sentOf = (payload: Payload): Sent => {
        if (payload.type === 'transfer') return { type: 'transfer', from: indexOf.get(toHex(payload.from)) as number, to: indexOf.get(toHex(payload.to)) as number, amount: payload.amount };
        assert.ok(payload.type === 'put' && payload.value.kind === 'inline', 'the workload sends transfers and inline puts');
        return { type: 'put', owner: indexOf.get(toHex(payload.owner)) as number, key: payload.key, data: toHex(payload.value.data) };
      };
      /** Submits `tx` to validator `node`, waits for the commit, and records the outcome. */
      const submitOne = async (node: number, tx: ReturnType<typeof signFresh>, kind: Outcome['kind']): Promise<void> => {
        const id = toHex(tx.id);
        // Every transaction is submitted once, to one validator: the refusal checks rely on it.
        assert.ok(!allIds.has(id), `transaction ${id} submitted twice`);
        allIds.add(id);
        const outcome: Outcome = { id, kind, sent: sentOf(tx.body.payload), node, sentAt: Date.now(), answeredAt: 0, status: 'indeterminate' };
        outcomes.push(outcome);
        const client = new SteleClient({ url: cluster.nodes[node]!.url, timeoutMs: 4000 });
        let verdict: Verdict;
        try {
          verdict = judgeAnswer(await client.submit(tx, { wait: true, timeoutMs: 3000 }), id);
        } catch (error) {
          verdict = judgeError(error);
        }
        outcome.answeredAt = Date.now();
        outcome.status = verdict.status;
        if (verdict.status === 'acknowledged') {
          outcome.height = verdict.height;
          outcome.index = verdict.index;
          acks.push({ at: outcome.answeredAt, height: verdict.height });
          knownHeight = Math.max(knownHeight, verdict.height);
          return;
        }
        outcome.code = verdict.code;
        if (verdict.bad !== undefined) outcome.bad = verdict.bad;
        if (verdict.status === 'refused') {
          // Failed in a committed block: the answer names the place.
          if (verdict.height !== undefined) {
            outcome.height = verdict.height;
            outcome.index = verdict.index;
          }
          return;
        }
        if (verdict.diskFullOnly === true) outcome.diskFullOnly = true;
        await sleep(wr.int(20, 100)); // down, paused or partitioned: try elsewhere soon
      };
      let n = 0;
      while (!stopWorkload) {
        n++;
        const node = wr.int(0, 2);
        if (wr.chance(0.05)) {
          // Contention: two transfers of 60 % of this account's balance each, sent at once
          // to two validators. Each passes admission alone; together they do not, so the
          // block that holds both holds the second as failed, and its client hears the
          // refusal with the block's height and index (docs/data-model.md, "Failed
          // transactions"). Recipients are other clients, so the money keeps moving.
          const pick = (): number => (c + 1 + wr.int(0, Math.max(0, clients - 2))) % clients;
          const others = [pick(), pick()]; // the same twice is two ids still (signFresh)
          let balance: bigint;
          const sentAt = Date.now();
          try {
            balance = BigInt((await new SteleClient({ url: cluster.nodes[node]!.url, timeoutMs: 4000 }).account(me.publicKey)).balances.STL ?? '0');
          } catch (error) {
            const verdict = judgeError(error);
            readErrors.push({ node, sentAt, answeredAt: Date.now(), code: verdict.code, ...(verdict.bad === undefined ? {} : { bad: verdict.bad }), ...('diskFullOnly' in verdict ? { diskFullOnly: true } : {}) });
            await sleep(wr.int(20, 100));
            continue;
          }
          const amount = (balance * 3n) / 5n;
          if (amount < 1n) continue;
          const pair = others.map((to) => signFresh({ type: 'transfer', from: me.publicKey, asset: 'STL', to: (cluster.accounts[to] as Signer).publicKey, amount }));
          await Promise.all([submitOne(node, pair[0]!, 'contended'), submitOne((node + 1) % 3, pair[1]!, 'contended')]);
          continue;
        }
        let payload: Payload;
        let kind: Outcome['kind'];
        if (wr.chance(0.75)) {
          const to = cluster.accounts[wr.int(0, cluster.accounts.length - 1)] as Signer;
          payload = { type: 'transfer', from: me.publicKey, asset: 'STL', to: to.publicKey, amount: BigInt(wr.int(1, 1000)) };
          kind = 'transfer';
        } else {
          const data = new Uint8Array(16).map(() => wr.int(0, 255));
          payload = { type: 'put', owner: me.publicKey, key: `c${c}/k${n % 16}`, value: { kind: 'inline', data } };
          kind = 'put';
        }
        await submitOne(node, signFresh(payload), kind);
      }
    });
    // Handled from the start: a client that throws stops the run with a problem, instead of
    // an unhandled rejection that ends the process before the clean-up (found in review).
    const clientFailures: string[] = [];
    const workloadDone = Promise.all(
      workload.map((w, c) =>
        w.catch((error: unknown) => {
          clientFailures.push(`client ${c} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
          stopWorkload = true;
        }),
      ),
    );

    // ------------------------------------------------------------------ nemesis
    /**
     * Recovered: every validator answers, all name the same leader, and all hold a block at
     * least as high as one acknowledged after the heal and above `floor` (the highest
     * height at the heal): the cluster committed again, and everyone has it.
     */
    const waitRecovered = async (fault: FaultRecord, healAt: number, floor: number): Promise<void> => {
      const deadline = healAt + RECOVERY_TIMEOUT_MS;
      let cursor = acks.findIndex((a) => a.at >= healAt);
      if (cursor < 0) cursor = acks.length;
      let needed = Number.POSITIVE_INFINITY;
      while (Date.now() < deadline) {
        const states = await cluster.statuses();
        for (const s of states) if (s !== null) knownHeight = Math.max(knownHeight, s.committed_height);
        for (; cursor < acks.length; cursor++) if ((acks[cursor] as { height: number }).height > floor) needed = Math.min(needed, (acks[cursor] as { height: number }).height);
        const leader = states[0]?.leader ?? null;
        const agreed = leader !== null && states.every((s) => s !== null && s.leader === leader);
        if (agreed && states.every((s) => s !== null && s.committed_height >= needed)) {
          fault.recoveryMs = Date.now() - healAt;
          return;
        }
        await sleep(50);
      }
      const states = await cluster.statuses();
      problems.push(
        `${fault.kind} (${fault.detail}) did not recover within ${RECOVERY_TIMEOUT_MS} ms: leaders ${states.map((s) => (s === null ? '-' : String(s.leader))).join(', ')}, heights ${states.map((s) => (s === null ? '-' : String(s.committed_height))).join(', ')}, ${Number.isFinite(needed) ? `acknowledged after the heal up to ${needed}` : `nothing acknowledged above ${floor} after the heal`}`,
      );
    };
    const leaderNow = async (): Promise<number | null> => {
      for (const s of await cluster.statuses()) if (s !== null && s.leader !== null) return s.leader;
      return null;
    };
    const heightNow = async (): Promise<number> => Math.max(0, ...(await cluster.statuses()).map((s) => s?.committed_height ?? 0));
    const kinds: FaultKind[] = ['kill', 'torn_write', 'pause', 'partition', ...(disk === 'tmpfs' ? (['full_disk'] as const) : [])];
    const schedule = new FaultSchedule(options.seed, kinds);
    const nemesisEnd = started + options.seconds * 1000;
    const nemesis = (async () => {
      await sleep(1000);
      while (!stopWorkload && Date.now() < nemesisEnd - 3000) {
        const plan = schedule.next();
        const leader = await leaderNow();
        const target = plan.onLeader && leader !== null ? leader : plan.target;
        const fault: FaultRecord = { kind: plan.kind, detail: '', target, leader: target === leader, noop: false, shape: null, downMs: null, recoveryMs: null };
        let healAt: number;
        let full: { node: number; from: number; to: number } | null = null;
        let logFrom = 0;
        if (plan.kind === 'kill' || plan.kind === 'torn_write') {
          const killed = await cluster.kill(target);
          const downFrom = Date.now();
          await sleep(plan.downMs);
          let torn: { file: string; offset: number; existing: boolean } | null = null;
          if (plan.kind === 'torn_write') {
            let which = plan.tearLog;
            torn = cluster.tear(target, which, plan.tearBytes);
            if (torn === null) {
              which = which === 'blocks' ? 'acceptor' : 'blocks';
              torn = cluster.tear(target, which, plan.tearBytes);
            }
            // Only a tear that happened counts as a torn write; otherwise this was a kill.
            if (torn === null) fault.kind = 'kill';
            fault.detail =
              torn === null
                ? 'torn write: neither log had a record to tear, counted as a kill'
                : `${which} log ${torn.file.split('/').slice(-2).join('/')} at byte ${torn.offset}${torn.existing ? ' (the SIGKILL had left a torn frame there: nothing more written)' : ''}`;
          }
          if (!killed && torn === null) {
            fault.noop = true;
            fault.detail = `${fault.detail === '' ? '' : `${fault.detail}; `}v${target + 1} was down already`;
          }
          cluster.start(target);
          healAt = Date.now();
          fault.downMs = healAt - downFrom;
        } else if (plan.kind === 'pause') {
          const pausedAt = Date.now();
          if (!cluster.pause(target)) {
            fault.noop = true;
            fault.detail = `v${target + 1} was down or paused already`;
          } else {
            // Counted only once the kernel shows the process stopped (found in review: a
            // SIGSTOP was counted as a pause when sent).
            const state = await cluster.waitStopped(target);
            if (state !== 'T' && state !== 't') {
              fault.noop = true;
              fault.detail = `v${target + 1} was not seen stopped after SIGSTOP (state ${state ?? 'unreadable'})`;
            }
          }
          await sleep(Math.max(0, plan.holdMs - (Date.now() - pausedAt)));
          cluster.resume(target);
          healAt = Date.now();
        } else if (plan.kind === 'partition') {
          const others = [0, 1, 2].filter((i) => i !== target);
          const other = (target + plan.otherOffset) % 3;
          fault.shape = plan.shape;
          const dropsBefore = net === 'transport' ? await cluster.faultDrops() : null;
          if (plan.shape === 'isolate') for (const o of others) (cluster.cut(target, o), cluster.cut(o, target));
          else if (plan.shape === 'pair') (cluster.cut(target, other), cluster.cut(other, target));
          else cluster.cut(target, other);
          fault.detail = plan.shape === 'isolate' ? `isolate v${target + 1}` : plan.shape === 'pair' ? `v${target + 1} <-/-> v${other + 1}` : `v${target + 1} -/-> v${other + 1}${net === 'netns' ? ' (IP only)' : ''}`;
          await sleep(plan.holdMs);
          if (dropsBefore !== null) {
            // With the transport's fault layer a cut is only a file the validators read:
            // counted as injected only if their drop counters moved before the heal (found in
            // review: a partition counted when its file was written). Under namespaces the
            // kernel drops the packets and there is no such counter.
            const dropped = dropsBetween(dropsBefore, await cluster.faultDrops());
            if (dropped === 0) {
              fault.noop = true;
              fault.detail += '; the validators dropped no message (no-op)';
            } else fault.detail += `; ${dropped} messages dropped`;
          }
          cluster.healNetwork();
          healAt = Date.now();
        } else {
          // API_INTERNAL from this validator is accepted from the fill until the recovery.
          logFrom = cluster.logSize(target);
          full = { node: target, from: Date.now(), to: Number.POSITIVE_INFINITY };
          diskFull.push(full);
          const bytes = cluster.fillDisk(target);
          fault.detail = `filled ${Math.round(bytes / 1048576)} MiB`;
          await sleep(plan.holdMs + 2000);
          cluster.freeDisk(target);
          healAt = Date.now();
        }
        faults.push(fault);
        log(`fault ${faults.length}: ${fault.kind}${fault.noop ? ' (no-op)' : ''}${fault.detail === '' ? '' : ` (${fault.detail})`} on v${target + 1}${fault.leader ? ' (leader)' : ''}`);
        await waitRecovered(fault, healAt, await heightNow());
        if (full !== null) {
          full.to = Date.now();
          fullDisks.push({ node: target, fill: full.from, heal: healAt, end: full.to, log: cluster.logSince(target, logFrom) });
        }
        await sleep(plan.gapMs);
      }
    })();
    await nemesis;
    const remaining = nemesisEnd - Date.now();
    if (remaining > 0 && !stopWorkload) await sleep(remaining);
    stopWorkload = true;
    await workloadDone;
    problems.push(...clientFailures);

    // ------------------------------------------------------------------ convergence
    cluster.healAll();
    let converged = false;
    let heights: number[] = [];
    const convergeDeadline = Date.now() + 60_000;
    let stableSince = 0;
    while (Date.now() < convergeDeadline) {
      const states = await cluster.statuses();
      heights = states.map((s) => s?.committed_height ?? -1);
      const leader = states[0]?.leader ?? null;
      const same = leader !== null && states.every((s) => s !== null && s.leader === leader && s.mempool_size === 0 && s.committed_height === heights[0]);
      if (same) {
        if (stableSince === 0) stableSince = Date.now();
        if (Date.now() - stableSince >= 1000) {
          converged = true;
          break;
        }
      } else stableSince = 0;
      await sleep(100);
    }
    if (!converged) problems.push(`replicas did not converge within 60 s after healing: heights ${heights.join(', ')}`);

    // ------------------------------------------------------------------ state, as served
    const served: Array<Array<AccountAnswer | null>> = [];
    for (const node of cluster.nodes) {
      const client = new SteleClient({ url: node.url, timeoutMs: 10_000 });
      try {
        served.push(await Promise.all(cluster.accounts.map((a) => client.account(a.publicKey))));
      } catch (error) {
        served.push(cluster.accounts.map(() => null));
        problems.push(`v${node.index + 1}: accounts unreadable: ${(error as Error).message}`);
      }
    }
    let supplyOk = true;
    const supply = ACCOUNT_BALANCE * BigInt(cluster.accounts.length);
    served.forEach((accounts, r) => {
      if (accounts.some((a) => a === null)) {
        supplyOk = false;
        return;
      }
      const sum = accounts.reduce((s, a) => s + BigInt(a?.balances.STL ?? '0'), 0n);
      if (sum !== supply) {
        supplyOk = false;
        problems.push(`v${r + 1}: balances sum to ${sum}, genesis supply is ${supply}`);
      }
    });

    // ------------------------------------------------------------------ chains
    const codes = await cluster.stopAll();
    codes.forEach((code, i) => {
      if (code !== 0) problems.push(`v${i + 1} did not stop cleanly on SIGTERM (exit ${code})`);
    });
    const chains: string[][] = [];
    const txLists: Array<Array<{ id: string; height: number; index: number }>> = [];
    const auditHeights: Array<number | null> = [];
    // The first replica's chain replayed from genesis: which transactions it holds as
    // failed, and with which code (the audit has checked that replay against the headers).
    const failedInChain = new Map<string, string>();
    let auditOk = true;
    for (const node of cluster.nodes) {
      const data = join(node.dir, 'data');
      let auditHeight: number | null = null;
      try {
        const { stdout } = await execFileAsync(process.execPath, [CLI, 'audit', '--data', data, '--genesis', cluster.genesisPath, '--json'], { encoding: 'utf8', timeout: 300_000 });
        const audit = JSON.parse(stdout) as { valid: boolean; height: number };
        auditHeight = audit.height;
        if (!audit.valid) throw new Error(stdout);
      } catch (error) {
        auditOk = false;
        const e = error as { stdout?: string; message: string };
        problems.push(`v${node.index + 1}: stele audit failed: ${(e.stdout ?? e.message).slice(0, 500)}`);
      }
      auditHeights.push(auditHeight);
      const source = fromDataDir(data);
      const hashes: string[] = [];
      const txs: Array<{ id: string; height: number; index: number }> = [];
      let replay = node === cluster.nodes[0] ? genesisState(cluster.genesis) : null;
      for await (const bytes of source.blocks) {
        const block = decodeBlock(bytes);
        if (block.header.height !== hashes.length + 1) problems.push(`v${node.index + 1}: block ${hashes.length + 1} of the log says height ${block.header.height}`);
        if (replay !== null) {
          try {
            const r = executeBlock(cluster.genesis, replay.state, block.txs, block.header.height, replay.stateHash, { signatures: 'verified' });
            replay.state.apply(r.writeSet);
            replay = { ...replay, stateHash: r.stateHash };
            for (const f of r.failed) failedInChain.set(toHex((block.txs[f.index] as (typeof block.txs)[number]).id), f.code);
          } catch (error) {
            problems.push(`v1: replaying block ${block.header.height} failed: ${(error as Error).message}`);
            replay = null;
          }
        }
        hashes.push(toHex(block.hash));
        block.txs.forEach((t, index) => txs.push({ id: toHex(t.id), height: block.header.height, index }));
      }
      await source.close();
      chains.push(hashes);
      txLists.push(txs);
    }
    // Each replica's log holds exactly the height it reported at convergence, and its audit
    // found that many blocks (found in review: the audit's height was read and dropped).
    const chainHeights = chains.map((c) => c.length);
    chainHeights.forEach((length, r) => {
      if (converged && length !== heights[r]) problems.push(`v${r + 1}: its log holds ${length} blocks, it reported height ${heights[r]}`);
      if (auditHeights[r] !== null && auditHeights[r] !== length) problems.push(`v${r + 1}: stele audit reported height ${auditHeights[r]}, its log holds ${length} blocks`);
    });
    let divergent = 0;
    for (let r = 1; r < chains.length; r++) {
      const a = chains[0] as string[];
      const b = chains[r] as string[];
      const common = Math.min(a.length, b.length);
      const at = a.findIndex((h, k) => k < common && h !== b[k]);
      if (at >= 0 || a.length !== b.length) {
        divergent++;
        problems.push(at >= 0 ? `v${r + 1} differs from v1 at height ${at + 1}` : `v${r + 1} holds ${b.length} blocks, v1 ${a.length}`);
      }
    }

    // Every block a validator reported as committed while it was polled during the run is
    // still in its final chain at that height (found in review: the chains were read only
    // after the stop, so a replica that lost or replaced a committed block and then caught
    // up from its peers looked fine).
    const observedMismatches = checkObserved(cluster.observed, chains);
    for (const m of observedMismatches.slice(0, BAD_ANSWERS_LISTED_MAX)) {
      problems.push(
        `v${m.node + 1} reported block ${m.height} committed as ${m.hash.slice(0, 16)} at ${((m.at - started) / 1000).toFixed(1)} s; its final chain ${m.final === null ? `ends at height ${chains[m.node]?.length ?? 0}` : `holds ${m.final.slice(0, 16)} there`}`,
      );
    }
    if (observedMismatches.length > BAD_ANSWERS_LISTED_MAX) problems.push(`... and ${observedMismatches.length - BAD_ANSWERS_LISTED_MAX} more committed blocks reported during the run that the final chains do not hold`);

    // ------------------------------------------------------------------ transactions
    const submitted = new Map(outcomes.map((o) => [o.id, o]));
    const seen = new Map<string, Array<{ height: number; index: number }>>();
    for (const t of txLists[0] ?? []) {
      const list = seen.get(t.id) ?? [];
      list.push({ height: t.height, index: t.index });
      seen.set(t.id, list);
    }
    let lost = 0;
    let duplicated = 0;
    let unexpected = 0;
    for (const [id, places] of seen) {
      if (places.length > 1) {
        duplicated++;
        problems.push(`transaction ${id} is committed ${places.length} times`);
      }
      if (!submitted.has(id)) {
        unexpected++;
        problems.push(`transaction ${id} at height ${places[0]!.height} was never submitted`);
      }
    }
    // A refusal is a final answer. Each transaction goes to one validator once (asserted
    // in submitOne), so a refusal that names no place came from admission or from a
    // refusal no block can overrule (INVALID_IN_BLOCK, expiry), and the transaction must
    // be in no block; one that names a place must be there, failed with that code (found in
    // review: a refusal without a place passed whatever the chain held).
    let refusedCommitted = 0;
    let refusedNoPlaceInChain = 0;
    let refusedAtPlace = 0;
    for (const o of outcomes) {
      if (o.status !== 'refused') continue;
      const place = seen.get(o.id)?.[0];
      const failedAs = failedInChain.get(o.id);
      const verdict = judgeRefusal({ code: o.code ?? '?', ...(o.height === undefined ? {} : { height: o.height, index: o.index as number }) }, place, failedAs);
      if (verdict === 'final') continue;
      if (verdict === 'at_place') {
        refusedAtPlace++;
        continue;
      }
      refusedCommitted++;
      if (verdict === 'placed_but_absent' || place === undefined) {
        problems.push(`transaction ${o.id} was refused (${o.code ?? '?'}) as failed at ${o.height}/${o.index}, but is not in the chain`);
        continue;
      }
      if (o.height === undefined) refusedNoPlaceInChain++;
      problems.push(
        `transaction ${o.id} was refused (${o.code ?? '?'}${o.height === undefined ? ' at admission' : ` at ${o.height}/${o.index}`}) but is in the chain at ${place.height}/${place.index}, ${failedAs === undefined ? 'applied' : `failed with ${failedAs}`}`,
      );
    }
    for (const o of outcomes) {
      if (o.status !== 'acknowledged') continue;
      const places = seen.get(o.id);
      if (places === undefined || !places.some((p) => p.height === o.height && p.index === o.index)) {
        lost++;
        problems.push(`acknowledged transaction ${o.id} (height ${o.height}, index ${o.index}) is ${places === undefined ? 'missing' : `at ${places.map((p) => `${p.height}/${p.index}`).join(', ')}`}`);
      } else if (failedInChain.has(o.id)) {
        lost++;
        problems.push(`acknowledged transaction ${o.id} (height ${o.height}, index ${o.index}) is in the chain as failed (${failedInChain.get(o.id)})`);
      }
    }

    // ------------------------------------------------------------------ the model
    // Balances and records from the genesis balances and the workload's own record of each
    // transaction's payload, in the chain's order, with plain BigInt arithmetic: a transfer
    // fails when the sender's balance is below the amount (the only rule of
    // ledger/machine.ts this workload can break), a put always applies. Independent of the
    // node's code, unlike the replay above (found in review: only the total was checked).
    const { balances, records, failed: modelFailed } = modelWorkload(txLists[0] ?? [], new Map(outcomes.map((o) => [o.id, o.sent])), cluster.accounts.length, ACCOUNT_BALANCE);
    let modelDisagreements = 0;
    for (const id of new Set([...modelFailed, ...failedInChain.keys()])) {
      const failedAs = failedInChain.get(id);
      if (modelFailed.has(id) && failedAs === 'TX_INSUFFICIENT_BALANCE') continue;
      modelDisagreements++;
      if (modelDisagreements <= BAD_ANSWERS_LISTED_MAX) problems.push(`transaction ${id}: the model has it ${modelFailed.has(id) ? 'failed (balance below the amount)' : 'applied'}, the replay ${failedAs === undefined ? 'applied' : `failed with ${failedAs}`}`);
    }
    if (modelDisagreements > BAD_ANSWERS_LISTED_MAX) problems.push(`... and ${modelDisagreements - BAD_ANSWERS_LISTED_MAX} more disagreements between the model and the replay`);
    let balanceMismatches = 0;
    let recordMismatches = 0;
    let recordsChecked = 0;
    served.forEach((accounts, r) => {
      accounts.forEach((account, a) => {
        if (account === null) return; // reported above
        const got = BigInt(account.balances.STL ?? '0');
        if (got !== balances[a]) {
          balanceMismatches++;
          problems.push(`v${r + 1}: account ${a} holds ${got} STL, the model ${balances[a]}`);
        }
        const expected = [...records].filter(([k]) => k.startsWith(`${a}/`)).map(([k, v]) => ({ key: k.slice(k.indexOf('/') + 1), ...v }));
        const gotRecords = new Map(account.records.map((rec) => [rec.key, rec]));
        if (account.records_truncated || gotRecords.size !== expected.length) {
          recordMismatches++;
          problems.push(`v${r + 1}: account ${a} has ${gotRecords.size} records${account.records_truncated ? ' (truncated)' : ''}, the model ${expected.length}`);
        }
        for (const e of expected) {
          recordsChecked++;
          const rec = gotRecords.get(e.key);
          const data = rec?.value.kind === 'inline' ? rec.value.data : undefined;
          if (rec === undefined || data !== e.data || rec.height !== e.height) {
            recordMismatches++;
            problems.push(`v${r + 1}: record ${a}/${e.key} is ${rec === undefined ? 'missing' : `${data ?? rec.value.kind} at height ${rec.height}`}, the model ${e.data} at height ${e.height}`);
          }
        }
      });
    });
    // Acknowledged puts read back: keys whose last put in the chain was acknowledged hold
    // that put's value on every replica (the loop above compared it, value and height).
    const putsReadBack = [...records.values()].filter((rec) => {
      const o = submitted.get(rec.id);
      return o !== undefined && o.status === 'acknowledged' && o.height === rec.height;
    }).length;

    // ------------------------------------------------------------------ answers
    const overlapsFullDisk = (node: number, from: number, to: number): boolean => diskFull.some((w) => w.node === node && w.from <= to && from <= w.to);
    const badAnswers: Record<string, number> = {};
    const badListed: string[] = [];
    let internalOnFullDisk = 0;
    const judge = (what: string, a: { node: number; sentAt: number; answeredAt: number; code?: string; bad?: string; diskFullOnly?: boolean }): void => {
      let bad = a.bad;
      if (a.diskFullOnly === true) {
        if (overlapsFullDisk(a.node, a.sentAt, a.answeredAt)) internalOnFullDisk++;
        else bad = 'HTTP 500 API_INTERNAL from a validator whose disk was not full';
      }
      if (bad === undefined) return;
      bump(badAnswers, a.code ?? '?');
      if (badListed.length < BAD_ANSWERS_LISTED_MAX) badListed.push(`v${a.node + 1} answered ${what} with ${a.code ?? '?'}: ${bad}`);
    };
    for (const o of outcomes) judge(`submission ${o.id}`, o);
    for (const e of readErrors) judge('a balance read', e);
    const badTotal = Object.values(badAnswers).reduce((s, n) => s + n, 0);
    problems.push(...badListed);
    if (badTotal > badListed.length) problems.push(`... and ${badTotal - badListed.length} more answers no correct validator gives (${JSON.stringify(badAnswers)})`);

    // ------------------------------------------------------------------ report
    const faultCounts: Record<string, number> = {};
    const noopCounts: Record<string, number> = {};
    const shapes: Record<string, number> = {};
    const recovery: Record<string, number[]> = {};
    const down: Record<string, number[]> = {};
    for (const f of faults) {
      if (f.noop) {
        bump(noopCounts, f.kind);
        continue;
      }
      bump(faultCounts, f.kind);
      if (f.leader) bump(faultCounts, `${f.kind}_leader`);
      if (f.shape !== null) bump(shapes, f.shape);
      if (f.recoveryMs !== null) (recovery[f.kind] ??= []).push(f.recoveryMs);
      if (f.downMs !== null) (down[f.kind] ??= []).push(f.downMs);
    }
    // Each full disk on its own: its target stopped with 75 between the fill and the heal,
    // and logged STORE_FULL; a 75 that no full disk of that validator explains is an
    // unexpected exit (found in review: a 75 from anyone at any time passed, and one stop
    // anywhere satisfied every full_disk fault).
    const diskJudgment = judgeFullDisk(fullDisks, cluster.exits, EXIT_DISK_FULL);
    const diskFullStops = diskJudgment.stops.reduce((s, n) => s + n, 0);
    const unexpectedExits = cluster.exits.filter((e) => !e.expected && (e.code !== EXIT_DISK_FULL || diskJudgment.unexpected.includes(e))).map((e) => ({ validator: e.index + 1, code: e.code, signal: e.signal, log: e.logTail }));
    for (const e of unexpectedExits) problems.push(`v${e.validator} exited unexpectedly (code ${e.code}, signal ${e.signal}${e.code === EXIT_DISK_FULL ? ', while its disk was not full' : ''})`);
    problems.push(...diskJudgment.problems);
    const refused: Record<string, number> = {};
    const indeterminateByCode: Record<string, number> = {};
    for (const o of outcomes) {
      if (o.status === 'refused') bump(refused, o.code ?? '?');
      if (o.status === 'indeterminate') bump(indeterminateByCode, o.code ?? '?');
    }
    const unrecovered = faults.filter((f) => f.recoveryMs === null).length;
    // A run that did no work proves nothing: a cluster that never confirmed a commit (say,
    // waiters never woken) must not report ok (found in review).
    if (!outcomes.some((o) => o.status === 'acknowledged')) problems.push(`no transaction of ${outcomes.length} submitted was acknowledged`);
    const ok = problems.length === 0;
    report = {
      chaos: 'stele',
      seed: options.seed,
      seconds: options.seconds,
      net,
      disk,
      submitted: outcomes.length,
      acknowledged: outcomes.filter((o) => o.status === 'acknowledged').length,
      indeterminate: outcomes.filter((o) => o.status === 'indeterminate').length,
      indeterminate_by_code: indeterminateByCode,
      refused,
      bad_answers: badAnswers,
      internal_errors_on_full_disk: internalOnFullDisk,
      lost,
      duplicated,
      refused_committed: refusedCommitted,
      refused_no_place_in_chain: refusedNoPlaceInChain,
      failed_in_chain: failedInChain.size,
      model_failed: modelFailed.size,
      model_disagreements: modelDisagreements,
      refused_at_place: refusedAtPlace,
      unexpected,
      divergent,
      observed_blocks: cluster.observed.length,
      observed_mismatch: observedMismatches.length,
      audit_ok: auditOk,
      chain_heights: chainHeights,
      audit_heights: auditHeights,
      supply_ok: supplyOk,
      balances_ok: balanceMismatches === 0 && served.every((accounts) => accounts.every((a) => a !== null)),
      balance_mismatches: balanceMismatches,
      records_ok: recordMismatches === 0 && served.every((accounts) => accounts.every((a) => a !== null)),
      record_mismatches: recordMismatches,
      records_checked: recordsChecked,
      puts_read_back: putsReadBack,
      converged,
      heights,
      committed_txs: txLists[0]?.length ?? 0,
      faults: faultCounts,
      faults_noop: noopCounts,
      partition_shapes: shapes,
      partition_mechanism: partitionMechanism(net),
      recovery_measured: RECOVERY_MEASURED,
      recovery_ms: Object.fromEntries(Object.entries(recovery).map(([k, v]) => [k, stats(v)])),
      down_ms: Object.fromEntries(Object.entries(down).map(([k, v]) => [k, stats(v)])),
      unrecovered,
      disk_full_stops: diskFullStops,
      disk_full_unproven: diskJudgment.faultProblems.filter((p) => p.length > 0).length,
      unexpected_exits: unexpectedExits,
      problems,
      ok,
      dir: options.keep === true || !ok ? dir : null,
      wall_s: Math.round((Date.now() - started) / 100) / 10,
    };
    return report;
  } finally {
    stopWorkload = true;
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await cluster.destroy(options.keep === true || report === null || !report.ok);
  }
}
