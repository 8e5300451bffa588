/**
 * Every bound of the contract language in one place. Source text comes from outside (files
 * given to `stele lint`, deploy transactions), so each dimension that could make the
 * parser, checker or interpreter spend unbounded time or memory has a limit here, and
 * exceeding it is a precise diagnostic, never a crash. `checkLimits()` runs at import.
 */
import assert from 'node:assert/strict';

/** Bytes of one source file (UTF-8). */
export const SOURCE_BYTES_MAX = 4 * 1024 * 1024;
/** Tokens of one source file. */
export const TOKENS_MAX = 1_000_000;
/** Characters of one identifier. */
export const IDENTIFIER_CHARS_MAX = 128;
/** Decimal digits of one integer literal (10^100 > 2^332). */
export const INTEGER_DIGITS_MAX = 100;
/** Nesting of expressions (parentheses, unary operators, calls): bounds parser recursion. */
export const EXPRESSION_NESTING_MAX = 64;
/**
 * Arguments of one builtin call. Each builtin takes one; without a bound, a call of a
 * million arguments (a 4 MB file allows that many) overflowed the stack where the arguments
 * were spread into a function call, a RangeError instead of a diagnostic (review, 2026-12-01).
 */
export const CALL_ARGUMENTS_MAX = 64;
/** Contracts in one source file (a deploy takes at most 16; an empty contract is 4 tokens, so TOKENS_MAX alone allowed 250,000). */
export const CONTRACTS_PER_FILE_MAX = 4_096;
/** Depth of one expression tree (a chain `a + b + c` is one level per operator): bounds every walker. */
export const EXPRESSION_DEPTH_MAX = 1_000;
/** Diagnostics listed per rule and contract; the last one listed says that further findings of its rule are not listed, and the summary counts the listed ones. */
export const DIAGNOSTICS_PER_RULE_MAX = 50;
/** Terms of one escrow polynomial: beyond this ESC001 refuses to prove conservation. */
export const POLYNOMIAL_TERMS_MAX = 4_096;
/** Polynomial terms ESC001 may touch in one contract (bounds its time on hostile input). */
export const ESCROW_WORK_MAX = 20_000_000;
/** Polynomial arithmetic ESC001 may do for one contract, in characters of monomials touched (contracts/poly.ts). */
export const POLY_WORK_MAX = 4_000_000;
/**
 * Bits of one coefficient of an escrow polynomial. Runtime values are bounded at
 * VALUE_BITS_MAX; a coefficient past twice that comes only from multiplying huge literals,
 * and without a bound their products made each polynomial step and each amount's text
 * arbitrarily costly (found in review, 2026-11-30). Past it ESC001 refuses to prove conservation.
 */
export const POLY_COEFFICIENT_BITS_MAX = 1_024;
/** Characters of an amount shown in an ESC001 message (the rest is elided). */
export const AMOUNT_TEXT_MAX = 2_000;
/** States listed in a trace (a longer cycle or path is elided in the middle). */
export const TRACE_STATES_MAX = 64;
/** Saturation bound of path counts: counts are exact below it (2^128). */
export const PATH_COUNT_CAP = 1n << 128n;
/** Bits of any integer the interpreter computes (params, arguments, intermediate values). */
export const VALUE_BITS_MAX = 512;

/** Defaults of the checker's limit flags (SCL.md section 5). */
export const MAX_PATHS_DEFAULT = 10_000;
export const MAX_DEPTH_DEFAULT = 4;
export const MAX_HORIZON_DEFAULT = 1_000_000;

function checkLimits(): void {
  assert.ok(EXPRESSION_NESTING_MAX * 16 < 10_000, 'parser recursion stays far below the stack');
  assert.ok(PATH_COUNT_CAP > BigInt(Number.MAX_SAFE_INTEGER));
  assert.ok(CALL_ARGUMENTS_MAX >= 1 && CALL_ARGUMENTS_MAX * 4 < TOKENS_MAX, 'every builtin takes one argument; a longer call is refused before the token limit');
  assert.ok(CONTRACTS_PER_FILE_MAX >= 16 && CONTRACTS_PER_FILE_MAX * 4 < TOKENS_MAX, 'a deploy of 16 contracts fits; the bound bites before the token limit');
  assert.ok(INTEGER_DIGITS_MAX * 4 < VALUE_BITS_MAX);
  assert.ok(POLY_COEFFICIENT_BITS_MAX >= 2 * VALUE_BITS_MAX, 'a product of two runtime values has a coefficient that fits');
}
checkLimits();
