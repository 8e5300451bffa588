/**
 * Contracts in the world state: the deploy, create and act transactions and the deadline
 * step that runs at the start of every block (SCL.md section 4).
 *
 * State keys (see docs/data-model.md):
 *   ctpl/<Name>           deployed contract: deployer, height, checker summary, source text
 *   cins/<id, 16 digits>  instance: contract, state, entered, escrow, status, bindings
 *   cdue/<h, 16 digits>   ids (u64 each, ascending) of instances holding a due entry at
 *                         height h: every height of an active instance's after chain
 *   meta/cins_next        u64 id of the next instance (absent = 1)
 *
 * Money: an instance's escrow is part of its currency's supply, so for every asset the sum
 * of balances plus the escrow of its instances equals the supply (tests check it).
 * Every step is check-then-write: the interpreter computes the whole outcome against a
 * read-only view, and writes happen only once nothing can refuse any more.
 */
import { invariant, toHex } from './assert.js';
import {
  CONTRACT_AFTER_CHAIN_MAX,
  CONTRACT_DUE_PER_HEIGHT_MAX,
  CONTRACT_NAME_BYTES_MAX,
  CONTRACT_PARAMS_MAX,
  CONTRACT_PARTIES_MAX,
  CONTRACT_REFS_MAX,
  CONTRACT_SOURCE_BYTES_MAX,
  PUBLIC_KEY_BYTES,
} from './constants.js';
import { Reader, Writer } from './encoding.js';
import { SteleError, type ErrorCode } from './errors.js';
import { balanceOf, identityOf, keys, putBalance, TxRefusal } from './machine.js';
import type { Overlay, StateReader } from './state.js';
import { encodeContractValue, readContractValue, type ContractValue, type Payload, type Tx } from './tx.js';
import { checkContracts, DEFAULT_OPTIONS, type ContractSummary } from '../contracts/checker.js';
import { afterChain, afterStepsFrom, compile, create, act, expire, type Env, type Instance, type Move, type Program, type Value } from '../contracts/interpreter.js';
import { parseSource } from '../contracts/parser.js';

/** Contracts one deploy transaction may define (each writes one template key). */
export const CONTRACTS_PER_DEPLOY_MAX = 16;
const STATES_MAX = 100_000;
const FROZEN_REASON_BYTES_MAX = 512;

function pad(n: number): string {
  return n.toString().padStart(16, '0');
}

const TEMPLATE_KEY_PREFIX = 'ctpl/';
const INSTANCE_KEY_PREFIX = 'cins/';
const DUE_KEY_PREFIX = 'cdue/';

export const contractKeys = {
  template: (name: string) => `${TEMPLATE_KEY_PREFIX}${name}`,
  instance: (id: number) => `${INSTANCE_KEY_PREFIX}${pad(id)}`,
  due: (height: number) => `${DUE_KEY_PREFIX}${pad(height)}`,
  nextInstance: 'meta/cins_next',
} as const;

export interface Template extends ContractSummary {
  readonly deployer: Uint8Array;
  readonly height: number;
  /** The contract's own source text, `contract Name { ... }`. */
  readonly text: string;
}

export function encodeTemplate(t: Template): Uint8Array {
  invariant(t.lifetime !== null && t.paths !== null && t.depth !== null, 'a deployed contract has passed the checker');
  const w = new Writer(256 + t.text.length).fixed(t.deployer, PUBLIC_KEY_BYTES).u64(t.height).str(t.name, CONTRACT_NAME_BYTES_MAX);
  w.u32(t.states.length);
  for (const s of t.states) w.str(s, CONTRACT_NAME_BYTES_MAX);
  w.u32(t.finals.length);
  for (const s of t.finals) w.str(s, CONTRACT_NAME_BYTES_MAX);
  w.u64n(t.lifetime).u64n(t.paths).u32(t.depth).str(t.text, CONTRACT_SOURCE_BYTES_MAX);
  return w.finish();
}

