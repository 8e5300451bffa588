/**
 * Child process for test/native/transport-lookup.test.ts, run in a mount namespace of its own
 * whose /etc/resolv.conf names the test's name server. It opens a transport as validator 0
 * of the set in STELE_LOOKUP_TEST (JSON: { seeds, addresses, backend }), sends one message to
 * validator 2, waits (at most 10 s) until validator 2 is up and a failed lookup of validator 3
 * is logged, closes the transport, and prints one JSON line: how long each step took, the
 * transport's counters and its log.
 */
import { keyPairFromSeed, Signer } from '../../ledger/ed25519.js';
import { Transport, type TransportLogEvent } from '../../native/transport.js';

const { seeds, addresses, backend } = JSON.parse(process.env['STELE_LOOKUP_TEST'] ?? '') as {
  seeds: number[];
  addresses: string[];
  backend: 'tcp' | 'fabric';
};
const pairs = seeds.map((s) => keyPairFromSeed(new Uint8Array(32).fill(s)));
const log: TransportLogEvent[] = [];
const started = performance.now();
const transport = await Transport.open({
  backend,
  self: 0,
  signer: new Signer(pairs[0]!),
  validators: pairs.map((p, i) => ({ publicKey: p.publicKey, address: addresses[i]! })),
  onMessages: () => {},
  onLog: (e) => log.push(e),
});
transport.send(2, Uint8Array.of(7, 7, 7));
let upMs: number | null = null;
let unresolvedMs: number | null = null;
while (performance.now() - started < 10_000 && (upMs === null || unresolvedMs === null)) {
  await new Promise((r) => setTimeout(r, 5));
  if (upMs === null && transport.peerUp(2)) upMs = performance.now() - started;
  if (unresolvedMs === null && log.some((e) => e.kind === 'unresolved' && e.peer === 3)) unresolvedMs = performance.now() - started;
}
// Give the message to validator 2 a moment to leave before closing.
await new Promise((r) => setTimeout(r, 200));
const counters = transport.counters();
const closing = performance.now();
await transport.close();
const closeMs = performance.now() - closing;
process.stdout.write(`${JSON.stringify({ upMs, unresolvedMs, closeMs, counters, log })}\n`);
