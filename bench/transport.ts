/**
 * bench:transport: messages/s (one way, pipelined) and round-trip p50/p99 (one message in
 * flight) for 64 B, 1 KiB, 64 KiB and 1 MiB messages between two processes, for the
 * node:net baseline (same frames, bench/net-baseline.ts) and the native tcp backend,
 * alternating the two sides in each run; then the fabric backend (libfabric's tcp provider
 * here) when the addon has it, else its fields (per size too) are null. Each side gets an
 * untimed warm-up round per size. Prints one JSON line last. Options: --runs N (default 3),
 * --scale X.
 *
 * The far end is a child process (bench/transport-peer.ts). If it exits before the end, or
 * one measurement (or the start-up) takes over 60 s, the benchmark fails: exit code 1, a
 * message on stderr, no JSON line.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { keyPairFromSeed, Signer } from '../ledger/ed25519.js';
import { addon } from '../native/addon.js';
import { Transport } from '../native/transport.js';
import { NetPeer } from './net-baseline.js';
import { arg, median, note, round } from './util.js';

const runs = arg('runs', 3);
const scale = arg('scale', 1);
// Each timed run lasts about a second at this machine's rates (before 2026-11-30 the 64 B
// and 1 KiB runs lasted 0.1-0.15 s and mostly measured the JIT warming up).
const sizes = [
  { name: '64B', bytes: 64, count: 2_000_000, pings: 2000 },
  { name: '1KiB', bytes: 1024, count: 500_000, pings: 2000 },
  { name: '64KiB', bytes: 65536, count: 15_000, pings: 500 },
  { name: '1MiB', bytes: 1 << 20, count: 600, pings: 60 },
].map((s) => ({ ...s, count: Math.max(10, Math.round(s.count * scale)), pings: Math.max(10, Math.round(s.pings * scale)) }));

/** The longest one measurement, or the start-up, may take (each takes about a second). */
const STEP_MS_MAX = 60_000;

/** Set when the peer process exits before the benchmark ends it; every wait checks it. */
let peerGone: Error | null = null;
let onPeerGone: (error: Error) => void = () => {};
const peerFailed = new Promise<never>((_, reject) => (onPeerGone = reject));
peerFailed.catch(() => {}); // observed through `step`

/**
 * Waits for `p`, failing if the peer process has exited or `STEP_MS_MAX` passes first.
 * `what` names the step in the error.
 */
async function step<T>(what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${STEP_MS_MAX / 1000} s`)), STEP_MS_MAX);
  });
  try {
    return await Promise.race([p, peerFailed, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** For loops that poll: throws if the peer has exited or `deadline` (performance.now() ms) has passed. */
function alive(what: string, deadline: number): void {
  if (peerGone !== null) throw peerGone;
  if (performance.now() > deadline) throw new Error(`${what}: not done within ${STEP_MS_MAX / 1000} s`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** One side: send a message, and a hook the receive path calls with each batch. */
interface Side {
  /** False when refused (queue full); the message was not taken. */
  send(bytes: Uint8Array): boolean;
  congested(): boolean;
  onBatch: (batch: readonly { bytes: Uint8Array }[]) => void;
  backedUp(): Promise<void>;
}

async function throughput(side: Side, bytes: number, count: number): Promise<number> {
  const message = new Uint8Array(bytes);
  message[0] = 1;
  const last = Uint8Array.from(message);
  last[0] = 3;
  let acked = -1;
  side.onBatch = (batch) => {
    for (const { bytes: m } of batch) if (m[0] === 4) acked = new DataView(m.buffer, m.byteOffset, m.byteLength).getFloat64(1);
  };
  const start = performance.now();
  const what = `throughput of ${count} messages of ${bytes} B`;
  const deadline = start + STEP_MS_MAX;
  for (let i = 0; i < count; ) {
    const m = i === count - 1 ? last : message;
    if (side.congested() || !side.send(m)) {
      alive(what, deadline);
      await step(what, side.backedUp());
    } else i++;
  }
  while (acked < 0) {
    alive(`${what}: the peer's count`, deadline);
    await new Promise((r) => setImmediate(r));
  }
  const seconds = (performance.now() - start) / 1000;
  if (acked !== count) throw new Error(`peer counted ${acked} of ${count}`);
  return count / seconds;
}

