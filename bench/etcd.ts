/**
 * A three-member etcd cluster on loopback, started and stopped by a benchmark, and a
 * durable-put load against it. etcd (Debian's etcd-server) is the trusted replicated log
 * Stele's ordering is compared with: every put is committed by Raft and fsynced by a
 * majority before it is acknowledged, as a Stele commit is.
 *
 * Clients: `grpc` uses the etcd3 package from npm (gRPC, the fastest client there);
 * `http` uses etcd's JSON gateway (/v3/kv/put) with keep-alive fetch.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Etcd3 } from 'etcd3';
import { HttpLite } from './http-lite.js';

export interface EtcdCluster {
  readonly endpoints: string[];
  stop(): Promise<void>;
}

/** Starts etcd members 0..2 with data under `dir`; resolves once the cluster answers. */
export async function startEtcd(dir: string, basePort: number): Promise<EtcdCluster> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const members = [0, 1, 2].map((i) => ({ name: `e${i}`, client: basePort + i, peer: basePort + 10 + i }));
  const initial = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
  const processes: ChildProcess[] = members.map((m) =>
    spawn(
      'etcd',
      [
        '--name', m.name,
        '--data-dir', join(dir, m.name),
        '--listen-client-urls', `http://127.0.0.1:${m.client}`,
        '--advertise-client-urls', `http://127.0.0.1:${m.client}`,
        '--listen-peer-urls', `http://127.0.0.1:${m.peer}`,
        '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peer}`,
        '--initial-cluster', initial,
        '--initial-cluster-state', 'new',
        '--initial-cluster-token', `stele-bench-${basePort}`,
        '--log-level', 'error',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    ),
  );
  const stderr: string[] = [];
  for (const p of processes) p.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
  const endpoints = members.map((m) => `http://127.0.0.1:${m.client}`);
  const stop = async (): Promise<void> => {
    for (const p of processes) p.kill('SIGTERM');
    await Promise.all(processes.map((p) => (p.exitCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', r)))));
    rmSync(dir, { recursive: true, force: true });
  };
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      const r = await fetch(`${endpoints[0]}/health`);
      const body = (await r.json()) as { health?: string };
      if (body.health === 'true') return { endpoints, stop };
    } catch {
      // not up yet
    }
    if (processes.some((p) => p.exitCode !== null)) break;
    await sleep(100);
  }
  await stop();
  throw new Error(`etcd did not start: ${stderr.join('').slice(0, 2000)}`);
}

export interface LoadResult {
  readonly puts_per_s: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  /** Puts sent again after a failed attempt (a dropped connection, a 5xx from the gateway). */
  readonly retries: number;
}

/** Attempts per put: a put is idempotent (same key, same value), so a failed one is sent again. */
const PUT_ATTEMPTS_MAX = 5;
const PUT_RETRY_MS = 50;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

/**
 * `total` puts of `valueBytes` bytes, `concurrency` requests in flight, through `client`.
 * With `perRequest` > 1 (HTTP only), each request is one transaction (`/v3/kv/txn`) of that
 * many puts, the way bench:e2e's batch mode sends many transfers per request; the rate
 * counts puts, the latencies requests.
 */
export async function etcdPutLoad(cluster: EtcdCluster, client: 'grpc' | 'http', concurrency: number, total: number, valueBytes: number, perRequest = 1): Promise<LoadResult> {
  if (perRequest !== 1 && client !== 'http') throw new RangeError('puts in transactions go through the HTTP gateway only');
  const value = Buffer.alloc(valueBytes, 0x61);
  const latencies: number[] = [];
  let next = 0;
  let put: (key: number) => Promise<void>;
  let close = (): void => {};
  if (client === 'grpc') {
    const etcd = new Etcd3({ hosts: cluster.endpoints });
    put = async (key) => {
      await etcd.put(`bench/${key}`).value(value);
    };
    close = () => etcd.close();
  } else {
    // The same lean client bench:e2e drives Stele's REST API with (bench/http-lite.ts).
    const http = new HttpLite(concurrency);
    const valueB64 = value.toString('base64');
    const one = (key: number) => ({ key: Buffer.from(`bench/${key}`).toString('base64'), value: valueB64 });
    // Request k carries puts k * perRequest .. (k + 1) * perRequest - 1.
    const body = (k: number): Buffer =>
      Buffer.from(JSON.stringify(perRequest === 1 ? one(k) : { success: Array.from({ length: perRequest }, (_, i) => ({ request_put: one(k * perRequest + i) })) }));
    const path = perRequest === 1 ? '/v3/kv/put' : '/v3/kv/txn';
    let endpoint = 0;
    put = async (k) => {
      const url = `${cluster.endpoints[endpoint++ % cluster.endpoints.length]}${path}`;
      const r = await http.post(url, 'application/json', body(k));
      if (r.status !== 200) throw new Error(`etcd ${path}: HTTP ${r.status}: ${r.body.toString('utf8').slice(0, 200)}`);
      if (perRequest > 1 && (JSON.parse(r.body.toString('utf8')) as { succeeded?: boolean }).succeeded !== true) throw new Error('etcd txn: not applied');
    };
    close = () => http.close();
  }
  let retries = 0;
  // Latency counts from the first attempt. The last failure is thrown with its cause.
  const putWithRetry = async (key: number): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await put(key);
        return;
      } catch (error) {
        if (attempt >= PUT_ATTEMPTS_MAX) {
          const cause = (error as { cause?: { message?: string } }).cause?.message;
          throw new Error(`etcd put failed ${attempt} times: ${(error as Error).message}${cause === undefined ? '' : ` (${cause})`}`);
        }
        retries++;
        await sleep(PUT_RETRY_MS);
      }
    }
  };
  const requests = Math.max(1, Math.ceil(total / perRequest));
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let k = next++; k < requests; k = next++) {
          const t = performance.now();
          await putWithRetry(k);
          latencies.push(performance.now() - t);
        }
      }),
    );
  } finally {
    close();
  }
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { puts_per_s: (requests * perRequest) / seconds, p50_ms: percentile(latencies, 0.5), p99_ms: percentile(latencies, 0.99), retries };
}
