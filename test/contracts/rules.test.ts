/** Every rule of SCL.md section 5: contracts that must trigger it, and near misses that must not. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, check, find, mutate, rules } from './support.js';

const REF_BASE = `${BASE}
contract Backup {
  parties seller, buyer
  params price: amount, cur: asset
  ref first: Sale
  currency cur
  init Wait { escrow price from buyer }
  state Wait {
    on seller.take() when settled(first) and first.state == Refunded -> Sold { pay price to seller }
    after 50 -> Returned { pay price to buyer }
  }
  final Sold, Returned
}
`;

test('the base contracts pass with no finding at all', () => {
  assert.deepEqual(check(BASE).diagnostics, []);
  assert.deepEqual(check(REF_BASE).diagnostics, []);
});

test('SYN001: what the grammar does not derive, with the position and what was expected', () => {
  const missing = check(mutate('  final Done, Refunded\n}', '  final Done, Refunded\n'));
  assert.deepEqual(rules(missing), ['SYN001']);
  assert.equal(missing.diagnostics.length, 1, 'a file that does not parse has no other diagnostics');
  assert.match(find(missing, 'SYN001').message, /expected .*found end of file/);
  const badOp = check(mutate('escrow price from buyer', 'escrow price ** 2 from buyer'));
  const d = find(badOp, 'SYN001');
  assert.deepEqual([d.line, d.column], [5, 29]); // the second '*'
  assert.match(d.message, /expected an expression, found '\*'/);
  assert.match(find(check(mutate('parties seller, buyer', 'parties seller buyer')), 'SYN001').message, /expected a member/);
  assert.match(find(check(mutate('parties seller, buyer', 'parties seller, state')), 'SYN001').message, /keyword is not a name/);
  assert.match(find(check('contract A { parties a § }'), 'SYN001').message, /unexpected character U\+00A7/);
  assert.match(find(check(''), 'SYN001').message, /expected 'contract', found end of file/);
  assert.match(find(check(mutate('after 5', 'after -5')), 'SYN001').message, /deadline/);
  // Near miss: comments, any member order, repeated params lists.
  const reordered = `// leading comment\ncontract R { final Done\n params cur: asset // trailing\n currency cur\n init S\n parties a\n params w: blocks max 3\n state S { after w -> Done } }`;
  assert.deepEqual(check(reordered).diagnostics, []);
});

test('NAME001: undefined names, duplicates, unknown states, missing or repeated members', () => {
  assert.deepEqual(rules(check(mutate('on seller.ship()', 'on seller.ship() when pric > 0'))), ['NAME001']);
  assert.match(find(check(mutate('on seller.ship()', 'on seller.ship() when pric > 0')), 'NAME001').message, /pric is not defined/);
  assert.deepEqual(rules(check(mutate('parties seller, buyer', 'parties seller, buyer, seller'))), ['NAME001']);
  assert.ok(rules(check(mutate('parties seller, buyer', 'parties seller, buyer, price'))).includes('NAME001'));
  assert.deepEqual(rules(check(mutate('-> Shipped', '-> Shiped'))), ['NAME001']);
  const dupState = check(mutate('  final Done', '  state Shipped { after 1 -> Done }\n  final Done'));
  assert.ok(rules(dupState).includes('NAME001'));
  assert.deepEqual(rules(check(mutate('  currency cur\n', ''))), ['NAME001']);
  assert.deepEqual(rules(check(mutate('  currency cur\n', '  currency cur\n  currency cur\n'))), ['NAME001']);
  assert.deepEqual(rules(check(mutate('  currency cur\n', '  currency money\n'))), ['NAME001']);
  assert.deepEqual(rules(check(mutate('init Open { escrow price from buyer }', 'init Open { escrow price from buyer }\n  init Open'))), ['NAME001']);
  assert.deepEqual(rules(check(mutate('final Done, Refunded', 'final Done, Refunded, Done'))), ['NAME001']);
  assert.deepEqual(rules(check(BASE + BASE)), ['NAME001']);
  assert.deepEqual(rules(check(mutate('pay price to buyer', 'pay price to byer'))), ['NAME001']);
  assert.deepEqual(rules(check(mutate('ref first: Sale', 'ref first: Sael', REF_BASE))), ['NAME001']);
  // Near miss: an action argument may shadow a param (arguments resolve first).
  const shadow = mutate('on seller.ship() -> Shipped', 'on seller.ship(price: int) when price > 0 -> Shipped');
  assert.deepEqual(check(shadow).diagnostics, []);
});

test('TYPE001: arithmetic on bool, and on integers, non-bool guards, bad deadlines, r.state against a non-state', () => {
  assert.deepEqual(rules(check(mutate('pay price to seller }', 'pay price + true to seller }'))), ['TYPE001']);
  assert.deepEqual(rules(check(mutate('on seller.ship()', 'on seller.ship() when price and 1'))), ['TYPE001']);
  assert.deepEqual(rules(check(mutate('on seller.ship()', 'on seller.ship() when price'))), ['TYPE001']);
  assert.deepEqual(rules(check(mutate('after window', 'after price'))), ['TYPE001']);
  assert.deepEqual(rules(check(mutate('after 5', 'after 0'))), ['TYPE001']);
  assert.deepEqual(rules(check(mutate('blocks max 10', 'blocks max 0'))), ['TYPE001']);
  assert.deepEqual(rules(check(mutate('params price: amount', 'require price\n  params price: amount'))), ['TYPE001']);
  assert.deepEqual(rules(check(mutate('currency cur', 'currency price'))), ['TYPE001']);
  assert.deepEqual(rules(check(mutate('first.state == Refunded', 'first.state == Wait', REF_BASE))), ['TYPE001']);
  assert.deepEqual(rules(check(mutate('first.state == Refunded', 'first.state == price', REF_BASE))), ['TYPE001']);
  // Names resolve as arguments, params, parties, refs, states: a party (or a ref) named like
  // a state of the referenced contract is the party, not the state (review, 2026-11-30: it
  // was accepted, and compared as the state's name).
  const shadowedByParty = mutate('parties seller, buyer\n  params price: amount, cur: asset\n  ref first: Sale', 'parties seller, buyer, Refunded\n  params price: amount, cur: asset\n  ref first: Sale', REF_BASE);
  const shadow = find(check(shadowedByParty), 'TYPE001');
  assert.match(shadow.message, /first\.state is compared with something that is not a state of Sale/);
  assert.deepEqual(rules(check(mutate('ref first: Sale', 'ref first: Sale\n  ref Refunded: Sale', REF_BASE))), ['TYPE001']);
  assert.deepEqual(rules(check(mutate('on seller.ship()', 'on seller.ship() when cur == cur'))), ['TYPE001']);
  // A construct is named at its first token, a '(' included (review, 2026-11-30: a binary
  // expression pointed at its left operand's first token inside the parentheses).
  const guard = 'on seller.ship(x: int) when (x + 1) == true';
  const paren = find(check(mutate('on seller.ship()', guard)), 'TYPE001');
  assert.deepEqual([paren.line, paren.column], [7, 5 + guard.indexOf('(x + 1)')]);
  // A byte order mark before the source is not part of it, as text or as bytes.
  assert.deepEqual(check(`\uFEFF${BASE}`).diagnostics, []);
  const afterMark = find(check(`\uFEFF${mutate('after 5', 'after 0')}`), 'TYPE001');
  const plain = find(check(mutate('after 5', 'after 0')), 'TYPE001');
  assert.deepEqual([afterMark.line, afterMark.column], [plain.line, plain.column]);
  // Near misses: comparisons and logic that are well typed.
  assert.deepEqual(check(mutate('on seller.ship()', 'on seller.ship(x: int, ok: bool) when (x * 2 - price / 3 >= -1 or not ok) and ok == true and height < entered + 100 and balance(seller) >= 0')).diagnostics, []);
});

test('FSM001: a cycle in the state graph, listed in the diagnostic', () => {
  const r = check(mutate('on buyer.accept() -> Done', 'on buyer.accept() -> Open'));
  assert.ok(rules(r).includes('FSM001'));
  const d = find(r, 'FSM001');
  assert.deepEqual(d.trace, ['Open', 'Shipped', 'Open']);
  assert.equal(d.state, 'Shipped');
  assert.equal(d.line, 11);
  const self = check(mutate('on seller.ship() -> Shipped', 'on seller.ship() -> Open'));
  assert.deepEqual(find(self, 'FSM001').trace, ['Open', 'Open']);
});

test('FSM002: a non-final state without after', () => {
  const r = check(mutate('    after 5 -> Done { pay price to seller }\n', ''));
  assert.deepEqual(rules(r), ['FSM002']);
  assert.equal(find(r, 'FSM002').state, 'Shipped');
  // The init state needs no body only when it is final.
  assert.deepEqual(rules(check('contract I { parties a\n params c: asset\n currency c\n init S\n final T }')), ['FSM002']);
  assert.deepEqual(check('contract I { parties a\n params c: asset\n currency c\n init T\n final T }').diagnostics, []);
});

test('FSM003: a final state with transitions (not NAME001), a contract without a final state', () => {
  const r = check(mutate('  final Done, Refunded', '  state Done { after 1 -> Refunded }\n  final Done, Refunded'));
  assert.deepEqual(rules(r), ['FSM003']);
  const none = check('contract N { parties a\n params c: asset\n currency c\n init S\n state S { after 1 -> S } }');
  assert.ok(rules(none).includes('FSM003'));
  // Near miss: an empty body for a final state is harmless.
  assert.deepEqual(check(mutate('  final Done, Refunded', '  state Done { }\n  final Done, Refunded')).diagnostics, []);
});

test('FSM004: a lifetime above the horizon or --max-horizon; the longest path in the trace', () => {
  // lifetime(Open) = 10 + lifetime(Shipped) = 10 + 5 = 15.
  const over = check(mutate('  currency cur', '  horizon 14\n  currency cur'));
  assert.deepEqual(rules(over), ['FSM004']);
  const d = find(over, 'FSM004');
  assert.deepEqual(d.figure, { value: 15, limit: 14 });
  assert.deepEqual(d.trace, ['Open', 'Shipped', 'Done']);
  assert.deepEqual(check(mutate('  currency cur', '  horizon 15\n  currency cur')).diagnostics, []);
  assert.deepEqual(rules(check(BASE, { maxHorizon: 14 })), ['FSM004']);
  assert.deepEqual(check(BASE, { maxHorizon: 15 }).diagnostics, []);
  // Not computed with FSM002 errors.
  assert.deepEqual(rules(check(mutate('    after 5 -> Done { pay price to seller }\n', ''), { maxHorizon: 1 })), ['FSM002']);
});

function ladder(n: number): string {
  // n states in a row, each with two ways forward: 2^n paths, 2n + 1 transitions.
  let s = 'contract L {\n  parties a\n  params c: asset\n  currency c\n  init S0\n';
  for (let i = 0; i < n; i++) s += `  state S${i} { on a.x() -> S${i + 1}\n after 1 -> S${i + 1} }\n`;
  return `${s}  final S${n}\n}\n`;
}

test('FSM005: more possible futures than --max-paths, counted exactly by dynamic programming, refs multiplying', () => {
  assert.deepEqual(check(ladder(13)).diagnostics, []); // 8192 paths
  const over = check(ladder(14)); // 16384
  assert.deepEqual(rules(over), ['FSM005']);
  assert.deepEqual(find(over, 'FSM005').figure, { value: 16384, limit: 10000 });
  assert.deepEqual(check(ladder(14), { maxPaths: 16384 }).diagnostics, []);
  // An astronomically large count stays fast (linear) and is reported, saturated.
  const huge = check(ladder(300), { maxHorizon: 10_000 });
  assert.deepEqual(rules(huge), ['FSM005']);
  assert.match(String(find(huge, 'FSM005').figure?.value), /^>/);
  // Refs multiply: Backup has 2 paths itself, Sale has 3: 6; each ref counts.
  assert.deepEqual(rules(check(REF_BASE, { maxPaths: 5 })), ['FSM005']);
  assert.deepEqual(find(check(REF_BASE, { maxPaths: 5 }), 'FSM005').figure, { value: 6, limit: 5 });
  const twoRefs = mutate('ref first: Sale', 'ref first: Sale\n  ref second: Sale', REF_BASE);
  assert.deepEqual(find(check(twoRefs, { maxPaths: 17 }), 'FSM005').figure, { value: 18, limit: 17 });
  assert.deepEqual(check(twoRefs, { maxPaths: 18 }).diagnostics, []);
});

test('FSM006: same actor and action twice in a state; two after transitions', () => {
  assert.deepEqual(rules(check(mutate('on seller.ship() -> Shipped', 'on seller.ship() -> Shipped\n    on seller.ship() -> Refunded { pay price to buyer }'))), ['FSM006']);
  assert.deepEqual(rules(check(mutate('after 5 -> Done { pay price to seller }', 'after 5 -> Done { pay price to seller }\n    after 6 -> Done { pay price to seller }'))), ['FSM006']);
  // Near miss: the same action name for two different actors.
  assert.deepEqual(check(mutate('on seller.ship() -> Shipped', 'on seller.ship() -> Shipped\n    on buyer.ship() -> Refunded { pay price to buyer }')).diagnostics, []);
});

test('FSM007 (warning): an unreachable state; lint still passes', () => {
  const r = check(mutate('  final Done', '  state Orphan { after 1 -> Done }\n  final Done'));
  assert.deepEqual(rules(r), []);
  assert.deepEqual(rules(r, 'warning'), ['FSM007']);
  assert.equal(r.errors, 0);
  assert.equal(find(r, 'FSM007').severity, 'warning');
});

test('TEMP001 and GRD001: future operators and reads of what is not committed', () => {
  for (const op of ['eventually(price > 0)', 'always(true)', 'next(true)', 'price > 0 until price > 1']) {
    assert.deepEqual(rules(check(mutate('on seller.ship()', `on seller.ship() when ${op}`))), ['TEMP001'], op);
  }
  for (const op of ['pending(price)', 'proposed(1)', 'mempool()', 'future(1, 2)']) {
    assert.deepEqual(rules(check(mutate('on seller.ship()', `on seller.ship() when ${op}`))), ['GRD001'], op);
  }
  const d = find(check(mutate('on seller.ship()', 'on seller.ship() when true and next(true)')), 'TEMP001');
  assert.deepEqual([d.line, d.column], [7, 36]);
});

test('XREF001: ref cycles (reported on every contract of the cycle) and depth above --max-depth', () => {
  const a = 'contract A { parties p\n params c: asset\n currency c\n ref b: B\n init T\n final T }\n';
  const b = 'contract B { parties p\n params c: asset\n currency c\n ref a: A\n init T\n final T }\n';
  const r = check({ 'a.scl': a, 'b.scl': b });
  assert.deepEqual(rules(r), ['XREF001']);
  assert.deepEqual(r.diagnostics.map((d) => d.contract).sort(), ['A', 'B']);
  assert.deepEqual(find(r, 'XREF001').trace, ['A', 'B', 'A']);
  assert.deepEqual(r.diagnostics.find((d) => d.contract === 'B')?.trace, ['B', 'A', 'B']);
  // C is in the knot (A refers to it, it refers to A) but not on the cycle shown: reported too.
  const a2 = a.replace('ref b: B', 'ref b: B\n ref c2: C');
  const c = 'contract C { parties p\n params c: asset\n currency c\n ref a: A\n init T\n final T }\n';
  const knot = check({ 'a.scl': a2, 'b.scl': b, 'c.scl': c });
  assert.deepEqual(knot.diagnostics.map((d) => d.contract), ['A', 'B', 'C']);
  assert.equal(knot.diagnostics[2]?.message, 'ref a leads into a cycle among contracts that leads back to C: A -> B -> A');
  // A chain C0 <- C1 <- ... : depth of C5 is 5.
  let chain = 'contract C0 { parties p\n params c: asset\n currency c\n init T\n final T }\n';
  for (let i = 1; i <= 5; i++) chain += `contract C${i} { parties p\n params c: asset\n currency c\n ref r: C${i - 1}\n init T\n final T }\n`;
  const deep = check(chain);
  assert.deepEqual(rules(deep), ['XREF001']);
  assert.deepEqual(deep.diagnostics.map((d) => d.contract), ['C5']);
  assert.deepEqual(find(deep, 'XREF001').figure, { value: 5, limit: 4 });
  assert.deepEqual(check(chain, { maxDepth: 5 }).diagnostics, []);
});

test('XREF002: r.state without settled(r) in the top-level conjunction, or outside a guard', () => {
  assert.deepEqual(rules(check(mutate('settled(first) and first.state', 'first.state', REF_BASE))), ['XREF002']);
  assert.deepEqual(rules(check(mutate('settled(first) and first.state == Refunded', '(settled(first) or true) and first.state == Refunded', REF_BASE))), ['XREF002']);
  assert.deepEqual(rules(check(mutate('settled(first) and first.state == Refunded', 'not settled(first) and first.state == Refunded', REF_BASE))), ['XREF002']);
  assert.deepEqual(rules(check(mutate('  init Wait', '  require first.state == Refunded\n  init Wait', REF_BASE))), ['XREF002']);
  // Near miss: settled in a nested top-level conjunction, the comparison reversed.
  assert.deepEqual(check(mutate('settled(first) and first.state == Refunded', 'price > 0 and (Refunded != first.state and settled(first))', REF_BASE)).diagnostics, []);
});

test('XREF003 (warning): reading r.state in a state whose deadline is below r lifetime', () => {
  const r = check(mutate('after 50 -> Returned', 'after 14 -> Returned', REF_BASE));
  assert.deepEqual(rules(r), []);
  assert.deepEqual(rules(r, 'warning'), ['XREF003']);
  assert.deepEqual(find(r, 'XREF003').figure, { value: 14, limit: 15 });
  assert.deepEqual(check(mutate('after 50 -> Returned', 'after 15 -> Returned', REF_BASE)).diagnostics, []);
});

test('ESC001: escrow not conserved as a polynomial; the path and the remainder', () => {
  const r = check(mutate('pay price to buyer', 'pay price - 1 to buyer'));
  assert.deepEqual(rules(r), ['ESC001']);
  const d = find(r, 'ESC001');
  assert.deepEqual(d.trace, ['Open', 'Refunded']);
  assert.match(d.message, /escrowed minus paid is 1, not 0/);
  const symbolic = check(mutate('on buyer.accept() -> Done { pay price to seller }', 'on buyer.accept(tip: amount) -> Done { escrow tip from buyer\n pay price + 2 * tip to seller }'));
  assert.deepEqual(rules(symbolic), ['ESC001']);
  assert.match(find(symbolic, 'ESC001').message, /-tip@Shipped:buyer\.accept/);
  // Equal arguments of different transitions are different variables.
  const twoArgs = mutate('on seller.ship() -> Shipped', 'on seller.ship(x: amount) -> Shipped { escrow x from seller }');
  const leaks = mutate('on buyer.accept() -> Done { pay price to seller }', 'on buyer.accept(x: amount) -> Done { pay price + x to seller }', twoArgs);
  assert.deepEqual(rules(check(leaks)), ['ESC001']);
  // Near misses: algebra that cancels exactly (the horse-sale shape, products, quotients).
  assert.deepEqual(check(mutate('pay price to seller }', 'escrow price * price - (price + 1) * (price - 1) - 1 from buyer\n pay price to seller }')).diagnostics, []);
  assert.deepEqual(check(mutate('on buyer.accept() -> Done { pay price to seller }', 'on buyer.accept(x: amount) -> Done { escrow x / 2 from buyer\n pay price to seller\n pay x / 2 to buyer }')).diagnostics, []);
});

test('AUTH001: escrow from a party in an after transition or in another party action', () => {
  assert.deepEqual(rules(check(mutate('after window -> Refunded { pay price to buyer }', 'after window -> Refunded { escrow 1 from seller\n pay price + 1 to buyer }'))), ['AUTH001']);
  assert.deepEqual(rules(check(mutate('on seller.ship() -> Shipped', 'on seller.ship() -> Shipped { escrow 1 from buyer\n pay 1 to buyer }'))), ['AUTH001']);
  // Near miss: the actor escrows.
  assert.deepEqual(check(mutate('on seller.ship() -> Shipped', 'on seller.ship() -> Shipped { escrow 1 from seller\n pay 1 to seller }')).diagnostics, []);
});

test('diagnostics carry contract and state, and every rule is reported together after parsing', () => {
  const src = mutate('on seller.ship()', 'on seller.ship() when eventually(true) and pending(1)', mutate('pay price to buyer', 'pay 1 to buyer'));
  const r = check(src);
  assert.deepEqual(rules(r), ['ESC001', 'GRD001', 'TEMP001']);
  for (const d of r.diagnostics) {
    assert.equal(d.contract, 'Sale');
    assert.equal(d.file, 'test.scl');
  }
  assert.equal(find(r, 'GRD001').state, 'Open');
});

test('every subexpression and deadline is checked, also where an enclosing finding is already made (review, 2026-12-01)', () => {
  const at = (r: ReturnType<typeof check>) => r.diagnostics.map((d) => `${d.line}:${d.column} ${d.ruleId}`);
  const guard = (expr: string, base = BASE) => mutate('on seller.ship()', `on seller.ship() when ${expr}`, base);
  // Under GRD001, and under a builtin given the wrong number of arguments.
  assert.deepEqual(at(check(mutate('  init Open', '  require pending(eventually(price > 0))\n  init Open'))), ['5:11 GRD001', '5:19 TEMP001']);
  assert.deepEqual(at(check(guard('pending(nope) == 0'))), ['7:27 GRD001', '7:35 NAME001']);
  assert.deepEqual(at(check(guard('balance(seller, eventually(true)) > 0'))), ['7:27 TYPE001', '7:43 TEMP001']);
  // The other side of an r.state comparison, whether the comparison is refused for it or for r.
  const ref = (expr: string) => check(mutate('settled(first) and first.state == Refunded', `settled(first) and ${expr}`, REF_BASE));
  assert.deepEqual(rules(ref('first.state == eventually(true)')), ['TEMP001', 'TYPE001']);
  assert.deepEqual(rules(ref('nope.state == mempool()')), ['GRD001', 'NAME001']);
  assert.deepEqual(rules(ref('first.state == other.state')), ['NAME001', 'TYPE001']);
  assert.deepEqual(rules(ref('first.state == Nope')), ['TYPE001'], 'a bare name is read as a state of first: one finding');
  // A second after: FSM006, and its own deadline checked.
  const twoAfters = (d: string) => check(mutate('after window -> Refunded { pay price to buyer }', `after window -> Refunded { pay price to buyer }\n    after ${d} -> Refunded { pay price to buyer }`));
  assert.deepEqual(rules(twoAfters('3')), ['FSM006']);
  assert.deepEqual(rules(twoAfters('0')), ['FSM006', 'TYPE001']);
  assert.deepEqual(rules(twoAfters('nope')), ['FSM006', 'NAME001']);
  // The body of a final state, and a state's second body: names, deadlines, guards, effects.
  const finalBody = check(mutate('  final Done', '  state Done { on nobody.x() when mempool() -> Nowhere { pay eventually(1) to buyer }\n    after 0 -> Refunded }\n  final Done'));
  assert.deepEqual(rules(finalBody), ['FSM003', 'GRD001', 'NAME001', 'TEMP001', 'TYPE001']);
  assert.deepEqual(finalBody.diagnostics.filter((d) => d.ruleId === 'NAME001').map((d) => d.column), [19, 48]); // nobody, Nowhere
  const second = check(mutate('  final Done', '  state Shipped { on buyer.y() when future() -> Done { pay true to buyer }\n    after 1 -> Done\n    after x -> Done }\n  final Done'));
  assert.deepEqual(rules(second), ['FSM006', 'GRD001', 'NAME001', 'TYPE001']);
  // A second init's effects.
  assert.deepEqual(rules(check(mutate('init Open { escrow price from buyer }', 'init Open { escrow price from buyer }\n  init Open { escrow future() from buyer }'))), ['GRD001', 'NAME001']);
  // Bodies outside the state graph leave its rules alone: the leak of the main path is still found.
  const leak = check(mutate('pay price to buyer', 'pay price - 1 to buyer', mutate('  final Done', '  state Shipped { after 1 -> Done { pay true to buyer } }\n  final Done')));
  assert.deepEqual(rules(leak), ['ESC001', 'NAME001', 'TYPE001']);
});

test('currency findings point at the name; a party hidden by an action argument is refused where it is used (review, 2026-12-01)', () => {
  const notParam = find(check(mutate('  currency cur\n', '  currency money\n')), 'NAME001');
  assert.deepEqual([notParam.line, notParam.column], [4, 12], 'at money, not at the keyword');
  const notAsset = find(check(mutate('  currency cur\n', '  currency price\n')), 'TYPE001');
  assert.deepEqual([notAsset.line, notAsset.column], [4, 12]);
  const twice = find(check(mutate('  currency cur\n', '  currency cur\n  currency cur\n')), 'NAME001');
  assert.deepEqual([twice.line, twice.column, twice.message], [5, 3, 'currency is declared twice in Sale'], 'a repeated member: at its keyword');
  // Names resolve to action arguments first (SCL.md section 2): `to seller` below is the
  // argument seller, an amount, not the party. This was accepted, paying the party.
  const paid = check(mutate('on buyer.accept() -> Done { pay price to seller }', 'on buyer.accept(seller: amount) -> Done { pay price to seller }'));
  assert.deepEqual(rules(paid), ['TYPE001']);
  const d = find(paid, 'TYPE001');
  assert.deepEqual([d.line, d.column], [11, 60]);
  assert.match(d.message, /seller is the transition's argument of type amount, not a party/);
  const escrowed = check(mutate('on seller.ship() -> Shipped', 'on seller.ship(buyer: int) -> Shipped { escrow 0 from buyer }'));
  assert.deepEqual(rules(escrowed), ['TYPE001'], 'no AUTH001 as well: the name is not the party');
  // The actor too: its arguments are in scope in the whole transition.
  const actor = check(mutate('on seller.ship()', 'on seller.ship(seller: int)'));
  assert.deepEqual(rules(actor), ['TYPE001']);
  assert.deepEqual([find(actor, 'TYPE001').line, find(actor, 'TYPE001').column], [7, 8]);
  // Near miss: an argument that hides nothing, and one that hides a param (allowed; docs/contracts.md).
  assert.deepEqual(check(mutate('on buyer.accept() -> Done { pay price to seller }', 'on buyer.accept(tip: amount) -> Done { pay price to seller }')).diagnostics, []);
  assert.deepEqual(check(mutate('on buyer.accept() -> Done { pay price to seller }', 'on buyer.accept(window: int) -> Done { pay price to seller }')).diagnostics, []);
});

test('a param, ref or state where a party is expected is TYPE001 (a defined name of the wrong kind); a name defined nowhere is NAME001 (review, 2026-12-02)', () => {
  // As an actor.
  const actor = find(check(mutate('on seller.ship()', 'on price.ship()')), 'TYPE001');
  assert.deepEqual([actor.line, actor.column, actor.message], [7, 8, 'price is a param of type amount of Sale, not a party']);
  // As the party of an effect: a param, a state.
  const paid = check(mutate('pay price to seller }', 'pay price to window }'));
  assert.deepEqual(rules(paid), ['TYPE001']);
  assert.equal(find(paid, 'TYPE001').message, 'window is a param of type blocks of Sale, not a party');
  const toState = check(mutate('pay price to seller }', 'pay price to Shipped }'));
  assert.deepEqual(rules(toState), ['TYPE001']);
  assert.equal(find(toState, 'TYPE001').message, 'Shipped is a state of Sale, not a party');
  // A ref.
  const withRef = `${BASE}contract Holder {
  parties a
  params h: asset
  currency h
  ref s: Sale
  init W { }
  state W { on s.go() -> F after 1 -> F { pay 0 to s } }
  final F
}
`;
  const r = check(withRef);
  assert.deepEqual(r.diagnostics.map((d) => [d.ruleId, d.message]), [
    ['TYPE001', 's is a ref of Holder, not a party'],
    ['TYPE001', 's is a ref of Holder, not a party'],
  ]);
  // Defined nowhere: NAME001, as before.
  assert.deepEqual(rules(check(mutate('on seller.ship()', 'on nobody.ship()'))), ['NAME001']);
  assert.deepEqual(rules(check(mutate('pay price to seller }', 'pay price to nobody }'))), ['NAME001']);
});

test('review of 2026-12-02: XREF001 reaches a contract that leads into a cycle from afar; the wrong kind of name is TYPE001; a lexical error after a grammar error is not the one reported; summaries count the files that parsed', () => {
  const minimal = (name: string, refs: string[]): string => `contract ${name} { parties p params c: asset currency c ${refs.map((r, k) => `ref r${k}: ${r}`).join(' ')} init S state S { after 1 -> E } final E }\n`;
  // C -> D -> A <-> B: C's depth is unbounded too, two hops from the cycle.
  const far = check(minimal('A', ['B']) + minimal('B', ['A']) + minimal('D', ['A']) + minimal('C', ['D']));
  const flagged = far.diagnostics.filter((d) => d.ruleId === 'XREF001').map((d) => d.contract).sort();
  assert.deepEqual(flagged, ['A', 'B', 'C', 'D']);
  assert.match(far.diagnostics.find((d) => d.contract === 'C')!.message, /ref r0 leads into a cycle/);
  // `X.state` and `currency X` for an X defined as something else: TYPE001, not NAME001.
  const notRef = check(mutate('on seller.ship() ->', 'on seller.ship() when price.state == Open ->'));
  assert.deepEqual(rules(notRef), ['TYPE001']);
  assert.match(find(notRef, 'TYPE001').message, /price is a param of type amount of Sale, not a ref/);
  assert.deepEqual(rules(check(mutate('on seller.ship() ->', 'on seller.ship() when Nowhere.state == Open ->'))), ['NAME001']);
  for (const [name, what] of [['seller', 'a party'], ['Open', 'a state']] as const) {
    const r = check(mutate('currency cur', `currency ${name}`));
    assert.ok(rules(r).includes('TYPE001') && !rules(r).includes('NAME001'), JSON.stringify(r.diagnostics));
    assert.match(find(r, 'TYPE001').message, new RegExp(`currency ${name} is ${what}, not an asset param`));
  }
  assert.ok(rules(check(mutate('currency cur', 'currency nothing'))).includes('NAME001'));
  // The first token the grammar refuses, not a bad character further on.
  const first = check('contract A { parties , b }\ncontract B { parties p § }\n');
  assert.equal(first.diagnostics.length, 1);
  assert.deepEqual([first.diagnostics[0]!.line, first.diagnostics[0]!.column], [1, 22]);
  assert.match(first.diagnostics[0]!.message, /expected a party name.*found ','/);
  // A lexical error the parser reaches is still reported as itself.
  assert.match(find(check('contract A { parties a § }'), 'SYN001').message, /unexpected character U\+00A7/);
  // With a syntax error in one file, the contracts of the files that parsed are counted.
  const two = check({ 'bad.scl': 'contract X {', 'good.scl': BASE });
  assert.deepEqual(rules(two), ['SYN001']);
  assert.equal(two.contracts.length, 1);
});

test('a lone CR is white space: it ends neither a line nor a comment (deployed contracts must parse as they did); columns count characters beyond U+FFFF in a comment as one (review of 2026-12-02)', () => {
  const a = 'contract A { parties p params c: asset currency c init S state S { after 1 -> E } final E }';
  const hidden = check(`${a} // a note\r${a.replace('contract A', 'contract B')}\n`);
  assert.deepEqual(hidden.diagnostics, []);
  assert.deepEqual(hidden.contracts.map((c) => c.name), ['A'], 'the text after the CR is still in the comment');
  const badCr = check('contract A {\r  parties a \u00a7\r}');
  assert.deepEqual([find(badCr, 'SYN001').line, find(badCr, 'SYN001').column], [1, 26]);
  const crlf = check('contract A {\r\n  parties a\r\n  \u00a7\n}');
  assert.deepEqual([find(crlf, 'SYN001').line, find(crlf, 'SYN001').column], [3, 3]);
  const emoji = check('contract A { // \u{1F600}\u{1F600}');
  assert.deepEqual([find(emoji, 'SYN001').line, find(emoji, 'SYN001').column], [1, 19]);
});
