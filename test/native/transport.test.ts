import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import assert from 'node:assert/strict';
import { Signer } from '../../ledger/ed25519.js';
import { isSteleError } from '../../ledger/errors.js';
import { rdmaDevicePresent, Transport } from '../../native/transport.js';
import { DialerHandshake, encodeFrame, FRAME_HEADER_BYTES, networkTag, TYPE_HANDSHAKE } from '../../native/wire.js';
import { addon } from '../../native/addon.js';
import { cluster, dataFrame, dialHandshake, keys, RawDialer, until } from '../support/transport-fixtures.js';

/** Every transport test runs on each backend this build has (fabric: libfabric's tcp provider here). */
const BACKENDS: ('tcp' | 'fabric')[] = addon().fabric ? ['tcp', 'fabric'] : ['tcp'];

function text(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

for (const backend of BACKENDS) {
  test(`transport[${backend}]: three validators exchange messages, in order per sender, with counters`, async () => {
    const c = await cluster(3, { backend });
    try {
      for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) if (i !== j) for (let k = 0; k < 50; k++) assert.equal(c.nodes[i]!.transport.send(j, text(`${i}>${j}#${k}`)), true);
      await until('every message', () => c.nodes.every((n) => n.received.length === 100));
      for (let j = 0; j < 3; j++) {
        for (let i = 0; i < 3; i++) {
          if (i === j) continue;
          const from = c.nodes[j]!.received.filter((m) => m.from === i).map((m) => new TextDecoder().decode(m.bytes));
          assert.deepEqual(from, Array.from({ length: 50 }, (_, k) => `${i}>${j}#${k}`));
        }
      }
      const counters = c.nodes[0]!.transport.counters();
      assert.equal(counters.messagesSent, 100);
      assert.equal(counters.messagesDelivered, 100);
      assert.equal(counters.framesRejected, 0);
      assert.ok(counters.bytesSent > 0 && counters.bytesReceived > 0);
      assert.throws(() => c.nodes[0]!.transport.send(0, text('self')), (e: unknown) => isSteleError(e, 'TRANSPORT_UNKNOWN_PEER'));
      assert.throws(() => c.nodes[0]!.transport.send(3, text('nobody')), (e: unknown) => isSteleError(e, 'TRANSPORT_UNKNOWN_PEER'));
    } finally {
      await c.close();
    }
  });

  test(`transport[${backend}]: small sends written by the main thread and queued sends keep one order, whole`, async () => {
    const c = await cluster(2, { backend });
    try {
      // directBytesMax 0: every frame goes through the I/O thread.
      const off = await cluster(2, { backend, directBytesMax: 0 });
      try {
        for (let k = 0; k < 20; k++) {
          off.nodes[0]!.transport.send(1, text(`m${k}`));
          await new Promise((r) => setImmediate(r));
        }
        await until('messages without direct sends', () => off.nodes[1]!.received.length === 20);
        assert.equal(off.nodes[0]!.transport.counters().directFrames, 0);
      } finally {
        await off.close();
      }
      const sender = c.nodes[0]!.transport;
      await until('credit', () => sender.counters().sendCredit[1]! > 0);
      // Sizes around the direct-write limit (64 KiB of packed body), one send per turn so
      // small ones go straight to the socket, large ones through the queue; many 60 KiB
      // sends in a row fill the socket, so some direct writes end part-way.
      const sizes: number[] = [];
      for (let k = 0; k < 200; k++) sizes.push(k % 10 === 3 ? 70_000 + k : k % 10 === 7 ? 200 : 60_000 + (k % 5));
      const sent: Uint8Array[] = [];
      for (let k = 0; k < sizes.length; k++) {
        const m = new Uint8Array(sizes[k]!);
        for (let i = 0; i < m.length; i += 997) m[i] = (k + i) & 0xff;
        m[0] = k & 0xff;
        sent.push(m);
        assert.equal(sender.send(1, m), true);
        if (k % 3 !== 2) await new Promise((r) => setImmediate(r));
      }
      await until('every message', () => c.nodes[1]!.received.length === sent.length, 20_000);
      c.nodes[1]!.received.forEach((m, k) => assert.deepEqual(m.bytes, sent[k], `message ${k}`));
      const counters = sender.counters();
      if (backend === 'tcp') assert.ok(counters.directFrames > 0, 'some frames were written by the main thread');
      else assert.equal(counters.directFrames, 0);
      assert.ok(counters.directFrames < counters.framesSent, 'and some went through the I/O thread');
      assert.equal(counters.messagesSent, sent.length);
    } finally {
      await c.close();
    }
  });

  test(`transport[${backend}]: 16 MiB messages and empty messages arrive intact; larger ones are refused`, async () => {
    const c = await cluster(2, { backend });
    try {
      const big = new Uint8Array(16 * 1024 * 1024);
      for (let i = 0; i < big.length; i += 4093) big[i] = (i * 7) & 0xff;
      assert.equal(c.nodes[0]!.transport.send(1, big), true);
      assert.equal(c.nodes[0]!.transport.send(1, new Uint8Array(0)), true);
      await until('big message', () => c.nodes[1]!.received.length === 2, 30_000);
      assert.deepEqual(c.nodes[1]!.received[0]!.bytes, big);
      assert.equal(c.nodes[1]!.received[1]!.bytes.length, 0);
      // How often the receiver's per-turn read bound left input for the next turn (timing decides; shown, not asserted).
      console.log(`# ${backend}: receivesCut ${c.nodes[1]!.transport.counters().receivesCut}`);
      assert.throws(() => c.nodes[0]!.transport.send(1, new Uint8Array(16 * 1024 * 1024 + 1025)), (e: unknown) => isSteleError(e, 'TRANSPORT_TOO_LARGE'));
    } finally {
      await c.close();
    }
  });

  test(`transport[${backend}]: consumed credit goes back once a quarter window is consumed, as one CREDIT frame for a turn's batches`, async () => {
    // A window of 8 KiB: credit goes back once 2 KiB are consumed (bodies: 4 + 300 bytes).
    const c = await cluster(2, { backend, messageBytesMax: 4096, windowBytes: 8192 });
    const held: (() => void)[] = [];
    await c.nodes[1]!.transport.close();
    await c.start(1, { onMessages: () => new Promise<void>((resolve) => held.push(resolve)) });
    try {
      const sender = c.nodes[0]!.transport;
      const receiver = c.nodes[1]!.transport;
      const message = new Uint8Array(300);
      const sendBatches = async (n: number): Promise<void> => {
        // One batch per turn of the sender, each held by the receiver's handler.
        for (let k = 0; k < n; k++) {
          const before = held.length;
          assert.equal(sender.send(1, message), true);
          await until(`batch ${k + 1}`, () => held.length === before + 1);
        }
      };
      await sendBatches(5); // 1,520 bytes: below the quarter window
      await new Promise((r) => setTimeout(r, 50));
      let frames = receiver.counters().framesSent;
      const credit = sender.counters().sendCredit[1]!;
      held.splice(0).forEach((r) => r());
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(receiver.counters().framesSent - frames, 0, 'no CREDIT frame for less than a quarter window');
      assert.equal(sender.counters().sendCredit[1]!, credit);
      assert.equal(receiver.counters().batchesInFlight, 0);
      await sendBatches(6); // 3,344 bytes consumed in all
      await new Promise((r) => setTimeout(r, 50));
      frames = receiver.counters().framesSent;
      held.splice(0).forEach((r) => r()); // six batches released in one turn
      await until('credit back', () => sender.counters().sendCredit[1]! === 8192);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(receiver.counters().framesSent - frames, 1, 'one CREDIT frame for the six batches and the five before');
    } finally {
      held.splice(0).forEach((r) => r());
      await c.close();
    }
  });

  test(`transport[${backend}]: a queue of many frames drains without waiting for the I/O loop's timeout`, async () => {
    const c = await cluster(2, { backend });
    let delivered = 0;
    await c.nodes[1]!.transport.close();
    await c.start(1, {
      onMessages: (batch) => {
        delivered += batch.length;
      },
    });
    try {
      const sender = c.nodes[0]!.transport;
      await until('open', () => sender.counters().sendCredit[1]! > 0);
      const message = new Uint8Array(1024 * 1024);
      // Each frame after the sockets filled used to wait for the loop's 100 ms timeout
      // (about 15 of them here, in every attempt). The count is of wall time too: a loop
      // whose thread or receiver is starved on a loaded machine adds one per 100 ms
      // (review of 2026-12-02), so the drain runs up to three times and one good run passes.
      const counts: number[] = [];
      for (let attempt = 0; attempt < 3 && !(counts.length > 0 && counts[counts.length - 1]! <= 3); attempt++) {
        const before = sender.counters().loopTimeouts;
        delivered = 0;
        // 24 MiB: far more than one frame and the sockets' buffers, less than the window, so
        // no CREDIT frame comes back to wake the sender (a quarter window is 8 MiB).
        for (let k = 0; k < 24; k++) assert.equal(sender.send(1, message), true);
        // Counted until the queue is framed whole, not until the receiver has it all.
        await until('the queue framed', () => sender.counters().sendQueueBytes[1] === 0, 20_000);
        counts.push(sender.counters().loopTimeouts - before);
        await until('all delivered', () => delivered === 24, 20_000);
        // Credit comes back a quarter window at a time: enough for the next attempt's 24 MiB.
        await until('credit back', () => sender.counters().sendCredit[1]! >= 24 * (message.length + 4), 20_000);
      }
      assert.ok(counts[counts.length - 1]! <= 3, `timeouts of the sender's I/O loop while it framed its queue, per attempt: ${counts.join(', ')}`);
    } finally {
      await c.close();
    }
  });

  test(`transport[${backend}]: a slow receiver pushes back through credit; memory stays within the window`, async () => {
    const windowBytes = 64 * 1024;
    const c = await cluster(2, { backend, messageBytesMax: 4096, windowBytes, sendQueueBytesMax: 256 * 1024 });
    const held: (() => void)[] = [];
    let delivered = 0;
    await c.nodes[1]!.transport.close();
    await c.start(1, {
      onMessages: (batch) => {
        delivered += batch.length;
        return new Promise<void>((resolve) => held.push(resolve)); // credit returns only when released
      },
    });
    try {
      const sender = c.nodes[0]!.transport;
      const message = new Uint8Array(1000);
      let accepted = 0;
      let refused = 0;
      // Far more than window + queue: the queue fills and send() refuses.
      for (let k = 0; k < 1000; k++) (sender.send(1, message) ? accepted++ : refused++);
      assert.ok(refused > 0, 'send refuses once the queue is full');
      await until('window filled', () => delivered > 0 && sender.counters().sendCredit[1]! < 1004);
      await new Promise((r) => setTimeout(r, 100));
      // Without credit, the receiver got at most one window of messages.
      assert.ok(delivered * 1004 <= windowBytes, `delivered ${delivered} messages beyond the window`);
      assert.ok(sender.counters().sendQueueBytes[1]! > 0);
      // Release everything: the rest flows.
      const drain = setInterval(() => held.splice(0).forEach((r) => r()), 5);
      await until('all accepted messages', () => delivered === accepted, 20_000);
      clearInterval(drain);
      held.splice(0).forEach((r) => r());
      assert.equal(sender.counters().sendRefused, refused);
    } finally {
      await c.close();
    }
  });

  test(`transport[${backend}]: a restarted peer is reconnected with backoff and queued messages flow`, async () => {
    // Far beyond this test's outage, so the queue is kept (the next test drops it).
    const c = await cluster(2, { backend, unreachableDropMs: 60_000 });
    try {
      c.nodes[0]!.transport.send(1, text('before'));
      await until('first', () => c.nodes[1]!.received.length === 1);
      await c.nodes[1]!.transport.close();
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(c.nodes[0]!.transport.send(1, text('while down')), true);
      const restarted = await c.start(1);
      await until('reconnected', () => restarted.received.length >= 1, 10_000);
      assert.deepEqual(restarted.received.map((m) => new TextDecoder().decode(m.bytes)), ['while down']);
      assert.ok(c.nodes[0]!.transport.counters().connectFailures >= 1);
    } finally {
      await c.close();
    }
  });

  test(`transport[${backend}]: the queue of a peer unreachable for unreachableDropMs is dropped, and what is sent later too, until it is back`, async () => {
    // 1 s: the few steps between the drop and the first check take far less, even loaded.
    const c = await cluster(2, { backend, unreachableDropMs: 1000 });
    try {
      const sender = c.nodes[0]!.transport;
      sender.send(1, text('before'));
      await until('first', () => c.nodes[1]!.received.length === 1);
      const epoch = sender.linkEpoch(1);
      await c.nodes[1]!.transport.close();
      // Once the sender has seen its connection go, sends wait in the queue...
      await until('the drop seen', () => c.nodes[0]!.log.some((e) => e.kind === 'closed' && e.outbound && e.opened));
      assert.equal(sender.linkEpoch(1), epoch + 1, 'the closed outbound connection is counted (linkEpoch)');
      for (let k = 0; k < 10; k++) assert.equal(sender.send(1, text(`stale ${k}`)), true);
      await new Promise((r) => setImmediate(r));
      assert.ok(sender.counters().sendQueueBytes[1]! > 0, 'queued while the peer is away');
      // ...until the peer has been unreachable for 1 s: then they are dropped, counted.
      await until('dropped', () => sender.counters().unreachableDropped === 10);
      assert.equal(sender.counters().sendQueueBytes[1], 0);
      // Sent later, while it is still away: dropped within a turn of the I/O thread.
      for (let k = 10; k < 15; k++) sender.send(1, text(`stale ${k}`));
      await until('dropped too', () => sender.counters().unreachableDropped === 15 && sender.counters().sendQueueBytes[1] === 0);
      // Down long enough for the sender's backoff to reach its 2 s cap: the restarted peer's
      // own dial (inbound here) makes the sender dial back at once, not when that ends.
      await new Promise((r) => setTimeout(r, 1500));
      const seen = c.nodes[0]!.log.length;
      const restarted = await c.start(1);
      await until('its dial in', () => c.nodes[0]!.log.slice(seen).some((e) => e.kind === 'open' && !e.outbound), 10_000);
      const inAt = Date.now();
      await until('dialled back', () => c.nodes[0]!.log.slice(seen).some((e) => e.kind === 'open' && e.outbound), 10_000);
      assert.ok(Date.now() - inAt < 1000, `dialled back ${Date.now() - inAt} ms after the peer dialled in`);
      await until('reconnected', () => sender.counters().sendCredit[1]! > 0, 10_000);
      sender.send(1, text('after'));
      await until('fresh message', () => restarted.received.length >= 1, 10_000);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(restarted.received.map((m) => new TextDecoder().decode(m.bytes)), ['after'], 'nothing stale arrives');
      assert.equal(sender.counters().unreachableDropped, 15);
    } finally {
      await c.close();
    }
  });

  test(`transport[${backend}]: bad configuration gets coded errors`, async () => {
    const [a, b] = keys(2);
    const validators = [
      { publicKey: a!.publicKey, address: '127.0.0.1:0' },
      { publicKey: b!.publicKey, address: '127.0.0.1:1' },
    ];
    const base = { backend, self: 0, signer: new Signer(a!), validators, onMessages: () => {} };
    await assert.rejects(Transport.open({ ...base, self: 2 }), (e: unknown) => isSteleError(e, 'TRANSPORT_CONFIG'));
    await assert.rejects(Transport.open({ ...base, signer: new Signer(b!) }), (e: unknown) => isSteleError(e, 'TRANSPORT_CONFIG'));
    await assert.rejects(Transport.open({ ...base, listen: 'nowhere' }), (e: unknown) => isSteleError(e, 'TRANSPORT_CONFIG'));
    await assert.rejects(Transport.open({ ...base, windowBytes: 10, messageBytesMax: 100 }), (e: unknown) => isSteleError(e, 'TRANSPORT_CONFIG'));
    await assert.rejects(Transport.open({ ...base, provider: 'carrier-pigeon' as 'tcp' }), (e: unknown) => isSteleError(e, 'TRANSPORT_CONFIG'));
    await assert.rejects(Transport.open({ ...base, chain: new Uint8Array(31) }), (e: unknown) => isSteleError(e, 'TRANSPORT_CONFIG'));
    for (const unreachableDropMs of [0, 1.5, 2 ** 32]) {
      await assert.rejects(Transport.open({ ...base, unreachableDropMs }), (e: unknown) => isSteleError(e, 'TRANSPORT_CONFIG'));
    }
    for (const directBytesMax of [-1, 1.5, 2 ** 21]) {
      await assert.rejects(Transport.open({ ...base, directBytesMax }), (e: unknown) => isSteleError(e, 'TRANSPORT_CONFIG'));
    }
    if (!addon().fabric) await assert.rejects(Transport.open({ ...base, backend: 'fabric' }), (e: unknown) => isSteleError(e, 'TRANSPORT_BACKEND'));
    if (backend === 'fabric' && !rdmaDevicePresent()) {
      await assert.rejects(Transport.open({ ...base, provider: 'verbs' }), (e: unknown) => isSteleError(e, 'TRANSPORT_BACKEND'));
    }
    const auto = await Transport.open({ ...base, backend: 'auto' });
    assert.equal(auto.backend, addon().fabric && rdmaDevicePresent() ? 'fabric' : 'tcp');
    await auto.close();
    const t = await Transport.open(base);
    assert.equal(t.backend, backend);
    assert.ok(t.port > 0);
    // A port already taken is an I/O error, not a crash.
    await assert.rejects(Transport.open({ ...base, listen: `127.0.0.1:${t.port}` }), (e: unknown) => isSteleError(e, 'TRANSPORT_IO'));
    await t.close();
    assert.throws(() => t.send(1, Uint8Array.of(1)), (e: unknown) => isSteleError(e, 'TRANSPORT_CLOSED'));
  });

  test(`transport[${backend}]: tampered, replayed and re-tagged frames are refused; nothing in them is delivered; the link recovers`, async () => {
    const c = await cluster(2, { backend });
    try {
      const sender = c.nodes[0]!.transport;
      const receiver = c.nodes[1]!;
      const texts = () => receiver.received.map((m) => new TextDecoder().decode(m.bytes));
      for (const kind of ['flip', 'replay', 'tag'] as const) {
        sender.send(1, text(`before-${kind}`));
        await until('positive control', () => texts().includes(`before-${kind}`));
        const rejected = receiver.transport.counters().framesRejected;
        sender.injectFault(1, kind);
        sender.send(1, text(`attacked-${kind}`));
        await until('rejection', () => receiver.transport.counters().framesRejected === rejected + 1);
        // The sender reconnects and later messages flow again.
        await until('recovery', () => {
          sender.send(1, text(`after-${kind}`));
          return texts().includes(`after-${kind}`);
        });
      }
      assert.ok(!texts().includes('attacked-flip') && !texts().includes('attacked-tag'), 'nothing of a tampered frame is delivered');
      // The original of a replayed frame is genuine and delivered once; its replay is refused.
      assert.equal(texts().filter((t) => t === 'attacked-replay').length, 1, 'a replayed frame is not delivered twice');
    } finally {
      await c.close();
    }
  });

  test(`transport[${backend}]: a node with a key outside the validator list is refused; nothing is delivered`, async () => {
    const c = await cluster(2, { backend });
    try {
      // The impostor believes it is validator 0 of a list holding its own key instead.
      const impostorPair = keys(1, 150)[0]!;
      const impostorList = [{ publicKey: impostorPair.publicKey, address: c.validators[0]!.address.replace(/:\d+$/, ':0') }, c.validators[1]!];
      const logs: string[] = [];
      const impostor = await Transport.open({
        backend,
        self: 0,
        signer: new Signer(impostorPair),
        validators: impostorList,
        onMessages: () => {},
        onLog: (e) => logs.push(JSON.stringify(e)),
      });
      try {
        impostor.send(1, text('from an impostor'));
        await until('refusal at the victim', () => c.nodes[1]!.log.some((e) => e.kind === 'refused' && /another validator set/.test(e.reason)));
        await new Promise((r) => setTimeout(r, 100));
        assert.equal(c.nodes[1]!.received.length, 0);
        assert.ok(c.nodes[1]!.transport.counters().handshakesRefused >= 1);
        // The genuine validator 0 still gets through.
        c.nodes[0]!.transport.send(1, text('genuine'));
        await until('genuine message', () => c.nodes[1]!.received.length === 1);
        assert.equal(new TextDecoder().decode(c.nodes[1]!.received[0]!.bytes), 'genuine');
      } finally {
        await impostor.close();
      }
    } finally {
      await c.close();
    }
  });

  test(`transport[${backend}]: a validator of the same keys but another chain (genesis) is refused at HELLO`, async () => {
    const chainA = new Uint8Array(32).fill(0xa1);
    const chainB = Uint8Array.from(chainA, (b, i) => (i === 31 ? b ^ 1 : b));
    const c = await cluster(2, { backend, chain: chainA });
    try {
      // Validator 0 restarted with another genesis file of the same validators.
      await c.nodes[0]!.transport.close();
      const other = await c.start(0, { chain: chainB });
      other.transport.send(1, text('from another chain'));
      await until('refusal at validator 1', () => c.nodes[1]!.log.some((e) => e.kind === 'refused' && /another validator set or chain/.test(e.reason)));
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(c.nodes[1]!.received.length, 0);
      // With the same chain again it gets through.
      await other.transport.close();
      const same = await c.start(0, { chain: chainA });
      same.transport.send(1, text('same chain'));
      await until('message of the same chain', () => c.nodes[1]!.received.length === 1);
    } finally {
      await c.close();
    }
  });
}