export function decodeTemplate(bytes: Uint8Array): Template {
  const r = new Reader(bytes, CONTRACT_SOURCE_BYTES_MAX * 8, 'template');
  const deployer = Uint8Array.from(r.fixed(PUBLIC_KEY_BYTES, 'deployer'));
  const height = r.u64('height');
  const name = r.str(CONTRACT_NAME_BYTES_MAX, 'name');
  const list = (field: string): string[] => {
    const n = r.count(STATES_MAX, 4, field);
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(r.str(CONTRACT_NAME_BYTES_MAX, `${field}[${i}]`));
    return out;
  };
  const states = list('states');
  const finals = list('finals');
  const value = { deployer, height, name, states, finals, lifetime: r.u64n('lifetime'), paths: r.u64n('paths'), depth: r.u32('depth'), text: r.str(CONTRACT_SOURCE_BYTES_MAX, 'text') };
  r.end();
  return value;
}

/**
 * What the checker needs of a deployed contract (a ref of a deploy, or a name it takes),
 * read from the stored template without decoding its source text, and its state and
 * final names only when first asked for. A deploy may name 256 contracts on the chain
 * (16 contracts of 16 refs); decoded in full, each costs its source and every state name,
 * up to ~15 MB of decoding per transaction, though the checker reads the state names only
 * of a contract whose `r.state` a guard compares (found in review, 2026-12-01). The stored
 * encoding is unchanged: the lists are stepped over by their length prefixes.
 */
export function decodeTemplateSummary(bytes: Uint8Array): ContractSummary {
  const r = new Reader(bytes, CONTRACT_SOURCE_BYTES_MAX * 8, 'template');
  r.fixed(PUBLIC_KEY_BYTES, 'deployer');
  r.u64('height');
  const name = r.str(CONTRACT_NAME_BYTES_MAX, 'name');
  const skipList = (field: string): number => {
    const at = r.offset;
    const n = r.count(STATES_MAX, 4, field);
    for (let i = 0; i < n; i++) r.bytesField(CONTRACT_NAME_BYTES_MAX, `${field}[${i}]`);
    return at;
  };
  const statesAt = skipList('states');
  const finalsAt = skipList('finals');
  const lifetime = r.u64n('lifetime');
  const paths = r.u64n('paths');
  const depth = r.u32('depth');
  r.bytesField(CONTRACT_SOURCE_BYTES_MAX, 'text');
  r.end();
  const listAt = (at: number, field: string): string[] => {
    const lr = new Reader(bytes.subarray(at), CONTRACT_SOURCE_BYTES_MAX * 8, 'template');
    const n = lr.count(STATES_MAX, 4, field);
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(lr.str(CONTRACT_NAME_BYTES_MAX, `${field}[${i}]`));
    return out;
  };
  let states: string[] | null = null;
  let finals: string[] | null = null;
  return {
    name,
    get states() {
      return (states ??= listAt(statesAt, 'states'));
    },
    get finals() {
      return (finals ??= listAt(finalsAt, 'finals'));
    },
    lifetime,
    paths,
    depth,
  };
}

const STATUS = ['active', 'final', 'frozen'] as const;

export interface StoredInstance extends Instance {
  readonly id: number;
  /**
   * Why a deadline step failed (frozen instances only), else '': the refusal code alone
   * (`CONTRACT_DIVISION_BY_ZERO`, `CONTRACT_DUE_FULL`, ...), stable across versions. Before
   * 2026-12-01 the code and a human message (`CODE: text`, up to 512 bytes) were stored, so
   * rewording a message changed the state hash (review); such records still decode.
   */
  readonly frozenReason: string;
}

function toContractValue(v: Value): ContractValue {
  return typeof v === 'bigint' ? { kind: 'int', value: v } : typeof v === 'boolean' ? { kind: 'bool', value: v } : { kind: 'asset', value: v };
}

export function encodeInstance(x: StoredInstance): Uint8Array {
  const w = new Writer(512).str(x.contract, CONTRACT_NAME_BYTES_MAX).str(x.state, CONTRACT_NAME_BYTES_MAX).u64(x.entered).u64n(x.escrow).u8(STATUS.indexOf(x.status));
  const sorted = <T>(m: ReadonlyMap<string, T>): [string, T][] => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  w.u32(x.parties.size);
  for (const [name, hex] of sorted(x.parties)) w.str(name, CONTRACT_NAME_BYTES_MAX).fixed(Buffer.from(hex, 'hex'), PUBLIC_KEY_BYTES);
  w.u32(x.params.size);
  for (const [name, v] of sorted(x.params)) {
    w.str(name, CONTRACT_NAME_BYTES_MAX);
    encodeContractValue(w, toContractValue(v));
  }
  w.u32(x.refs.size);
  for (const [name, id] of sorted(x.refs)) w.str(name, CONTRACT_NAME_BYTES_MAX).u64(id);
  w.str(x.frozenReason, FROZEN_REASON_BYTES_MAX);
  return w.finish();
}

