/** Hostile source: bounded, refused precisely, never a crash or a stack overflow. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseSource } from '../../contracts/parser.js';
import { AMOUNT_TEXT_MAX, CALL_ARGUMENTS_MAX, CONTRACTS_PER_FILE_MAX, EXPRESSION_DEPTH_MAX, EXPRESSION_NESTING_MAX, IDENTIFIER_CHARS_MAX, INTEGER_DIGITS_MAX, POLY_COEFFICIENT_BITS_MAX, SOURCE_BYTES_MAX, TRACE_STATES_MAX } from '../../contracts/limits.js';
import { checkContracts, DEFAULT_OPTIONS, readableAmount, type ContractSummary } from '../../contracts/checker.js';
import type { Contract } from '../../contracts/ast.js';
import { formatText, SourceLines } from '../../contracts/report.js';
import { compile, create } from '../../contracts/interpreter.js';
import { BASE, check, find, mutate, rules } from './support.js';

function syn(source: string | Uint8Array): string {
  const r = parseSource('h.scl', source);
  assert.equal(r.diagnostics.length, 1, 'exactly one SYN001');
  const d = r.diagnostics[0] as (typeof r.diagnostics)[0];
  assert.equal(d.ruleId, 'SYN001');
  return d.message;
}

const guarded = (expr: string) => mutate('on seller.ship()', `on seller.ship() when ${expr}`);

test('a file over the size limit is refused before lexing', () => {
  const big = `${BASE}//${'x'.repeat(SOURCE_BYTES_MAX)}`;
  assert.match(syn(big), new RegExp(`limit is ${SOURCE_BYTES_MAX}`));
  assert.match(syn(new Uint8Array(SOURCE_BYTES_MAX + 1)), /limit/);
});

test('deep nesting of every kind is refused at the bound, without recursion trouble', () => {
  const n = 200_000;
  assert.match(syn(guarded(`${'('.repeat(n)}true${')'.repeat(n)}`)), new RegExp(`nested deeper than ${EXPRESSION_NESTING_MAX}`));
  assert.match(syn(guarded(`${'not '.repeat(n)}true`)), /nested deeper/);
  assert.match(syn(guarded(`${'- '.repeat(n)}1 > 0`)), /nested deeper/);
  assert.match(syn(guarded(`${'1 + '.repeat(n)}1 > 0`)), new RegExp(`more than ${EXPRESSION_DEPTH_MAX} nested operations`));
  assert.match(syn(guarded(`${'true and '.repeat(n)}true`)), /nested operations/);
  assert.match(syn(guarded(`${'settled('.repeat(n)}x${')'.repeat(n)}`)), /nested deeper/);
  // Just inside the bounds is fine and checks normally.
  const ok = guarded(`${'('.repeat(EXPRESSION_NESTING_MAX - 1)}true${')'.repeat(EXPRESSION_NESTING_MAX - 1)}`);
  assert.deepEqual(check(ok).diagnostics, []);
  const chain = guarded(`${'1 + '.repeat(EXPRESSION_DEPTH_MAX - 2)}1 > 0`);
  assert.deepEqual(check(chain).diagnostics, []);
  // The deepest allowed amount goes through the type checker, the escrow polynomial and
  // the interpreter, all of which recurse over the tree.
  const deepAmount = mutate('init Open { escrow price from buyer }', `init Open { escrow ${'0 + '.repeat(EXPRESSION_DEPTH_MAX - 2)}price from buyer }`);
  assert.deepEqual(check(deepAmount).diagnostics, []);
  const program = compile(parseSource('d.scl', deepAmount).contracts[0] as NonNullable<ReturnType<typeof parseSource>['contracts'][0]>);
  const out = create(program, { parties: new Map([['seller', 'S'], ['buyer', 'B']]), params: new Map<string, bigint | string>([['price', 7n], ['window', 3n], ['cur', 'X']]), refs: new Map() }, 1, { balance: () => 10n, instance: () => undefined });
  assert.ok(out.ok && out.instance.escrow === 7n);
});

test('long identifiers and giant integers are refused with their size', () => {
  assert.match(syn(mutate('price', 'p'.repeat(IDENTIFIER_CHARS_MAX + 1))), new RegExp(`identifier of ${IDENTIFIER_CHARS_MAX + 1} characters`));
  assert.deepEqual(check(mutate('contract Sale', `contract ${'S'.repeat(IDENTIFIER_CHARS_MAX)}`)).diagnostics, []);
  assert.match(syn(mutate('after 5', `after ${'9'.repeat(INTEGER_DIGITS_MAX + 1)}`)), new RegExp(`integer of ${INTEGER_DIGITS_MAX + 1} digits`));
  // A giant but allowed deadline is exact: the lifetime is reported, not overflowed.
  const giant = check(mutate('after 5', `after ${'9'.repeat(INTEGER_DIGITS_MAX)}`));
  assert.deepEqual(rules(giant), ['FSM004']);
  assert.equal(find(giant, 'FSM004').figure?.value, (10n ** BigInt(INTEGER_DIGITS_MAX) - 1n + 10n).toString());
});

test('huge valid contracts are checked in bounded time and memory', () => {
  let s = 'contract Long {\n parties a\n params c: asset\n currency c\n init S0\n';
  const n = 50_000;
  for (let i = 0; i < n; i++) s += ` state S${i} { on a.go() -> S${i + 1}\n after 1 -> S${i + 1} }\n`;
  s += ` final S${n}\n}\n`;
  const started = performance.now();
  const r = check(s, { maxHorizon: 10_000_000 });
  assert.deepEqual(rules(r), ['FSM005'], 'only the astronomically large path count is an error');
  assert.ok(performance.now() - started < 20_000, 'no quadratic blow-up');
  // Many diagnostics of one rule are capped, with a note.
  let unreached = 'contract U {\n parties a\n params c: asset\n currency c\n init T\n';
  for (let i = 0; i < 500; i++) unreached += ` state X${i} { after 1 -> T }\n`;
  const u = check(`${unreached} final T\n}\n`);
  assert.equal(u.diagnostics.length, 50);
  assert.match(u.diagnostics.at(-1)?.message ?? '', /further FSM007 findings/);
});

test('polynomials that would explode are refused by ESC001 with the reason, not computed', () => {
  const factors = Array.from({ length: 24 }, (_, i) => `(price + x${i})`).join(' * ');
  const args = Array.from({ length: 24 }, (_, i) => `x${i}: int`).join(', ');
  const src = mutate('on buyer.accept() -> Done { pay price to seller }', `on buyer.accept(${args}) -> Done { escrow ${factors} from buyer\n pay price to seller }`);
  const r = check(src);
  assert.deepEqual(rules(r), ['ESC001']);
  assert.match(find(r, 'ESC001').message, /cannot be proved/);
});

test('polynomial work is bounded by its size, not only its terms: long monomials and quotients of big numerators stop with ESC001 (review, 2026-11-30)', () => {
  // Sixteen amount params summed, raised to the 4th power (3,876 terms), divided, then
  // multiplied again: named by its 50 KB text, the quotient was split on '*' in every
  // product, tens of seconds of work for about 300 bytes of source.
  const names = 'abcdefghijklmnop'.split('');
  const S = `(${names.join(' + ')})`;
  const params = names.map((n) => `${n}: amount`).join(', ');
  const quotient = `contract Q { parties payer\n params ${params}, cur: asset\n currency cur\n init X { escrow ${S}*${S}*${S}*${S}/1*${S}*${S}*${S}*${S} from payer }\n final X }\n`;
  // Its quotient is one short variable now: the check finishes (it escrows without paying,
  // so it leaks), and the message spells the quotient out, cut to a bound.
  const q = check(quotient);
  assert.deepEqual(rules(q), ['ESC001']);
  const message = find(q, 'ESC001').message;
  assert.match(message, /is not conserved/);
  assert.match(message, /\*\(a\*a\*a\*a \+ 4\*a\*a\*a\*b/);
  assert.doesNotMatch(message, /q#/);
  assert.ok(message.length < 2_500, `${message.length} characters`);
  // (a + b)^k: few terms, long monomials.
  const power = `contract P { parties payer\n params a: amount, b: amount, cur: asset\n currency cur\n init X { escrow ${Array.from({ length: 600 }, () => '(a + b)').join('*')} from payer }\n final X }\n`;
  const pr = check(power);
  assert.deepEqual(rules(pr), ['ESC001']);
  assert.match(find(pr, 'ESC001').message, /cannot be proved/);
});

test('escrow polynomial coefficients are bounded: products of huge literals stop with ESC001, not a crash or a long stall (review, 2026-11-30)', () => {
  // Eight params summed to the 7th power (3,432 terms) times a 5,000-digit product of
  // literals, divided, times the sum to the 4th: every term's coefficient had 5,000 digits,
  // the quotient's text 17 million characters, and the leak message's expansion of it past
  // V8's longest string: a RangeError (exit 70 from stele lint, HTTP 500 on deploy). The
  // same quotient escrowed and paid back was accepted after seconds of work per check.
  const S = '(a + b + c + d + e + f + g + h)';
  const K = Array.from({ length: 50 }, () => '9'.repeat(INTEGER_DIGITS_MAX)).join(' * ');
  const Q = `((${Array.from({ length: 7 }, () => S).join('*')} * (${K})) / 1)`;
  const head = 'parties p\n params cur: asset, a: int, b: int, c: int, d: int, e: int, f: int, g: int, h: int\n currency cur';
  const boom = check(`contract Boom { ${head}\n init F { escrow ${Q} * ${S}*${S}*${S}*${S} from p }\n final F }\n`);
  assert.deepEqual(rules(boom), ['ESC001']);
  assert.match(find(boom, 'ESC001').message, new RegExp(`cannot be proved: a coefficient has more than ${POLY_COEFFICIENT_BITS_MAX} bits`));
  const slow = check(`contract Slow { ${head}\n init S { escrow ${Q} from p }\n state S { after 1 -> F { pay ${Q} to p } }\n final F }\n`);
  assert.deepEqual(rules(slow), ['ESC001']);
  // Near miss: the product of two of the longest literals (about 664 bits) is well within the bound.
  const big = `${'9'.repeat(INTEGER_DIGITS_MAX)} * ${'9'.repeat(INTEGER_DIGITS_MAX)} * a`;
  assert.deepEqual(check(`contract Fine { ${head}\n init S { escrow ${big} from p }\n state S { after 1 -> F { pay ${big} to p } }\n final F }\n`).diagnostics, []);
});

test('the text of an amount is cut while quotients are spelled out, not after (review, 2026-11-30: a long quotient named many times made a string past the longest V8 allows)', () => {
  const quotients = new Map([['q#1', `(${'x'.repeat(10_000_000)})/(1)`]]);
  const text = readableAmount('q#1 + '.repeat(400) + '1', quotients);
  assert.ok(text.length <= AMOUNT_TEXT_MAX + 1, `${text.length} characters`);
  assert.ok(text.endsWith('…'));
  assert.equal(readableAmount('2*q#1 - q#2', new Map([['q#1', '(a)/(q#2)'], ['q#2', '(b)/(c)']])), '2*(a)/((b)/(c)) - (b)/(c)');
});

test('ESC001: products of different quotients are different monomials (review, 2026-11-30: named by their text, they were split and mixed)', () => {
  const split = (pay: string) =>
    `contract Split { parties p, q\n params a: amount, b: amount, c: amount, d: amount, z: amount, cur: asset\n currency cur\n init S { escrow (a*c)/z * ((b*d)/z) from p }\n state S { after 1 -> F { pay ${pay} to q } }\n final F }\n`;
  const r = check(split('(a*d)/z * ((b*c)/z)'));
  assert.deepEqual(rules(r), ['ESC001']);
  // The message spells quotients out, not their internal names.
  assert.match(find(r, 'ESC001').message, /\(a\*c\)\/\(z\)/);
  assert.doesNotMatch(find(r, 'ESC001').message, /q#/);
  // The same quotients, paid back exactly: conserved.
  assert.deepEqual(check(split('((b*d)/z) * ((a*c)/z)')).diagnostics, []);
});

test('the interpreter bounds every integer it computes', () => {
  const src = mutate('init Open { escrow price from buyer }', 'require price * price * price * price < 0 or true\n  init Open { escrow price from buyer }');
  const program = compile(parseSource('h.scl', src).contracts[0] as NonNullable<ReturnType<typeof parseSource>['contracts'][0]>);
  const env = { balance: () => 0n, instance: () => undefined };
  const binding = (price: bigint) => ({ parties: new Map([['seller', 'S'], ['buyer', 'B']]), params: new Map<string, bigint | string>([['price', price], ['window', 3n], ['cur', 'X']]), refs: new Map() });
  const out = create(program, binding(1n << 200n), 1, env);
  assert.deepEqual(out.ok ? 'ok' : out.code, 'CONTRACT_VALUE_TOO_LARGE');
  const bad = create(program, binding(1n << 600n), 1, env);
  assert.deepEqual(bad.ok ? 'ok' : bad.code, 'CONTRACT_BAD_BINDING');
});

test('random bytes and random token soup never crash the parser or the checker', () => {
  const words = ['contract', 'X', '{', '}', 'state', 'S', 'on', 'a', '.', 'b', '(', ')', '->', 'after', '1', 'final', 'init', 'parties', 'params', ':', 'amount', ',', 'when', 'and', 'not', '-', '+', '*', '/', '==', 'escrow', 'from', 'pay', 'to', 'ref', 'currency', 'c', 'asset', 'settled', 'r', 'until', '\n', '//'];
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...words), { maxLength: 200 }), (soup) => {
      const r = check(soup.join(' '));
      for (const d of r.diagnostics) assert.ok(d.line >= 1 && d.column >= 1);
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const r = parseSource('b.scl', bytes);
      assert.ok(r.diagnostics.length <= 1);
    }),
    { numRuns: 500 },
  );
  // Mutating the base contract one character at a time never crashes the checker.
  fc.assert(
    fc.property(fc.integer({ min: 0, max: BASE.length - 1 }), fc.constantFrom(' ', '{', '}', '(', 'x', '0', '-', '\n', '.'), (at, ch) => {
      check(BASE.slice(0, at) + ch + BASE.slice(at + 1));
    }),
    { numRuns: 500 },
  );
});

test('escrow conservation work is bounded on a hostile state graph', () => {
  // 3,000 states each escrowing a distinct param along both of their transitions, then
  // 30,000 states that each move a constant: every edge would copy 3,000 terms.
  const wide = 3_000;
  const long = 30_000;
  const params = Array.from({ length: wide }, (_, i) => `p${i}: amount`).join(', ');
  let s = `contract W {\n parties a\n params c: asset, ${params}\n currency c\n init S0\n`;
  for (let i = 0; i < wide; i++) s += ` state S${i} { on a.go() -> S${i + 1} { escrow p${i} from a }\n after 1 -> S${i + 1} { pay 0 - p${i} to a } }\n`;
  for (let i = wide; i < wide + long; i++) s += ` state S${i} { on a.go() -> S${i + 1} { escrow ${i % 2} from a }\n after 1 -> S${i + 1} { pay ${-(i % 2)} to a } }\n`;
  s += ` final S${wide + long}\n}\n`;
  const started = performance.now();
  const r = check(s, { maxHorizon: 10_000_000, maxPaths: 1_000_000 });
  const ms = performance.now() - started;
  assert.deepEqual(rules(r), ['ESC001', 'FSM005']);
  // Either bound may stop it first: the graph walk's term operations, or (since 2026-11-30)
  // the polynomial arithmetic's own budget, which the walk's additions also spend.
  assert.match(find(r, 'ESC001').message, /cannot be proved: (more than 20000000 term operations|the amounts take too much work)/);
  assert.ok(ms < 30_000, `${ms} ms`);
});

/** A contract whose one state reads `r.state == S1` `n` times, r being a ref to `target`. */
function comparisons(target: string, n: number): string {
  const guard = ['settled(r)', ...Array.from({ length: n }, () => 'r.state == S1')].join(' and ');
  return `contract Reader {\n parties a\n params c: asset\n currency c\n ref r: ${target}\n init W\n state W { on a.go() when ${guard} -> D\n after 100000 -> D }\n final D\n}\n`;
}

