/**
 * The round trip of one small message between this process and a child Node process over
 * loopback TCP, one in flight: a lower bound of what a client's hop to a server costs on
 * this machine (no gRPC, HTTP or protobuf; the two event loops and the kernel's loopback).
 * bench:consensus reports it because its Stele side generates load inside the leader and
 * pays no such hop, while etcd's side goes through a client in another process.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';

/** The echo server, as a CommonJS `node -e` script: prints its port, echoes every byte, exits when stdin ends. */
const ECHO_SCRIPT = [
  "const net = require('node:net');",
  "const server = net.createServer((c) => { c.setNoDelay(true); c.on('error', () => {}); c.pipe(c); });",
  "server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));",
  "process.stdin.on('end', () => process.exit(0));",
  'process.stdin.resume();',
].join('\n');

/** The whole measurement must end within this (it takes well under a second). */
const LOOPBACK_MS_MAX = 30_000;

/**
 * `pings` round trips of `bytes` bytes after `warmup` unmeasured ones; resolves with the
 * median in milliseconds. Rejects if the echo process exits early, an echo differs from
 * what was sent, or it all takes over 30 s.
 */
export async function loopbackRoundTripP50Ms(bytes: number, pings: number, warmup: number): Promise<number> {
  const child = spawn(process.execPath, ['-e', ECHO_SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] });
  let done = false;
  let socket: net.Socket | null = null;
  let timer: NodeJS.Timeout | undefined;
  try {
    const failed = new Promise<never>((_, reject) => {
      child.once('exit', (code, signal) => {
        if (!done) reject(new Error(`the loopback echo process exited early (${signal ?? `code ${code}`})`));
      });
      child.once('error', reject);
      timer = setTimeout(() => reject(new Error(`the loopback round trips took over ${LOOPBACK_MS_MAX / 1000} s`)), LOOPBACK_MS_MAX);
    });
    failed.catch(() => {});
    const port = await Promise.race([
      new Promise<number>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())))),
      failed,
    ]);
    const s = net.connect(port, '127.0.0.1');
    socket = s;
    s.setNoDelay(true);
    s.on('error', () => {}); // an early exit is reported by `failed`
    await Promise.race([new Promise<void>((resolve) => s.once('connect', () => resolve())), failed]);
    const message = new Uint8Array(bytes);
    const times: number[] = [];
    for (let i = 0; i < warmup + pings; i++) {
      message.fill(i & 0xff);
      const start = performance.now();
      const echoed = await Promise.race([
        new Promise<Buffer>((resolve) => {
          const chunks: Buffer[] = [];
          let got = 0;
          const on = (chunk: Buffer): void => {
            chunks.push(chunk);
            got += chunk.length;
            if (got < bytes) return;
            s.off('data', on);
            resolve(Buffer.concat(chunks));
          };
          s.on('data', on);
          s.write(message);
        }),
        failed,
      ]);
      const ms = performance.now() - start;
      if (!echoed.equals(message)) throw new Error('the loopback echo differs from what was sent');
      if (i >= warmup) times.push(ms);
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)] as number;
  } finally {
    done = true;
    clearTimeout(timer);
    socket?.destroy();
    child.stdin.end();
  }
}
