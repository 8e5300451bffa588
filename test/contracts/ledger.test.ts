/** Contracts on the ledger: deploy, create, act, deadline steps, money conservation, lookups, codecs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { fileURLToPath } from 'node:url';
import { balanceOf, BlockBuilder, decodeAsset, decodeTxidValue, executeBlock, genesisState, keys } from '../../ledger/machine.js';
import { contractInstance, contractKeys, contractTemplate, decodeTemplateSummary, dueAt, runDeadlines, type StoredInstance } from '../../ledger/contract-state.js';
import { Overlay, type MemoryState } from '../../ledger/state.js';
import { decodeTx, decodeTxBody, encodeTxBody, type ContractValue, type Payload, type Tx } from '../../ledger/tx.js';
import { isSteleError } from '../../ledger/errors.js';
import { admin, alice, bob, carol, chain, dave, erin, tx } from '../support/fixtures.js';
import type { Signer } from '../../ledger/ed25519.js';
import { toHex } from '../../ledger/assert.js';

const g = chain.genesis;
const examples = (name: string) => readFileSync(fileURLToPath(new URL(`../../../examples/contracts/${name}`, import.meta.url)), 'utf8');
const HORSE = examples('horse-sale.scl');
const BACKUP = examples('backup-offer.scl');
const everyone = [admin, alice, bob, carol, dave, erin];

/** A one-process chain: blocks built by the leader's builder, re-executed and compared. */
class Sim {
  readonly state: MemoryState;
  hash: Uint8Array;
  height = 0;
  constructor() {
    const s = genesisState(g);
    this.state = s.state;
    this.hash = s.stateHash;
  }
  tx(payload: Payload, signers: Signer[]): Tx {
    return tx(payload, signers, this.height + 20);
  }
  /**
   * Applies the next block; returns the refusal code of each transaction ('ok' when
   * applied; a refused contract transaction is in the block as failed, changing nothing).
   */
  block(txs: Tx[] = []): string[] {
    const h = this.height + 1;
    const builder = new BlockBuilder(g, this.state, h);
    const codes = txs.map((t) => {
      const o = builder.offer(t);
      return o.kind === 'applied' ? 'ok' : o.refusal.code;
    });
    const sealed = builder.seal(this.hash);
    const again = executeBlock(g, this.state, builder.txs, h, this.hash, { signatures: 'verify' });
    assert.deepEqual(again.stateHash, sealed.stateHash, 'replaying the block gives the same state hash');
    this.state.apply(sealed.writeSet);
    this.hash = sealed.stateHash;
    this.height = h;
    return codes;
  }
  one(payload: Payload, signers: Signer[]): string {
    return this.block([this.tx(payload, signers)])[0] as string;
  }
  balance(who: Signer, asset = 'STL'): bigint {
    return balanceOf(this.state, who.publicKey, asset);
  }
  /**
   * Supply equals balances plus the escrow of every instance, for every asset, and every
   * final instance holds no escrow. Returns how many instances are final (how many escrow
   * checks ran: callers assert it, so the check is not vacuous).
   */
  assertConserved(): number {
    const instances: StoredInstance[] = [];
    for (let id = 1; ; id++) {
      const x = contractInstance(this.state, id);
      if (x === undefined) break;
      instances.push(x);
    }
    for (const asset of ['STL', 'EUR']) {
      const supply = decodeAsset(this.state.get(keys.asset(asset)) as Uint8Array).supply;
      let held = 0n;
      for (const u of everyone) held += balanceOf(this.state, u.publicKey, asset);
      for (const x of instances) if (x.params.get(currencyOf(x.contract)) === asset) held += x.escrow;
      assert.equal(held, supply, `${asset}: balances + escrow = supply`);
    }
    let finals = 0;
    for (const [index, x] of instances.entries()) {
      if (x.status !== 'final') continue;
      assert.equal(x.escrow, 0n, `instance ${index + 1} is final with escrow ${x.escrow}`);
      finals++;
    }
    return finals;
  }
}

function currencyOf(contract: string): string {
  return { HorseSale: 'usd', BackupOffer: 'usd', Split: 'cur' }[contract] ?? 'cur';
}

const int = (value: bigint | number): ContractValue => ({ kind: 'int', value: BigInt(value) });

function horse(seller: Signer, buyer: Signer, o: { price?: number; deposit?: number; penalty?: number; window?: number } = {}): Payload {
  return {
    type: 'create',
    contract: 'HorseSale',
    parties: [
      { name: 'buyer', key: buyer.publicKey },
      { name: 'seller', key: seller.publicKey },
    ],
    params: [
      { name: 'deposit', value: int(o.deposit ?? 30) },
      { name: 'penalty', value: int(o.penalty ?? 5) },
      { name: 'price', value: int(o.price ?? 100) },
      { name: 'usd', value: { kind: 'asset', value: 'STL' } },
      { name: 'window', value: int(o.window ?? 10) },
    ],
    refs: [],
  };
}

