/** The interpreter alone: SCL.md section 4 step by step, atomic refusals, exact integers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { act, compile, create, deadlineOf, expire, type Env, type Instance, type Outcome, type Program } from '../../contracts/interpreter.js';
import { parseSource } from '../../contracts/parser.js';

function program(source: string, name?: string): Program {
  const parsed = parseSource('t.scl', source);
  assert.deepEqual(parsed.diagnostics, []);
  const c = name === undefined ? parsed.contracts[0] : parsed.contracts.find((x) => x.name === name);
  assert.ok(c !== undefined);
  return compile(c);
}

function ok(o: Outcome): Outcome & { ok: true } {
  assert.ok(o.ok, o.ok ? '' : `${o.code}: ${o.message}`);
  return o;
}
function code(o: Outcome | null): string {
  assert.ok(o !== null);
  return o.ok ? 'ok' : o.code;
}

/** Every identity signed the act (`act`'s `signed`). */
const anyone = (): boolean => true;
const balances = (entries: Record<string, bigint>): Env => ({ balance: (who) => entries[who] ?? 0n, instance: () => undefined });
const horseSource = readFileSync(fileURLToPath(new URL('../../../examples/contracts/horse-sale.scl', import.meta.url)), 'utf8');
const horse = program(horseSource);
const binding = (o: { price?: bigint; deposit?: bigint; penalty?: bigint; window?: bigint } = {}) => ({
  parties: new Map([
    ['seller', 'S'],
    ['buyer', 'B'],
  ]),
  params: new Map<string, bigint | string>([
    ['price', o.price ?? 100n],
    ['deposit', o.deposit ?? 30n],
    ['penalty', o.penalty ?? 5n],
    ['window', o.window ?? 10n],
    ['usd', 'USD'],
  ]),
  refs: new Map<string, number>(),
});

test('the horse sale: creation escrows the deposit, complete pays the price, everything balances', () => {
  const env = balances({ B: 1000n, S: 0n });
  const c = ok(create(horse, binding(), 5, env));
  assert.deepEqual(c.moves, [{ kind: 'escrow', identity: 'B', amount: 30n }]);
  assert.deepEqual(c.mustSign, ['B']);
  assert.deepEqual([c.instance.state, c.instance.entered, c.instance.escrow, c.instance.status], ['Open', 5, 30n, 'active']);
  assert.equal(deadlineOf(horse, c.instance)?.at, 15);
  const done = ok(act(horse, c.instance, 'buyer', 'complete', [], 14, balances({ B: 970n }), anyone));
  assert.deepEqual(done.moves, [
    { kind: 'escrow', identity: 'B', amount: 70n },
    { kind: 'pay', identity: 'S', amount: 100n },
  ]);
  assert.deepEqual([done.instance.state, done.instance.status, done.instance.escrow, done.instance.entered], ['Sold', 'final', 0n, 14]);
  assert.equal(deadlineOf(horse, done.instance), null);
  assert.deepEqual(done.mustSign, ['B']);
});

test('act: wrong state, wrong party, deadline passed, bad arguments; the instance is unchanged', () => {
  const c = ok(create(horse, binding(), 5, balances({ B: 1000n })));
  const env = balances({ B: 970n, S: 100n });
  assert.equal(code(act(horse, c.instance, 'buyer', 'complete', [], 15, env, anyone)), 'CONTRACT_DEADLINE_PASSED');
  assert.equal(code(act(horse, c.instance, 'seller', 'complete', [], 6, env, anyone)), 'CONTRACT_NO_TRANSITION');
  assert.equal(code(act(horse, c.instance, 'buyer', 'complete', [1n], 6, env, anyone)), 'CONTRACT_BAD_BINDING');
  assert.equal(code(act(horse, c.instance, 'buyer', 'complete', [], 6, balances({ B: 69n }), anyone)), 'CONTRACT_INSUFFICIENT_BALANCE');
  assert.equal(code(act(horse, c.instance, 'seller', 'cancel', [], 6, balances({ S: 4n }), anyone)), 'CONTRACT_INSUFFICIENT_BALANCE');
  const sold = ok(act(horse, c.instance, 'buyer', 'complete', [], 6, env, anyone)).instance;
  assert.equal(code(act(horse, sold, 'buyer', 'complete', [], 7, env, anyone)), 'CONTRACT_NOT_ACTIVE');
  assert.equal(c.instance.state, 'Open', 'the original instance value is never mutated');
});

