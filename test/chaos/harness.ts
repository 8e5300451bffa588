/**
 * Chaos runs: a workload of transfers and record puts against a three-validator cluster
 * of real processes while a seeded nemesis hurts it, then a checker over what every
 * replica holds. See docs/reliability.md for what is injected and what is checked.
 *
 * Faults, one at a time, each followed by a heal and a wait for recovery:
 *   kill         SIGKILL of a validator (the leader half the time), restart after a pause
 *   torn_write   the same, with a torn record written at the tail of its block or
 *                acceptor log before the restart (an append cut short by the crash)
 *   pause        SIGSTOP, SIGCONT 1-4 s later (the leader half the time)
 *   partition    isolate one validator, cut a pair both ways, or one way only
 *   full_disk    fill a validator's tmpfs: it must stop with STORE_FULL (exit 75), be
 *                restarted, and recover once the filler is gone
 *
 * The checker: every acknowledged transaction (the API answered "committed at height h,
 * index i") is in the chain exactly once, at that place, and applied; every transaction
 * refused to its client is either absent from the chain or held there as failed with the
 * code the client was told (and at the place it was told); nothing is in the chain that was
 * not submitted; every replica holds the identical chain and passes `stele audit`; every
 * replica's balances sum to the genesis supply and agree account by account; each fault's
 * recovery time (heal to every validator caught up with a leader known).
 */
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
import { ApiError, SteleClient } from '../../api/client.js';
import { fromDataDir } from '../../cli/chain-source.js';
import { Rng } from '../../consensus/sim/simulator.js';
import { ACCOUNT_BALANCE, ChaosCluster, EXIT_DISK_FULL, netnsAvailable, tmpfsAvailable, type DiskMode, type NetMode } from './cluster.js';

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

type FaultKind = 'kill' | 'torn_write' | 'pause' | 'partition' | 'full_disk';

interface FaultRecord {
  kind: FaultKind;
  detail: string;
  readonly target: number;
  readonly leader: boolean;
  recoveryMs: number | null;
}

interface Outcome {
  readonly id: string;
  /** contended: one of two transfers sent at once that the balance covers only one of. */
  readonly kind: 'transfer' | 'put' | 'contended';
  status: 'acknowledged' | 'indeterminate' | 'refused';
  height?: number;
  index?: number;
  code?: string;
}

export interface ChaosReport {
  readonly chaos: 'stele';
  readonly seed: number;
  readonly seconds: number;
  readonly net: NetMode;
  readonly disk: DiskMode;
  readonly submitted: number;
  readonly acknowledged: number;
  readonly indeterminate: number;
  readonly refused: Record<string, number>;
  readonly lost: number;
  readonly duplicated: number;
  /**
   * Transactions a client was told were refused (a TX_* answer) that are in the chain
   * other than as failed with that code, at the place the answer named (if it named one).
   */
  readonly refused_committed: number;
  /** Transactions the chain holds as failed (ledger/machine.ts), found by replaying it. */
  readonly failed_in_chain: number;
  /** Refusals whose answer named a height and index, found failed there with that code. */
  readonly refused_at_place: number;
  readonly unexpected: number;
  readonly divergent: number;
  readonly audit_ok: boolean;
  readonly supply_ok: boolean;
  readonly converged: boolean;
  readonly heights: number[];
  readonly committed_txs: number;
  readonly faults: Record<string, number>;
  readonly recovery_ms: Record<string, { count: number; p50: number; max: number }>;
  readonly unrecovered: number;
  readonly disk_full_stops: number;
  readonly unexpected_exits: Array<{ validator: number; code: number | null; signal: string | null; log: string }>;
  readonly problems: string[];
  readonly ok: boolean;
  readonly dir: string | null;
  readonly wall_s: number;
}