function actOn(instance: number, party: string, action: string, args: ContractValue[] = []): Payload {
  return { type: 'act', instance, party, action, args };
}

test('deploy: checked against the chain; errors refuse with the diagnostics; templates can be looked up', () => {
  const sim = new Sim();
  assert.equal(sim.one({ type: 'deploy', source: BACKUP }, [carol]), 'CONTRACT_REJECTED', 'the ref is not deployed yet');
  assert.equal(sim.one({ type: 'deploy', source: HORSE }, [carol]), 'ok');
  const t = contractTemplate(sim.state, 'HorseSale');
  assert.ok(t !== undefined);
  assert.equal(t.lifetime, 20160n);
  assert.equal(t.paths, 3n);
  assert.equal(t.depth, 0);
  assert.deepEqual(t.finals, ['Sold', 'Cancelled', 'Expired']);
  assert.equal(toHex(t.deployer), toHex(carol.publicKey));
  assert.equal(sim.one({ type: 'deploy', source: BACKUP }, [dave]), 'ok', 'the ref resolves against the chain');
  assert.equal(contractTemplate(sim.state, 'BackupOffer')?.paths, 9n);
  // A second deploy of the same name, and a leaking contract, are refused with diagnostics.
  const builder = new BlockBuilder(g, sim.state, sim.height + 1);
  const again = builder.check(sim.tx({ type: 'deploy', source: HORSE }, [carol]));
  assert.equal(again?.code, 'CONTRACT_REJECTED');
  assert.match(again?.message ?? '', /NAME001 contract HorseSale is already deployed/);
  const leaking = builder.check(sim.tx({ type: 'deploy', source: HORSE.replace('contract HorseSale', 'contract Leak').replace('pay deposit to buyer', 'pay 1 to buyer') }, [carol]));
  assert.equal(leaking?.code, 'CONTRACT_REJECTED');
  const diagnostics = (leaking?.details as { diagnostics: { ruleId: string; line: number }[] }).diagnostics;
  assert.deepEqual(diagnostics.map((d) => d.ruleId), ['ESC001']);
  assert.equal(builder.check(sim.tx({ type: 'deploy', source: 'contract {' }, [carol]))?.code, 'CONTRACT_REJECTED');
  const crowd = Array.from({ length: 17 }, (_, i) => `p${i}`).join(', ');
  const tooMany = builder.check(sim.tx({ type: 'deploy', source: `contract Crowd { parties ${crowd}\n params c: asset\n currency c\n init T\n final T }` }, [carol]));
  assert.match(tooMany?.message ?? '', /CONTRACT_REJECTED: contract Crowd declares 17 parties; a create transaction binds at most 16/);
  assert.equal(contractTemplate(sim.state, 'Leak'), undefined);
});

test('deploy reads what the checker needs of its refs: never their source text, their state names only when compared (review, 2026-12-01)', () => {
  const sim = new Sim();
  assert.equal(sim.one({ type: 'deploy', source: HORSE }, [carol]), 'ok');
  const key = contractKeys.template('HorseSale');
  const stored = sim.state.get(key) as Uint8Array;
  const full = contractTemplate(sim.state, 'HorseSale');
  const summary = decodeTemplateSummary(stored);
  assert.deepEqual({ ...summary }, { name: full?.name, states: full?.states, finals: full?.finals, lifetime: full?.lifetime, paths: full?.paths, depth: full?.depth });
  // The stored source text made unreadable (its last byte, '}', becomes 0xff): a deploy
  // referring to the contract does not decode it, so it is checked and applied as before.
  const broken = Uint8Array.from(stored);
  broken[broken.length - 1] = 0xff;
  assert.throws(() => contractTemplate({ get: () => broken }, 'HorseSale'), /ENC_BAD_UTF8|invalid UTF-8/);
  sim.state.apply([{ key, value: broken }]);
  assert.equal(sim.one({ type: 'deploy', source: BACKUP }, [dave]), 'ok', 'BackupOffer compares primary.state: the state names are read');
  // A ref whose state names are never compared: they are not even decoded.
  const names = Uint8Array.from(broken);
  const firstName = names.indexOf('O'.charCodeAt(0), 32 + 8 + 4 + 'HorseSale'.length + 4 + 4); // Open, the first state
  names[firstName] = 0xff;
  sim.state.apply([{ key, value: names }]);
  assert.throws(() => decodeTemplateSummary(names).states, /invalid UTF-8/);
  const later = BACKUP.replace('BackupOffer', 'Later').replace(/primary\.state (==|!=) Sold/g, 'true');
  assert.equal(sim.one({ type: 'deploy', source: later }, [dave]), 'ok');
});

