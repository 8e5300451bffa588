/**
 * bench:consensus: durable ordering of opaque 256-byte values by three local processes
 * (the real core and driver, native transport, mapped logs, batching and pipelining),
 * against a three-member etcd cluster on loopback doing durable 256-byte puts through its
 * gRPC client, with as many requests in flight on each side. The two systems are measured
 * in alternation, `--runs` rounds (default 3), each round after a `sync` and a 1 s pause;
 * medians; one JSON line last.
 *
 * The two sides do not include the same work. Stele's load is generated inside the leader
 * process: `submit()` is a function call, with no client, no network hop and no
 * serialization. etcd's load comes from the etcd3 gRPC client in this process, over
 * loopback, each put to a member the client picks at random, so about two in three go to a
 * follower, which forwards them to etcd's leader. Every etcd latency therefore includes a
 * client round trip that Stele's does not, and the low-load comparison favours Stele by at
 * least that hop. `loopback_rtt_p50_ms` reports, from the same run, the p50 of a 256-byte
 * round trip between this process and a child process over loopback TCP: a lower bound of
 * that hop (no gRPC, no protobuf). It is reported only; no target uses it.
 *
 * npm run bench:consensus -- [--runs N] [--seconds S] [--concurrency C] [--low-only 1]
 *
 * `--low-only 1` runs only the one-in-flight rounds (for latency work); the throughput
 * fields are then null.
 */
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { steleRound, type Load } from './consensus-round.js';
import { etcdPutLoad, startEtcd } from './etcd.js';
import { loopbackRoundTripP50Ms } from './loopback.js';
import { arg, median, note, round } from './util.js';

const runs = arg('runs', 3);
const seconds = arg('seconds', 5);
const concurrency = arg('concurrency', 64);
const lowOnly = arg('low-only', 0) === 1;

/** An etcd round's figures and its measured run's retried puts (a retried put counts once, its latency from the first attempt). */
interface EtcdLoad extends Load {
  readonly retries: number;
}

async function etcdRound(c: number, s: number): Promise<EtcdLoad> {
  const cluster = await startEtcd(join(tmpdir(), `stele-bench-etcd-${process.pid}`), 23_790);
  try {
    // Size the run to take about `s` seconds at the rate a short probe shows.
    const probe = await etcdPutLoad(cluster, 'grpc', c, Math.max(c * 4, 200), 256);
    const total = Math.max(c * 4, Math.round(probe.puts_per_s * s));
    const r = await etcdPutLoad(cluster, 'grpc', c, total, 256);
    return { perSecond: r.puts_per_s, p50: r.p50_ms, p99: r.p99_ms, retries: r.retries };
  } finally {
    await cluster.stop();
  }
}

const stele: Load[] = [];
const etcd: EtcdLoad[] = [];
const steleLow: Load[] = [];
const etcdLow: EtcdLoad[] = [];
const loopbackRtt: number[] = [];
/**
 * Before each round: write back every dirty page and pause, so a round does not pay for the
 * previous round's writeback (the throughput rounds leave tens of MiB dirty, mostly etcd's
 * WAL), and alternate which system goes first in the low-load pair.
 */
async function settle(): Promise<void> {
  spawnSync('sync');
  await sleep(1000);
}

async function measureAll(): Promise<void> {
  for (let k = 0; k < runs; k++) {
    if (!lowOnly) {
      await settle();
      stele.push(await steleRound(concurrency, seconds));
      note(`stele  c=${concurrency}: ${round(stele.at(-1)!.perSecond)}/s p50 ${round(stele.at(-1)!.p50, 2)} ms p99 ${round(stele.at(-1)!.p99, 2)} ms`);
      await settle();
      etcd.push(await etcdRound(concurrency, seconds));
      note(`etcd   c=${concurrency}: ${round(etcd.at(-1)!.perSecond)}/s p50 ${round(etcd.at(-1)!.p50, 2)} ms p99 ${round(etcd.at(-1)!.p99, 2)} ms, ${etcd.at(-1)!.retries} retries`);
    }
    const low = async (system: 'stele' | 'etcd'): Promise<void> => {
      await settle();
      if (system === 'stele') steleLow.push(await steleRound(1, Math.min(seconds, 2)));
      else etcdLow.push(await etcdRound(1, Math.min(seconds, 2)));
    };
    if (k % 2 === 0) {
      await low('stele');
      await low('etcd');
    } else {
      await low('etcd');
      await low('stele');
    }
    // With both clusters stopped: a lower bound of the client hop etcd's side pays.
    loopbackRtt.push(await loopbackRoundTripP50Ms(256, 2000, 200));
    note(`low load (1 in flight): stele p50 ${round(steleLow.at(-1)!.p50, 2)} ms, etcd p50 ${round(etcdLow.at(-1)!.p50, 2)} ms; loopback round trip p50 ${round(loopbackRtt.at(-1)!, 3)} ms`);
  }
}

/** The JSON line, from the medians of the rounds. */
function report(): void {
  const sum = (xs: EtcdLoad[]): number => xs.reduce((total, x) => total + x.retries, 0);
  const m = (xs: Load[], f: (x: Load) => number): number | null => (xs.length === 0 ? null : median(xs.map(f)));
  const r2 = (x: number | null, digits = 0): number | null => (x === null ? null : round(x, digits));
  const ratios = stele.map((x, i) => x.perSecond / etcd[i]!.perSecond);
  const lowP50 = m(steleLow, (x) => x.p50) as number;
  const etcdLowP50 = m(etcdLow, (x) => x.p50) as number;
  const result = {
    bench: 'consensus',
    runs,
    seconds,
    concurrency,
    value_bytes: 256,
    stele_load_generated: 'in the leader process: submit() is a function call (no client, no network hop, no serialization)',
    etcd_load_generated: 'in the benchmark process: etcd3 gRPC client over loopback, each put to a random member (a follower forwards it to the leader)',
    committed_values_per_s: r2(m(stele, (x) => x.perSecond)),
    p50_commit_ms: r2(m(stele, (x) => x.p50), 2),
    p99_commit_ms: r2(m(stele, (x) => x.p99), 2),
    low_load_p50_ms: round(lowP50, 2),
    etcd_puts_per_s: r2(m(etcd, (x) => x.perSecond)),
    etcd_p50_ms: r2(m(etcd, (x) => x.p50), 2),
    etcd_p99_ms: r2(m(etcd, (x) => x.p99), 2),
    etcd_low_load_p50_ms: round(etcdLowP50, 2),
    loopback_rtt_p50_ms: round(median(loopbackRtt), 3),
    etcd_retries: lowOnly ? null : sum(etcd),
    etcd_low_load_retries: sum(etcdLow),
    vs_etcd_ratio: ratios.length === 0 ? null : round(median(ratios), 2),
    target_5x_etcd_met: ratios.length === 0 ? null : median(ratios) >= 5,
    // Judged on the two medians as before. Stele's side pays no client hop (the header),
    // so this comparison favours Stele by at least loopback_rtt_p50_ms.
    target_low_load_p50_met: lowP50 <= etcdLowP50,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

try {
  await measureAll();
  report();
} catch (error) {
  // No JSON line: a round with a peer that died, a load that failed or timed out, or an
  // unclean shutdown is not a result.
  process.stderr.write(`bench:consensus failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
