/** An in-process network between validators for node tests: delivery on the next turn, and validators marked down. */
import type { PeerMessage, Transport } from '../../consensus/driver.js';

export class MemoryNet {
  readonly handlers: Array<((batch: readonly PeerMessage[]) => void) | null>;
  readonly down = new Set<number>();
  /** Drops a message when it returns true (tests of lost messages): `send` still says it was queued. */
  drop: ((from: number, to: number, bytes: Uint8Array) => boolean) | null = null;
  /**
   * Refuses a message when it returns true, as the native transport does when the send
   * queue to that peer is full: `send` returns false and nothing is delivered.
   */
  refuse: ((from: number, to: number, bytes: Uint8Array) => boolean) | null = null;
  /**
   * `peerUp(to)` of validator `from` is false when it returns true (and for validators
   * marked down), as with the native transport while no connection is open. It drops
   * nothing by itself: `drop` does.
   */
  unreachable: ((from: number, to: number) => boolean) | null = null;
  /** Per `from>to` link: how often it was replaced (`relink`), as the native transport's linkEpoch counts. */
  private readonly epochs = new Map<string, number>();
  /** The link from `from` to `to` closed and opened again: what was on its way may be lost (`drop` loses it). */
  relink(from: number, to: number): void {
    this.epochs.set(`${from}>${to}`, (this.epochs.get(`${from}>${to}`) ?? 0) + 1);
  }
  constructor(validators: number) {
    this.handlers = new Array(validators).fill(null);
  }
  transport(i: number): Transport {
    return {
      send: (to, bytes) => {
        if (this.refuse?.(i, to, bytes) === true) return false;
        if (this.drop?.(i, to, bytes) === true) return true;
        setImmediate(() => !this.down.has(i) && !this.down.has(to) && this.handlers[to]?.([{ from: i, bytes }]));
        return true;
      },
      linkEpoch: (to) => this.epochs.get(`${i}>${to}`) ?? 0,
      peerUp: (to) => !this.down.has(i) && !this.down.has(to) && this.unreachable?.(i, to) !== true,
      receive: (handler) => {
        this.handlers[i] = handler;
      },
    };
  }
}