test('create and act: escrow moves, signatures required, refusals leave no trace, money is conserved', () => {
  const sim = new Sim();
  sim.one({ type: 'deploy', source: HORSE }, [carol]);
  const bob0 = sim.balance(bob);
  const alice0 = sim.balance(alice);
  assert.equal(sim.one(horse(alice, bob), [alice]), 'CONTRACT_NOT_SIGNED', 'the buyer escrows in init and must sign');
  assert.equal(sim.one(horse(alice, bob, { deposit: 200 }), [bob]), 'CONTRACT_REQUIRE_FAILED');
  assert.equal(sim.one(horse(alice, bob, { window: 0 }), [bob]), 'CONTRACT_BAD_BINDING');
  assert.equal(sim.one(horse(alice, bob, { window: 20161 }), [bob]), 'CONTRACT_BAD_BINDING');
  assert.equal(sim.one({ ...(horse(alice, bob) as Payload & { type: 'create' }), contract: 'Nope' }, [bob]), 'CONTRACT_UNKNOWN');
  assert.equal(sim.one(horse(alice, bob, { deposit: 2_000_000, price: 3_000_000 }), [bob]), 'CONTRACT_INSUFFICIENT_BALANCE');
  assert.equal(contractInstance(sim.state, 1), undefined);
  assert.equal(sim.one(horse(alice, bob), [bob]), 'ok');
  const created = sim.height;
  const x = contractInstance(sim.state, 1);
  assert.ok(x !== undefined);
  assert.deepEqual([x.state, x.status, x.escrow, x.entered], ['Open', 'active', 30n, created]);
  assert.equal(sim.balance(bob), bob0 - 30n);
  assert.deepEqual(dueAt(sim.state, created + 10), [1]);
  assert.equal(sim.assertConserved(), 0, 'the sale is open');
  assert.equal(sim.one(actOn(1, 'buyer', 'complete'), [alice]), 'CONTRACT_NOT_SIGNED');
  assert.equal(sim.one(actOn(1, 'seller', 'complete'), [alice]), 'CONTRACT_NO_TRANSITION');
  assert.equal(sim.one(actOn(1, 'buyer', 'complete', [int(1)]), [bob]), 'CONTRACT_BAD_BINDING');
  assert.equal(sim.one(actOn(9, 'buyer', 'complete'), [bob]), 'CONTRACT_UNKNOWN_INSTANCE');
  assert.equal(sim.one(actOn(1, 'buyer', 'complete'), [bob]), 'ok');
  const sold = contractInstance(sim.state, 1);
  assert.deepEqual([sold?.state, sold?.status, sold?.escrow], ['Sold', 'final', 0n]);
  assert.equal(sim.balance(bob), bob0 - 100n);
  assert.equal(sim.balance(alice), alice0 + 100n);
  assert.deepEqual(dueAt(sim.state, created + 10), [], 'the due entry is removed');
  assert.equal(sim.one(actOn(1, 'buyer', 'complete'), [bob]), 'CONTRACT_NOT_ACTIVE');
  assert.equal(sim.assertConserved(), 1, 'the sale is final');
});

test('deadlines: before the block transactions, in ascending instance id order; a due instance cannot act', () => {
  const sim = new Sim();
  sim.one({ type: 'deploy', source: HORSE }, [carol]);
  assert.deepEqual(sim.block([sim.tx(horse(alice, bob, { window: 3 }), [bob]), sim.tx(horse(carol, dave, { window: 3 }), [dave]), sim.tx(horse(erin, bob, { window: 5 }), [bob])]), ['ok', 'ok', 'ok']);
  const created = sim.height;
  assert.deepEqual(dueAt(sim.state, created + 3), [1, 2]);
  const bob1 = sim.balance(bob);
  sim.block();
  sim.block();
  // Height created + 3: both expire first, so the buyer's act in the same block is refused.
  const overlay = new Overlay(sim.state);
  assert.deepEqual(runDeadlines(overlay, created + 3), [1, 2]);
  assert.deepEqual(sim.block([sim.tx(actOn(1, 'buyer', 'complete'), [bob]), sim.tx(actOn(3, 'seller', 'cancel'), [erin])]), ['CONTRACT_NOT_ACTIVE', 'ok']);
  assert.equal(contractInstance(sim.state, 1)?.state, 'Expired');
  assert.equal(contractInstance(sim.state, 2)?.state, 'Expired');
  assert.equal(contractInstance(sim.state, 2)?.entered, created + 3);
  assert.equal(contractInstance(sim.state, 3)?.state, 'Cancelled');
  assert.equal(sim.balance(bob), bob1 + 30n + 30n + 5n, 'two deposits back plus the penalty');
  assert.equal(sim.state.get(contractKeys.due(created + 3)), undefined);
  assert.deepEqual(dueAt(sim.state, created + 5), [], 'the cancelled instance left the due list');
  assert.equal(sim.assertConserved(), 3, 'two expired sales and a cancelled one');
});

