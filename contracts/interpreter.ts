/**
 * The interpreter: the meaning of a checked contract on the ledger (SCL.md section 4).
 *
 * Pure and deterministic: an instance, a request and a read-only view of the committed
 * chain (`Env`) go in; the next instance and the money moves come out, or a refusal with a
 * stable code. Nothing is written here: the ledger applies the moves, so a refused step
 * changes nothing. Integers are bigints bounded by VALUE_BITS_MAX; there are no floats.
 */
import assert from 'node:assert/strict';
import type { Contract, Effect, Expr, Param, Transition, Type } from './ast.js';
import { VALUE_BITS_MAX } from './limits.js';

/** A param or argument value: integers (amount, int, blocks), booleans, asset symbols. */
export type Value = bigint | boolean | string;

/** What the interpreter may read of the committed chain. */
export interface Env {
  /** Committed balance of an identity in an asset, before the current transaction. */
  balance(identity: string, asset: string): bigint;
  /** The committed state of another instance. */
  instance(id: number): { readonly contract: string; readonly state: string; readonly final: boolean } | undefined;
}

export type InstanceStatus = 'active' | 'final' | 'frozen';

export interface Instance {
  readonly contract: string;
  /** Party name to identity (the ledger uses 64 hex characters of a public key). */
  readonly parties: ReadonlyMap<string, string>;
  readonly params: ReadonlyMap<string, Value>;
  /** Ref name to instance id. */
  readonly refs: ReadonlyMap<string, number>;
  readonly state: string;
  /** Height at which the instance entered its current state. */
  readonly entered: number;
  /** Amount held in escrow, in the contract currency. */
  readonly escrow: bigint;
  readonly status: InstanceStatus;
}

export interface Move {
  readonly kind: 'escrow' | 'pay';
  readonly identity: string;
  readonly amount: bigint;
}

export const REFUSAL_CODES = {
  CONTRACT_BAD_BINDING: 'a party, param, ref or argument is missing, unknown or of the wrong type or range',
  CONTRACT_REQUIRE_FAILED: 'a require of the contract is false',
  CONTRACT_NOT_ACTIVE: 'the instance is in a final state or frozen',
  CONTRACT_NO_TRANSITION: 'the current state has no such action for that party',
  CONTRACT_DEADLINE_PASSED: 'the deadline of the current state has passed',
  CONTRACT_NOT_SIGNED: 'a party who must sign (the actor, or one who escrows at creation) did not',
  CONTRACT_GUARD_FALSE: 'the guard of the transition is false',
  CONTRACT_DIVISION_BY_ZERO: 'an expression divides by zero',
  CONTRACT_VALUE_TOO_LARGE: 'an integer exceeds the value bound',
  CONTRACT_NEGATIVE_AMOUNT: 'an escrow or pay amount is negative',
  CONTRACT_INSUFFICIENT_BALANCE: 'a party balance would go below zero',
  CONTRACT_ESCROW_SHORT: 'the escrow would go below zero',
} as const;
export type RefusalCode = keyof typeof REFUSAL_CODES;

export type Outcome =
  | { readonly ok: true; readonly instance: Instance; readonly moves: readonly Move[]; readonly mustSign: readonly string[] }
  | { readonly ok: false; readonly code: RefusalCode; readonly message: string };

class Refusal extends Error {
  constructor(
    readonly code: RefusalCode,
    message: string,
  ) {
    super(message);
  }
}
function refuse(code: RefusalCode, message: string): never {
  throw new Refusal(code, message);
}

/** A contract prepared for execution: lookups by name. */
export interface Program {
  readonly contract: Contract;
  readonly params: ReadonlyMap<string, Param>;
  readonly parties: readonly string[];
  readonly refs: ReadonlyMap<string, string>;
  readonly currency: string;
  readonly init: string;
  readonly finals: ReadonlySet<string>;
  readonly transitions: ReadonlyMap<string, readonly Transition[]>;
}