// Raw-socket attacks speak the tcp backend's wire directly (the fabric backend's bytes are
// wrapped by the provider's own protocol; the checks are the same shared core).
test('transport: a peer with a key outside the validator list is refused; nothing is delivered', async () => {
  const c = await cluster(2);
  try {
    const outsider = new Signer(keys(1, 200)[0]!);
    const raw = await RawDialer.connect(c.validators[1]!.address);
    const result = await dialHandshake(raw, outsider, 0, 1, c); // claims to be validator 0
    assert.equal(typeof result, 'object');
    if (typeof result === 'string') return;
    raw.write(dataFrame(0n, [text('forged')], result.sendKey));
    assert.equal(await raw.waitClosed(), true);
    await until('refusal logged', () => c.nodes[1]!.log.some((e) => e.kind === 'refused' && /signature/.test(e.reason)));
    // An index outside the list and a wrong validator set are refused at the hello.
    const raw2 = await RawDialer.connect(c.validators[1]!.address);
    const bad = await dialHandshake(raw2, outsider, 7, 1, c);
    assert.equal(bad, 'closed');
    const raw3 = await RawDialer.connect(c.validators[1]!.address);
    raw3.write(dataFrame(0n, [text('no handshake')], new Uint8Array(32)));
    assert.equal(await raw3.waitClosed(), true);
    assert.ok(c.nodes[1]!.transport.counters().handshakesRefused >= 3);
    assert.equal(c.nodes[1]!.received.length, 0);
  } finally {
    await c.close();
  }
});