test('a backup offer reads the settled outcome of another instance', () => {
  const sim = new Sim();
  sim.one({ type: 'deploy', source: HORSE + BACKUP }, [carol]);
  sim.one(horse(alice, bob, { window: 4 }), [bob]);
  const backup: Payload = {
    type: 'create',
    contract: 'BackupOffer',
    parties: [
      { name: 'backup', key: dave.publicKey },
      { name: 'seller', key: alice.publicKey },
    ],
    params: [
      { name: 'price', value: int(90) },
      { name: 'usd', value: { kind: 'asset', value: 'STL' } },
    ],
    refs: [{ name: 'primary', instance: 1 }],
  };
  assert.equal(sim.one({ ...(backup as Payload & { type: 'create' }), refs: [{ name: 'primary', instance: 7 }] }, [dave]), 'CONTRACT_BAD_BINDING');
  assert.equal(sim.one(backup, [dave]), 'ok');
  // The first sale is not settled yet: the guard is false. Not signed by the actor, the
  // same act is refused before its guard is evaluated (CONTRACT_GUARD_FALSE before
  // 2026-12-01), and the code its txid/ key records says so.
  const unsigned = sim.tx(actOn(2, 'seller', 'accept'), [dave]);
  assert.deepEqual(sim.block([sim.tx(actOn(2, 'seller', 'accept'), [alice]), unsigned]), ['CONTRACT_GUARD_FALSE', 'CONTRACT_NOT_SIGNED']);
  assert.deepEqual(decodeTxidValue(sim.state.get(keys.txid(unsigned.idHex)) as Uint8Array), { height: sim.height, failed: 'CONTRACT_NOT_SIGNED' });
  const alice0 = sim.balance(alice);
  sim.block(); // the first sale expires at the start of this block
  assert.equal(contractInstance(sim.state, 1)?.state, 'Expired');
  assert.equal(sim.one(actOn(2, 'backup', 'withdraw'), [dave]), 'CONTRACT_GUARD_FALSE', 'the first sale did not complete');
  assert.equal(sim.one(actOn(2, 'seller', 'accept'), [alice]), 'ok');
  assert.equal(sim.balance(alice), alice0 + 90n);
  assert.equal(sim.assertConserved(), 2, 'the expired sale and the accepted backup offer');
});

test('a deadline step that fails freezes the instance and records why; nothing moves', () => {
  const sim = new Sim();
  const split = `contract Split {
    parties a, b
    params x: amount, d: int, cur: asset
    currency cur
    init Held { escrow x from a }
    state Held { after 2 -> Done { pay x / d to a
      pay x - x / d to b } }
    final Done
  }`;
  assert.equal(sim.one({ type: 'deploy', source: split }, [carol]), 'ok');
  const create = (d: number): Payload => ({
    type: 'create',
    contract: 'Split',
    parties: [
      { name: 'a', key: alice.publicKey },
      { name: 'b', key: bob.publicKey },
    ],
    params: [
      { name: 'cur', value: { kind: 'asset', value: 'EUR' } },
      { name: 'd', value: int(d) },
      { name: 'x', value: int(10) },
    ],
    refs: [],
  });
  assert.deepEqual(sim.block([sim.tx(create(0), [alice]), sim.tx(create(3), [alice])]), ['ok', 'ok']);
  const eur = sim.balance(alice, 'EUR');
  sim.block();
  sim.block();
  const frozen = contractInstance(sim.state, 1);
  assert.equal(frozen?.status, 'frozen');
  assert.equal(frozen?.frozenReason, 'CONTRACT_DIVISION_BY_ZERO', 'the code alone: no message text in the state (since 2026-12-01)');
  assert.equal(frozen?.escrow, 10n);
  assert.equal(contractInstance(sim.state, 2)?.status, 'final');
  assert.equal(sim.balance(alice, 'EUR'), eur + 3n);
  assert.equal(sim.assertConserved(), 1, 'the split that paid out; the frozen one is not final');
});

