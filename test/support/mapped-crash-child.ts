/**
 * Crash-test child for the mapped log: appends records whose content is a function of
 * their index, persists every batch of random size, and prints "ACK <length>" after each
 * persist resolves (those records are durable then), until killed. argv: dir, segmentBytes,
 * and optionally inlinePersistBytesMax (small persists then msync on this thread).
 */
import { MappedLog } from '../../native/mapped-log.js';
import { expectedRecord } from './mapped-records.js';

const dir = process.argv[2] as string;
const log = MappedLog.open(dir, { segmentBytes: Number(process.argv[3]), inlinePersistBytesMax: Number(process.argv[4] ?? 0) });
process.stdout.write(`OPEN ${log.length}\n`);
for (;;) {
  const batch = 1 + Math.floor(Math.random() * 40);
  for (let i = 0; i < batch; i++) log.append(expectedRecord(log.length));
  await log.persist();
  process.stdout.write(`ACK ${log.length}\n`);
}
