/**
 * Worker body for the environment-teardown test: opens a mapped log (with a persist in
 * flight) and a transport, then reports and is terminated without closing either, so the
 * addon's environment cleanup hooks must join their threads and release their handles.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { keyPairFromSeed, Signer } from '../../ledger/ed25519.js';
import { MappedLog } from '../../native/mapped-log.js';
import { Transport } from '../../native/transport.js';

const { dir, backend } = workerData as { dir: string; backend: 'tcp' | 'fabric' };
const log = MappedLog.open(dir, { segmentBytes: 1 << 20 });
for (let i = 0; i < 100; i++) log.append(new Uint8Array(1000).fill(i));
void log.persist();
const pair = keyPairFromSeed(new Uint8Array(32).fill(1));
const other = keyPairFromSeed(new Uint8Array(32).fill(2));
const transport = await Transport.open({
  backend,
  self: 0,
  signer: new Signer(pair),
  validators: [
    { publicKey: pair.publicKey, address: '127.0.0.1:0' },
    { publicKey: other.publicKey, address: '127.0.0.1:9' }, // nobody there: reconnects keep failing
  ],
  onMessages: () => {},
  onLog: () => {},
});
transport.send(1, Uint8Array.of(1, 2, 3));
parentPort?.postMessage({ records: log.length, port: transport.port });