test('act: the actor\'s signature is checked after the arguments and before the guard and the amounts, which are then not evaluated', () => {
  const p = program(`contract G { parties a, b
    params cur: asset
    currency cur
    init S { escrow 10 from a }
    state S {
      on a.go(d: int) when 10 / d == 5 and balance(b) > 0 -> T { pay 10 / d * 2 to a }
      after 1 -> T { pay 10 to a } }
    final T }`);
  const bind = { parties: new Map([['a', 'A'], ['b', 'B']]), params: new Map<string, bigint | string>([['cur', 'C']]), refs: new Map<string, number>() };
  let reads = 0;
  const env: Env = {
    balance: () => {
      reads++;
      return 100n;
    },
    instance: () => undefined,
  };
  const i = ok(create(p, bind, 1, env)).instance;
  reads = 0;
  const asked: string[] = [];
  const nobody = (who: string): boolean => {
    asked.push(who);
    return false;
  };
  // The guard would divide by zero; unsigned, it is never evaluated (before 2026-12-01:
  // CONTRACT_DIVISION_BY_ZERO, and CONTRACT_GUARD_FALSE for d = 1).
  assert.equal(code(act(p, i, 'a', 'go', [0n], 1, env, nobody)), 'CONTRACT_NOT_SIGNED');
  assert.equal(code(act(p, i, 'a', 'go', [1n], 1, env, nobody)), 'CONTRACT_NOT_SIGNED');
  assert.deepEqual(asked, ['A', 'A'], 'the actor\'s identity is asked');
  assert.equal(reads, 0, 'nothing of the guard or the effects was evaluated');
  // The checks before it still come first: status, transition, deadline, arguments.
  assert.equal(code(act(p, i, 'b', 'go', [1n], 1, env, nobody)), 'CONTRACT_NO_TRANSITION');
  assert.equal(code(act(p, i, 'a', 'go', [1n], 2, env, nobody)), 'CONTRACT_DEADLINE_PASSED');
  assert.equal(code(act(p, i, 'a', 'go', [true], 1, env, nobody)), 'CONTRACT_BAD_BINDING');
  assert.equal(code(act(p, i, 'a', 'go', [0n], 1, env, anyone)), 'CONTRACT_DIVISION_BY_ZERO');
  assert.equal(code(act(p, i, 'a', 'go', [1n], 1, env, anyone)), 'CONTRACT_GUARD_FALSE');
  assert.equal(code(act(p, i, 'a', 'go', [2n], 1, env, anyone)), 'ok');
});

test('deadlines: nothing before entered + deadline, the after transition at it', () => {
  const c = ok(create(horse, binding({ window: 3n }), 5, balances({ B: 1000n })));
  assert.equal(expire(horse, c.instance, 7, balances({})), null);
  const e = ok(expire(horse, c.instance, 8, balances({})) as Outcome);
  assert.deepEqual([e.instance.state, e.instance.entered, e.instance.escrow], ['Expired', 8, 0n]);
  assert.deepEqual(e.moves, [{ kind: 'pay', identity: 'B', amount: 30n }]);
});

test('creation: bindings, types, ranges and require', () => {
  const env = balances({ B: 1000n });
  assert.equal(code(create(horse, binding({ deposit: 101n }), 1, env)), 'CONTRACT_REQUIRE_FAILED');
  assert.equal(code(create(horse, binding({ deposit: -1n }), 1, env)), 'CONTRACT_BAD_BINDING');
  assert.equal(code(create(horse, binding({ window: 20161n }), 1, env)), 'CONTRACT_BAD_BINDING');
  assert.equal(code(create(horse, binding({ window: 20160n }), 1, env)), 'ok');
  const missing = binding();
  missing.params.delete('penalty');
  assert.equal(code(create(horse, missing, 1, env)), 'CONTRACT_BAD_BINDING');
  const extra = binding();
  extra.parties.set('mallory', 'M');
  assert.equal(code(create(horse, extra, 1, env)), 'CONTRACT_BAD_BINDING');
  const wrongType = binding();
  wrongType.params.set('usd', 5n);
  assert.equal(code(create(horse, wrongType, 1, env)), 'CONTRACT_BAD_BINDING');
  assert.equal(code(create(horse, binding({ deposit: 30n }), 1, balances({ B: 29n }))), 'CONTRACT_INSUFFICIENT_BALANCE');
});

