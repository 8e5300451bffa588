/**
 * One Stele round of bench:consensus: three consensus peer processes
 * (bench/consensus-peer.ts) on loopback, a leader elected, then a closed-loop load that the
 * leader process generates itself (`submit()` is a function call: no client, no network
 * hop, no serialization), a short unmeasured warm-up first. Its own module so that tests
 * can check that a round with a dead peer fails (test/bench/consensus-round.test.ts).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClusterSpec } from './consensus-lib.js';
import { note, randomPortBase } from './util.js';

const PEER = fileURLToPath(new URL('./consensus-peer.js', import.meta.url));

/** For tests: called once the measured load has been sent to the leader. */
export interface RoundHooks {
  readonly onMeasuredLoad?: (peers: { readonly leader: number; readonly children: readonly ChildProcess[] }) => void;
  /** The peers' tick; default 10 ms, as the benchmark runs them. */
  readonly tickMs?: number;
}

export interface Load {
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
}

function summarize(count: number, elapsed: number, latencies: number[]): Load {
  const sorted = latencies.slice().sort((a, b) => a - b);
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
  return { perSecond: count / elapsed, p50: at(0.5), p99: at(0.99) };
}

/** How long a peer may take to come up, and how long a load may overrun its seconds. */
const PEER_READY_MS_MAX = 30_000;
const LOAD_OVERRUN_MS_MAX = 30_000;
/** A peer that has not exited this long after SIGTERM is killed, and the round fails. */
const PEER_STOP_MS_MAX = 10_000;

function exitText(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `signal ${signal}` : `code ${code}`;
}

/** Rejects after `ms` with `what` in the message; `clear` cancels it. */
function deadline(ms: number, what: string): { promise: Promise<never>; clear: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return { promise, clear: () => clearTimeout(timer) };
}

/**
 * One Stele round. It fails (throws) if any peer exits before the round is over, if the
 * leader's load does not answer within its seconds plus 30 s, if the load reports a batch
 * that lost its slot, or if a peer does not exit cleanly (code 0) on SIGTERM at the end: a
 * round with a dead or misbehaving peer is never counted.
 */
export async function steleRound(c: number, s: number, hooks: RoundHooks = {}): Promise<Load> {
  const dir = mkdtempSync(join(tmpdir(), 'stele-bench-paxos-'));
  const base = randomPortBase(3);
  const spec: ClusterSpec = { seeds: [0, 1, 2].map(() => randomBytes(32).toString('hex')), ports: [base, base + 1, base + 2], tickMs: hooks.tickMs ?? 10 };
  const children: ChildProcess[] = [];
  const roles: string[] = ['', '', ''];
  let stopping = false;
  let failure: Error | null = null; // a peer that exited or failed to start during the round
  let shutdownFailure: Error | null = null;
  let onFailure: (error: Error) => void = () => {};
  const failed = new Promise<never>((_, reject) => (onFailure = reject));
  failed.catch(() => {}); // observed through the races below and `failure`
  const fail = (error: Error): void => {
    if (failure !== null) return;
    failure = error;
    onFailure(error);
  };
  const measure = async (): Promise<Load> => {
    const ready = [0, 1, 2].map(
      (i) =>
        new Promise<void>((resolve) => {
          const child = fork(PEER, [join(dir, `p${i}`), String(i), JSON.stringify(spec)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
          children[i] = child;
          child.on('message', (m: { type: string; role?: string }) => {
            if (m.type === 'ready') resolve();
            if (m.type === 'status') roles[i] = m.role ?? '';
          });
          child.once('exit', (code, signal) => {
            if (!stopping) fail(new Error(`peer ${i} exited during the round (${exitText(code, signal)})`));
          });
          child.on('error', (e) => fail(new Error(`peer ${i}: ${e.message}`)));
        }),
    );
    const up = deadline(PEER_READY_MS_MAX, 'peers starting');
    try {
      await Promise.race([Promise.all(ready), failed, up.promise]);
    } finally {
      up.clear();
    }
    let leader = -1;
    for (let t = 0; t < 500 && leader < 0; t++) {
      if (failure !== null) throw failure;
      for (const child of children) child.send({ type: 'status' });
      await Promise.race([sleep(20), failed]);
      leader = roles.indexOf('leader');
    }
    if (leader < 0) throw new Error('no leader elected');
    const leaderChild = children[leader] as ChildProcess;
    type Done = { type: string; committed: number; seconds: number; latencies_ms: number[]; error?: string };
    const load = async (seconds: number): Promise<Done> => {
      let on: (m: Done) => void = () => {};
      const done = new Promise<Done>((resolve, reject) => {
        on = (m) => {
          if (m.type === 'load-done') resolve(m);
          else if (m.type === 'load-failed') reject(new Error(`the leader's load failed: ${m.error ?? 'no reason given'}`));
        };
      });
      leaderChild.on('message', on);
      const late = deadline(seconds * 1000 + LOAD_OVERRUN_MS_MAX, `a ${seconds} s load on the leader (peer ${leader})`);
      try {
        if (failure !== null) throw failure;
        leaderChild.send({ type: 'load', concurrency: c, valueBytes: 256, seconds });
        return await Promise.race([done, failed, late.promise]);
      } finally {
        late.clear();
        leaderChild.off('message', on);
      }
    };
    // A short unmeasured warm-up, as etcd's round has its probe: the same work, so the
    // measured run does not include compiling the hot paths.
    await load(Math.min(0.5, s / 4));
    const timed = load(s);
    hooks.onMeasuredLoad?.({ leader, children });
    const r = await timed;
    return summarize(r.committed, r.seconds, r.latencies_ms);
  };
  let measured: Load | null = null;
  let error: unknown = null;
  try {
    measured = await measure();
  } catch (e) {
    error = e;
  }
  // Shutdown: every peer still running gets SIGTERM and must exit with code 0; one that has
  // not exited 10 s later is killed (and said so), so one stuck shutdown cannot hang the
  // benchmark. Either way an unclean exit fails the round.
  stopping = true;
  await Promise.all(
    children.map(
      (ch, i) =>
        new Promise<void>((resolve) => {
          if (ch.exitCode !== null || ch.signalCode !== null) return resolve(); // already failed the round
          const late = setTimeout(() => {
            note(`peer ${i} did not exit within ${PEER_STOP_MS_MAX / 1000} s of SIGTERM; killing it`);
            ch.kill('SIGKILL');
          }, PEER_STOP_MS_MAX);
          ch.once('exit', (code, signal) => {
            clearTimeout(late);
            if (code !== 0) shutdownFailure ??= new Error(`peer ${i} did not stop cleanly on SIGTERM (${exitText(code, signal)})`);
            resolve();
          });
          ch.kill('SIGTERM');
        }),
    ),
  );
  rmSync(dir, { recursive: true, force: true });
  // A peer's exit during the round explains a failed load better than the load's own
  // error, so it goes first; a failed shutdown fails a round that went well otherwise.
  if (failure !== null) throw failure;
  if (error !== null) throw error;
  if (shutdownFailure !== null) throw shutdownFailure;
  return measured as Load;
}