test("r.state comparisons build each contract's state-name set once per check, not once per comparison (review, 2026-12-01)", () => {
  const n = 900; // under EXPRESSION_DEPTH_MAX in one guard
  const names = Array.from({ length: 4_000 }, (_, i) => `S${i}`);
  // On the chain: the summary's state list is read once, whatever the number of comparisons.
  let listReads = 0;
  const onChain: ContractSummary = {
    name: 'Big',
    get states() {
      listReads++;
      return names;
    },
    finals: ['S1'],
    lifetime: 1n,
    paths: 1n,
    depth: 0,
  };
  const reader = parseSource('r.scl', comparisons('Big', n)).contracts;
  assert.equal(reader.length, 1);
  const r = checkContracts(reader, DEFAULT_OPTIONS, new Map([['Big', onChain]]));
  assert.equal(r.errors, 0, JSON.stringify(r.diagnostics.slice(0, 3)));
  assert.equal(listReads, 1);
  // In the same unit: the contract's members are walked a fixed number of times, not per comparison.
  let big = 'contract Big {\n parties a\n params c: asset\n currency c\n init S0\n';
  big += ` state S0 { after 1 -> S1 }\n final ${names.slice(1).join(', ')}\n}\n`;
  const target = parseSource('b.scl', big).contracts[0] as Contract;
  let finalReads = 0;
  const counted = Object.defineProperty({ ...target }, 'finals', {
    get() {
      finalReads++;
      return target.finals;
    },
  }) as Contract;
  const unit = checkContracts([counted, ...parseSource('r.scl', comparisons('Big', n)).contracts]);
  assert.deepEqual(unit.diagnostics.filter((d) => d.severity === 'error'), []);
  assert.ok(finalReads < 20, `${finalReads} walks of Big's finals for ${n} comparisons`);
});