export function decodeInstance(id: number, bytes: Uint8Array): StoredInstance {
  const r = new Reader(bytes, 1 << 20, 'instance');
  const contract = r.str(CONTRACT_NAME_BYTES_MAX, 'contract');
  const state = r.str(CONTRACT_NAME_BYTES_MAX, 'state');
  const entered = r.u64('entered');
  const escrow = r.u64n('escrow');
  const status = STATUS[r.tag('status', 0, 2)] as Instance['status'];
  const parties = new Map<string, string>();
  for (let i = r.count(CONTRACT_PARTIES_MAX, 36, 'parties'); i > 0; i--) parties.set(r.str(CONTRACT_NAME_BYTES_MAX, 'party'), toHex(r.fixed(PUBLIC_KEY_BYTES, 'key')));
  const params = new Map<string, Value>();
  for (let i = r.count(CONTRACT_PARAMS_MAX, 6, 'params'); i > 0; i--) {
    const name = r.str(CONTRACT_NAME_BYTES_MAX, 'param');
    params.set(name, readContractValue(r, 'value').value);
  }
  const refs = new Map<string, number>();
  for (let i = r.count(CONTRACT_REFS_MAX, 12, 'refs'); i > 0; i--) refs.set(r.str(CONTRACT_NAME_BYTES_MAX, 'ref'), r.u64('instance'));
  const frozenReason = r.str(FROZEN_REASON_BYTES_MAX, 'frozen_reason');
  r.end();
  return { id, contract, state, entered, escrow, status, parties, params, refs, frozenReason };
}

/** The deployed contract `name`, or undefined. Lookup for the API. */
export function contractTemplate(state: StateReader, name: string): Template | undefined {
  const raw = state.get(contractKeys.template(name));
  return raw === undefined ? undefined : decodeTemplate(raw);
}

/** The instance `id`, or undefined. Lookup for the API. */
export function contractInstance(state: StateReader, id: number): StoredInstance | undefined {
  if (!Number.isSafeInteger(id) || id < 1) return undefined;
  const raw = state.get(contractKeys.instance(id));
  return raw === undefined ? undefined : decodeInstance(id, raw);
}

/** Ids of the instances holding a due entry at `height` (an after chain's height), ascending. */
export function dueAt(state: StateReader, height: number): number[] {
  const raw = state.get(contractKeys.due(height));
  if (raw === undefined) return [];
  invariant(raw.length % 8 === 0, 'a due list is a list of u64 ids');
  const view = new DataView(raw.buffer, raw.byteOffset, raw.length);
  const out: number[] = [];
  for (let at = 0; at < raw.length; at += 8) out.push(Number(view.getBigUint64(at)));
  return out;
}

/** Parsed programs by source text: parsing is pure, so the cache cannot change a result. */
const programs = new Map<string, Program>();
const PROGRAM_CACHE_MAX = 1_024;

function programOf(t: Template): Program {
  let p = programs.get(t.text);
  if (p === undefined) {
    const parsed = parseSource(t.name, t.text);
    invariant(parsed.diagnostics.length === 0 && parsed.contracts.length === 1, `deployed contract ${t.name} parses`);
    p = compile(parsed.contracts[0] as NonNullable<(typeof parsed.contracts)[0]>);
    if (programs.size >= PROGRAM_CACHE_MAX) programs.clear();
    programs.set(t.text, p);
  }
  return p;
}

function refuse(code: ErrorCode, message: string, details: Record<string, unknown> = {}): never {
  throw new TxRefusal(code, message, details);
}

/**
 * The interpreter's view of `state` for one create, act or deadline step, with instances
 * and balances cached by id and key: a guard saying `settled(r)` or `r.state` ten times
 * decoded `cins/<r>` ten times before 2026-12-01 (review). The cache cannot change a result:
 * nothing writes `state` while the interpreter runs (it is pure and returns the moves;
 * every step is check-then-write, its writes come after the outcome), so every read of a
 * key in one evaluation returns the same value. A view is made per step and never used
 * after that step's writes (runDeadlines makes one per instance, as earlier instances'
 * steps change the state).
 */