test('contract payloads round-trip; hostile bytes are refused with ENC_ codes only', () => {
  const payloads: Payload[] = [
    { type: 'deploy', source: HORSE },
    horse(alice, bob),
    actOn(3, 'buyer', 'bid', [int(-5), int(0), int(1n << 300n), { kind: 'bool', value: true }, { kind: 'asset', value: 'EUR' }]),
  ];
  for (const p of payloads) {
    const t = tx(p, [alice]);
    const back = decodeTx(t.bytes);
    assert.deepEqual(back.body.payload, p);
    assert.deepEqual(decodeTxBody(t.bodyBytes).payload, p);
  }
  assert.throws(() => tx({ ...(horse(alice, bob) as Payload & { type: 'create' }), parties: [{ name: 'seller', key: alice.publicKey }, { name: 'buyer', key: bob.publicKey }] }, [alice]), RangeError);
  assert.throws(() => tx(actOn(1, 'not a name', 'x'), [alice]), RangeError);
  assert.throws(() => tx(actOn(1, 'a', 'x', [int(1n << 600n)]), [alice]), RangeError);
  const base = tx(actOn(3, 'buyer', 'bid', [int(-5)]), [alice]).bodyBytes;
  fc.assert(
    fc.property(fc.integer({ min: 0, max: base.length - 1 }), fc.integer({ min: 0, max: 255 }), (at, byte) => {
      const b = Uint8Array.from(base);
      b[at] = byte;
      let body;
      try {
        body = decodeTxBody(b);
      } catch (error) {
        assert.ok(isSteleError(error) && error.code.startsWith('ENC_'), String(error));
        return;
      }
      // What still decodes is canonical: it encodes back to the very same bytes.
      assert.deepEqual(encodeTxBody(body), b);
    }),
    { numRuns: 2000 },
  );
  // Negative zero and a leading zero byte are non-canonical.
  const zero = Uint8Array.from(tx(actOn(3, 'b', 'x', [int(0)]), [alice]).bodyBytes);
  zero[zero.length - 5] = 1; // sign byte of the only argument
  assert.throws(() => decodeTxBody(zero), (e: unknown) => isSteleError(e, 'ENC_NON_CANONICAL'));
});

test('an act whose new deadline falls at the same height as the old one keeps one due entry', () => {
  const sim = new Sim();
  const same = 'contract Same { parties a\n params cur: asset\n currency cur\n init A\n state A { on a.go() -> B\n after 4 -> End }\n state B { after 2 -> End }\n final End }';
  assert.equal(sim.one({ type: 'deploy', source: same }, [carol]), 'ok');
  const create: Payload = { type: 'create', contract: 'Same', parties: [{ name: 'a', key: alice.publicKey }], params: [{ name: 'cur', value: { kind: 'asset', value: 'STL' } }], refs: [] };
  assert.equal(sim.one(create, [carol]), 'ok', 'no one escrows, so anyone may create');
  assert.deepEqual(dueAt(sim.state, 6), [1]);
  sim.block();
  assert.equal(sim.one(actOn(1, 'a', 'go'), [alice]), 'ok'); // height 4: B is due at 4 + 2 = 6
  assert.deepEqual(dueAt(sim.state, 6), [1]);
  sim.block();
  sim.block();
  assert.deepEqual([contractInstance(sim.state, 1)?.state, contractInstance(sim.state, 1)?.entered], ['End', 6]);
  assert.deepEqual(dueAt(sim.state, 6), []);
});

test('random passing contracts on the ledger: random acts and deadlines conserve supply, final escrow is zero, replay agrees', async (t) => {
  const { generate, render } = await import('./gen.js');
  const { parseSource } = await import('../../contracts/parser.js');
  const { compile } = await import('../../contracts/interpreter.js');
  const signerOf: Record<string, Signer> = { a: alice, b: bob, c: carol };
  // Runs whose instance reached a final state, where the zero-escrow check applies.
  let runs = 0;
  let finalRuns = 0;
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 31 }), fc.integer({ min: 1, max: 6 }), fc.array(fc.integer({ min: 0, max: 999 }), { minLength: 5, maxLength: 25 }), (seed, size, choices) => {
      const sim = new Sim();
      const source = render(generate(seed, size));
      const program = compile(parseSource('g.scl', source).contracts[0] as NonNullable<ReturnType<typeof parseSource>['contracts'][0]>);
      assert.equal(sim.one({ type: 'deploy', source }, [dave]), 'ok');
      const create: Payload = {
        type: 'create',
        contract: 'G',
        parties: ['a', 'b', 'c'].map((name) => ({ name, key: (signerOf[name] as Signer).publicKey })),
        params: [
          { name: 'cur', value: { kind: 'asset', value: 'STL' } },
          { name: 'p', value: int(1 + (seed % 1000)) },
        ],
        refs: [],
      };
      assert.equal(sim.one(create, [alice]), 'ok');
      runs++;
      let final = false;
      for (const choice of choices) {
        const x = contractInstance(sim.state, 1);
        assert.ok(x !== undefined);
        if (x.status !== 'active' || choice % 3 === 0) sim.block();
        else {
          const actions = (program.transitions.get(x.state) ?? []).filter((t) => t.kind === 'on');
          const t = actions[choice % Math.max(1, actions.length)];
          if (t === undefined || t.kind !== 'on') sim.block();
          else {
            // When the deadline falls at the next height, it runs first and the act finds another state.
            const expiring = dueAt(sim.state, sim.height + 1).includes(1);
            const codeOf = sim.one(actOn(1, t.actor, t.action, t.args.map(() => int(choice % 60))), [signerOf[t.actor] as Signer]);
            const allowed = expiring ? ['ok', 'CONTRACT_GUARD_FALSE', 'CONTRACT_NOT_ACTIVE', 'CONTRACT_NO_TRANSITION', 'CONTRACT_BAD_BINDING'] : ['ok', 'CONTRACT_GUARD_FALSE'];
            assert.ok(allowed.includes(codeOf), `${codeOf} (expiring: ${expiring})`);
          }
        }
        if (sim.assertConserved() > 0) final = true;
      }
      if (final) finalRuns++;
    }),
    { numRuns: 25, examples: [[10, 6, [10, 0, 0, 0, 0, 0]]] },
  );
  t.diagnostic(`${finalRuns} of ${runs} runs reached a final state`);
  assert.ok(finalRuns > 0, `${finalRuns} of ${runs} runs reached a final state`);
});

