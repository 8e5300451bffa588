/** An in-process network between validators for node tests: delivery on the next turn, and validators marked down. */
import type { PeerMessage, Transport } from '../../consensus/driver.js';

export class MemoryNet {
  readonly handlers: Array<((batch: readonly PeerMessage[]) => void) | null>;
  readonly down = new Set<number>();
  /** Drops a message when it returns true (tests of lost messages). */
  drop: ((from: number, to: number, bytes: Uint8Array) => boolean) | null = null;
  constructor(validators: number) {
    this.handlers = new Array(validators).fill(null);
  }
  transport(i: number): Transport {
    return {
      send: (to, bytes) => {
        if (this.drop?.(i, to, bytes) === true) return;
        setImmediate(() => !this.down.has(i) && !this.down.has(to) && this.handlers[to]?.([{ from: i, bytes }]));
      },
      receive: (handler) => {
        this.handlers[i] = handler;
      },
    };
  }
}