test('transport: a frame of 200,000 empty messages from a validator arrives whole, in batches of at most 65,536 (review of 2026-11-30)', async () => {
  const c = await cluster(2);
  try {
    const signer = new Signer(c.pairs[0]!);
    await c.nodes[0]!.transport.close(); // the test speaks as validator 0
    const opens = (): number => c.nodes[1]!.log.filter((e) => e.kind === 'open' && e.peer === 0).length;
    const before = opens();
    const raw = await RawDialer.connect(c.validators[1]!.address);
    const session = await dialHandshake(raw, signer, 0, 1, c);
    if (typeof session === 'string') throw new Error(session);
    // A frame this large is refused before authentication: wait for the session to open.
    await until('session open', () => opens() > before);
    const count = 200_000;
    raw.write(dataFrame(0n, Array.from({ length: count }, () => new Uint8Array(0)), session.sendKey));
    await until('every message', () => c.nodes[1]!.received.length === count).catch((e: unknown) => {
      throw new Error(`${String(e)}: received ${c.nodes[1]!.received.length}, batches ${c.nodes[1]!.batches.join(',')}, log ${JSON.stringify(c.nodes[1]!.log)}`);
    });
    const batches = c.nodes[1]!.batches;
    assert.ok(batches.length >= 4, `${batches.length} batches`);
    assert.ok(Math.max(...batches) <= 65_536, `largest batch ${Math.max(...batches)}`);
    assert.ok(c.nodes[1]!.received.every((m) => m.from === 0 && m.bytes.length === 0));
    raw.destroy();
  } finally {
    await c.close();
  }
});

