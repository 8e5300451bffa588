/**
 * The far end of bench:transport (validator 1), in its own process: serves the native
 * transport and the node:net baseline. Message kinds (first byte): 1 data (counted),
 * 2 ping (echoed), 3 last data (answered with an ack carrying the count).
 * argv: port0 port1 netPort fabricPort0 fabricPort1 (the fabric pair only when built in).
 */
import net from 'node:net';
import { keyPairFromSeed, Signer } from '../ledger/ed25519.js';
import { addon } from '../native/addon.js';
import { Transport } from '../native/transport.js';
import { NetPeer } from './net-baseline.js';

const [port0, port1, netPort, fabricPort0, fabricPort1] = process.argv.slice(2).map(Number) as [number, number, number, number, number];
const pairs = [keyPairFromSeed(new Uint8Array(32).fill(1)), keyPairFromSeed(new Uint8Array(32).fill(2))];
const validators = pairs.map((p, i) => ({ publicKey: p.publicKey, address: `127.0.0.1:${i === 0 ? port0 : port1}` }));

function responder(reply: (bytes: Uint8Array) => void): (batch: readonly { bytes: Uint8Array }[]) => void {
  let count = 0;
  return (batch) => {
    for (const { bytes: m } of batch) {
      const kind = m[0];
      if (kind === 2) reply(m);
      else {
        count++;
        if (kind === 3) {
          const ack = new Uint8Array(9);
          ack[0] = 4;
          new DataView(ack.buffer).setFloat64(1, count);
          reply(ack);
          count = 0;
        }
      }
    }
  };
}

let transport: Transport;
const nativeRespond = responder((bytes) => {
  while (!transport.send(0, bytes)) throw new Error('peer send queue full');
});
transport = await Transport.open({
  self: 1,
  signer: new Signer(pairs[1]!),
  validators,
  onMessages: nativeRespond,
  onLog: () => {},
});

let fabric: Transport | null = null;
if (addon().fabric) {
  const fabricValidators = pairs.map((p, i) => ({ publicKey: p.publicKey, address: `127.0.0.1:${i === 0 ? fabricPort0 : fabricPort1}` }));
  const fabricRespond = responder((bytes) => {
    if (!fabric!.send(0, bytes)) throw new Error('peer send queue full');
  });
  fabric = await Transport.open({
    backend: 'fabric',
    self: 1,
    signer: new Signer(pairs[1]!),
    validators: fabricValidators,
    onMessages: fabricRespond,
    onLog: () => {},
  });
}

const server = net.createServer((socket) => {
  // eslint-disable-next-line prefer-const
  let peer: NetPeer;
  const respond = responder((bytes) => peer.send(bytes));
  peer = new NetPeer(socket, new Uint8Array(32).fill(0xb), new Uint8Array(32).fill(0xa), 0, respond);
  socket.on('error', () => {});
});
server.listen(netPort, '127.0.0.1', () => process.stdout.write('READY\n'));
process.stdin.on('end', () => {
  server.close();
  void Promise.all([transport.close(), fabric?.close()]).then(() => process.exit(0));
});
process.stdin.resume();