test('one act reads each referenced instance and balance once, however many times its guard names them', () => {
  const sim = new Sim();
  const watch = `contract Watch {
    parties a
    params cur: asset
    ref r: HorseSale
    currency cur
    init Wait { }
    state Wait {
      on a.go() when settled(r) and r.state != Open and ${Array.from({ length: 10 }, () => 'settled(r) and r.state == Sold and balance(a) > 0').join(' and ')} -> Done { }
      after 30000 -> Done { }
    }
    final Done
  }`;
  assert.equal(sim.one({ type: 'deploy', source: HORSE + watch }, [carol]), 'ok');
  assert.equal(sim.one(horse(alice, bob), [bob]), 'ok');
  assert.equal(sim.one(actOn(1, 'buyer', 'complete'), [bob]), 'ok');
  const create: Payload = { type: 'create', contract: 'Watch', parties: [{ name: 'a', key: dave.publicKey }], params: [{ name: 'cur', value: { kind: 'asset', value: 'STL' } }], refs: [{ name: 'r', instance: 1 }] };
  assert.equal(sim.one(create, [dave]), 'ok');
  const counted = [contractKeys.instance(1), keys.balance(dave.publicKey, 'STL')];
  const reads = new Map(counted.map((k) => [k, 0]));
  const get = sim.state.get.bind(sim.state);
  sim.state.get = (key: string) => {
    if (reads.has(key)) reads.set(key, (reads.get(key) as number) + 1);
    return get(key);
  };
  try {
    assert.equal(sim.one(actOn(2, 'a', 'go'), [dave]), 'ok');
  } finally {
    Reflect.deleteProperty(sim.state, 'get');
  }
  // Once when the builder applies the act, once when Sim re-executes the block (22
  // settled(r) and r.state reads, 10 balance reads, each time, before 2026-12-01).
  assert.deepEqual([...reads.values()], [2, 2]);
  assert.equal(contractInstance(sim.state, 2)?.state, 'Done');
});

test('corrupt contract state stops the process (invariants), never passes silently: an active instance missing from its due list, a malformed meta/cins_next', () => {
  const sim = new Sim();
  sim.one({ type: 'deploy', source: HORSE }, [carol]);
  assert.equal(sim.one(horse(alice, bob), [bob]), 'ok');
  const dueKey = contractKeys.due(sim.height + 10);
  assert.deepEqual(dueAt(sim.state, sim.height + 10), [1]);
  sim.state.apply([{ key: dueKey, value: null }]);
  // Completing the sale takes it off its due list; before 2026-12-01 a missing entry was
  // silently accepted and the act applied.
  assert.throws(() => sim.one(actOn(1, 'buyer', 'complete'), [bob]), /invariant broken: active instance 1 is on the due list of \d+, a height of its after chain/);
  // meta/cins_next is a u64: a value of 9 bytes was read as its first 8 before.
  sim.state.apply([{ key: contractKeys.nextInstance, value: new Uint8Array(9).fill(0, 0, 7).fill(2, 7) }]);
  assert.throws(() => sim.one(horse(alice, bob), [bob]), /invariant broken: meta\/cins_next is a u64/);
});

/** A contract whose after chain from A has two steps (A at +2, B at +3), and an act that leaves it. */
const CHAINED = `contract Chained { parties a
  params cur: asset
  currency cur
  init A
  state A { on a.go() -> C
    after 2 -> B }
  state B { after 3 -> End }
  state C { after 1 -> End }
  final End }`;
/** Instances that land wherever their creator likes: a due list filler. `n` only varies the id. */
const FILL = `contract Fill { parties a
  params cur: asset, d: blocks max 100, n: int
  currency cur
  init W
  state W { after d -> End }
  final End }`;