test('a call of a huge number of arguments and a file of a huge number of contracts get SYN001, not a RangeError (review, 2026-12-01)', () => {
  // 300,000 arguments, within the token and byte limits: spread into a call, they overflowed the stack.
  const huge = guarded(`settled(${Array.from({ length: 300_000 }, () => 'x').join(', ')})`);
  assert.match(syn(huge), new RegExp(`more than ${CALL_ARGUMENTS_MAX} arguments in one call`));
  const atBound = check(guarded(`settled(${Array.from({ length: CALL_ARGUMENTS_MAX }, () => 'seller').join(', ')})`));
  assert.deepEqual(rules(atBound), ['TYPE001'], 'at the bound the call is parsed and refused by its type');
  // 200,000 empty contracts (4 tokens each): pushed with a spread, they overflowed the stack.
  const many = Array.from({ length: 200_000 }, (_, i) => `contract C${i}{}`).join('\n');
  const r = check(many);
  assert.deepEqual(rules(r), ['SYN001']);
  assert.match(find(r, 'SYN001').message, new RegExp(`more than ${CONTRACTS_PER_FILE_MAX} contracts in one file`));
  assert.equal(find(r, 'SYN001').line, CONTRACTS_PER_FILE_MAX + 1);
  assert.equal(parseSource('m.scl', Array.from({ length: CONTRACTS_PER_FILE_MAX }, (_, i) => `contract C${i}{}`).join('\n')).contracts.length, CONTRACTS_PER_FILE_MAX);
});

