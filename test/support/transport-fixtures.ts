/** Helpers for transport tests: validator keys, free ports, clusters and a raw TCP dialer. */
import net from 'node:net';
import { keyPairFromSeed, Signer, type KeyPair } from '../../ledger/ed25519.js';
import { Transport, type TransportLogEvent, type TransportMessage, type TransportOptions } from '../../native/transport.js';
import { DialerHandshake, encodeFrame, encodeMessages, FRAME_HEADER_BYTES, FRAME_TAG_BYTES, networkTag, TYPE_DATA, TYPE_HANDSHAKE } from '../../native/wire.js';

export function keys(n: number, base = 1): KeyPair[] {
  return Array.from({ length: n }, (_, i) => keyPairFromSeed(new Uint8Array(32).fill(base + i)));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface Node {
  transport: Transport;
  received: TransportMessage[];
  /** Size of each batch delivered, in order. */
  batches: number[];
  log: TransportLogEvent[];
}

export interface Cluster {
  validators: { publicKey: Uint8Array; address: string }[];
  pairs: KeyPair[];
  nodes: Node[];
  start(i: number, extra?: Partial<TransportOptions>): Promise<Node>;
  close(): Promise<void>;
}

export async function cluster(n: number, extra: Partial<TransportOptions> = {}): Promise<Cluster> {
  const pairs = keys(n);
  const validators: { publicKey: Uint8Array; address: string }[] = [];
  for (const p of pairs) validators.push({ publicKey: p.publicKey, address: `127.0.0.1:${await freePort()}` });
  const c: Cluster = {
    validators,
    pairs,
    nodes: [],
    async start(i, more = {}) {
      const node: Node = { transport: undefined as unknown as Transport, received: [], batches: [], log: [] };
      node.transport = await Transport.open({
        self: i,
        signer: new Signer(pairs[i] as KeyPair),
        validators,
        onMessages: (batch) => {
          // Copy: the test keeps messages after the handler returns.
          node.batches.push(batch.length);
          for (const m of batch) node.received.push({ from: m.from, bytes: Uint8Array.from(m.bytes) });
        },
        onLog: (e) => node.log.push(e),
        ...extra,
        ...more,
      });
      c.nodes[i] = node;
      return node;
    },
    async close() {
      await Promise.all(c.nodes.map((node) => node?.transport.close()));
    },
  };
  for (let i = 0; i < n; i++) await c.start(i);
  return c;
}

export async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A dialer written with node:net, to play legitimate, forged and replayed sessions. */
export class RawDialer {
  private buffered = Buffer.alloc(0);
  private waiting: (() => void) | null = null;
  closed = false;
  readonly socket: net.Socket;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.waiting?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
    socket.on('error', () => {});
  }

  static async connect(address: string): Promise<RawDialer> {
    const [host, port] = address.split(':') as [string, string];
    const socket = net.connect(Number(port), host);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawDialer(socket);
  }

  /** The next frame's body (handshake frames: untagged), or null when the connection closed. */
  async nextFrame(tagged: boolean): Promise<Buffer | null> {
    for (;;) {
      if (this.buffered.length >= FRAME_HEADER_BYTES) {
        const length = this.buffered.readUInt32LE(0);
        const total = FRAME_HEADER_BYTES + length + (tagged ? FRAME_TAG_BYTES : 0);
        if (this.buffered.length >= total) {
          const frame = this.buffered.subarray(0, total);
          this.buffered = this.buffered.subarray(total);
          return frame;
        }
      }
      if (this.closed) return null;
      await new Promise<void>((r) => (this.waiting = r));
      this.waiting = null;
    }
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    const start = Date.now();
    while (!this.closed && Date.now() - start < timeoutMs) await new Promise((r) => setTimeout(r, 5));
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Runs the dialer's handshake; returns the HELLO and PROOF sent and the session keys. */
export async function dialHandshake(
  raw: RawDialer,
  signer: Signer,
  from: number,
  to: number,
  c: Cluster,
): Promise<{ hello: Uint8Array; proof: Uint8Array; sendKey: Uint8Array; recvKey: Uint8Array } | string> {
  const hs = new DialerHandshake(signer, from, to, networkTag(c.validators.map((v) => v.publicKey)), (c.validators[to] as { publicKey: Uint8Array }).publicKey);
  raw.write(encodeFrame(TYPE_HANDSHAKE, 0n, hs.hello, null));
  const challenge = await raw.nextFrame(false);
  if (challenge === null) return 'closed';
  const answer = hs.answer(challenge.subarray(FRAME_HEADER_BYTES));
  if (typeof answer === 'string') return answer;
  raw.write(encodeFrame(TYPE_HANDSHAKE, 0n, answer.proof, null));
  return { hello: hs.hello, proof: answer.proof, sendKey: answer.keys.subarray(0, 32), recvKey: answer.keys.subarray(32) };
}

export function dataFrame(seq: bigint, messages: Uint8Array[], key: Uint8Array): Buffer {
  return encodeFrame(TYPE_DATA, seq, encodeMessages(messages), key);
}