function anyoneCreates(contract: string, params: Array<{ name: string; value: ContractValue }> = []): Payload {
  return { type: 'create', contract, parties: [{ name: 'a', key: alice.publicKey }], params: [{ name: 'cur', value: { kind: 'asset', value: 'STL' } }, ...params], refs: [] };
}

test('an instance holds a due entry at every height of its after chain; an act moves them, a final state gives them up', () => {
  const sim = new Sim();
  assert.equal(sim.one({ type: 'deploy', source: CHAINED }, [carol]), 'ok');
  assert.deepEqual(sim.block([sim.tx(anyoneCreates('Chained'), [carol]), sim.tx(anyoneCreates('Chained'), [dave])]), ['ok', 'ok']);
  const c = sim.height;
  assert.deepEqual([dueAt(sim.state, c + 2), dueAt(sim.state, c + 5)], [[1, 2], [1, 2]], 'A expires at c + 2, then B at c + 2 + 3');
  assert.equal(sim.one(actOn(2, 'a', 'go'), [alice]), 'ok'); // height c + 1: C is due at c + 2
  assert.deepEqual([dueAt(sim.state, c + 2), dueAt(sim.state, c + 5)], [[1, 2], [1]], 'the act kept c + 2 and gave up c + 5');
  sim.block(); // c + 2: instance 1 enters B, instance 2 ends
  assert.deepEqual([contractInstance(sim.state, 1)?.state, contractInstance(sim.state, 2)?.state], ['B', 'End']);
  assert.equal(sim.state.get(contractKeys.due(c + 2)), undefined);
  assert.deepEqual(dueAt(sim.state, c + 5), [1], 'the rest of the chain is still held');
  sim.block();
  sim.block();
  sim.block();
  assert.deepEqual([contractInstance(sim.state, 1)?.state, contractInstance(sim.state, 1)?.entered], ['End', c + 5]);
  assert.equal(sim.state.get(contractKeys.due(c + 5)), undefined);
});

test('filling the due list of a later deadline height cannot freeze an instance: its after chain was reserved at creation (review, 2026-11-30)', () => {
  const sim = new Sim();
  assert.equal(sim.one({ type: 'deploy', source: CHAINED + FILL }, [carol]), 'ok');
  assert.equal(sim.one(anyoneCreates('Chained'), [carol]), 'ok');
  const c = sim.height;
  // Before whole-chain due entries (twentieth session) the victim held only c + 2; a full list at c + 5 froze it there with
  // its escrow (CONTRACT_DUE_FULL). Now the filler gets 1,999 entries and no more.
  const fills = (from: number, count: number) => Array.from({ length: count }, (_, i) => sim.tx(anyoneCreates('Fill', [{ name: 'd', value: int(c + 5 - (sim.height + 1)) }, { name: 'n', value: int(from + i) }]), [dave]));
  const codes = sim.block(fills(0, 2_000)); // c + 1
  assert.deepEqual([codes.filter((code) => code === 'ok').length, codes.at(-1)], [1_999, 'CONTRACT_DUE_FULL']);
  assert.equal(dueAt(sim.state, c + 5).length, 2_000);
  sim.block(); // c + 2: the victim enters B without needing room
  const victim = contractInstance(sim.state, 1);
  assert.deepEqual([victim?.state, victim?.status], ['B', 'active']);
  sim.block();
  sim.block();
  sim.block(); // c + 5: everything due there steps
  assert.deepEqual([contractInstance(sim.state, 1)?.state, contractInstance(sim.state, 1)?.status], ['End', 'final']);
  assert.equal(contractInstance(sim.state, 2_000)?.state, 'End');
  assert.equal(sim.state.get(contractKeys.due(c + 5)), undefined);
});

test('a deploy whose after chains are longer than 16 steps is refused; 16 are accepted', () => {
  const chainOf = (name: string, steps: number) => {
    const states = Array.from({ length: steps }, (_, i) => `state S${i} { after 1 -> ${i + 1 === steps ? 'End' : `S${i + 1}`} }`).join('\n');
    return `contract ${name} { parties a\n params cur: asset\n currency cur\n init S0\n ${states}\n final End }`;
  };
  const sim = new Sim();
  assert.equal(sim.one({ type: 'deploy', source: chainOf('Sixteen', 16) }, [carol]), 'ok');
  const t = sim.tx({ type: 'deploy', source: chainOf('Seventeen', 17) }, [carol]);
  assert.deepEqual(sim.block([t]), ['CONTRACT_REJECTED']);
  assert.equal(contractTemplate(sim.state, 'Seventeen'), undefined);
  assert.equal(sim.one(anyoneCreates('Sixteen'), [carol]), 'ok');
  const c = sim.height;
  for (let i = 1; i <= 16; i++) assert.deepEqual(dueAt(sim.state, c + i), [1], `height c + ${i} is reserved`);
});