function envOf(state: StateReader): Env {
  const instances = new Map<number, ReturnType<Env['instance']>>();
  const balances = new Map<string, bigint>();
  return {
    balance: (identity, asset) => {
      const key = `${identity}/${asset}`;
      let amount = balances.get(key);
      if (amount === undefined) balances.set(key, (amount = balanceOf(state, identity, asset)));
      return amount;
    },
    instance: (id) => {
      if (instances.has(id)) return instances.get(id);
      const x = contractInstance(state, id);
      const view = x === undefined ? undefined : { contract: x.contract, state: x.state, final: x.status === 'final' };
      instances.set(id, view);
      return view;
    },
  };
}

function templateOrRefuse(state: StateReader, name: string): Template {
  const t = contractTemplate(state, name);
  if (t === undefined) refuse('CONTRACT_UNKNOWN', `no deployed contract is named ${name}`);
  return t;
}

/** Applies money moves in order; the interpreter has checked every balance already. */
function applyMoves(state: Overlay, asset: string, moves: readonly Move[]): void {
  for (const m of moves) {
    const key = keys.balance(m.identity, asset);
    const before = balanceOf(state, m.identity, asset);
    const after = m.kind === 'escrow' ? before - m.amount : before + m.amount;
    invariant(after >= 0n, 'the interpreter checked the balance');
    putBalance(state, key, after);
  }
}

/**
 * Where `id` is, or would go, in an encoded due list (u64 big-endian ids, ascending): the
 * index of the first entry >= id, and whether it is id. Read in place: a list holds up to
 * 2,000 entries and one step may change 32 lists, so nothing is decoded (a review in the
 * twentieth session, 2026-12-01, counted 2.5 GB of decoding for a block of 5,000 hostile acts otherwise).
 */
function dueSlot(raw: Uint8Array, id: number): { at: number; found: boolean } {
  invariant(raw.length % 8 === 0, 'a due list is a list of u64 ids');
  const view = new DataView(raw.buffer, raw.byteOffset, raw.length);
  const entry = (i: number) => view.getUint32(i * 8) * 2 ** 32 + view.getUint32(i * 8 + 4);
  let lo = 0;
  let hi = raw.length / 8;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (entry(mid) < id) lo = mid + 1;
    else hi = mid;
  }
  return { at: lo, found: lo < raw.length / 8 && entry(lo) === id };
}

/** The due list at `height` with `id` added (ascending), or null when it is full. */
function withDue(state: StateReader, height: number, id: number): Uint8Array | null {
  const raw = state.get(contractKeys.due(height)) ?? new Uint8Array(0);
  if (raw.length / 8 >= CONTRACT_DUE_PER_HEIGHT_MAX) return null;
  const { at, found } = dueSlot(raw, id);
  invariant(!found, 'an instance is due once per height');
  const out = new Uint8Array(raw.length + 8);
  out.set(raw.subarray(0, at * 8));
  new DataView(out.buffer).setBigUint64(at * 8, BigInt(id));
  out.set(raw.subarray(at * 8), at * 8 + 8);
  return out;
}

/** The due list at `height` without `id`, which must be on it (null when none is left). */
function withoutDue(state: StateReader, height: number, id: number): Uint8Array | null {
  const raw = state.get(contractKeys.due(height)) ?? new Uint8Array(0);
  const { at, found } = dueSlot(raw, id);
  invariant(found, `active instance ${id} is on the due list of ${height}, a height of its after chain`);
  if (raw.length === 8) return null;
  const out = new Uint8Array(raw.length - 8);
  out.set(raw.subarray(0, at * 8));
  out.set(raw.subarray(at * 8 + 8), at * 8);
  return out;
}

/**
 * The heights at which `x` holds a due entry: its after chain (`afterChain`), empty when it
 * is not active. A deploy refuses a contract whose chains are longer than
 * CONTRACT_AFTER_CHAIN_MAX, so a longer one means the state was not written by these rules.
 */
function chainOf(program: Program, x: StoredInstance): number[] {
  const heights = afterChain(program, x, CONTRACT_AFTER_CHAIN_MAX);
  invariant(heights !== null, `instance ${x.id}'s after chain is at most ${CONTRACT_AFTER_CHAIN_MAX} steps (checked at deploy)`);
  return heights;
}

/** The first state of `program` from which more than CONTRACT_AFTER_CHAIN_MAX after transitions follow one another, or null. */
function tooLongAfterChain(program: Program): string | null {
  for (const s of program.contract.states) {
    if (afterStepsFrom(program, s.name, CONTRACT_AFTER_CHAIN_MAX) > CONTRACT_AFTER_CHAIN_MAX) return s.name;
  }
  return null;
}

