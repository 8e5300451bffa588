/**
 * Worker body for the transport test "connections that send a HELLO and close at once queue
 * bounded work": opens `count` connections to `address` one after another, each sending the
 * given HELLO frame and closing, waits for each to be closed, then sets the shared flag the
 * main thread (blocked meanwhile, as a busy validator's is) waits on.
 */
import net from 'node:net';
import { workerData } from 'node:worker_threads';

const { address, frame, count, flag } = workerData as { address: string; frame: Uint8Array; count: number; flag: SharedArrayBuffer };
const [host, port] = address.split(':') as [string, string];
const done = new Int32Array(flag);
try {
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve) => {
      const socket = net.connect(Number(port), host);
      socket.on('connect', () => socket.end(frame));
      socket.on('error', () => {}); // a connection refused at accept may be reset
      socket.on('close', () => resolve());
    });
  }
} finally {
  Atomics.store(done, 0, 1);
  Atomics.notify(done, 0);
}