test('a frozen instance gives up the rest of its after chain', () => {
  const sim = new Sim();
  const split = `contract Split2 {
    parties a, b
    params x: amount, d: int, cur: asset
    currency cur
    init Held { escrow x from a }
    state Held { after 2 -> Paid { pay x / d to a } }
    state Paid { after 4 -> Done { pay x - x / d to b } }
    final Done
  }`;
  assert.equal(sim.one({ type: 'deploy', source: split }, [carol]), 'ok');
  const create: Payload = { type: 'create', contract: 'Split2', parties: [{ name: 'a', key: alice.publicKey }, { name: 'b', key: bob.publicKey }], params: [{ name: 'cur', value: { kind: 'asset', value: 'EUR' } }, { name: 'd', value: int(0) }, { name: 'x', value: int(10) }], refs: [] };
  assert.equal(sim.one(create, [alice]), 'ok');
  const c = sim.height;
  assert.deepEqual([dueAt(sim.state, c + 2), dueAt(sim.state, c + 6)], [[1], [1]]);
  sim.block();
  sim.block();
  assert.deepEqual([contractInstance(sim.state, 1)?.status, contractInstance(sim.state, 1)?.frozenReason], ['frozen', 'CONTRACT_DIVISION_BY_ZERO']);
  assert.equal(sim.state.get(contractKeys.due(c + 6)), undefined, 'no entry is left for a frozen instance');
  for (let i = 0; i < 5; i++) sim.block(); // past c + 6: nothing due there, no invariant stops
  assert.equal(contractInstance(sim.state, 1)?.status, 'frozen');
});

test('a create that meets a full list at a later height of its chain is refused and reserves nothing; an act whose full height it already holds is not refused', () => {
  const sim = new Sim();
  const same = 'contract Same { parties a\n params cur: asset\n currency cur\n init A\n state A { on a.go() -> B\n after 4 -> End }\n state B { after 2 -> End }\n final End }';
  assert.equal(sim.one({ type: 'deploy', source: CHAINED + FILL + same }, [carol]), 'ok');
  assert.equal(sim.one(anyoneCreates('Same'), [carol]), 'ok'); // instance 1 holds c + 4
  const c = sim.height;
  const fill = (at: number, count: number) =>
    Array.from({ length: count }, (_, i) => sim.tx(anyoneCreates('Fill', [{ name: 'd', value: int(at - (sim.height + 1)) }, { name: 'n', value: int(i) }]), [dave]));
  assert.ok(sim.block(fill(c + 4, 1_999)).every((code) => code === 'ok')); // c + 1
  assert.equal(dueAt(sim.state, c + 4).length, 2_000);
  // c + 2: Chained created now needs c + 4 (full) and c + 7: refused, c + 7 not reserved.
  assert.deepEqual(sim.block([sim.tx(anyoneCreates('Chained'), [carol])]), ['CONTRACT_DUE_FULL']);
  assert.equal(sim.state.get(contractKeys.due(c + 7)), undefined, 'nothing reserved at the later height');
  assert.equal(contractInstance(sim.state, 2_001), undefined);
  // c + 3: an act moving instance 1 off c + 4 (to B, due at c + 5) frees its entry there.
  assert.equal(sim.one(actOn(1, 'a', 'go'), [alice]), 'ok');
  assert.deepEqual([dueAt(sim.state, c + 4).length, dueAt(sim.state, c + 5)], [1_999, [1]]);
});

test('an act whose new chain keeps a full height it already holds needs no room there', () => {
  const sim = new Sim();
  const same = 'contract Same { parties a\n params cur: asset\n currency cur\n init A\n state A { on a.go() -> B\n after 5 -> End }\n state B { after 2 -> End }\n final End }';
  assert.equal(sim.one({ type: 'deploy', source: FILL + same }, [carol]), 'ok');
  assert.equal(sim.one(anyoneCreates('Same'), [carol]), 'ok'); // instance 1 holds c + 5
  const c = sim.height;
  const fills = Array.from({ length: 1_999 }, (_, i) => sim.tx(anyoneCreates('Fill', [{ name: 'd', value: int(c + 5 - (c + 1)) }, { name: 'n', value: int(i) }]), [dave]));
  assert.ok(sim.block(fills).every((code) => code === 'ok')); // c + 1
  assert.equal(dueAt(sim.state, c + 5).length, 2_000);
  sim.block(); // c + 2
  assert.equal(sim.one(actOn(1, 'a', 'go'), [alice]), 'ok', 'at c + 3, B is due at c + 5: a height instance 1 holds');
  assert.deepEqual([contractInstance(sim.state, 1)?.state, dueAt(sim.state, c + 5).length], ['B', 2_000]);
});