test('transport: a replayed handshake is refused', async () => {
  const c = await cluster(2);
  try {
    const signer = new Signer(c.pairs[0]!);
    // Validator 0's own transport stops so the test can speak as validator 0.
    await c.nodes[0]!.transport.close();
    const first = await RawDialer.connect(c.validators[1]!.address);
    const session = await dialHandshake(first, signer, 0, 1, c);
    if (typeof session === 'string') throw new Error(session);
    first.write(dataFrame(0n, [text('genuine')], session.sendKey));
    await until('genuine message', () => c.nodes[1]!.received.length === 1);
    first.destroy();
    // An eavesdropper replays the recorded HELLO and PROOF on a new connection.
    const replay = await RawDialer.connect(c.validators[1]!.address);
    replay.write(encodeFrame(TYPE_HANDSHAKE, 0n, session.hello, null));
    const challenge = await replay.nextFrame(false);
    assert.ok(challenge !== null && challenge.length === FRAME_HEADER_BYTES + 128);
    replay.write(encodeFrame(TYPE_HANDSHAKE, 0n, session.proof, null));
    replay.write(dataFrame(0n, [text('replayed')], session.sendKey));
    assert.equal(await replay.waitClosed(), true);
    await until('refusal logged', () => c.nodes[1]!.log.some((e) => e.kind === 'refused' && e.peer === 0));
    assert.deepEqual(c.nodes[1]!.received.map((m) => new TextDecoder().decode(m.bytes)), ['genuine']);
  } finally {
    await c.close();
  }
});

