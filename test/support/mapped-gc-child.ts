/**
 * Child for the mapped log's finalizer test (run with --expose-gc, and with glibc's tcache
 * off and MALLOC_PERTURB_ set, so freed memory is overwritten and a use after free
 * crashes instead of reading stale bytes). Each round opens a native log, appends 8 MiB,
 * asks for a persist, drops the log and collects it: its finalizer runs while the persist
 * thread is still in the msync, and the notification the thread then queues must not run
 * on the freed object. Prints "OK <rounds> <collected>" when it survives. argv: dir, rounds.
 */
import { join } from 'node:path';
import { addon } from '../../native/addon.js';

const dir = process.argv[2] as string;
const rounds = Number(process.argv[3]);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');
const { MappedLog } = addon();
let collected = 0;
const registry = new FinalizationRegistry<number>(() => collected++);
for (let round = 0; round < rounds; round++) {
  (() => {
    // The raw native object: the wrapper's async persist() would keep it alive until the
    // persist settles. Nothing else refers to it once this function returns.
    const log = new MappedLog(join(dir, `log-${round}`), 16 << 20, 1 << 20, false, 0);
    registry.register(log, round);
    const record = new Uint8Array(1 << 20).fill(round);
    for (let i = 0; i < 8; i++) log.append(record);
    void log.persist(0);
  })();
  gc();
  await new Promise((resolve) => setTimeout(resolve, 50));
}
gc();
await new Promise((resolve) => setTimeout(resolve, 50));
process.stdout.write(`OK ${rounds} ${collected}\n`);