/** Due-list writes: the new list of a height, or null to delete its key. */
type DueWrites = Array<readonly [height: number, list: Uint8Array | null]>;

/**
 * The due-list writes that move instance `id` from the due entries `from` to `to` (each
 * ascending, distinct heights): entries at heights of both stay, `skip` (the height whose
 * list runDeadlines is stepping and deletes whole) is left alone. Returns the first height
 * of `to` whose list is full instead, before anything is written.
 */
function dueMoves(state: StateReader, id: number, from: readonly number[], to: readonly number[], skip: number | null): DueWrites | { full: number } {
  const writes: DueWrites = [];
  const kept = new Set(from);
  for (const h of to) {
    if (kept.has(h)) continue;
    const list = withDue(state, h, id);
    if (list === null) return { full: h };
    writes.push([h, list]);
  }
  const wanted = new Set(to);
  for (const h of from) if (h !== skip && !wanted.has(h)) writes.push([h, withoutDue(state, h, id)]);
  return writes;
}

function writeDue(state: Overlay, writes: DueWrites): void {
  for (const [h, list] of writes) {
    if (list === null) state.delete(contractKeys.due(h));
    else state.set(contractKeys.due(h), list);
  }
}

function refuseFull(height: number): never {
  refuse('CONTRACT_DUE_FULL', `${CONTRACT_DUE_PER_HEIGHT_MAX} due entries are already reserved at height ${height}, a height of the instance's after chain`, { height });
}

function signerSet(tx: Tx): Set<string> {
  return new Set(tx.body.signers.map(toHex));
}

/** Applies a deploy, create or act payload (the signers are already checked and active). */
export function applyContractPayload(state: Overlay, tx: Tx, height: number): void {
  const p = tx.body.payload;
  if (p.type === 'deploy') return deploy(state, tx, p, height);
  if (p.type === 'create') return createInstance(state, tx, p, height);
  if (p.type === 'act') return actOn(state, tx, p, height);
  invariant(false, `not a contract payload: ${p.type}`);
}

function deploy(state: Overlay, tx: Tx, p: Payload & { type: 'deploy' }, height: number): void {
  const parsed = parseSource('deploy', p.source);
  const first = parsed.diagnostics[0];
  if (first !== undefined) refuse('CONTRACT_REJECTED', `deploy:${first.line}:${first.column}: ${first.ruleId} ${first.message}`, { diagnostics: parsed.diagnostics });
  if (parsed.contracts.length > CONTRACTS_PER_DEPLOY_MAX) refuse('CONTRACT_REJECTED', `${parsed.contracts.length} contracts in one deploy; the limit is ${CONTRACTS_PER_DEPLOY_MAX}`);
  for (const c of parsed.contracts) {
    // A contract whose bindings could not fit in a create payload could never be used.
    const counts: Array<[string, number, number]> = [
      ['parties', c.parties.reduce((n, m) => n + m.items.length, 0), CONTRACT_PARTIES_MAX],
      ['params', c.params.reduce((n, m) => n + m.items.length, 0), CONTRACT_PARAMS_MAX],
      ['refs', c.refs.length, CONTRACT_REFS_MAX],
    ];
    for (const [what, n, max] of counts) {
      if (n > max) refuse('CONTRACT_REJECTED', `contract ${c.name} declares ${n} ${what}; a create transaction binds at most ${max}`);
    }
  }
  // Summaries only (decodeTemplateSummary): no source text, state names on demand.
  const external = new Map<string, ContractSummary>();
  for (const c of parsed.contracts) {
    for (const name of [c.name, ...c.refs.map((r) => r.contract)]) {
      if (external.has(name)) continue;
      const raw = state.get(contractKeys.template(name));
      if (raw !== undefined) external.set(name, decodeTemplateSummary(raw));
    }
  }
  const result = checkContracts(parsed.contracts, DEFAULT_OPTIONS, external);
  if (result.errors > 0) {
    const errors = result.diagnostics.filter((d) => d.severity === 'error');
    const e = errors[0] as (typeof errors)[0] & object;
    refuse('CONTRACT_REJECTED', `${errors.length} checker error(s); first deploy:${e.line}:${e.column}: ${e.ruleId} ${e.message}`, { diagnostics: result.diagnostics });
  }
  // Every height of an after chain is reserved when an instance enters its first state, so
  // a chain's length bounds the due lists one step writes (docs/contracts.md).
  for (const c of parsed.contracts) {
    const state = tooLongAfterChain(compile(c));
    if (state !== null) refuse('CONTRACT_REJECTED', `contract ${c.name}: more than ${CONTRACT_AFTER_CHAIN_MAX} after transitions follow one another from state ${state}; the ledger reserves a due entry for each, and allows at most ${CONTRACT_AFTER_CHAIN_MAX}`);
  }
  const deployer = tx.body.signers[0] as Uint8Array;
  for (const c of parsed.contracts) {
    const summary = result.summaries.get(c.name);
    invariant(summary !== undefined, 'every checked contract has a summary');
    state.set(contractKeys.template(c.name), encodeTemplate({ ...summary, deployer, height, text: c.text }));
  }
}

