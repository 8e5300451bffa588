/** An in-process network between validators for node tests: delivery on the next turn, and validators marked down. */
import type { PeerMessage, Transport } from '../../consensus/driver.js';

export class MemoryNet {
  readonly handlers: Array<((batch: readonly PeerMessage[]) => void) | null>;
  readonly down = new Set<number>();
  constructor(validators: number) {
    this.handlers = new Array(validators).fill(null);
  }
  transport(i: number): Transport {
    return {
      send: (to, bytes) => setImmediate(() => !this.down.has(i) && !this.down.has(to) && this.handlers[to]?.([{ from: i, bytes }])),
      receive: (handler) => {
        this.handlers[i] = handler;
      },
    };
  }
}