test('transport: tampered and replayed frames are refused; nothing in them is delivered', async () => {
  const c = await cluster(2);
  try {
    const signer = new Signer(c.pairs[0]!);
    await c.nodes[0]!.transport.close();
    for (const attack of ['flip', 'replay', 'wrong-key'] as const) {
      const raw = await RawDialer.connect(c.validators[1]!.address);
      const session = await dialHandshake(raw, signer, 0, 1, c);
      if (typeof session === 'string') throw new Error(session);
      const good = dataFrame(0n, [text(`ok-${attack}`)], session.sendKey);
      raw.write(good);
      await until('positive control', () => c.nodes[1]!.received.some((m) => new TextDecoder().decode(m.bytes) === `ok-${attack}`));
      let bad: Buffer;
      if (attack === 'flip') {
        bad = dataFrame(1n, [text('tampered')], session.sendKey);
        bad[FRAME_HEADER_BYTES + 6] = (bad[FRAME_HEADER_BYTES + 6] as number) ^ 0x01;
      } else if (attack === 'replay') {
        bad = Buffer.from(good); // seq 0 again
      } else {
        bad = dataFrame(1n, [text('tampered')], new Uint8Array(32).fill(9));
      }
      const before = c.nodes[1]!.transport.counters().framesRejected;
      raw.write(bad);
      raw.write(dataFrame(2n, [text('after')], session.sendKey));
      assert.equal(await raw.waitClosed(), true, attack);
      await until('rejection counted', () => c.nodes[1]!.transport.counters().framesRejected === before + 1);
    }
    assert.deepEqual(c.nodes[1]!.received.map((m) => new TextDecoder().decode(m.bytes)), ['ok-flip', 'ok-replay', 'ok-wrong-key']);
  } finally {
    await c.close();
  }
});