async function roundTrips(side: Side, bytes: number, pings: number): Promise<{ p50: number; p99: number }> {
  const message = new Uint8Array(bytes);
  message[0] = 2;
  const times: number[] = [];
  let resolve: (() => void) | null = null;
  side.onBatch = (batch) => {
    if (batch.some((m) => m.bytes[0] === 2)) resolve?.();
  };
  for (let i = 0; i < pings; i++) {
    const start = performance.now();
    await step(
      `round trip ${i + 1} of ${pings} of ${bytes} B`,
      new Promise<void>((r) => {
        resolve = r;
        if (!side.send(message)) throw new Error('ping refused');
      }),
    );
    times.push((performance.now() - start) * 1000);
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(times.length * 0.5)] as number, p99: times[Math.floor(times.length * 0.99)] as number };
}

const [port0, port1, netPort, fabricPort0, fabricPort1] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
const withFabric = addon().fabric;
const pairs = [keyPairFromSeed(new Uint8Array(32).fill(1)), keyPairFromSeed(new Uint8Array(32).fill(2))];
const validators = pairs.map((p, i) => ({ publicKey: p.publicKey, address: `127.0.0.1:${i === 0 ? port0 : port1}` }));
const nativeSide: Side = {
  send: (bytes) => transport.send(1, bytes),
  congested: () => false,
  onBatch: () => {},
  backedUp: () => new Promise((r) => setTimeout(r, 1)),
};
const transport = await Transport.open({
  self: 0,
  signer: new Signer(pairs[0]!),
  validators,
  onMessages: (batch) => nativeSide.onBatch(batch),
  onLog: () => {},
});
const child = spawn(process.execPath, [fileURLToPath(new URL('./transport-peer.js', import.meta.url)), String(port0), String(port1), String(netPort), String(fabricPort0), String(fabricPort1)], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
/** True once the benchmark itself ends the peer. */
let closing = false;
function fail(error: Error): void {
  if (peerGone !== null) return;
  peerGone = error;
  onPeerGone(error);
}
const peerExit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
  child.once('exit', (code, signal) => {
    if (!closing) fail(new Error(`the peer process exited during the benchmark (${signal ?? `code ${code}`})`));
    resolve({ code, signal });
  }),
);
child.once('error', (error) => fail(new Error(`the peer process: ${error.message}`)));