function createInstance(state: Overlay, tx: Tx, p: Payload & { type: 'create' }, height: number): void {
  const template = templateOrRefuse(state, p.contract);
  const program = programOf(template);
  const parties = new Map<string, string>();
  for (const x of p.parties) {
    const identity = identityOf(state, x.key);
    if (identity === undefined || identity.revoked) refuse('CONTRACT_UNKNOWN_PARTY', `party ${x.name}: ${toHex(x.key)} is not an active identity`);
    parties.set(x.name, toHex(x.key));
  }
  const binding = {
    parties,
    params: new Map(p.params.map((x) => [x.name, x.value.value])),
    refs: new Map(p.refs.map((x) => [x.name, x.instance])),
  };
  const currency = binding.params.get(program.currency);
  if (typeof currency === 'string' && state.get(keys.asset(currency)) === undefined) refuse('TX_UNKNOWN_ASSET', `asset ${currency} does not exist`);
  const outcome = create(program, binding, height, envOf(state));
  if (!outcome.ok) refuse(outcome.code, outcome.message);
  const signers = signerSet(tx);
  for (const who of outcome.mustSign) if (!signers.has(who)) refuse('CONTRACT_NOT_SIGNED', `${who} escrows at creation and must sign`);
  const nextRaw = state.get(contractKeys.nextInstance);
  invariant(nextRaw === undefined || nextRaw.length === 8, 'meta/cins_next is a u64');
  const id = nextRaw === undefined ? 1 : Number(new DataView(nextRaw.buffer, nextRaw.byteOffset, 8).getBigUint64(0));
  const instance: StoredInstance = { ...outcome.instance, id, frozenReason: '' };
  const due = dueMoves(state, id, [], chainOf(program, instance), null);
  if (!Array.isArray(due)) refuseFull(due.full);
  // Nothing can refuse from here on.
  applyMoves(state, currency as string, outcome.moves);
  state.set(contractKeys.instance(id), encodeInstance(instance));
  state.set(contractKeys.nextInstance, new Writer(8).u64(id + 1).finish());
  writeDue(state, due);
}

function actOn(state: Overlay, tx: Tx, p: Payload & { type: 'act' }, height: number): void {
  const before = contractInstance(state, p.instance);
  if (before === undefined) refuse('CONTRACT_UNKNOWN_INSTANCE', `no instance has id ${p.instance}`);
  const program = programOf(templateOrRefuse(state, before.contract));
  const signers = signerSet(tx);
  const outcome = act(program, before, p.party, p.action, p.args.map((a) => a.value), height, envOf(state), (who) => signers.has(who));
  if (!outcome.ok) refuse(outcome.code, outcome.message);
  invariant(outcome.mustSign.every((who) => signers.has(who)), 'the interpreter checked the actor signed');
  step(state, program, before, { ...outcome.instance, id: before.id, frozenReason: '' }, outcome.moves, null);
}

/**
 * Writes one step of an instance: moves, the instance, and its due entries (off the heights
 * of its old after chain, onto those of its new one). An act meeting a full due list is
 * refused. A deadline step (`expiring`, its height) needs no new entry: its new chain is
 * the rest of the old one, reserved when the instance entered the chain's first state, so
 * it never meets a full list (before the twentieth session it could, and froze: anyone could fill the
 * list of its next deadline height in advance).
 */