/** Prepares a contract that passed the checker. */
export function compile(c: Contract): Program {
  assert.ok(c.inits.length === 1 && c.currency.length === 1, 'a checked contract has one init and one currency');
  const params = new Map<string, Param>();
  for (const m of c.params) for (const p of m.items) params.set(p.name, p);
  const transitions = new Map<string, readonly Transition[]>();
  for (const s of c.states) transitions.set(s.name, s.transitions);
  return {
    contract: c,
    params,
    parties: c.parties.flatMap((m) => m.items.map((d) => d.name)),
    refs: new Map(c.refs.map((r) => [r.name, r.contract])),
    currency: (c.currency[0] as { name: string }).name,
    init: (c.inits[0] as { state: string }).state,
    finals: new Set(c.finals.flatMap((m) => m.items.map((d) => d.name))),
    transitions,
  };
}

const VALUE_MAX = (1n << BigInt(VALUE_BITS_MAX)) - 1n;

function bounded(v: bigint): bigint {
  if (v > VALUE_MAX || v < -VALUE_MAX) refuse('CONTRACT_VALUE_TOO_LARGE', `an intermediate value exceeds ${VALUE_BITS_MAX} bits`);
  return v;
}

/** Checks a value against a declared type; the reason when it does not fit, else null. */
export function typeMismatch(type: Type, v: Value): string | null {
  switch (type.kind) {
    case 'bool':
      return typeof v === 'boolean' ? null : 'expected a bool';
    case 'asset':
      return typeof v === 'string' ? null : 'expected an asset symbol';
    case 'amount':
      return typeof v !== 'bigint' ? 'expected an integer' : v < 0n ? 'an amount must be >= 0' : v > VALUE_MAX ? 'too large' : null;
    case 'int':
      return typeof v !== 'bigint' ? 'expected an integer' : v > VALUE_MAX || v < -VALUE_MAX ? 'too large' : null;
    case 'blocks':
      return typeof v !== 'bigint' ? 'expected an integer' : v < 1n || v > type.max ? `expected 1..${type.max}` : null;
  }
}

interface Frame {
  readonly program: Program;
  readonly instance: Pick<Instance, 'parties' | 'params' | 'refs' | 'entered'>;
  readonly args: ReadonlyMap<string, Value>;
  readonly height: number;
  readonly env: Env;
}