async function waitForCredit(t: Transport, what: string): Promise<void> {
  const deadline = performance.now() + STEP_MS_MAX;
  while (t.counters().sendCredit[1] === 0) {
    alive(what, deadline);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let fabric: Transport | null = null;
const fabricSide: Side = {
  send: (bytes) => fabric!.send(1, bytes),
  congested: () => false,
  onBatch: () => {},
  backedUp: () => new Promise((r) => setTimeout(r, 1)),
};
const socket = new net.Socket();
socket.on('error', (error) => fail(new Error(`the node:net connection to the peer: ${error.message}`)));
const netSide: Side = {
  send: (bytes) => {
    peer.send(bytes);
    return true;
  },
  congested: () => socket.writableLength >= 8 * 1024 * 1024,
  onBatch: () => {},
  backedUp: () => new Promise((r) => socket.once('drain', () => r())),
};
const peer = new NetPeer(socket, new Uint8Array(32).fill(0xa), new Uint8Array(32).fill(0xb), 1, (batch) => netSide.onBatch(batch));

async function start(): Promise<void> {
  await step('the peer process starting', new Promise<void>((resolve) => child.stdout.once('data', () => resolve())));
  await waitForCredit(transport, 'the native tcp connection to the peer');
  if (withFabric) {
    fabric = await Transport.open({
      backend: 'fabric',
      self: 0,
      signer: new Signer(pairs[0]!),
      validators: pairs.map((p, i) => ({ publicKey: p.publicKey, address: `127.0.0.1:${i === 0 ? fabricPort0 : fabricPort1}` })),
      onMessages: (batch) => fabricSide.onBatch(batch),
      onLog: () => {},
    });
    await waitForCredit(fabric, 'the fabric connection to the peer');
  }
  await step('the node:net connection to the peer', new Promise<void>((r) => socket.connect(netPort, '127.0.0.1', () => r())));
}

async function measure(): Promise<Record<string, unknown>> {
  const result: Record<string, unknown> = { bench: 'transport', runs };
  for (const size of sizes) {
    const rates = { net: [] as number[], tcp: [] as number[], fabric: [] as number[], ratio: [] as number[] };
    const rtt = { net50: [] as number[], net99: [] as number[], tcp50: [] as number[], tcp99: [] as number[], fabric50: [] as number[], fabric99: [] as number[] };
    // One untimed round of each side first, a tenth of the work: compiled code, warm
    // buffers and an open congestion window for both, as a long-running validator has.
    for (const which of withFabric ? (['net', 'tcp', 'fabric'] as const) : (['net', 'tcp'] as const)) {
      const side = which === 'net' ? netSide : which === 'tcp' ? nativeSide : fabricSide;
      await throughput(side, size.bytes, Math.max(10, Math.round(size.count / 10)));
      await roundTrips(side, size.bytes, Math.max(10, Math.round(size.pings / 10)));
    }
    for (let run = 0; run < runs; run++) {
      const pair = run % 2 === 0 ? (['net', 'tcp'] as const) : (['tcp', 'net'] as const);
      const order: ('net' | 'tcp' | 'fabric')[] = withFabric ? [...pair, 'fabric'] : [...pair];
      const got: Record<string, number> = {};
      for (const which of order) {
        const side = which === 'net' ? netSide : which === 'tcp' ? nativeSide : fabricSide;
        got[which] = await throughput(side, size.bytes, size.count);
        const r = await roundTrips(side, size.bytes, size.pings);
        rtt[`${which}50`].push(r.p50);
        rtt[`${which}99`].push(r.p99);
      }
      rates.net.push(got.net as number);
      rates.tcp.push(got.tcp as number);
      rates.ratio.push((got.tcp as number) / (got.net as number));
      if (withFabric) rates.fabric.push(got.fabric as number);
    }
    const k = size.name;
    result[`net_msgs_per_s_${k}`] = round(median(rates.net));
    result[`tcp_msgs_per_s_${k}`] = round(median(rates.tcp));
    result[`tcp_vs_net_ratio_${k}`] = round(median(rates.ratio), 2);
    result[`net_rtt_p50_us_${k}`] = round(median(rtt.net50));
    result[`net_rtt_p99_us_${k}`] = round(median(rtt.net99));
    result[`tcp_rtt_p50_us_${k}`] = round(median(rtt.tcp50));
    result[`tcp_rtt_p99_us_${k}`] = round(median(rtt.tcp99));
    // Present with the addon's fabric backend or not: null without it.
    result[`fabric_msgs_per_s_${k}`] = withFabric ? round(median(rates.fabric)) : null;
    result[`fabric_rtt_p50_us_${k}`] = withFabric ? round(median(rtt.fabric50)) : null;
    result[`fabric_rtt_p99_us_${k}`] = withFabric ? round(median(rtt.fabric99)) : null;
    note(
      `${k}: net ${round(median(rates.net))}/s, native tcp ${round(median(rates.tcp))}/s (x${round(median(rates.ratio), 2)}); rtt p50 net ${round(median(rtt.net50))} us, tcp ${round(median(rtt.tcp50))} us`,
    );
  }
  result.native_tcp_vs_net_ratio = Math.min(result.tcp_vs_net_ratio_64B as number, result['tcp_vs_net_ratio_1KiB'] as number);
  // The issue's headline fabric figure: 1 KiB messages (libfabric tcp provider here).
  result.fabric_msgs_per_s = withFabric ? result['fabric_msgs_per_s_1KiB'] : null;
  result.fabric_provider = withFabric ? 'tcp' : null;
  result.target_ratio_met = (result.native_tcp_vs_net_ratio as number) >= 2;
  result.target_rtt_met = ['64B', '1KiB'].every((k) => (result[`tcp_rtt_p50_us_${k}`] as number) <= (result[`net_rtt_p50_us_${k}`] as number));
  return result;
}

let result: Record<string, unknown> | null = null;
try {
  await start();
  result = await measure();
} catch (error) {
  process.stderr.write(`bench:transport failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
socket.destroy();
await transport.close();
// `fabric` is set inside start(), which TypeScript's narrowing of this module-level let does not see.
await (fabric as Transport | null)?.close();
// The peer exits when its stdin ends; it must do so cleanly for the result to count.
closing = true;
child.stdin.on('error', () => {}); // a peer already gone has closed its end
child.stdin.end();
const stopped = await Promise.race([peerExit, new Promise<null>((r) => setTimeout(r, 10_000, null))]);
if (stopped === null) {
  note('the peer process did not exit within 10 s of the end; killing it');
  child.kill('SIGKILL');
}
if (result !== null && (stopped === null || stopped.code !== 0)) {
  process.stderr.write(`bench:transport failed: the peer process did not exit cleanly at the end (${stopped === null ? 'killed' : (stopped.signal ?? `code ${stopped.code}`)})\n`);
  process.exitCode = 1;
} else if (result !== null) process.stdout.write(`${JSON.stringify(result)}\n`);