const RECOVERY_TIMEOUT_MS = 30_000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : (s[Math.floor((s.length - 1) / 2)] as number);
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), `stele-chaos-${options.seed}-`));
  const net: NetMode = options.net === undefined || options.net === 'auto' ? (netnsAvailable() ? 'netns' : 'transport') : options.net;
  const disk: DiskMode = options.disk === undefined || options.disk === 'auto' ? (tmpfsAvailable(join(dir, 'probe')) ? 'tmpfs' : 'none') : options.disk;
  const clients = options.clients ?? 6;
  const rng = new Rng(options.seed);
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
  const faults: FaultRecord[] = [];
  let knownHeight = 0;
  let stopWorkload = false;
  let report: ChaosReport | null = null;
  try {
    await cluster.up();
    // ------------------------------------------------------------------ workload
    const window = cluster.genesis.limits.expiry_window_blocks;
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
        for (let bump = 1n; mine.has(toHex(tx.id)) && payload.type === 'transfer'; bump++) {
          tx = signTx({ chainId: cluster.genesis.chainId, expiry: knownHeight + Math.floor(window / 2), payload: { ...payload, amount: payload.amount + bump } }, [me]);
        }
        mine.add(toHex(tx.id));
        return tx;
      };
      /** Submits `tx` to `client`, waits for the commit, and records the outcome. */
      const submitOne = async (client: SteleClient, tx: ReturnType<typeof signFresh>, kind: Outcome['kind']): Promise<void> => {
        const outcome: Outcome = { id: toHex(tx.id), kind, status: 'indeterminate' };
        outcomes.push(outcome);
        try {
          const answer = await client.submit(tx, { wait: true, timeoutMs: 3000 });
          if (answer.status === 'committed' && answer.height !== undefined && answer.index !== undefined) {
            outcome.status = 'acknowledged';
            outcome.height = answer.height;
            outcome.index = answer.index;
            knownHeight = Math.max(knownHeight, answer.height);
          }
        } catch (error) {
          if (error instanceof ApiError && error.status >= 400 && error.status < 500 && (error.code.startsWith('TX_') || error.code.startsWith('CONTRACT_'))) {
            outcome.status = 'refused';
            outcome.code = error.code;
            // Failed in a committed block: the answer names the place.
            const { height, index } = error.details;
            if (typeof height === 'number' && typeof index === 'number') {
              outcome.height = height;
              outcome.index = index;
            }
          } else {
            outcome.code = error instanceof ApiError ? error.code : ((error as Error).name ?? 'ERROR');
            await sleep(wr.int(20, 100)); // down, paused or partitioned: try elsewhere soon
          }
        }
      };
      let n = 0;
      while (!stopWorkload) {
        n++;
        const node = wr.int(0, 2);
        const client = new SteleClient({ url: cluster.nodes[node]!.url, timeoutMs: 4000 });
        if (wr.chance(0.05)) {
          // Contention: two transfers of 60 % of this account's balance each, sent at once
          // to two validators. Each passes admission alone; together they do not, so the
          // block that holds both holds the second as failed, and its client hears the
          // refusal with the block's height and index (docs/data-model.md, "Failed
          // transactions"). Recipients are other clients, so the money keeps moving.
          const pick = (): number => (c + 1 + wr.int(0, Math.max(0, clients - 2))) % clients;
          const others = [pick(), pick()]; // the same twice is two ids still (signFresh)
          let balance: bigint;
          try {
            balance = BigInt((await client.account(me.publicKey)).balances.STL ?? '0');
          } catch {
            await sleep(wr.int(20, 100));
            continue;
          }
          const amount = (balance * 3n) / 5n;
          if (amount < 1n) continue;
          const pair = others.map((to) => signFresh({ type: 'transfer', from: me.publicKey, asset: 'STL', to: (cluster.accounts[to] as Signer).publicKey, amount }));
          const second = new SteleClient({ url: cluster.nodes[(node + 1) % 3]!.url, timeoutMs: 4000 });
          await Promise.all([submitOne(client, pair[0]!, 'contended'), submitOne(second, pair[1]!, 'contended')]);
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
        await submitOne(client, signFresh(payload), kind);
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
    const waitRecovered = async (fault: FaultRecord, from: number, floor: number): Promise<void> => {
      const deadline = from + RECOVERY_TIMEOUT_MS;
      while (Date.now() < deadline) {
        const states = await cluster.statuses();
        for (const s of states) if (s !== null) knownHeight = Math.max(knownHeight, s.committed_height);
        if (states.every((s) => s !== null && s.leader !== null && s.committed_height >= floor)) {
          fault.recoveryMs = Date.now() - from;
          return;
        }
        await sleep(50);
      }
      problems.push(`${fault.kind} (${fault.detail}) did not recover within ${RECOVERY_TIMEOUT_MS} ms`);
    };
    const leaderNow = async (): Promise<number | null> => {
      for (const s of await cluster.statuses()) if (s !== null && s.leader !== null) return s.leader;
      return null;
    };
    const heightNow = async (): Promise<number> => Math.max(0, ...(await cluster.statuses()).map((s) => s?.committed_height ?? 0));
    const kinds: FaultKind[] = ['kill', 'torn_write', 'pause', 'partition', ...(disk === 'tmpfs' ? (['full_disk'] as const) : [])];
    const nemesisEnd = started + options.seconds * 1000;
    let bag: FaultKind[] = [];
    const nemesis = (async () => {
      await sleep(1000);
      while (!stopWorkload && Date.now() < nemesisEnd - 3000) {
        // Kinds come from a shuffled bag, so every kind shows up in each round of faults.
        if (bag.length === 0) {
          bag = [...kinds];
          for (let k = bag.length - 1; k > 0; k--) {
            const j = rng.int(0, k);
            [bag[k], bag[j]] = [bag[j] as FaultKind, bag[k] as FaultKind];
          }
        }
        const kind = bag.pop() as FaultKind;
        const leader = await leaderNow();
        const onLeader = leader !== null && rng.chance(0.5);
        const target = onLeader ? leader : rng.int(0, 2);
        const fault: FaultRecord = { kind, detail: '', target, leader: target === leader, recoveryMs: null };
        const hold = rng.int(1000, 4000);
        if (kind === 'kill' || kind === 'torn_write') {
          await cluster.kill(target);
          await sleep(rng.int(200, 2000));
          if (kind === 'torn_write') {
            const first = rng.chance(0.5) ? 'blocks' : 'acceptor';
            const bytes = rng.int(1, 200);
            let which: 'blocks' | 'acceptor' = first;
            let torn = cluster.tear(target, which, bytes);
            if (torn === null) {
              which = first === 'blocks' ? 'acceptor' : 'blocks';
              torn = cluster.tear(target, which, bytes);
            }
            // Only a tear that happened counts as a torn write; otherwise this was a kill.
            if (torn === null) fault.kind = 'kill';
            fault.detail = torn === null ? 'torn write: neither log had a record to tear, counted as a kill' : `${which} log ${torn.file.split('/').slice(-2).join('/')} at byte ${torn.offset}`;
          }
          cluster.start(target);
        } else if (kind === 'pause') {
          cluster.pause(target);
          await sleep(hold);
          cluster.resume(target);
        } else if (kind === 'partition') {
          const others = [0, 1, 2].filter((i) => i !== target);
          const shape = rng.pick(['isolate', 'pair', 'one-way'] as const);
          const other = rng.pick(others);
          if (shape === 'isolate') for (const o of others) (cluster.cut(target, o), cluster.cut(o, target));
          else if (shape === 'pair') (cluster.cut(target, other), cluster.cut(other, target));
          else cluster.cut(target, other);
          fault.detail = shape === 'isolate' ? `isolate v${target + 1}` : shape === 'pair' ? `v${target + 1} <-/-> v${other + 1}` : `v${target + 1} -/-> v${other + 1}`;
          await sleep(hold);
          cluster.healNetwork();
        } else {
          const bytes = cluster.fillDisk(target);
          fault.detail = `filled ${Math.round(bytes / 1048576)} MiB`;
          await sleep(hold + 2000);
          cluster.freeDisk(target);
        }
        faults.push(fault);
        log(`fault ${faults.length}: ${kind}${fault.detail === '' ? '' : ` (${fault.detail})`} on v${target + 1}${fault.leader ? ' (leader)' : ''}`);
        await waitRecovered(fault, Date.now(), await heightNow());
        await sleep(rng.int(300, 1500));
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
      const same = states.every((s) => s !== null && s.leader !== null && s.mempool_size === 0 && s.committed_height === heights[0]);
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

    // ------------------------------------------------------------------ state: supply
    let supplyOk = true;
    const supply = ACCOUNT_BALANCE * BigInt(cluster.accounts.length);
    const perReplica: string[][] = [];
    for (const node of cluster.nodes) {
      const client = new SteleClient({ url: node.url, timeoutMs: 10_000 });
      try {
        const balances = await Promise.all(cluster.accounts.map(async (a) => (await client.account(a.publicKey)).balances.STL ?? '0'));
        perReplica.push(balances);
        const sum = balances.reduce((s, b) => s + BigInt(b), 0n);
        if (sum !== supply) {
          supplyOk = false;
          problems.push(`v${node.index + 1}: balances sum to ${sum}, genesis supply is ${supply}`);
        }
      } catch (error) {
        supplyOk = false;
        problems.push(`v${node.index + 1}: balances unreadable: ${(error as Error).message}`);
      }
    }
    if (perReplica.length === 3 && perReplica.some((b) => b.join() !== perReplica[0]!.join())) {
      supplyOk = false;
      problems.push('replicas disagree on balances');
    }

    // ------------------------------------------------------------------ chains
    const codes = await cluster.stopAll();
    codes.forEach((code, i) => {
      if (code !== 0) problems.push(`v${i + 1} did not stop cleanly on SIGTERM (exit ${code})`);
    });
    const chains: string[][] = [];
    const txLists: Array<Array<{ id: string; height: number; index: number }>> = [];
    // The first replica's chain replayed from genesis: which transactions it holds as
    // failed, and with which code (the audit has checked that replay against the headers).
    const failedInChain = new Map<string, string>();
    let auditOk = true;
    for (const node of cluster.nodes) {
      const data = join(node.dir, 'data');
      try {
        const { stdout } = await execFileAsync(process.execPath, [CLI, 'audit', '--data', data, '--genesis', cluster.genesisPath, '--json'], { encoding: 'utf8', timeout: 300_000 });
        const audit = JSON.parse(stdout) as { valid: boolean; height: number };
        if (!audit.valid) throw new Error(stdout);
      } catch (error) {
        auditOk = false;
        const e = error as { stdout?: string; message: string };
        problems.push(`v${node.index + 1}: stele audit failed: ${(e.stdout ?? e.message).slice(0, 500)}`);
      }
      const source = fromDataDir(data);
      const hashes: string[] = [];
      const txs: Array<{ id: string; height: number; index: number }> = [];
      let replay = node === cluster.nodes[0] ? genesisState(cluster.genesis) : null;
      for await (const bytes of source.blocks) {
        const block = decodeBlock(bytes);
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
    // A refusal is a final answer: a refused transaction is never in the chain, unless the
    // chain holds it as failed with the code its client was told, where it was told (found
    // in review: nothing checked it).
    let refusedCommitted = 0;
    let refusedAtPlace = 0;
    for (const o of outcomes) {
      if (o.status !== 'refused') continue;
      if (!seen.has(o.id)) {
        // An answer that names a place in the chain must be found there.
        if (o.height !== undefined) {
          refusedCommitted++;
          problems.push(`transaction ${o.id} was refused (${o.code ?? '?'}) as failed at ${o.height}/${o.index}, but is not in the chain`);
        }
        continue;
      }
      const place = seen.get(o.id)![0]!;
      const failedAs = failedInChain.get(o.id);
      const samePlace = o.height === undefined || (o.height === place.height && o.index === place.index);
      if (failedAs === o.code && samePlace) {
        if (o.height !== undefined) refusedAtPlace++;
        continue;
      }
      refusedCommitted++;
      problems.push(
        `transaction ${o.id} was refused (${o.code ?? '?'}${o.height === undefined ? '' : ` at ${o.height}/${o.index}`}) but is in the chain at ${place.height}/${place.index}, ${failedAs === undefined ? 'applied' : `failed with ${failedAs}`}`,
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

    // ------------------------------------------------------------------ report
    const faultCounts: Record<string, number> = {};
    const recovery: Record<string, number[]> = {};
    for (const f of faults) {
      faultCounts[f.kind] = (faultCounts[f.kind] ?? 0) + 1;
      if (f.leader) faultCounts[`${f.kind}_leader`] = (faultCounts[`${f.kind}_leader`] ?? 0) + 1;
      if (f.recoveryMs !== null) (recovery[f.kind] ??= []).push(f.recoveryMs);
    }
    const diskFullStops = cluster.exits.filter((e) => !e.expected && e.code === EXIT_DISK_FULL).length;
    const unexpectedExits = cluster.exits.filter((e) => !e.expected && e.code !== EXIT_DISK_FULL).map((e) => ({ validator: e.index + 1, code: e.code, signal: e.signal, log: e.logTail }));
    for (const e of unexpectedExits) problems.push(`v${e.validator} exited unexpectedly (code ${e.code}, signal ${e.signal})`);
    if ((faultCounts.full_disk ?? 0) > 0 && diskFullStops === 0) problems.push('a disk was filled but no validator stopped with STORE_FULL (exit 75)');
    const refused: Record<string, number> = {};
    for (const o of outcomes) if (o.status === 'refused') refused[o.code ?? '?'] = (refused[o.code ?? '?'] ?? 0) + 1;
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
      refused,
      lost,
      duplicated,
      refused_committed: refusedCommitted,
      failed_in_chain: failedInChain.size,
      refused_at_place: refusedAtPlace,
      unexpected,
      divergent,
      audit_ok: auditOk,
      supply_ok: supplyOk,
      converged,
      heights,
      committed_txs: txLists[0]?.length ?? 0,
      faults: faultCounts,
      recovery_ms: Object.fromEntries(Object.entries(recovery).map(([k, v]) => [k, { count: v.length, p50: median(v), max: Math.max(...v) }])),
      unrecovered,
      disk_full_stops: diskFullStops,
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
