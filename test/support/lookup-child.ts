/**
 * Child process for test/native/transport-lookup.test.ts, run in a mount namespace of its own
 * whose /etc/resolv.conf names the test's name server. STELE_LOOKUP_TEST holds JSON:
 * { mode, seeds, addresses, backend }.
 *
 * mode 'main': opens a transport as validator 0 of the set, sends one message to validator 2,
 * waits (at most 10 s) until validator 2 is up and a failed lookup of validator 3 is logged,
 * closes the transport, and prints one JSON line: how long each step took, the transport's
 * counters and its log.
 *
 * mode 'worker': only a worker thread loads the addon. It opens a transport whose peer 1 has
 * a name the server answers late, and is terminated while that lookup runs; Node then unloads
 * the addon with the worker's environment, unless the addon is kept loaded for good. This
 * process waits past the answer and prints one JSON line; if the lookup's thread ran into
 * unloaded code, it dies of SIGSEGV before that.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { keyPairFromSeed, Signer } from '../../ledger/ed25519.js';
import { Transport, type TransportLogEvent } from '../../native/transport.js';

interface Setup {
  mode: 'main' | 'worker';
  seeds: number[];
  addresses: string[];
  backend: 'tcp' | 'fabric';
  /** mode 'worker': how long to wait after the worker is gone. */
  waitMs?: number;
}

async function open(setup: Setup, log: TransportLogEvent[]): Promise<Transport> {
  const pairs = setup.seeds.map((s) => keyPairFromSeed(new Uint8Array(32).fill(s)));
  return Transport.open({
    backend: setup.backend,
    self: 0,
    signer: new Signer(pairs[0]!),
    validators: pairs.map((p, i) => ({ publicKey: p.publicKey, address: setup.addresses[i]! })),
    onMessages: () => {},
    onLog: (e) => log.push(e),
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

if (!isMainThread) {
  const transport = await open(workerData as Setup, []);
  await sleep(200); // the lookup of peer 1 has started
  parentPort?.postMessage({ lookups: transport.counters().lookups });
  // Left open: the parent terminates this worker.
} else {
  const setup = JSON.parse(process.env['STELE_LOOKUP_TEST'] ?? '') as Setup;
  if (setup.mode === 'worker') {
    const worker = new Worker(new URL(import.meta.url), { workerData: setup });
    const report = await new Promise<{ lookups: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    const code = await worker.terminate();
    await sleep(setup.waitMs ?? 0);
    process.stdout.write(`${JSON.stringify({ lookups: report.lookups, terminated: code })}\n`);
  } else {
    const log: TransportLogEvent[] = [];
    const started = performance.now();
    const transport = await open(setup, log);
    transport.send(2, Uint8Array.of(7, 7, 7));
    let upMs: number | null = null;
    let unresolvedMs: number | null = null;
    while (performance.now() - started < 10_000 && (upMs === null || unresolvedMs === null)) {
      await sleep(5);
      if (upMs === null && transport.peerUp(2)) upMs = performance.now() - started;
      if (unresolvedMs === null && log.some((e) => e.kind === 'unresolved' && e.peer === 3)) unresolvedMs = performance.now() - started;
    }
    // Give the message to validator 2 a moment to leave before closing.
    await sleep(200);
    const counters = transport.counters();
    const closing = performance.now();
    await transport.close();
    const closeMs = performance.now() - closing;
    process.stdout.write(`${JSON.stringify({ upMs, unresolvedMs, closeMs, counters, log })}\n`);
  }
}