function evaluate(e: Expr, f: Frame): Value {
  switch (e.kind) {
    case 'int':
      return bounded(e.value);
    case 'bool':
      return e.value;
    case 'height':
      return BigInt(f.height);
    case 'entered':
      return BigInt(f.instance.entered);
    case 'name': {
      const v = f.args.get(e.name) ?? f.instance.params.get(e.name) ?? f.instance.parties.get(e.name);
      assert.ok(v !== undefined, `checked name ${e.name} is bound`);
      return v;
    }
    case 'refState':
      return refState(e.ref, f);
    case 'call': {
      const arg = e.args[0] as Expr;
      assert.ok(arg.kind === 'name', 'settled and balance take a name');
      if (e.fn === 'settled') {
        const id = f.instance.refs.get(arg.name) as number;
        return f.env.instance(id)?.final ?? false;
      }
      assert.ok(e.fn === 'balance', `checked contracts call only settled and balance, not ${e.fn}`);
      const identity = f.instance.parties.get(arg.name) as string;
      return f.env.balance(identity, f.instance.params.get(f.program.currency) as string);
    }
    case 'unary': {
      const v = evaluate(e.operand, f);
      return e.op === 'not' ? !(v as boolean) : bounded(-(v as bigint));
    }
    case 'binary': {
      if (e.op === 'and') return (evaluate(e.left, f) as boolean) && (evaluate(e.right, f) as boolean);
      if (e.op === 'or') return (evaluate(e.left, f) as boolean) || (evaluate(e.right, f) as boolean);
      if ((e.op === '==' || e.op === '!=') && (e.left.kind === 'refState' || e.right.kind === 'refState')) {
        const [refSide, other] = e.left.kind === 'refState' ? [e.left, e.right] : [e.right, e.left];
        const same = refState((refSide as { ref: string }).ref, f) === (other as { name: string }).name;
        return e.op === '==' ? same : !same;
      }
      const a = evaluate(e.left, f);
      const b = evaluate(e.right, f);
      switch (e.op) {
        case '==':
          return a === b;
        case '!=':
          return a !== b;
        case '<':
          return (a as bigint) < (b as bigint);
        case '<=':
          return (a as bigint) <= (b as bigint);
        case '>':
          return (a as bigint) > (b as bigint);
        case '>=':
          return (a as bigint) >= (b as bigint);
        case '+':
          return bounded((a as bigint) + (b as bigint));
        case '-':
          return bounded((a as bigint) - (b as bigint));
        case '*': {
          const x = a as bigint;
          const y = b as bigint;
          // Multiplied, then bounded: the product of two values within the bound (512 bits)
          // has at most 1,024 bits, so computing it first costs little.
          return bounded(x * y);
        }
        case '/':
          if ((b as bigint) === 0n) refuse('CONTRACT_DIVISION_BY_ZERO', 'division by zero');
          return (a as bigint) / (b as bigint); // bigint division truncates toward zero
        default:
          return assert.fail(`checked contracts have no ${e.op}`);
      }
    }
  }
}

function refState(ref: string, f: Frame): string {
  const id = f.instance.refs.get(ref) as number;
  const other = f.env.instance(id);
  assert.ok(other !== undefined, 'a bound ref names an existing instance');
  return other.state;
}

/** Runs effects in order over running balances; refuses atomically. */
function runEffects(effects: readonly Effect[], f: Frame, escrowBefore: bigint): { moves: Move[]; escrow: bigint } {
  const asset = f.instance.params.get(f.program.currency) as string;
  const balances = new Map<string, bigint>();
  const moves: Move[] = [];
  let escrow = escrowBefore;
  for (const e of effects) {
    const amount = evaluate(e.amount, f) as bigint;
    if (amount < 0n) refuse('CONTRACT_NEGATIVE_AMOUNT', `${e.kind} of ${amount} (line ${e.pos.line})`);
    const identity = f.instance.parties.get(e.party) as string;
    const balance = balances.get(identity) ?? f.env.balance(identity, asset);
    if (e.kind === 'escrow') {
      if (balance < amount) refuse('CONTRACT_INSUFFICIENT_BALANCE', `${e.party} holds ${balance} ${asset}, below ${amount} (line ${e.pos.line})`);
      balances.set(identity, balance - amount);
      escrow += amount;
    } else {
      if (escrow < amount) refuse('CONTRACT_ESCROW_SHORT', `escrow holds ${escrow}, below the ${amount} to pay ${e.party} (line ${e.pos.line})`);
      balances.set(identity, balance + amount);
      escrow -= amount;
    }
    moves.push({ kind: e.kind, identity, amount });
  }
  return { moves, escrow };
}

function attempt(run: () => Outcome): Outcome {
  try {
    return run();
  } catch (error) {
    if (error instanceof Refusal) return { ok: false, code: error.code, message: error.message };
    throw error;
  }
}

function statusOf(p: Program, state: string): InstanceStatus {
  return p.finals.has(state) ? 'final' : 'active';
}

export interface Binding {
  readonly parties: ReadonlyMap<string, string>;
  readonly params: ReadonlyMap<string, Value>;
  readonly refs: ReadonlyMap<string, number>;
}

/**
 * Creates an instance: checks the binding, evaluates every require, runs the init effects.
 * `mustSign` lists the identities of the parties that escrow in init.
 */
