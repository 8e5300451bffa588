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
      peerUp: (to) => !this.down.has(i) && !this.down.has(to) && this.unreachable?.(i, to) !== true,
      receive: (handler) => {
        this.handlers[i] = handler;
      },
    };
  }
}
