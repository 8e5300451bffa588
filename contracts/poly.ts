/**
 * Polynomials with bigint coefficients over named variables: exact, so "identically zero"
 * means every coefficient is zero. A monomial is the sorted list of its variables (with
 * repetition) joined by '*'; the constant monomial is ''. Zero coefficients are never
 * stored, so the zero polynomial is the empty map and equality is map equality.
 */
import { POLY_COEFFICIENT_BITS_MAX, POLYNOMIAL_TERMS_MAX } from './limits.js';

export type Poly = ReadonlyMap<string, bigint>;

/** Thrown when a product would exceed POLYNOMIAL_TERMS_MAX terms. */
export class PolyTooLarge extends Error {}

export const ZERO: Poly = new Map();

/**
 * Work left for polynomial arithmetic, in characters of monomials touched (withBudget). Term
 * counts alone did not bound it: a product's cost grows with its monomials' length, and
 * (a+b)^k or a quotient named by a long numerator made one deploy check take minutes or
 * exhaust memory (found in review, 2026-11-30). Deterministic: a function of the input.
 */
let workLeft = Number.POSITIVE_INFINITY;

function spend(units: number): void {
  workLeft -= units;
  if (workLeft < 0) throw new PolyTooLarge('the amounts take too much work to expand');
}

/** Runs `fn` with at most `budget` units of polynomial work; PolyTooLarge past it. */
export function withBudget<T>(budget: number, fn: () => T): T {
  const saved = workLeft;
  workLeft = budget;
  try {
    return fn();
  } finally {
    workLeft = saved;
  }
}

const COEFFICIENT_LIMIT = 1n << BigInt(POLY_COEFFICIENT_BITS_MAX);

/** `v`, or PolyTooLarge when it has more than POLY_COEFFICIENT_BITS_MAX bits. */
function coefficient(v: bigint): bigint {
  if (v >= COEFFICIENT_LIMIT || v <= -COEFFICIENT_LIMIT) throw new PolyTooLarge(`a coefficient has more than ${POLY_COEFFICIENT_BITS_MAX} bits`);
  return v;
}

export function constant(value: bigint): Poly {
  return value === 0n ? ZERO : new Map([['', coefficient(value)]]);
}

export function variable(name: string): Poly {
  return new Map([[name, 1n]]);
}

function check(map: Map<string, bigint>): Poly {
  if (map.size > POLYNOMIAL_TERMS_MAX) throw new PolyTooLarge(`an amount expands to more than ${POLYNOMIAL_TERMS_MAX} terms`);
  return map;
}

/** a + k·b */
export function addScaled(a: Poly, b: Poly, k: bigint): Poly {
  if (b.size === 0) return a; // polynomials are never mutated, so sharing is safe
  spend(a.size + b.size);
  const out = new Map(a);
  for (const [m, c] of b) {
    const v = coefficient((out.get(m) ?? 0n) + k * c);
    if (v === 0n) out.delete(m);
    else out.set(m, v);
  }
  return check(out);
}

/** The sum of many polynomials, accumulated in place: linear in the total number of terms. */
export function sum(parts: Iterable<Poly>): Poly {
  const out = new Map<string, bigint>();
  for (const p of parts) {
    spend(p.size);
    for (const [m, c] of p) {
      const v = coefficient((out.get(m) ?? 0n) + c);
      if (v === 0n) out.delete(m);
      else out.set(m, v);
    }
  }
  return check(out);
}

export function add(a: Poly, b: Poly): Poly {
  return addScaled(a, b, 1n);
}
export function sub(a: Poly, b: Poly): Poly {
  return addScaled(a, b, -1n);
}
export function neg(a: Poly): Poly {
  return addScaled(ZERO, a, -1n);
}

function mulMonomials(a: string, b: string): string {
  if (a === '') return b;
  if (b === '') return a;
  return [...a.split('*'), ...b.split('*')].sort().join('*');
}

export function mul(a: Poly, b: Poly): Poly {
  if (a.size * b.size > POLYNOMIAL_TERMS_MAX * 4) throw new PolyTooLarge(`an amount expands to a product of ${a.size} by ${b.size} terms`);
  const out = new Map<string, bigint>();
  for (const [ma, ca] of a) {
    for (const [mb, cb] of b) {
      spend(ma.length + mb.length + 1);
      const m = mulMonomials(ma, mb);
      const v = coefficient((out.get(m) ?? 0n) + ca * cb);
      if (v === 0n) out.delete(m);
      else out.set(m, v);
    }
  }
  return check(out);
}

export function isZero(a: Poly): boolean {
  return a.size === 0;
}

export function equal(a: Poly, b: Poly): boolean {
  if (a.size !== b.size) return false;
  for (const [m, c] of a) if (b.get(m) !== c) return false;
  return true;
}

/** Readable form with terms in a stable order: `deposit + 2*price - 3`. */
export function format(a: Poly): string {
  if (a.size === 0) return '0';
  const terms = [...a.entries()].sort(([x], [y]) => (x === '' ? 1 : y === '' ? -1 : x < y ? -1 : x > y ? 1 : 0));
  let out = '';
  for (const [m, c] of terms) {
    const negative = c < 0n;
    const abs = negative ? -c : c;
    const body = m === '' ? abs.toString() : abs === 1n ? m : `${abs}*${m}`;
    spend(body.length + 1); // the text made, coefficients' digits included
    out += out === '' ? (negative ? `-${body}` : body) : negative ? ` - ${body}` : ` + ${body}`;
  }
  return out;
}