test('transport: random bytes, oversized and malformed frames from outsiders never crash a node or deliver anything', async () => {
  const c = await cluster(2);
  try {
    const target = c.validators[1]!.address;
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) & 0xff;
    const payloads: Uint8Array[] = [];
    for (let i = 0; i < 20; i++) payloads.push(Uint8Array.from({ length: 1 + (i * 97) % 3000 }, random));
    const header = (length: number, type: number, zero = 0) => {
      const h = Buffer.alloc(16);
      h.writeUInt32LE(length >>> 0, 0);
      h[4] = type;
      h[5] = zero;
      return h;
    };
    payloads.push(header(0xffffffff, 1)); // huge handshake
    payloads.push(header(2000, 1)); // handshake over its limit
    payloads.push(header(10, 1, 7)); // reserved bytes set
    payloads.push(header(10, 9)); // unknown type
    payloads.push(Buffer.concat([header(104, 1), Buffer.alloc(104)])); // a hello of zeros
    payloads.push(Buffer.concat([header(3, 1), Buffer.from([1, 2, 3])])); // a short hello
    for (const bytes of payloads) {
      const raw = await RawDialer.connect(target);
      raw.write(bytes);
      if (bytes.length === 120 && bytes[4] === 1) assert.equal(await raw.waitClosed(), true, 'a hello of zeros is refused');
      raw.destroy();
    }
    // The node still works for its real peers, and nothing from outsiders was delivered.
    assert.equal(c.nodes[0]!.transport.send(1, text('still here')), true);
    await until('real message', () => c.nodes[1]!.received.length === 1);
    assert.equal(new TextDecoder().decode(c.nodes[1]!.received[0]!.bytes), 'still here');
    await until('refusals counted', () => c.nodes[1]!.transport.counters().handshakesRefused >= 6);
  } finally {
    await c.close();
  }
});

test('transport: a stream of handshake frames from an outsider is refused after the handshake\'s own two, not queued without end', async () => {
  const c = await cluster(2);
  try {
    const target = c.validators[1]!.address;
    const refusedBefore = c.nodes[1]!.transport.counters().handshakesRefused;
    const empty = Buffer.alloc(16);
    empty[4] = 1; // a handshake frame with an empty body: no key needed to send it
    const raw = await RawDialer.connect(target);
    raw.write(Buffer.concat(Array.from({ length: 5000 }, () => empty)));
    assert.equal(await raw.waitClosed(), true, 'the node closes the connection');
    raw.destroy();
    await until('the flood refused', () => c.nodes[1]!.transport.counters().handshakesRefused > refusedBefore);
    // Before the limit each frame became an event for JavaScript (80,000 bytes: 5,000 events).
    assert.ok(c.nodes[1]!.transport.counters().eventsParked < 100, `events parked: ${c.nodes[1]!.transport.counters().eventsParked}`);
    assert.equal(c.nodes[0]!.transport.send(1, text('after the flood')), true);
    await until('real message', () => c.nodes[1]!.received.some((m) => new TextDecoder().decode(m.bytes) === 'after the flood'));
  } finally {
    await c.close();
  }
});