function step(state: Overlay, program: Program, before: StoredInstance, after: StoredInstance, moves: readonly Move[], expiring: number | null): void {
  const from = chainOf(program, before);
  invariant(from.length > 0, 'a step starts from an active instance');
  const to = chainOf(program, after);
  if (expiring !== null) {
    invariant(from[0] === expiring && to.length === from.length - 1 && to.every((h, i) => h === from[i + 1]), `instance ${before.id}'s deadline step at ${expiring} keeps the rest of its after chain`);
  }
  const due = dueMoves(state, before.id, from, to, expiring);
  if (!Array.isArray(due)) {
    invariant(expiring === null, 'a deadline step adds no due entry');
    refuseFull(due.full);
  }
  // Nothing can refuse from here on.
  applyMoves(state, before.params.get(program.currency) as string, moves);
  state.set(contractKeys.instance(after.id), encodeInstance(after));
  writeDue(state, due);
}

/**
 * Freezes `x` at its deadline step of height `expiring`, recording only the refusal `code`
 * (no message text enters the state), and gives up the due entries of the rest of its
 * after chain.
 */
function freeze(state: Overlay, program: Program, x: StoredInstance, code: ErrorCode, expiring: number): void {
  const due = dueMoves(state, x.id, chainOf(program, x), [], expiring);
  invariant(Array.isArray(due), 'giving up due entries needs no room');
  state.set(contractKeys.instance(x.id), encodeInstance({ ...x, status: 'frozen', frozenReason: code }));
  writeDue(state, due);
}

/**
 * The deadline step before the transactions of block `height`: every instance due at
 * `height` takes its after transition, in ascending id order. A failing step freezes the
 * instance and records the refusal code. Returns the ids stepped, for tests and the API.
 */
export function runDeadlines(state: Overlay, height: number): number[] {
  const ids = dueAt(state, height);
  for (const id of ids) {
    const x = contractInstance(state, id);
    invariant(x !== undefined && x.status === 'active', `instance ${id} due at ${height} is active`);
    const program = programOf(templateOrRefuse(state, x.contract));
    const outcome = expire(program, x, height, envOf(state));
    invariant(outcome !== null, `instance ${id} is due at ${height}`);
    if (outcome.ok) step(state, program, x, { ...outcome.instance, id, frozenReason: '' }, outcome.moves, height);
    else freeze(state, program, x, outcome.code, height);
  }
  if (ids.length > 0) state.delete(contractKeys.due(height));
  return ids;
}

/**
 * For a directory written before store version 2, when due entries covered only an instance's
 * current deadline: the first contract on the chain with an after chain longer than
 * CONTRACT_AFTER_CHAIN_MAX, or the first active instance that lacks an entry at a height
 * of its after chain; null when the state already follows the rules (every instance whose
 * chains have one step does). One pass over the listed templates, instances and due
 * lists (`keys`: every state key); the store runs it once for such a directory.
 */
export function dueRulesViolation(state: StateReader, keys: readonly string[]): string | null {
  const templates = new Map<string, Program>();
  for (const key of keys) {
    if (!key.startsWith(TEMPLATE_KEY_PREFIX)) continue;
    const t = decodeTemplate(state.get(key) as Uint8Array);
    const program = programOf(t);
    const long = tooLongAfterChain(program);
    if (long !== null) return `contract ${t.name} has an after chain longer than ${CONTRACT_AFTER_CHAIN_MAX} steps from state ${long}`;
    templates.set(t.name, program);
  }
  const held = new Map<number, Set<number>>();
  for (const key of keys) {
    if (!key.startsWith(DUE_KEY_PREFIX)) continue;
    const height = Number(key.slice(DUE_KEY_PREFIX.length));
    held.set(height, new Set(dueAt(state, height)));
  }
  for (const key of keys) {
    if (!key.startsWith(INSTANCE_KEY_PREFIX)) continue;
    const x = decodeInstance(Number(key.slice(INSTANCE_KEY_PREFIX.length)), state.get(key) as Uint8Array);
    if (x.status !== 'active') continue;
    const program = templates.get(x.contract);
    if (program === undefined) return `instance ${x.id} is of contract ${x.contract}, which is not on the chain`;
    for (const height of chainOf(program, x)) {
      if (held.get(height)?.has(x.id) !== true) return `instance ${x.id} holds no due entry at height ${height}, a height of its after chain`;
    }
  }
  return null;
}

export function isContractRefusal(error: unknown): error is SteleError {
  return error instanceof TxRefusal && error.code.startsWith('CONTRACT_');
}