test('a ring of contracts referring to each other costs linear work: every message and trace is cut like a trace (review, 2026-12-01)', () => {
  const n = 3_000;
  const name = (i: number) => `Ring${String(i).padStart(5, '0')}`;
  let ring = '';
  for (let i = 0; i < n; i++) ring += `contract ${name(i)} { parties p\n params c: asset\n currency c\n ref to_next: ${name((i + 1) % n)}\n init T\n final T }\n`;
  const r = check(ring);
  const found = r.diagnostics.filter((d) => d.ruleId === 'XREF001');
  assert.equal(found.length, n, 'every contract of the cycle is reported');
  const bound = (TRACE_STATES_MAX + 1) * (name(0).length + 4) + 100;
  for (const d of found) {
    assert.ok(d.message.length < bound, `${d.message.length} characters`);
    assert.equal(d.trace?.length, TRACE_STATES_MAX + 1);
    assert.equal(d.trace?.[0], d.contract, 'the cycle starts from the contract reported');
    assert.equal(d.trace?.[TRACE_STATES_MAX / 2], `... ${n + 1 - TRACE_STATES_MAX} more ...`);
  }
  // The FSM001 message of a long cycle of states is cut the same way.
  let long = 'contract Long {\n parties a\n params c: asset\n currency c\n init S0\n';
  for (let i = 0; i < 500; i++) long += ` state S${i} { on a.back() -> S${i === 499 ? 0 : i + 1}\n after 1 -> D }\n`;
  const cyc = find(check(`${long} final D\n}\n`), 'FSM001');
  assert.equal(cyc.trace?.length, TRACE_STATES_MAX + 1);
  assert.equal(cyc.message, `the state graph has a cycle: ${(cyc.trace ?? []).join(' -> ')}`);
});

