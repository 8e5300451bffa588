/**
 * The Accept header reader (api/accept.ts): fixed cases of RFC 9110's grammar, the
 * weights that choose a route's form, hostile values, and random headers (fast-check).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseAccept, prefersBinary, qualityOf } from '../../api/accept.js';
import { HOSTILE_VALUES } from '../support/hostile.js';

test('parseAccept: ranges in order, lower case, with their weights; what is not a range or a qvalue is left out', () => {
  assert.deepEqual(parseAccept('application/octet-stream;q=0, text/event-stream'), [
    { type: 'application', subtype: 'octet-stream', q: 0 },
    { type: 'text', subtype: 'event-stream', q: 1 },
  ]);
  assert.deepEqual(parseAccept(' Application/Octet-Stream ; charset="a,b;q=0" ; Q = 0.250 ,*/*;q=1.000'), [
    { type: 'application', subtype: 'octet-stream', q: 0.25 },
    { type: '*', subtype: '*', q: 1 },
  ]);
  assert.deepEqual(parseAccept('text/*;q=0.5;level=1'), [{ type: 'text', subtype: '*', q: 0.5 }]);
  assert.deepEqual(parseAccept('a/b;qq;q'), [{ type: 'a', subtype: 'b', q: 1 }]);
  for (const text of ['', ',', ' , ,', 'octet-stream', 'a/b/c', '*/json', 'a/b;q=', 'a/b;q=1.5', 'a/b;q=0.0001', 'a/b;q=-0', 'a/b;q=.5', 'a/b;q="0"', 'a b/c', '"a/b"', 'a/b;q=0.5;q=2']) {
    assert.deepEqual(parseAccept(text), [], JSON.stringify(text));
  }
  // An unterminated quote swallows the rest, as it must: a comma inside it separates nothing.
  assert.deepEqual(parseAccept('a/b;x="1, c/d'), [{ type: 'a', subtype: 'b', q: 1 }]);
  for (const value of HOSTILE_VALUES.filter((v) => typeof v !== 'string')) assert.throws(() => parseAccept(value as string), TypeError, Object.prototype.toString.call(value));
});

test('qualityOf: the most specific matching range decides; none is 0', () => {
  const ranges = parseAccept('text/*;q=0.5, */*;q=0.1, text/event-stream;q=0.3, text/event-stream;q=0.4');
  assert.equal(qualityOf(ranges, 'text/event-stream'), 0.4);
  assert.equal(qualityOf(ranges, 'text/html'), 0.5);
  assert.equal(qualityOf(ranges, 'application/json'), 0.1);
  assert.equal(qualityOf(parseAccept('text/html'), 'application/json'), 0);
  assert.equal(qualityOf(parseAccept('application/json;q=0, */*'), 'application/json'), 0);
  for (const bad of ['json', '*/*', 'text/*', 'a/b/c', 'Text/Html', '']) assert.throws(() => qualityOf(ranges, bad), RangeError, bad);
});

test('prefersBinary: application/octet-stream named, above 0, and at least the other form', () => {
  const cases: Array<[string | undefined, boolean]> = [
    [undefined, false],
    ['', false],
    ['*/*', false],
    ['application/*', false],
    ['application/octet-stream', true],
    ['application/octet-stream;q=0', false],
    ['application/octet-stream;q=0.001', true],
    ['application/octet-stream;q=0, application/octet-stream', true],
    ['application/octet-stream;q=0, text/event-stream', false],
    ['text/event-stream, application/octet-stream', true],
    ['text/event-stream;q=0.9, application/octet-stream', true],
    ['text/event-stream, application/octet-stream;q=0.9', false],
    ['text/*, application/octet-stream;q=0.9', false],
    ['*/*;q=0.5, application/octet-stream;q=0.5', true],
    ['application/octet-stream;q=bad', false],
  ];
  for (const [header, expected] of cases) assert.equal(prefersBinary(header, 'text/event-stream'), expected, String(header));
});

test('parseAccept on random headers: never throws, every weight is in 0..1, every type a lower-case token', () => {
  const piece = fc.constantFrom('application', 'octet-stream', '*', '/', ',', ';', 'q', '=', '0', '1', '.', '5', ' ', '"', '\\', 'Text', 'x-y');
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.array(piece, { maxLength: 60 }).map((p) => p.join(''))), (header) => {
      for (const r of parseAccept(header)) {
        assert.ok(r.q >= 0 && r.q <= 1);
        assert.match(r.type, /^[!#$%&'*+.^_`|~0-9a-z-]+$/);
        assert.match(r.subtype, /^[!#$%&'*+.^_`|~0-9a-z-]+$/);
      }
      assert.equal(typeof prefersBinary(header, 'application/json'), 'boolean');
    }),
    { seed: 20261201, numRuns: 2_000 },
  );
});
