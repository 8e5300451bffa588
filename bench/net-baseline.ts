/**
 * The node:net baseline of bench:transport, written to be fast in JavaScript: the same
 * frames as the native transport (length, type, sequence, AES-256-GMAC tag; messages
 * length-prefixed inside), small messages sent in the same turn of the event loop batched
 * into one frame, TCP back-pressure through write()/'drain' instead of credit frames, and
 * frames parsed without copying the receive buffer more than once, and batches delivered
 * in the same shape as the native transport's ({ from, bytes } per message). The
 * handshake is left out (fixed keys): it is not on the measured path.
 */
import type net from 'node:net';
import { encodeFrame, encodeMessages, FRAME_HEADER_BYTES, FRAME_TAG_BYTES, frameTag, TYPE_DATA } from '../native/wire.js';

const FRAME_BODY_TARGET = 1 << 20;

export class NetPeer {
  private queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private scheduled = false;
  private sendSeq = 0n;
  private recvSeq = 0n;
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(
    readonly socket: net.Socket,
    private readonly sendKey: Uint8Array,
    private readonly recvKey: Uint8Array,
    private readonly from: number,
    private readonly onMessages: (batch: { from: number; bytes: Uint8Array }[]) => void,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
  }

  /** Queues a message; false when the socket is backed up (wait for 'drain'). */
  send(bytes: Uint8Array): boolean {
    this.queue.push(bytes);
    this.queuedBytes += bytes.length + 4;
    if (this.queuedBytes >= FRAME_BODY_TARGET) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return this.socket.writableLength < 8 * 1024 * 1024;
  }

  private flush(): void {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const frame = encodeFrame(TYPE_DATA, this.sendSeq++, encodeMessages(this.queue), this.sendKey);
    this.queue = [];
    this.queuedBytes = 0;
    this.socket.write(frame);
  }

  private receive(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.buffered < FRAME_HEADER_BYTES) return;
      if ((this.chunks[0] as Buffer).length < FRAME_HEADER_BYTES) this.coalesce();
      const head = this.chunks[0] as Buffer;
      const length = head.readUInt32LE(0);
      const total = FRAME_HEADER_BYTES + length + FRAME_TAG_BYTES;
      if (this.buffered < total) return;
      if (head.length < total) this.coalesce();
      const first = this.chunks[0] as Buffer;
      const frame = first.subarray(0, total);
      if (first.length === total) this.chunks.shift();
      else this.chunks[0] = first.subarray(total);
      this.buffered -= total;
      this.deliver(frame, length);
    }
  }

  private coalesce(): void {
    this.chunks = [Buffer.concat(this.chunks)];
  }

  private deliver(frame: Buffer, length: number): void {
    const end = FRAME_HEADER_BYTES + length;
    if (!frameTag(this.recvKey, frame.subarray(0, end)).equals(frame.subarray(end))) throw new Error('baseline: tag mismatch');
    if (frame.readBigUInt64LE(8) !== this.recvSeq++) throw new Error('baseline: sequence');
    const batch: { from: number; bytes: Uint8Array }[] = [];
    for (let at = FRAME_HEADER_BYTES; at < end; ) {
      const m = frame.readUInt32LE(at);
      batch.push({ from: this.from, bytes: frame.subarray(at + 4, at + 4 + m) });
      at += 4 + m;
    }
    this.onMessages(batch);
  }
}