test('transport: connections that send a HELLO and close at once queue bounded work while the main thread is busy; the validators\' link still works (review of 2026-11-30, fixed 2026-12-02)', async () => {
  const c = await cluster(2);
  try {
    // Validator 1 again, with a signer that counts: each CHALLENGE costs one signature.
    await c.nodes[1]!.transport.close();
    const inner = new Signer(c.pairs[1]!);
    let signatures = 0;
    await c.start(1, { signer: { publicKey: inner.publicKey, sign: (m: Uint8Array) => (signatures++, inner.sign(m)) } });
    await until('linked', () => c.nodes[0]!.transport.peerUp(1) && c.nodes[1]!.transport.peerUp(0));
    const before = c.nodes[1]!.transport.counters();
    const signaturesBefore = signatures;
    // A well-formed HELLO, which anyone who knows the public genesis can make.
    const network = networkTag(c.validators.map((v) => v.publicKey));
    const hello = new DialerHandshake(new Signer(c.pairs[0]!), 0, 1, network, c.validators[1]!.publicKey).hello;
    const count = 300;
    const flag = new SharedArrayBuffer(4);
    const worker = new Worker(new URL('../support/transport-flood-worker.js', import.meta.url), {
      workerData: { address: c.validators[1]!.address, frame: encodeFrame(TYPE_HANDSHAKE, 0n, hello, null), count, flag },
    });
    // The main thread is busy (blocked) while the connections come and go, so none of their
    // closed events is handled: at most 64 half-open slots plus one per validator are admitted,
    // and every other connection is refused at accept. Before the fix the I/O thread freed a
    // slot as soon as it closed a connection, admitted all 300, and queued a HELLO for each.
    // 'not-equal': the flood was already over when the wait began (it cannot be, in practice).
    assert.notEqual(Atomics.wait(new Int32Array(flag), 0, 0, 30_000), 'timed-out', 'the flood finished within 30 s');
    await worker.terminate();
    const bound = 64 + c.validators.length;
    // Settled: what is still counted is at most the other validator's own inbound link.
    await until('every flood connection settled', () => c.nodes[1]!.transport.counters().inboundUnsettled <= c.validators.length - 1).catch((error: Error) => {
      throw new Error(`${error.message}: ${c.nodes[1]!.transport.counters().inboundUnsettled} inbound connections still counted`);
    });
    const after = c.nodes[1]!.transport.counters();
    assert.ok(after.handshakesRefused - before.handshakesRefused >= count - bound, `refused ${after.handshakesRefused - before.handshakesRefused} of ${count}`);
    await new Promise((r) => setTimeout(r, 50)); // any answer still due runs in this time
    // The admitted connections' events (about 200, within the 256 the queue to JavaScript
    // holds) are handed over in one drain, closed events included, before the deferred
    // answers run: so none of the flood's HELLOs is answered. What may be signed is the
    // other validator's own handshake, should it have redialed meanwhile. Without the
    // deferral, each admitted HELLO cost a signature (65 here).
    assert.ok(signatures - signaturesBefore <= c.validators.length - 1, `${signatures - signaturesBefore} CHALLENGEs signed for ${count} HELLOs`);
    // The validators' own link is untouched and keeps working.
    assert.equal(c.nodes[0]!.transport.send(1, text('after the flood')), true);
    await until('delivered', () => c.nodes[1]!.received.some((m) => new TextDecoder().decode(m.bytes) === 'after the flood'));
    console.log(`# flood of ${count}: ${after.handshakesRefused - before.handshakesRefused} refused at accept or handshake, ${signatures - signaturesBefore} CHALLENGEs signed`);
  } finally {
    await c.close();
  }
});

test('transport: one address cannot hold every half-open slot; genuine peers still connect', async () => {
  const c = await cluster(2);
  try {
    // The validators' own link first: silent dialers from the same address could otherwise
    // take every half-open slot before validator 0's dial arrives, and hold them.
    // Validator 0's own dial, not only validator 1's into it: until 2026-12-02 either open
    // passed, and a message for a link still being dialled waited in the queue until the
    // silent connections timed out (now it is dropped after unreachableDropMs).
    await until('linked', () => c.nodes[0]!.log.some((e) => e.kind === 'open' && e.outbound) && c.nodes[1]!.log.some((e) => e.kind === 'open'));
    // Twenty silent connections from one address: at most 8 stay half-open, the rest are closed at once.
    const silent = await Promise.all(Array.from({ length: 20 }, () => RawDialer.connect(c.validators[1]!.address)));
    await until('extra connections closed', () => silent.filter((r) => r.closed).length >= 12);
    assert.ok(c.nodes[1]!.transport.counters().handshakesRefused >= 12);
    // Validator 0's established link is untouched and keeps working.
    c.nodes[0]!.transport.send(1, text('through'));
    await until('delivered', () => c.nodes[1]!.received.length === 1);
    for (const r of silent) r.destroy();
  } finally {
    await c.close();
  }
});

test('transport: peerUp counts only connections past their handshake; a half-finished handshake naming a connected peer leaves it up (review, 2026-11-30)', async () => {
  const c = await cluster(2);
  try {
    await until('connected', () => c.nodes[1]!.transport.peerUp(0) && c.nodes[0]!.transport.peerUp(1));
    // Someone sends validator 0's HELLO (a recorded one would do) and goes away before the proof.
    const raw = await RawDialer.connect(c.validators[1]!.address);
    const hs = new DialerHandshake(new Signer(c.pairs[0]!), 0, 1, networkTag(c.validators.map((v) => v.publicKey)), c.validators[1]!.publicKey);
    raw.write(encodeFrame(TYPE_HANDSHAKE, 0n, hs.hello, null));
    assert.notEqual(await raw.nextFrame(false), null, 'a challenge');
    raw.destroy();
    await until('the half-open connection closed', () => c.nodes[1]!.log.some((e) => e.kind === 'closed' && e.peer === 0 && !e.opened));
    assert.equal(c.nodes[1]!.transport.peerUp(0), true, 'the genuine connection is still up');
    // The genuine peer going away does mark it down.
    await c.nodes[0]!.transport.close();
    await until('down', () => !c.nodes[1]!.transport.peerUp(0));
    assert.ok(c.nodes[1]!.log.some((e) => e.kind === 'closed' && e.peer === 0 && e.opened));
  } finally {
    await c.close();
  }
});