export function create(p: Program, binding: Binding, height: number, env: Env): Outcome {
  return attempt(() => {
    for (const name of p.parties) if (!binding.parties.has(name)) refuse('CONTRACT_BAD_BINDING', `party ${name} is not bound`);
    for (const name of binding.parties.keys()) if (!p.parties.includes(name)) refuse('CONTRACT_BAD_BINDING', `${name} is not a party of ${p.contract.name}`);
    for (const [name, param] of p.params) {
      const v = binding.params.get(name);
      if (v === undefined) refuse('CONTRACT_BAD_BINDING', `param ${name} is not bound`);
      const why = typeMismatch(param.type, v);
      if (why !== null) refuse('CONTRACT_BAD_BINDING', `param ${name}: ${why}`);
    }
    for (const name of binding.params.keys()) if (!p.params.has(name)) refuse('CONTRACT_BAD_BINDING', `${name} is not a param of ${p.contract.name}`);
    for (const [name, contract] of p.refs) {
      const id = binding.refs.get(name);
      if (id === undefined) refuse('CONTRACT_BAD_BINDING', `ref ${name} is not bound`);
      const other = env.instance(id);
      if (other === undefined) refuse('CONTRACT_BAD_BINDING', `ref ${name}: instance ${id} does not exist`);
      if (other.contract !== contract) refuse('CONTRACT_BAD_BINDING', `ref ${name}: instance ${id} is a ${other.contract}, not a ${contract}`);
    }
    for (const name of binding.refs.keys()) if (!p.refs.has(name)) refuse('CONTRACT_BAD_BINDING', `${name} is not a ref of ${p.contract.name}`);
    const frame: Frame = { program: p, instance: { ...binding, entered: height }, args: new Map(), height, env };
    for (const r of p.contract.requires) {
      if (evaluate(r, frame) !== true) refuse('CONTRACT_REQUIRE_FAILED', `require at line ${r.pos.line} is false`);
    }
    const init = p.contract.inits[0] as { effects: readonly Effect[] };
    const { moves, escrow } = runEffects(init.effects, frame, 0n);
    const mustSign = [...new Set(moves.filter((m) => m.kind === 'escrow').map((m) => m.identity))];
    const instance: Instance = { contract: p.contract.name, ...binding, state: p.init, entered: height, escrow, status: statusOf(p, p.init) };
    return { ok: true, instance, moves, mustSign };
  });
}

/** The `after` transition of the current state and the height at which it fires, or null in a final state. */
export function deadlineOf(p: Program, instance: Instance): { readonly at: number; readonly transition: Transition & { kind: 'after' } } | null {
  if (instance.status !== 'active') return null;
  const t = (p.transitions.get(instance.state) ?? []).find((x): x is Transition & { kind: 'after' } => x.kind === 'after');
  assert.ok(t !== undefined, 'a checked non-final state has an after transition');
  const d = t.deadline.kind === 'int' ? t.deadline.value : (instance.params.get(t.deadline.name) as bigint);
  assert.ok(d >= 1n, 'deadlines are at least 1');
  return { at: instance.entered + Number(d), transition: t };
}

/**
 * How many after transitions follow one another from `state` until a final state, if no
 * act intervenes (0 for a final state). Stops counting past `max` and returns `max + 1`,
 * so a chain that is too long (or a cycle, which a checked contract cannot have) costs at
 * most `max + 1` steps.
 */
export function afterStepsFrom(p: Program, state: string, max: number): number {
  let at = state;
  for (let n = 0; n <= max; n++) {
    if (p.finals.has(at)) return n;
    const t = (p.transitions.get(at) ?? []).find((x) => x.kind === 'after');
    assert.ok(t !== undefined, 'a checked non-final state has an after transition');
    at = t.target;
  }
  return max + 1;
}