test('arithmetic is exact: division truncates toward zero, division by zero and negative amounts fail', () => {
  const p = program(`contract M { parties a, b
    params x: int, cur: asset
    currency cur
    init S { escrow 10 from a }
    state S {
      on a.div(d: int) -> T { pay 10 + 0 * (x / d) to b }
      on a.neg() -> T { pay x to b
        pay 10 - x to a }
      on a.short() -> T { pay 11 to b
        escrow 1 from a }
      on a.check(q: int) when (-7) / 2 == -3 and 7 / (-2) == -3 and q * q == 100000000000000000000000000000000000000000000000000 -> T { pay 10 to a }
      after 1 -> T { pay 10 to a } }
    final T }`);
  const bind = (x: bigint) => ({ parties: new Map([['a', 'A'], ['b', 'B']]), params: new Map<string, bigint | string>([['x', x], ['cur', 'C']]), refs: new Map<string, number>() });
  const env = balances({ A: 100n });
  const i = ok(create(p, bind(4n), 1, env)).instance;
  assert.equal(code(act(p, i, 'a', 'div', [0n], 1, env, anyone)), 'CONTRACT_DIVISION_BY_ZERO');
  assert.equal(code(act(p, i, 'a', 'div', [3n], 1, env, anyone)), 'ok');
  const n = ok(create(p, bind(-1n), 1, env)).instance;
  assert.equal(code(act(p, n, 'a', 'neg', [], 1, env, anyone)), 'CONTRACT_NEGATIVE_AMOUNT');
  assert.equal(code(act(p, i, 'a', 'short', [], 1, env, anyone)), 'CONTRACT_ESCROW_SHORT', 'effects run in order: the escrow is short before the second one');
  assert.equal(code(act(p, i, 'a', 'check', [10n ** 25n], 1, env, anyone)), 'ok');
  assert.equal(code(act(p, i, 'a', 'check', [10n ** 25n + 1n], 1, env, anyone)), 'CONTRACT_GUARD_FALSE');
});

test('refs: settled and r.state read the committed view of the other instance', () => {
  const source = `${horseSource}\n${readFileSync(fileURLToPath(new URL('../../../examples/contracts/backup-offer.scl', import.meta.url)), 'utf8')}`;
  const backup = program(source, 'BackupOffer');
  let other: { contract: string; state: string; final: boolean } = { contract: 'HorseSale', state: 'Open', final: false };
  const env: Env = { balance: () => 500n, instance: (id) => (id === 7 ? other : undefined) };
  const bind = (ref: number) => ({
    parties: new Map([['seller', 'S'], ['backup', 'K']]),
    params: new Map<string, bigint | string>([['price', 90n], ['usd', 'USD']]),
    refs: new Map([['primary', ref]]),
  });
  assert.equal(code(create(backup, bind(8), 1, env)), 'CONTRACT_BAD_BINDING');
  const wrongKind: Env = { ...env, instance: () => ({ contract: 'Auction', state: 'Open', final: false }) };
  assert.equal(code(create(backup, bind(7), 1, wrongKind)), 'CONTRACT_BAD_BINDING');
  const x: Instance = ok(create(backup, bind(7), 1, env)).instance;
  assert.equal(code(act(backup, x, 'seller', 'accept', [], 2, env, anyone)), 'CONTRACT_GUARD_FALSE');
  other = { contract: 'HorseSale', state: 'Sold', final: true };
  assert.equal(code(act(backup, x, 'seller', 'accept', [], 2, env, anyone)), 'CONTRACT_GUARD_FALSE');
  assert.equal(code(act(backup, x, 'backup', 'withdraw', [], 2, env, anyone)), 'ok');
  other = { contract: 'HorseSale', state: 'Expired', final: true };
  assert.equal(code(act(backup, x, 'seller', 'accept', [], 2, env, anyone)), 'ok');
});