test('transport: after close(), peerUp is false for every peer, including those connected at that moment (review, 2026-12-01)', async () => {
  const c = await cluster(2);
  try {
    await until('connected', () => c.nodes[0]!.transport.peerUp(1) && c.nodes[1]!.transport.peerUp(0));
    await c.nodes[1]!.transport.close();
    // Before the fix close() kept its table of open connections (and no closed event is
    // handled once closed), so the peer stayed up for good.
    assert.equal(c.nodes[1]!.transport.peerUp(0), false);
  } finally {
    await c.close();
  }
});

test('transport: a rejected promise from onMessages surfaces as an uncaught exception, after its credit is released (review, 2026-12-01)', async () => {
  // Before the fix the rejection was swallowed (docs/native.md: a handler's failure is an uncaught exception).
  const worker = new Worker(new URL('../support/transport-reject-worker.js', import.meta.url));
  const seen = await new Promise<unknown>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  assert.deepEqual(seen, { message: 'handler failed on purpose', batchesInFlight: 0 });
  await new Promise((resolve) => worker.once('exit', resolve));
});

test('transport: credit waits for a thenable that is not a Promise (review, 2026-12-01)', async () => {
  const c = await cluster(2);
  try {
    let calls = 0;
    let settle: (() => void) | null = null;
    await c.nodes[1]!.transport.close();
    const receiver = await c.start(1, {
      onMessages: () => {
        calls++;
        // A thenable of another library, not a native Promise.
        return { then: (resolve: () => void) => void (settle = resolve) } as unknown as PromiseLike<void>;
      },
    });
    c.nodes[0]!.transport.send(1, text('held'));
    await until('the handler', () => calls === 1);
    // Before the fix only an instanceof Promise was waited for: this credit went back at once.
    await until('the thenable asked to call back', () => settle !== null, 2000);
    assert.equal(receiver.transport.counters().batchesInFlight, 1, 'held while the thenable is pending');
    (settle as unknown as () => void)();
    await until('released', () => receiver.transport.counters().batchesInFlight === 0);
  } finally {
    await c.close();
  }
});

for (const backend of BACKENDS) {
  test(`transport[${backend}]: messages read with a refused frame arrive before their connection's closed event and leave no credit entry behind (review, 2026-12-01)`, async () => {
    const c = await cluster(2, { backend });
    try {
      const timeline: string[] = [];
      let closedSeen = (): void => {};
      const closed = new Promise<void>((resolve) => (closedSeen = resolve));
      await c.nodes[1]!.transport.close();
      const receiver = await c.start(1, {
        onMessages: (batch) => {
          const texts = batch.map((m) => new TextDecoder().decode(m.bytes));
          for (const t of texts) timeline.push(`message ${t}`);
          // The batch read with the refused frame holds its credit until the connection has
          // closed, as a slow asynchronous handler would.
          return texts.includes('replayed') ? closed : undefined;
        },
        onLog: (e) => {
          if (e.kind !== 'closed' || e.outbound || !e.opened || e.peer !== 0) return;
          timeline.push('closed');
          closedSeen();
        },
      });
      const sender = c.nodes[0]!.transport;
      sender.send(1, text('before'));
      await until('positive control', () => timeline.includes('message before'));
      // The frame and its replay go out in one write and are read together: the frame's
      // message joins the turn's batch, then the replay is refused and the connection dropped.
      sender.injectFault(1, 'replay');
      sender.send(1, text('replayed'));
      await until('the refusal', () => timeline.includes('closed') && timeline.includes('message replayed'));
      await until('credit released', () => receiver.transport.counters().batchesInFlight === 0);
      // Before the fix the closed event came first and the batch after it.
      assert.ok(timeline.indexOf('message replayed') < timeline.indexOf('closed'), timeline.join(', '));
      // Before the fix the batch's credit was added back for a connection already gone: an
      // entry that was never returned nor deleted (read from the private tables on purpose).
      const tables = receiver.transport as unknown as { creditDue: Map<number, number>; opened: Map<number, number> };
      for (const conn of tables.creditDue.keys()) assert.ok(tables.opened.has(conn), `credit due on connection ${conn}, which is not open`);
    } finally {
      await c.close();
    }
  });
}

for (const backend of BACKENDS) {
  test(`transport[${backend}]: a listen address with a host name is resolved (IPv4); one that does not resolve is TRANSPORT_CONFIG (review, 2026-12-01)`, async () => {
    // docs/operations.md, node/config.ts and genesis take a host name; the addon listens on
    // IPv4 addresses only, and before the fix the name reached it and failed at start.
    const [a, b] = keys(2);
    const validators = (self: string) => [
      { publicKey: a!.publicKey, address: self },
      { publicKey: b!.publicKey, address: '127.0.0.1:9' },
    ];
    const base = { backend, self: 0, signer: new Signer(a!), onMessages: () => {}, onLog: () => {} };
    const named = await Transport.open({ ...base, validators: validators('127.0.0.1:9'), listen: 'localhost:0' });
    assert.ok(named.port > 0);
    await named.close();
    const fromGenesis = await Transport.open({ ...base, validators: validators('localhost:0') });
    assert.ok(fromGenesis.port > 0);
    await fromGenesis.close();
    await assert.rejects(
      Transport.open({ ...base, validators: validators('127.0.0.1:9'), listen: 'no-such-host.invalid:0' }),
      (e: unknown) => isSteleError(e, 'TRANSPORT_CONFIG') && /listen: host "no-such-host.invalid" does not resolve to an IPv4 address/.test(e.message),
    );
  });
}