test('text output indexes each file once, not once per diagnostic (review, 2026-12-01)', () => {
  const text = Array.from({ length: 500 }, (_, i) => `contract C${i} {\r\n}`).join('\n');
  const r = check(text);
  assert.equal(r.diagnostics.length, 2_000); // no parties, currency, init or final state, each
  let reads = 0;
  class Counted extends Map<string, string> {
    override get(key: string): string | undefined {
      reads++;
      return super.get(key);
    }
  }
  const out = formatText({ diagnostics: r.diagnostics, summary: { files: 1, contracts: 500, errors: r.errors, warnings: 0 } }, new Counted([['test.scl', text]]));
  assert.equal(reads, 1, 'the text is taken and indexed once');
  // A contract-wide finding is named at the contract's first token, `contract` (SCL.md section 5).
  assert.match(out, /(^|\n)test\.scl:1:1: error FSM003 contract C0 has no final state\n {2}contract C0 \{\n {2}\^\n/);
  // Lines: the line break (CRLF too) is not part of a line, the last line may lack one, past the end is null.
  const lines = new SourceLines('a\r\n\nbb\n' + 'c'.repeat(300));
  assert.deepEqual([1, 2, 3, 4, 5].map((n) => lines.line(n, 200)), ['a', '', 'bb', 'c'.repeat(200), null]);
  // A column past the bound is shown in a window around it.
  const long = new SourceLines(`${'a'.repeat(250)}X${'b'.repeat(300)}`);
  const shown = long.around(1, 251, 200);
  assert.ok(shown !== null && shown.text.length === 200 && shown.text[shown.caret] === 'X', JSON.stringify(shown?.caret));
});

test('the caret counts a character beyond U+FFFF as one column, as the parser does, and a window never splits one', () => {
  // A finding at the end of the file right after a comment holding such characters: the
  // caret goes after the comment (before, it was cut by UTF-16 units and landed two short).
  const source = 'contract A {\n  parties a // \u{1F600}\u{1F600}';
  const r = parseSource('emoji.scl', source);
  const d = r.diagnostics[0];
  assert.ok(d !== undefined && d.ruleId === 'SYN001' && d.line === 2 && d.column === 18, JSON.stringify(d));
  const out = formatText({ diagnostics: r.diagnostics, summary: { files: 1, contracts: 0, errors: 1, warnings: 0 } }, new Map([['emoji.scl', source]])).split('\n');
  assert.equal(out[1], '    parties a // \u{1F600}\u{1F600}');
  assert.equal((out[2] as string).indexOf('^'), (out[1] as string).length, `${out[1]}\n${out[2]}`);
  // Columns past a surrogate pair, in a window around a far column; the window starts on a
  // whole character even when its centre puts its start inside a pair.
  const long = new SourceLines(`a${'\u{1F600}'.repeat(150)}X${'b'.repeat(300)}`);
  const shown = long.around(1, 152, 199);
  assert.ok(shown !== null && shown.text[shown.caret] === 'X' && shown.text.codePointAt(0) === 0x1f600, JSON.stringify(shown));
  assert.equal(long.around(1, 2, 200)?.caret, 1);
  assert.equal(long.around(1, 3, 200)?.caret, 3);
  // A window ending inside a pair ends before it.
  const cut = new SourceLines(`a${'\u{1F600}'.repeat(150)}`).around(1, 1, 200);
  assert.ok(cut !== null && cut.text.length === 199 && !/[\ud800-\udbff]$/.test(cut.text), JSON.stringify(cut?.text.length));
});

test('text output shows the source line and caret for a diagnostic on an empty line, at the end of the file too (review, 2026-12-02)', () => {
  const source = 'contract A {\n  parties a\n';
  const r = parseSource('eof.scl', source);
  const d = r.diagnostics[0];
  assert.ok(d !== undefined && d.ruleId === 'SYN001' && d.line === 3 && d.column === 1, JSON.stringify(d));
  const out = formatText({ diagnostics: r.diagnostics, summary: { files: 1, contracts: 0, errors: 1, warnings: 0 } }, new Map([['eof.scl', source]]));
  assert.match(out, /^eof\.scl:3:1: error SYN001 [^\n]*\n {2}\n {2}\^\n/);
  // A finding past column 200 of a long line: its caret lands under the character at fault.
  const wide = `contract A { parties a ${' '.repeat(300)}% }`;
  const w = parseSource('wide.scl', wide);
  const wd = w.diagnostics[0];
  assert.ok(wd !== undefined && wd.column > 300, JSON.stringify(wd));
  const lines = formatText({ diagnostics: w.diagnostics, summary: { files: 1, contracts: 0, errors: 1, warnings: 0 } }, new Map([['wide.scl', wide]])).split('\n');
  const caret = (lines[2] as string).indexOf('^');
  assert.equal((lines[1] as string)[caret], '%', `${lines[1]}\n${lines[2]}`);
});

test('an integer run into a letter (`parties 5x`) is reported at the integer, the token that is not one', () => {
  const r = parseSource('digit.scl', 'contract A {\n  parties 5x\n}\n');
  const d = r.diagnostics[0];
  assert.ok(d !== undefined && d.ruleId === 'SYN001' && d.line === 2 && d.column === 11, JSON.stringify(d));
  assert.match(d.message, /after the integer 5 \(an identifier starts with a letter or _\)/);
});