/**
 * The heights at which an active `instance` takes its after transitions one after another
 * if no act moves it first: its current deadline, then the deadline of each state the
 * after chain enters (entered at the height it was entered, as `expire` does), up to a
 * final state. Empty for an instance that is not active; null when it is longer than `max`.
 * The ledger reserves a due entry at every one of these heights, so a deadline step never
 * needs room it might not find.
 */
export function afterChain(p: Program, instance: Instance, max: number): number[] | null {
  const out: number[] = [];
  let x = instance;
  for (;;) {
    const d = deadlineOf(p, x);
    if (d === null) return out;
    if (out.length === max) return null;
    out.push(d.at);
    x = { ...x, state: d.transition.target, entered: d.at, status: statusOf(p, d.transition.target) };
  }
}

function enter(p: Program, instance: Instance, t: Transition, f: Frame): Outcome {
  const { moves, escrow } = runEffects(t.effects, f, instance.escrow);
  const next: Instance = { ...instance, state: t.target, entered: f.height, escrow, status: statusOf(p, t.target) };
  return { ok: true, instance: next, moves, mustSign: [] };
}

/**
 * Acts on an instance: `party` calls `action` with positional `args`. Applies only in the
 * transition's state, before its deadline, when the actor signed (`signed` of its identity)
 * and the guard holds. The signature is checked before anything of the transition is
 * evaluated, so an unsigned act costs no guard or amount evaluation (before 2026-12-01 it
 * was checked by the ledger after them: review). `mustSign` is the actor, already checked.
 */
export function act(p: Program, instance: Instance, party: string, action: string, args: readonly Value[], height: number, env: Env, signed: (identity: string) => boolean): Outcome {
  return attempt(() => {
    if (instance.status !== 'active') refuse('CONTRACT_NOT_ACTIVE', `the instance is ${instance.status} in ${instance.state}`);
    const t = (p.transitions.get(instance.state) ?? []).find((x): x is Transition & { kind: 'on' } => x.kind === 'on' && x.actor === party && x.action === action);
    if (t === undefined) refuse('CONTRACT_NO_TRANSITION', `state ${instance.state} has no action ${party}.${action}`);
    const deadline = deadlineOf(p, instance);
    assert.ok(deadline !== null, 'an active instance has a deadline');
    if (height >= deadline.at) refuse('CONTRACT_DEADLINE_PASSED', `state ${instance.state} ended at height ${deadline.at}`);
    if (args.length !== t.args.length) refuse('CONTRACT_BAD_BINDING', `${party}.${action} takes ${t.args.length} arguments, not ${args.length}`);
    const bound = new Map<string, Value>();
    t.args.forEach((a, i) => {
      const v = args[i] as Value;
      const why = typeMismatch(a.type, v);
      if (why !== null) refuse('CONTRACT_BAD_BINDING', `argument ${a.name}: ${why}`);
      bound.set(a.name, v);
    });
    const actor = instance.parties.get(party) as string;
    if (!signed(actor)) refuse('CONTRACT_NOT_SIGNED', `the actor ${party} (${actor}) must sign`);
    const f: Frame = { program: p, instance, args: bound, height, env };
    if (t.guard !== null && evaluate(t.guard, f) !== true) refuse('CONTRACT_GUARD_FALSE', `the guard of ${party}.${action} is false`);
    const out = enter(p, instance, t, f);
    return out.ok ? { ...out, mustSign: [actor] } : out;
  });
}

/**
 * The deadline step at the start of block `height`: when the current state's deadline has
 * come, the instance takes the after transition. Returns null when nothing is due. A
 * refusal here freezes the instance (the caller records it); the checker's ESC001 exists so
 * that a contract that passed it never gets there.
 */
export function expire(p: Program, instance: Instance, height: number, env: Env): Outcome | null {
  const deadline = deadlineOf(p, instance);
  if (deadline === null || deadline.at > height) return null;
  return attempt(() => enter(p, instance, deadline.transition, { program: p, instance, args: new Map(), height, env }));
}
