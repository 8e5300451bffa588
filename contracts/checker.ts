/**
 * The checker: every rule of SCL.md section 5 over a unit of contracts (the files given to
 * `stele lint` together, or a deploy transaction together with what is on the chain).
 *
 * Pure and linear in states plus transitions: graph work is iterative (graph.ts), path
 * counts and lifetimes are dynamic programming over a topological order, and escrow
 * conservation propagates one exact polynomial per state (poly.ts) instead of walking
 * paths, whose number may be astronomical.
 */
import type { Contract, Decl, Effect, Expr, Param, Pos, Ref, StateBody, Transition } from './ast.js';
import { TEMPORAL, UNCOMMITTED } from './ast.js';
import { compareDiagnostics, figureNumber, severityOf, type Diagnostic, type Figure, type RuleId } from './diagnostic.js';
import { components, cycleThrough, onCycle, reachable, reverse, reverseTopological } from './graph.js';
import { AMOUNT_TEXT_MAX, DIAGNOSTICS_PER_RULE_MAX, ESCROW_WORK_MAX, POLY_WORK_MAX, MAX_DEPTH_DEFAULT, MAX_HORIZON_DEFAULT, MAX_PATHS_DEFAULT, PATH_COUNT_CAP, TRACE_STATES_MAX } from './limits.js';
import { parseSource } from './parser.js';
import * as P from './poly.js';

export interface CheckOptions {
  readonly maxPaths: number;
  readonly maxDepth: number;
  readonly maxHorizon: number;
}
export const DEFAULT_OPTIONS: CheckOptions = { maxPaths: MAX_PATHS_DEFAULT, maxDepth: MAX_DEPTH_DEFAULT, maxHorizon: MAX_HORIZON_DEFAULT };

/** What the checker needs to know of a contract checked before (one already on the chain). */
export interface ContractSummary {
  readonly name: string;
  /** Every state name, in declaration order (init first). */
  readonly states: readonly string[];
  readonly finals: readonly string[];
  /** lifetime(init) in blocks; null when not computed (the contract has errors). */
  readonly lifetime: bigint | null;
  /** Possible futures, refs included (saturated at PATH_COUNT_CAP); null when infinite or unknown. */
  readonly paths: bigint | null;
  /** Ref depth; null on a ref cycle. */
  readonly depth: number | null;
}

export interface CheckResult {
  /** Sorted by file, line, column. */
  readonly diagnostics: readonly Diagnostic[];
  readonly contracts: readonly Contract[];
  /** One per contract of the unit (not the external ones), by name. */
  readonly summaries: ReadonlyMap<string, ContractSummary>;
  readonly errors: number;
  readonly warnings: number;
}

export interface SourceFile {
  readonly file: string;
  readonly text: string | Uint8Array;
}

/**
 * Parses and checks files as one unit. SYN001 stops the checking (no other diagnostics).
 * @example checkSources([{ file: 'horse.scl', text }]).errors // 0
 */
export function checkSources(files: readonly SourceFile[], options: CheckOptions = DEFAULT_OPTIONS, external: ReadonlyMap<string, ContractSummary> = new Map()): CheckResult {
  const contracts: Contract[] = [];
  const syntax: Diagnostic[] = [];
  // The contracts of the files that parsed whole: what the summary counts when another
  // file stops the check at SYN001 (review of 2026-12-02: it said 0 for the whole unit).
  const parsedWhole: Contract[] = [];
  for (const f of files) {
    const r = parseSource(f.file, f.text);
    // Loops, not spreads: a spread of ~130,000 items overflows the stack (review, 2026-12-01).
    for (const d of r.diagnostics) syntax.push(d);
    for (const c of r.contracts) contracts.push(c);
    if (r.diagnostics.length === 0) for (const c of r.contracts) parsedWhole.push(c);
  }
  if (syntax.length > 0) return { diagnostics: syntax, contracts: parsedWhole, summaries: new Map(), errors: syntax.length, warnings: 0 };
  return checkContracts(contracts, options, external);
}

type ValueType = 'int' | 'bool' | 'party' | 'ref' | 'asset' | 'error' | { readonly stateOf: string };

interface StateInfo {
  readonly name: string;
  readonly pos: Pos;
  final: boolean;
  readonly body: StateBody | null;
  /** Deadline in blocks (a `blocks max N` param counts N); null when missing or ill-typed. */
  deadline: bigint | null;
  deadlineTyped: boolean;
  hasAfter: boolean;
}

interface Edge {
  readonly from: number;
  readonly to: number;
  readonly transition: Transition;
}

/** Per-contract facts shared by the phases. */
interface Local {
  readonly c: Contract;
  readonly parties: Map<string, Decl>;
  readonly params: Map<string, Param>;
  readonly refs: Map<string, Ref>;
  readonly states: StateInfo[];
  readonly stateIndex: Map<string, number>;
  readonly init: number | null;
  readonly edges: Edge[];
  readonly succ: number[][];
  cyclic: boolean;
  fsm002: boolean;
  deadlinesTyped: boolean;
  lifetime: bigint | null;
  longest: number[];
  localPaths: bigint | null;
  effectsTyped: boolean;
}

class Sink {
  readonly out: Diagnostic[] = [];
  private readonly counts = new Map<string, number>();
  /** True when `rule` has listed all it may for `c`: a caller can skip building another finding. */
  full(rule: RuleId, c: Contract): boolean {
    return (this.counts.get(`${c.file}\u0000${c.name}\u0000${rule}`) ?? 0) >= DIAGNOSTICS_PER_RULE_MAX;
  }
  /** `traceElided`: the trace is already cut by `elideBy` (so it is not cut again). */
  add(rule: RuleId, c: Contract, pos: Pos, message: string, extra: { state?: string; trace?: readonly string[]; traceElided?: boolean; figure?: Figure } = {}): void {
    const key = `${c.file}\u0000${c.name}\u0000${rule}`;
    const n = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, n);
    if (n > DIAGNOSTICS_PER_RULE_MAX) return;
    this.out.push({
      ruleId: rule,
      severity: severityOf(rule),
      message: n === DIAGNOSTICS_PER_RULE_MAX ? `${message} (further ${rule} findings in ${c.name} are not listed)` : message,
      file: c.file,
      line: pos.line,
      column: pos.column,
      contract: c.name,
      ...(extra.state !== undefined ? { state: extra.state } : {}),
      ...(extra.trace !== undefined ? { trace: extra.traceElided === true ? [...extra.trace] : elide(extra.trace) } : {}),
      ...(extra.figure !== undefined ? { figure: extra.figure } : {}),
    });
  }
}

function elide(trace: readonly string[]): string[] {
  return elideBy(trace.length, (j) => trace[j] as string);
}

/** A trace of `length` names, the j-th given by `at`, cut in the middle past TRACE_STATES_MAX, without building the whole list. */
function elideBy(length: number, at: (j: number) => string): string[] {
  const out: string[] = [];
  if (length <= TRACE_STATES_MAX) {
    for (let j = 0; j < length; j++) out.push(at(j));
    return out;
  }
  const half = TRACE_STATES_MAX / 2;
  for (let j = 0; j < half; j++) out.push(at(j));
  out.push(`... ${length - TRACE_STATES_MAX} more ...`);
  for (let j = length - half; j < length; j++) out.push(at(j));
  return out;
}

/** Checks parsed contracts as one unit, with `external` contracts available to refs. */
export function checkContracts(contracts: readonly Contract[], options: CheckOptions = DEFAULT_OPTIONS, external: ReadonlyMap<string, ContractSummary> = new Map()): CheckResult {
  const sink = new Sink();
  // Contract names: unique in the unit and against what is already deployed.
  const byName = new Map<string, Contract>();
  const unique: Contract[] = [];
  for (const c of contracts) {
    if (byName.has(c.name)) sink.add('NAME001', c, c.pos, `contract ${c.name} is declared twice`);
    else if (external.has(c.name)) sink.add('NAME001', c, c.pos, `contract ${c.name} is already deployed`);
    else {
      byName.set(c.name, c);
      unique.push(c);
    }
  }
  // Each contract's state names are built once per check, on first use: built per
  // `r.state == X` comparison, thousands of comparisons against a 16k-state contract on
  // the chain cost ~1e8 set insertions on every validator, for a deploy that fails
  // anyway (found in review, 2026-12-01).
  const stateSets = new Map<string, ReadonlySet<string> | null>();
  const statesOf = (name: string): ReadonlySet<string> | null => {
    let set = stateSets.get(name);
    if (set === undefined) {
      const c = byName.get(name);
      const e = c === undefined ? external.get(name) : undefined;
      set = c !== undefined ? stateNames(c) : e === undefined ? null : new Set(e.states);
      stateSets.set(name, set);
    }
    return set;
  };
  const locals = new Map<Contract, Local>();
  for (const c of contracts) locals.set(c, checkLocal(c, sink, statesOf, byName, external));
  // Lifetimes of every contract first: XREF003 reads the lifetime of ref'd contracts.
  for (const c of contracts) lifetimeOf(locals.get(c) as Local, sink, options);
  const lifetimeByName = (name: string): bigint | null => {
    const c = byName.get(name);
    if (c !== undefined) return (locals.get(c) as Local).lifetime;
    return external.get(name)?.lifetime ?? null;
  };
  for (const c of contracts) xref003(locals.get(c) as Local, sink, lifetimeByName);
  const { depth, paths } = crossContract(unique, locals, sink, options, external);
  const summaries = new Map<string, ContractSummary>();
  for (const c of unique) {
    const l = locals.get(c) as Local;
    summaries.set(c.name, {
      name: c.name,
      states: l.states.map((s) => s.name),
      finals: l.states.filter((s) => s.final).map((s) => s.name),
      lifetime: l.lifetime,
      paths: paths.get(c.name) ?? null,
      depth: depth.get(c.name) ?? null,
    });
  }
  const diagnostics = sink.out.sort(compareDiagnostics);
  let errors = 0;
  for (const d of diagnostics) if (d.severity === 'error') errors++;
  return { diagnostics, contracts, summaries, errors, warnings: diagnostics.length - errors };
}

/** State names of a contract: state bodies, finals and the init state. */
export function stateNames(c: Contract): Set<string> {
  const out = new Set<string>();
  for (const i of c.inits) out.add(i.state);
  for (const s of c.states) out.add(s.name);
  for (const f of c.finals) for (const d of f.items) out.add(d.name);
  return out;
}

function checkLocal(
  c: Contract,
  sink: Sink,
  statesOf: (contract: string) => ReadonlySet<string> | null,
  byName: ReadonlyMap<string, Contract>,
  external: ReadonlyMap<string, ContractSummary>,
): Local {
  // Members that must appear exactly once.
  const once = (what: string, list: readonly { pos: Pos }[]): void => {
    if (list.length === 0) sink.add('NAME001', c, c.pos, `contract ${c.name} has no ${what}`);
    for (const extra of list.slice(1)) sink.add('NAME001', c, extra.pos, `${what} is declared twice in ${c.name}`);
  };
  once('parties', c.parties);
  once('currency', c.currency.map((x) => ({ pos: x.memberPos })));
  once('init', c.inits);
  for (const extra of c.horizons.slice(1)) sink.add('NAME001', c, extra.pos, `horizon is declared twice in ${c.name}`);

  // One namespace for parties, params and refs.
  const parties = new Map<string, Decl>();
  const params = new Map<string, Param>();
  const refs = new Map<string, Ref>();
  const declared = new Set<string>();
  const declare = (d: Decl, what: string): boolean => {
    if (declared.has(d.name)) {
      sink.add('NAME001', c, d.pos, `${what} ${d.name} is declared twice (names of parties, params and refs must differ)`);
      return false;
    }
    declared.add(d.name);
    return true;
  };
  for (const m of c.parties) for (const d of m.items) if (declare(d, 'party')) parties.set(d.name, d);
  for (const m of c.params) {
    for (const p of m.items) {
      if (!declare(p, 'param')) continue;
      params.set(p.name, p);
      if (p.type.kind === 'blocks' && p.type.max < 1n) sink.add('TYPE001', c, p.pos, `${p.name}: blocks max ${p.type.max} allows a deadline < 1`);
    }
  }
  for (const r of c.refs) {
    if (!declare(r, 'ref')) continue;
    refs.set(r.name, r);
    if (!byName.has(r.contract) && !external.has(r.contract)) sink.add('NAME001', c, r.contractPos, `ref ${r.name} names an unknown contract ${r.contract}`);
  }
  // States: bodies, finals, the init state.
  const states: StateInfo[] = [];
  const stateIndex = new Map<string, number>();
  const addState = (name: string, pos: Pos): number => {
    let i = stateIndex.get(name);
    if (i === undefined) {
      i = states.length;
      stateIndex.set(name, i);
      states.push({ name, pos, final: false, body: null, deadline: null, deadlineTyped: true, hasAfter: false });
    }
    return i;
  };
  const init0 = c.inits[0];
  if (init0 !== undefined) addState(init0.state, init0.pos);
  const finalSeen = new Set<string>();
  for (const m of c.finals) {
    for (const d of m.items) {
      if (finalSeen.has(d.name)) {
        sink.add('NAME001', c, d.pos, `final state ${d.name} is declared twice`);
        continue;
      }
      finalSeen.add(d.name);
    }
  }
  const repeated: StateBody[] = [];
  for (const s of c.states) {
    const i = addState(s.name, s.pos);
    const info = states[i] as StateInfo;
    if (info.body !== null) {
      sink.add('NAME001', c, s.pos, `state ${s.name} is declared twice`, { state: s.name });
      repeated.push(s);
    } else states[i] = { ...info, pos: s.pos, body: s };
  }
  for (const m of c.finals) for (const d of m.items) addState(d.name, d.pos);
  for (const name of finalSeen) (states[stateIndex.get(name) as number] as StateInfo).final = true;
  for (const s of states) {
    if (s.final && s.body !== null && s.body.transitions.length > 0) {
      sink.add('FSM003', c, s.body.pos, `final state ${s.name} has transitions`, { state: s.name });
    }
  }
  if (finalSeen.size === 0) sink.add('FSM003', c, c.pos, `contract ${c.name} has no final state`);
  const init = init0 === undefined ? null : (stateIndex.get(init0.state) as number);

  const local: Local = {
    c,
    parties,
    params,
    refs,
    states,
    stateIndex,
    init,
    edges: [],
    succ: states.map(() => []),
    cyclic: false,
    fsm002: false,
    deadlinesTyped: true,
    lifetime: null,
    longest: [],
    localPaths: null,
    effectsTyped: true,
  };
  for (const cur of c.currency) {
    const p = params.get(cur.name);
    // A name defined as something else is a type mismatch, as `currency price` is; NAME001
    // only for a name defined nowhere (review of 2026-12-02: a party or a state was NAME001).
    const other = p === undefined ? definedAs(local, cur.name) : null;
    if (other !== null) sink.add('TYPE001', c, cur.pos, `currency ${cur.name} is ${other}, not an asset param`);
    else if (p === undefined) sink.add('NAME001', c, cur.pos, `currency ${cur.name} is not a param`);
    else if (p.type.kind !== 'asset') sink.add('TYPE001', c, cur.pos, `currency ${cur.name} is a param of type ${p.type.kind}, not asset`);
  }
  const typer = new Typer(local, sink, statesOf);

  for (const r of c.requires) typer.expectBool(r, { where: 'require', args: null, settled: new Set(), state: null }, 'a require');
  if (init0 !== undefined) typer.effects(init0.effects, null, null, { where: 'effect', args: null, settled: new Set(), state: init0.state });

  // Transitions. Bodies outside the state graph (a final state's, a state's second) are
  // checked for their own findings too, without entering the graph or the facts the
  // graph rules need (SCL.md section 5: every rule but SYN001 is reported together; until
  // 2026-12-01 their names, guards, effects and deadlines were not looked at: review).
  const outsideGraph = (check: () => void): void => {
    const effectsTyped = local.effectsTyped;
    check();
    local.effectsTyped = effectsTyped;
  };
  for (const extra of c.inits.slice(1)) outsideGraph(() => typer.effects(extra.effects, null, null, { where: 'effect', args: null, settled: new Set(), state: extra.state }));
  for (const s of states) {
    if (s.body === null) continue;
    if (s.final) {
      const body = s.body;
      outsideGraph(() => transitions(s, body, false));
    } else transitions(s, s.body, true);
  }
  for (const body of repeated) outsideGraph(() => transitions(states[stateIndex.get(body.name) as number] as StateInfo, body, false));

  function transitions(s: StateInfo, body: StateBody, inGraph: boolean): void {
    const from = stateIndex.get(s.name) as number;
    const actions = new Set<string>();
    let afters = 0;
    for (const t of body.transitions) {
      const to = stateIndex.get(t.target);
      if (to === undefined) sink.add('NAME001', c, t.targetPos, `${t.target} is not a state of ${c.name} (declare it with state or final)`, { state: s.name });
      else if (inGraph) {
        local.edges.push({ from, to, transition: t });
        (local.succ[from] as number[]).push(to);
      }
      if (t.kind === 'after') {
        if (++afters > 1) sink.add('FSM006', c, t.pos, `state ${s.name} has two after transitions`, { state: s.name });
        // Every deadline is checked; the first after of a state in the graph sets its deadline.
        const d = deadlineOf(t, local, sink, s.name);
        if (inGraph && d === null) local.deadlinesTyped = false;
        if (inGraph && afters === 1) {
          s.hasAfter = true;
          s.deadline = d;
          s.deadlineTyped = d !== null;
        }
        typer.effects(t.effects, t, null, { where: 'effect', args: null, settled: new Set(), state: s.name });
        continue;
      }
      const key = `${t.actor}.${t.action}`;
      if (actions.has(key)) sink.add('FSM006', c, t.pos, `state ${s.name} has two transitions for ${key}`, { state: s.name });
      actions.add(key);
      const args = new Map<string, Param>();
      for (const a of t.args) {
        if (args.has(a.name)) sink.add('NAME001', c, a.pos, `argument ${a.name} is declared twice`, { state: s.name });
        else args.set(a.name, a);
        if (a.type.kind === 'asset') sink.add('TYPE001', c, a.pos, `argument ${a.name}: asset values can only be named by currency`, { state: s.name });
      }
      const shadow = args.get(t.actor);
      if (shadow !== undefined) sink.add('TYPE001', c, t.actorPos, shadowedParty(t.actor, shadow), { state: s.name });
      else if (!parties.has(t.actor)) {
        const why = notAParty(local, t.actor);
        sink.add(why.rule, c, t.actorPos, why.message, { state: s.name });
      }
      const ctx: Ctx = { where: 'guard', args, settled: new Set(), state: s.name };
      if (t.guard !== null) {
        for (const conjunct of conjuncts(t.guard)) {
          if (conjunct.kind === 'call' && conjunct.fn === 'settled' && conjunct.args.length === 1) {
            const arg = conjunct.args[0] as Expr;
            if (arg.kind === 'name') ctx.settled.add(arg.name);
          }
        }
        typer.expectBool(t.guard, ctx, 'a guard');
      }
      typer.effects(t.effects, t, args, { ...ctx, where: 'effect' });
    }
  }
  for (const s of states) {
    if (!s.final && !s.hasAfter) {
      local.fsm002 = true;
      sink.add('FSM002', c, s.pos, `state ${s.name} has no after transition, so it could wait forever`, { state: s.name });
    }
  }

  // Cycles (FSM001), one diagnostic per strongly connected component.
  const comp = components(local.succ);
  const cyc = onCycle(local.succ, comp);
  const reported = new Set<number>();
  // The first edge from one state to another, by (from, to): found by a scan of every edge
  // per cycle, thousands of one-state cycles took quadratic time (found in review).
  const firstEdge = new Map<number, Edge>();
  for (const e of local.edges) {
    const key = e.from * states.length + e.to;
    if (!firstEdge.has(key)) firstEdge.set(key, e);
  }
  for (let v = 0; v < states.length; v++) {
    if (cyc[v] === 0 || reported.has(comp[v] as number)) continue;
    reported.add(comp[v] as number);
    local.cyclic = true;
    const cycle = cycleThrough(local.succ, comp, v);
    const last = cycle[cycle.length - 2] as number;
    const edge = firstEdge.get(last * states.length + v) as Edge;
    const names = elideBy(cycle.length, (j) => (states[cycle[j] as number] as StateInfo).name);
    sink.add('FSM001', c, edge.transition.pos, `the state graph has a cycle: ${names.join(' -> ')}`, { state: (states[last] as StateInfo).name, trace: names, traceElided: true });
  }

  // Unreachable states (FSM007).
  if (init !== null) {
    const seen = reachable(local.succ, [init]);
    for (let v = 0; v < states.length; v++) {
      const s = states[v] as StateInfo;
      if (seen[v] === 0) sink.add('FSM007', c, s.pos, `state ${s.name} cannot be reached from ${(states[init] as StateInfo).name}`, { state: s.name });
    }
  }

  // Path count of the contract's own graph, by dynamic programming (FSM005 adds refs).
  if (!local.cyclic && init !== null) {
    const order = reverseTopological(local.succ);
    if (order !== null) {
      const paths: bigint[] = states.map(() => 0n);
      for (const v of order) {
        const s = states[v] as StateInfo;
        if (s.final) paths[v] = 1n;
        else {
          let sum = 0n;
          for (const w of local.succ[v] as number[]) sum += paths[w] as bigint;
          paths[v] = sum > PATH_COUNT_CAP ? PATH_COUNT_CAP : sum;
        }
      }
      local.localPaths = paths[init] as bigint;
    }
  }

  if (local.effectsTyped && init !== null) escrowConservation(local, sink, typer);
  return local;
}

function deadlineOf(t: Transition & { kind: 'after' }, local: Local, sink: Sink, state: string): bigint | null {
  const c = local.c;
  const d = t.deadline;
  if (d.kind === 'int') {
    if (d.value < 1n) {
      sink.add('TYPE001', c, d.pos, `a deadline must be at least 1 block, not ${d.value}`, { state });
      return null;
    }
    return d.value;
  }
  const p = local.params.get(d.name);
  if (p === undefined) {
    const kind = local.parties.has(d.name) ? 'a party' : local.refs.has(d.name) ? 'a ref' : local.stateIndex.has(d.name) ? 'a state' : null;
    if (kind === null) sink.add('NAME001', c, d.pos, `${d.name} is not defined`, { state });
    else sink.add('TYPE001', c, d.pos, `after ${d.name}: ${d.name} is ${kind}, not a blocks max N param`, { state });
    return null;
  }
  if (p.type.kind !== 'blocks') {
    sink.add('TYPE001', c, d.pos, `after ${d.name}: ${d.name} is of type ${p.type.kind}, not blocks max N`, { state });
    return null;
  }
  return p.type.max < 1n ? null : p.type.max;
}

/** The finding for a party's name that an action argument hides. */
function shadowedParty(name: string, argument: Param): string {
  return `${name} is the transition's argument of type ${argument.type.kind}, not a party: a name means an action argument first, then a param, a party, a ref, a state`;
}

/**
 * Where a party is expected (an actor, the party of an effect) and `name` is none: TYPE001
 * when the name is defined as something else (a param, a ref, a state: SCL.md's "type
 * mismatch", as for `balance(price)`), NAME001 when it is not defined at all. Before
 * 2026-12-02 both were NAME001 (review).
 */
function notAParty(l: Pick<Local, 'c' | 'params' | 'parties' | 'refs' | 'stateIndex'>, name: string): { rule: 'TYPE001' | 'NAME001'; message: string } {
  const what = definedAs(l, name);
  if (what === null) return { rule: 'NAME001', message: `${name} is not a party of ${l.c.name}` };
  return { rule: 'TYPE001', message: `${name} is ${what} of ${l.c.name}, not a party` };
}

/**
 * What `name` is defined as in a contract, for a finding about a name of the wrong kind
 * (TYPE001, "a type mismatch"), or null when it is defined nowhere (NAME001). Callers ask
 * after the kind they expected was not found.
 */
function definedAs(l: Pick<Local, 'params' | 'parties' | 'refs' | 'stateIndex'>, name: string): string | null {
  const param = l.params.get(name);
  if (param !== undefined) return `a param of type ${param.type.kind}`;
  return l.parties.has(name) ? 'a party' : l.refs.has(name) ? 'a ref' : l.stateIndex.has(name) ? 'a state' : null;
}

/** The top-level conjuncts of an expression: `a and (b and c)` gives a, b, c. */
export function conjuncts(e: Expr): Expr[] {
  const out: Expr[] = [];
  const stack = [e];
  while (stack.length > 0) {
    const x = stack.pop() as Expr;
    if (x.kind === 'binary' && x.op === 'and') stack.push(x.right, x.left);
    else out.push(x);
  }
  return out;
}

interface Ctx {
  readonly where: 'guard' | 'require' | 'effect';
  readonly args: ReadonlyMap<string, Param> | null;
  /** Refs r with settled(r) in the guard's top-level conjunction. */
  readonly settled: Set<string>;
  readonly state: string | null;
}

function describeType(t: ValueType): string {
  return typeof t === 'string' ? (t === 'int' ? 'an integer' : t === 'bool' ? 'a bool' : `a ${t}`) : `a state of ${t.stateOf}`;
}

/** Types expressions and effects, reporting NAME001, TYPE001, TEMP001, GRD001, XREF002, AUTH001. */
class Typer {
  /** Quotients met in amounts, by their text, and back (for messages). */
  private readonly quotients = new Map<string, string>();
  readonly quotientText = new Map<string, string>();

  constructor(
    private readonly l: Local,
    private readonly sink: Sink,
    private readonly statesOf: (contract: string) => ReadonlySet<string> | null,
  ) {}

  private add(rule: RuleId, pos: Pos, message: string, ctx: Ctx): void {
    this.sink.add(rule, this.l.c, pos, message, ctx.state === null ? {} : { state: ctx.state });
  }

  expectBool(e: Expr, ctx: Ctx, what: string): void {
    const t = this.type(e, ctx);
    if (t !== 'bool' && t !== 'error') this.add('TYPE001', e.pos, `${what} must be a bool, not ${describeType(t)}`, ctx);
  }

  effects(list: readonly Effect[], t: Transition | null, args: ReadonlyMap<string, Param> | null, ctx: Ctx): void {
    for (const e of list) {
      const ty = this.type(e.amount, { ...ctx, args });
      if (ty !== 'int') {
        this.l.effectsTyped = false;
        if (ty !== 'error') this.add('TYPE001', e.amount.pos, `the amount to ${e.kind} must be an integer, not ${describeType(ty)}`, ctx);
      }
      // The party is a name like any other, resolved arguments first (SCL.md section 2):
      // an argument of the same name hides the party. Until 2026-12-01 only the parties
      // were searched, so the effect moved the party's money where SCL.md says the name
      // is the argument (review). This refuses deploys that were accepted: docs/contracts.md.
      const shadow = args?.get(e.party);
      if (shadow !== undefined || !this.l.parties.has(e.party)) {
        this.l.effectsTyped = false;
        if (shadow !== undefined) this.add('TYPE001', e.partyPos, shadowedParty(e.party, shadow), ctx);
        else {
          const why = notAParty(this.l, e.party);
          this.add(why.rule, e.partyPos, why.message, ctx);
        }
        continue;
      }
      if (e.kind !== 'escrow' || t === null) continue;
      if (t.kind === 'after') this.add('AUTH001', e.pos, `escrow from ${e.party} in an after transition: no one signs it`, ctx);
      else if (t.actor !== e.party) this.add('AUTH001', e.pos, `escrow from ${e.party} in an action of ${t.actor}: only the actor signs it`, ctx);
    }
  }

  /** The name's type by the resolution order: arguments, params, parties, refs, states. */
  private resolve(name: string, ctx: Ctx): ValueType | null {
    const p = ctx.args?.get(name) ?? this.l.params.get(name);
    if (p !== undefined) {
      const k = p.type.kind;
      return k === 'bool' ? 'bool' : k === 'asset' ? 'asset' : 'int';
    }
    if (this.l.parties.has(name)) return 'party';
    if (this.l.refs.has(name)) return 'ref';
    if (this.l.stateIndex.has(name)) return { stateOf: this.l.c.name };
    return null;
  }

  type(e: Expr, ctx: Ctx): ValueType {
    switch (e.kind) {
      case 'int':
        return 'int';
      case 'bool':
        return 'bool';
      case 'height':
      case 'entered':
        return 'int';
      case 'name': {
        const t = this.resolve(e.name, ctx);
        if (t === null) {
          this.add('NAME001', e.pos, `${e.name} is not defined`, ctx);
          return 'error';
        }
        if (t === 'asset') {
          this.add('TYPE001', e.pos, `${e.name} is an asset: asset values can only be named by currency`, ctx);
          return 'error';
        }
        return t;
      }
      case 'refState': {
        const r = this.l.refs.get(e.ref);
        if (r === undefined) {
          // Defined as something else: a type mismatch, as `settled(price)` is (review of 2026-12-02).
          const what = definedAs(this.l, e.ref);
          if (what === null) this.add('NAME001', e.pos, `${e.ref} is not a ref of ${this.l.c.name}`, ctx);
          else this.add('TYPE001', e.pos, `${e.ref} is ${what} of ${this.l.c.name}, not a ref`, ctx);
          return 'error';
        }
        if (ctx.where !== 'guard') this.add('XREF002', e.pos, `${e.ref}.state is read outside a guard`, ctx);
        else if (!ctx.settled.has(e.ref)) this.add('XREF002', e.pos, `${e.ref}.state is read in a guard whose top-level conjunction does not contain settled(${e.ref})`, ctx);
        return { stateOf: r.contract };
      }
      case 'call':
        return this.call(e, ctx);
      case 'unary': {
        const t = this.type(e.operand, ctx);
        const want = e.op === 'not' ? 'bool' : 'int';
        if (t !== want && t !== 'error') {
          this.add('TYPE001', e.operand.pos, `'${e.op}' needs ${describeType(want)}, not ${describeType(t)}`, ctx);
          return 'error';
        }
        return t === 'error' ? 'error' : want;
      }
      case 'binary':
        return this.binary(e, ctx);
    }
  }

  private call(e: Expr & { kind: 'call' }, ctx: Ctx): ValueType {
    if (UNCOMMITTED.includes(e.fn)) {
      this.add('GRD001', e.pos, `${e.fn}(..) reads what is not committed; a contract sees only the committed chain`, ctx);
      for (const a of e.args) this.type(a, ctx);
      return 'error';
    }
    if (TEMPORAL.includes(e.fn)) {
      this.add('TEMP001', e.pos, `${e.fn}(..) is a future temporal operator; state a deadline and test the committed state instead`, ctx);
      for (const a of e.args) this.type(a, ctx);
      return 'error';
    }
    const want = e.fn === 'settled' ? 'ref' : 'party';
    if (e.args.length !== 1) {
      this.add('TYPE001', e.pos, `${e.fn} takes one ${want}, not ${e.args.length} arguments`, ctx);
      for (const a of e.args) this.type(a, ctx);
      return 'error';
    }
    const arg = e.args[0] as Expr;
    const t = arg.kind === 'name' ? this.resolve(arg.name, ctx) : this.type(arg, ctx);
    if (t === null) {
      this.add('NAME001', arg.pos, `${(arg as { name: string }).name} is not defined`, ctx);
      return 'error';
    }
    if (t !== want && t !== 'error') {
      this.add('TYPE001', arg.pos, `${e.fn} takes a ${want}, not ${describeType(t)}`, ctx);
      return 'error';
    }
    return e.fn === 'settled' ? 'bool' : 'int';
  }

  private binary(e: Expr & { kind: 'binary' }, ctx: Ctx): ValueType {
    if (e.op === 'until') {
      this.add('TEMP001', e.pos, "'until' is a future temporal operator; state a deadline and test the committed state instead", ctx);
      this.type(e.left, ctx);
      this.type(e.right, ctx);
      return 'error';
    }
    if ((e.op === '==' || e.op === '!=') && (e.left.kind === 'refState' || e.right.kind === 'refState')) {
      const [refSide, other] = e.left.kind === 'refState' ? [e.left, e.right] : [e.right, e.left];
      // A bare name on the other side is read as a state of r's contract, not resolved
      // here; anything else is an expression to type for its own findings, even when the
      // comparison is refused (until 2026-12-01 it was never typed: review).
      const typeOther = (): void => {
        if (other.kind !== 'name') this.type(other, ctx);
      };
      const rt = this.type(refSide, ctx);
      const states = rt === 'error' || typeof rt === 'string' ? null : this.statesOf(rt.stateOf);
      if (states === null || typeof rt === 'string') {
        typeOther();
        return 'error';
      }
      // Names resolve as arguments, params, parties, refs, then states (SCL.md section 2):
      // a state of r's contract shadowed by any of the others is not that state (a party
      // shadowing it was accepted and compared as the state's name: found in review, 2026-11-30).
      const shadowed = (name: string): boolean => (ctx.args?.has(name) ?? false) || this.l.params.has(name) || this.l.parties.has(name) || this.l.refs.has(name);
      if (other.kind !== 'name' || !states.has(other.name) || shadowed(other.name)) {
        this.add('TYPE001', other.pos, `${(refSide as { ref: string }).ref}.state is compared with something that is not a state of ${rt.stateOf}`, ctx);
        typeOther();
        return 'error';
      }
      return 'bool';
    }
    const lt = this.type(e.left, ctx);
    const rt = this.type(e.right, ctx);
    if (lt === 'error' || rt === 'error') return 'error';
    const logical = e.op === 'and' || e.op === 'or';
    const arithmetic = e.op === '+' || e.op === '-' || e.op === '*' || e.op === '/';
    const want = logical ? 'bool' : 'int';
    if (e.op === '==' || e.op === '!=') {
      if (lt === rt && (lt === 'int' || lt === 'bool')) return 'bool';
      this.add('TYPE001', e.pos, `'${e.op}' compares ${describeType(lt)} with ${describeType(rt)}`, ctx);
      return 'error';
    }
    for (const [side, t] of [
      [e.left, lt],
      [e.right, rt],
    ] as const) {
      if (t !== want) {
        this.add('TYPE001', side.pos, `'${e.op}' needs ${describeType(want)}, not ${describeType(t)}`, ctx);
        return 'error';
      }
    }
    return arithmetic ? 'int' : 'bool';
  }

  /** The escrow polynomial of an integer expression; variables are scoped by `scope`. */
  poly(e: Expr, scope: string, args: ReadonlyMap<string, Param> | null): P.Poly {
    switch (e.kind) {
      case 'int':
        return P.constant(e.value);
      case 'height':
        return P.variable(`height@${scope}`);
      case 'entered':
        return P.variable(`entered@${scope}`);
      case 'name':
        return P.variable(args?.has(e.name) === true ? `${e.name}@${scope}` : e.name);
      case 'call':
        return P.variable(`balance(${(e.args[0] as { name: string }).name})@${scope}`);
      case 'unary':
        return P.neg(this.poly(e.operand, scope, args));
      case 'binary': {
        const a = this.poly(e.left, scope, args);
        const b = this.poly(e.right, scope, args);
        if (e.op === '+') return P.add(a, b);
        if (e.op === '-') return P.sub(a, b);
        if (e.op === '*') return P.mul(a, b);
        // Division is not polynomial: the quotient is an opaque variable, equal only to
        // the same quotient of the same polynomials. It gets a short name of its own
        // (`q#N`, not a possible identifier): named by its text, its pieces were split on
        // '*' with the rest of a product's, so two different products of quotients could
        // share a monomial and pass ESC001, and long numerators made every product slow
        // (found in review, 2026-11-30).
        const text = `(${P.format(a)})/(${P.format(b)})`;
        let name = this.quotients.get(text);
        if (name === undefined) {
          name = `q#${this.quotients.size + 1}`;
          this.quotients.set(text, name);
          this.quotientText.set(name, text);
        }
        return P.variable(name);
      }
      default:
        return P.ZERO; // unreachable for a well-typed integer expression
    }
  }
}

/**
 * ESC001. Every path from init to a final state nets to zero iff the net escrowed amount
 * A(s) is the same along every path to s (for states on some such path) and A(f) = 0 at
 * every final f. One breadth-first pass from init assigns A; a second path reaching s with
 * another amount, or a final with A ≠ 0, is a leaking path, reported with its remainder.
 */
function escrowConservation(l: Local, sink: Sink, typer: Typer): void {
  P.withBudget(POLY_WORK_MAX, () => escrowConservationWithin(l, sink, typer));
}

/** A polynomial's text with each quotient's name (`q#N`) replaced by its own text, bounded for a message. */
export function readableAmount(text: string, quotientText: ReadonlyMap<string, string>): string {
  let cut = false;
  const bound = (s: string): string => {
    if (s.length <= AMOUNT_TEXT_MAX) return s;
    cut = true;
    return s.slice(0, AMOUNT_TEXT_MAX).replace(/q#[0-9]*$/, ''); // no half of a name
  };
  // One level of names replaced, stopping once the text is past the bound: a replace of
  // every name first built strings of gigabytes from a long quotient named many times
  // (found in review, 2026-11-30).
  const expand = (s: string): string => {
    let out = '';
    let from = 0;
    for (const found of s.matchAll(/q#[0-9]+/g)) {
      out += s.slice(from, found.index) + (quotientText.get(found[0]) ?? found[0]);
      from = (found.index as number) + found[0].length;
      if (out.length > AMOUNT_TEXT_MAX) return bound(out);
    }
    return bound(out + s.slice(from));
  };
  let out = bound(text);
  // Inner quotients come first in the numbering, so each pass resolves one more level.
  for (let pass = 0; pass <= quotientText.size && /q#[0-9]+/.test(out); pass++) out = expand(out);
  return cut ? `${out}…` : out;
}

function escrowConservationWithin(l: Local, sink: Sink, typer: Typer): void {
  const init = l.init as number;
  const c = l.c;
  const n = l.states.length;
  const finals: number[] = [];
  l.states.forEach((s, i) => s.final && finals.push(i));
  const pred = reverse(l.succ);
  const live = reachable(pred, finals); // can still reach a final
  const net = (effects: readonly Effect[], scope: string, args: ReadonlyMap<string, Param> | null): P.Poly => {
    let sum = P.ZERO;
    for (const e of effects) sum = P.addScaled(sum, typer.poly(e.amount, scope, args), e.kind === 'escrow' ? 1n : -1n);
    return sum;
  };
  try {
    const edgeNet = l.edges.map((e, i) => {
      const t = e.transition;
      const from = (l.states[e.from] as StateInfo).name;
      const scope = t.kind === 'on' ? `${from}:${t.actor}.${t.action}` : `${from}:after#${i}`;
      const args = t.kind === 'on' ? new Map(t.args.map((a) => [a.name, a])) : null;
      return net(t.effects, scope, args);
    });
    const out: number[][] = l.states.map(() => []);
    l.edges.forEach((e, i) => (out[e.from] as number[]).push(i));
    const amount: (P.Poly | null)[] = new Array(n).fill(null);
    const via: number[] = new Array(n).fill(-1); // edge that first reached the state
    if (live[init] === 0) return;
    amount[init] = net(c.inits[0]?.effects ?? [], 'init', null);
    // A path from each live state to a final, for completing a leaking prefix.
    const toFinal: number[] = new Array(n).fill(-1);
    {
      const seen = new Uint8Array(n);
      const queue = finals.slice();
      for (const f of finals) seen[f] = 1;
      const inEdges: number[][] = l.states.map(() => []);
      l.edges.forEach((e, i) => (inEdges[e.to] as number[]).push(i));
      for (let q = 0; q < queue.length; q++) {
        for (const ei of inEdges[queue[q] as number] as number[]) {
          const from = (l.edges[ei] as Edge).from;
          if (seen[from] === 0 && !(l.states[from] as StateInfo).final) {
            seen[from] = 1;
            toFinal[from] = ei;
            queue.push(from);
          }
        }
      }
    }
    const pathTo = (s: number): number[] => {
      const edges: number[] = [];
      for (let v = s; via[v] !== -1 && edges.length <= n; v = (l.edges[via[v] as number] as Edge).from) edges.push(via[v] as number);
      return edges.reverse();
    };
    /** Completes a path prefix to a final state (edge indexes) and its remainder, in linear time. */
    const complete = (prefix: number[], start: P.Poly): { edges: number[]; remainder: P.Poly } => {
      const edges = prefix.slice();
      let v = edges.length === 0 ? init : (l.edges[edges[edges.length - 1] as number] as Edge).to;
      const parts: P.Poly[] = [start];
      while (!(l.states[v] as StateInfo).final && toFinal[v] !== -1 && edges.length <= n) {
        const ei = toFinal[v] as number;
        edges.push(ei);
        parts.push(edgeNet[ei] as P.Poly);
        v = (l.edges[ei] as Edge).to;
      }
      return { edges, remainder: P.sum(parts) };
    };
    const report = ({ edges, remainder }: { edges: number[]; remainder: P.Poly }): void => {
      const names = [(l.states[init] as StateInfo).name, ...edges.map((ei) => (l.states[(l.edges[ei] as Edge).to] as StateInfo).name)];
      const last = edges.length === 0 ? null : (l.edges[edges[edges.length - 1] as number] as Edge);
      const pos = last === null ? (c.inits[0] as { pos: Pos }).pos : last.transition.pos;
      const shown = elide(names);
      sink.add('ESC001', c, pos, `escrow is not conserved on the path ${shown.join(' -> ')}: escrowed minus paid is ${readableAmount(P.format(remainder), typer.quotientText)}, not 0`, {
        state: last === null ? names[0] : (l.states[last.from] as StateInfo).name,
        trace: shown,
        traceElided: true,
      });
    };
    const queue = [init];
    const queued = new Uint8Array(n);
    queued[init] = 1;
    let work = 0;
    for (let q = 0; q < queue.length; q++) {
      const v = queue[q] as number;
      work += (amount[v] as P.Poly).size + 1;
      if (work > ESCROW_WORK_MAX) throw new P.PolyTooLarge(`more than ${ESCROW_WORK_MAX} term operations along the state graph`);
      if ((l.states[v] as StateInfo).final) {
        const a = amount[v] as P.Poly;
        // Past the listing cap, no path is built: one per leaking final made a long chain quadratic.
        if (!P.isZero(a) && !sink.full('ESC001', c)) report({ edges: pathTo(v), remainder: a });
        continue;
      }
      for (const ei of out[v] as number[]) {
        const w = (l.edges[ei] as Edge).to;
        if (live[w] === 0) continue;
        const candidate = P.add(amount[v] as P.Poly, edgeNet[ei] as P.Poly);
        work += candidate === amount[v] ? 1 : candidate.size + 1;
        const known = amount[w];
        if (known === null || known === undefined) {
          amount[w] = candidate;
          via[w] = ei;
        } else if (!P.equal(known, candidate)) {
          // Two paths reach w with different amounts: complete both to a final; at least
          // one leaks. Report the one that does (the new path first).
          const fresh = complete([...pathTo(v), ei], candidate);
          report(P.isZero(fresh.remainder) ? complete(pathTo(w), known) : fresh);
          return; // one leaking path per contract: later amounts would be noise
        }
        if (queued[w] === 0) {
          queued[w] = 1;
          queue.push(w);
        }
      }
    }
  } catch (error) {
    if (!(error instanceof P.PolyTooLarge)) throw error;
    sink.add('ESC001', c, c.pos, `escrow conservation cannot be proved: ${error.message}`);
  }
}

/** lifetime(init) by dynamic programming over a topological order; FSM004. */
function lifetimeOf(l: Local, sink: Sink, options: CheckOptions): void {
  if (l.cyclic || l.fsm002 || !l.deadlinesTyped || l.init === null) return;
  const order = reverseTopological(l.succ);
  if (order === null) return;
  const life: bigint[] = l.states.map(() => 0n);
  const next: number[] = l.states.map(() => -1);
  for (const v of order) {
    const s = l.states[v] as StateInfo;
    if (s.final) continue;
    let best = 0n;
    for (const w of l.succ[v] as number[]) {
      if ((life[w] as bigint) > best || next[v] === -1) {
        best = life[w] as bigint;
        next[v] = w;
      }
    }
    life[v] = (s.deadline as bigint) + best;
  }
  const init = l.init;
  l.lifetime = life[init] as bigint;
  const path: number[] = [init];
  for (let v = init; next[v] !== -1 && path.length <= l.states.length; v = next[v] as number) path.push(next[v] as number);
  l.longest = path;
  const trace = path.map((i) => (l.states[i] as StateInfo).name);
  const c = l.c;
  const horizon = c.horizons[0];
  if (horizon !== undefined && l.lifetime > horizon.value) {
    sink.add('FSM004', c, horizon.pos, `the lifetime bound ${l.lifetime} blocks exceeds the declared horizon ${horizon.value}`, {
      trace,
      figure: { value: figureNumber(l.lifetime), limit: figureNumber(horizon.value) },
    });
  }
  if (l.lifetime > BigInt(options.maxHorizon)) {
    sink.add('FSM004', c, (c.inits[0] as { pos: Pos }).pos, `the lifetime bound ${l.lifetime} blocks exceeds --max-horizon ${options.maxHorizon}`, {
      trace,
      figure: { value: figureNumber(l.lifetime), limit: options.maxHorizon },
    });
  }
}

/** XREF003: reading r.state in a state whose deadline is shorter than r's lifetime bound. */
function xref003(l: Local, sink: Sink, lifetimeByName: (name: string) => bigint | null): void {
  for (const s of l.states) {
    if (s.body === null || s.final || s.deadline === null) continue;
    for (const t of s.body.transitions) {
      if (t.kind !== 'on' || t.guard === null) continue;
      const seen = new Set<string>();
      const stack: Expr[] = [t.guard];
      while (stack.length > 0) {
        const e = stack.pop() as Expr;
        if (e.kind === 'refState' && !seen.has(e.ref)) {
          seen.add(e.ref);
          const r = l.refs.get(e.ref);
          const life = r === undefined ? null : lifetimeByName(r.contract);
          if (r !== undefined && life !== null && s.deadline < life) {
            sink.add('XREF003', l.c, e.pos, `state ${s.name} ends after ${s.deadline} blocks but ${r.contract} may take ${life} blocks to settle: ${e.ref}'s outcome may not be known in time`, {
              state: s.name,
              figure: { value: figureNumber(s.deadline), limit: figureNumber(life) },
            });
          }
        } else if (e.kind === 'binary') stack.push(e.left, e.right);
        else if (e.kind === 'unary') stack.push(e.operand);
        else if (e.kind === 'call') for (const a of e.args) stack.push(a);
      }
    }
  }
}

/** XREF001 (ref cycles and depth) and FSM005 (path counts including refs). */
function crossContract(
  unique: readonly Contract[],
  locals: ReadonlyMap<Contract, Local>,
  sink: Sink,
  options: CheckOptions,
  external: ReadonlyMap<string, ContractSummary>,
): { depth: Map<string, number>; paths: Map<string, bigint> } {
  const index = new Map<string, number>();
  unique.forEach((c, i) => index.set(c.name, i));
  const succ = unique.map((c) => c.refs.map((r) => index.get(r.contract)).filter((i): i is number => i !== undefined));
  const comp = components(succ);
  const cyc = onCycle(succ, comp);
  // Ref cycles: one shortest cycle per strongly connected component, searched once, and
  // every contract of the component reported with it (starting from the contract when it
  // lies on it), the message cut like the trace. A search and a whole-cycle message per
  // contract made a ring of n contracts cost n^2 time and memory (review, 2026-12-01).
  const members = new Map<number, number[]>();
  for (let i = 0; i < unique.length; i++) {
    if (cyc[i] === 0) continue;
    const list = members.get(comp[i] as number);
    if (list === undefined) members.set(comp[i] as number, [i]);
    else list.push(i);
  }
  const nameOf = (j: number): string => (unique[j] as Contract).name;
  for (const list of members.values()) {
    const cycle = cycleThrough(succ, comp, list[0] as number); // first and last: the component's first contract
    const length = cycle.length - 1;
    const position = new Map<number, number>();
    for (let k = 0; k < length; k++) position.set(cycle[k] as number, k);
    for (const i of list) {
      const c = unique[i] as Contract;
      const k = position.get(i);
      if (k !== undefined) {
        const trace = elideBy(length + 1, (j) => nameOf(cycle[(k + j) % length] as number));
        const next = nameOf(cycle[k + 1] as number);
        const ref = c.refs.find((r) => r.contract === next) as Ref;
        sink.add('XREF001', c, ref.pos, `contracts refer to each other in a cycle: ${trace.join(' -> ')}`, { trace, traceElided: true });
      } else {
        const ref = c.refs.find((r) => comp[index.get(r.contract) ?? -1] === comp[i]) as Ref;
        const trace = elideBy(length + 1, (j) => nameOf(cycle[j % length] as number));
        sink.add('XREF001', c, ref.pos, `ref ${ref.name} leads into a cycle among contracts that leads back to ${c.name}: ${trace.join(' -> ')}`, { trace, traceElided: true });
      }
    }
  }
  const depth = new Map<string, number>();
  const paths = new Map<string, bigint>();
  const order = reverseTopologicalByComponent(succ.length, comp);
  // Contracts of a cycle, and those whose refs lead into one, however far: unbounded depth.
  const unbounded = new Set<string>();
  for (const i of order) {
    const c = unique[i] as Contract;
    const l = locals.get(c) as Local;
    if (cyc[i] === 1) {
      unbounded.add(c.name);
      continue;
    }
    let d: number | null = 0;
    let count: bigint | null = l.localPaths;
    let deepest: string | null = null;
    for (const r of c.refs) {
      const rd = depth.has(r.contract) ? (depth.get(r.contract) as number) : (external.get(r.contract)?.depth ?? null);
      const rp = paths.has(r.contract) ? (paths.get(r.contract) as bigint) : (external.get(r.contract)?.paths ?? null);
      if (rd === null || d === null) d = null;
      else if (rd + 1 > d) {
        d = rd + 1;
        deepest = r.contract;
      }
      if (rp === null || count === null) count = null;
      else {
        count *= rp;
        if (count > PATH_COUNT_CAP) count = PATH_COUNT_CAP;
      }
    }
    if (d !== null) {
      depth.set(c.name, d);
      if (d > options.maxDepth) {
        sink.add('XREF001', c, c.pos, `ref depth ${d} exceeds --max-depth ${options.maxDepth} (through ${deepest})`, { figure: { value: d, limit: options.maxDepth } });
      }
    } else {
      // Not only a ref on the cycle: one whose contract leads into it, at any distance
      // (review of 2026-12-02: C -> D -> A <-> B got no diagnostic on C).
      const r = c.refs.find((x) => unbounded.has(x.contract));
      if (r !== undefined) {
        unbounded.add(c.name);
        sink.add('XREF001', c, r.pos, `ref ${r.name} leads into a cycle among contracts, so its depth is unbounded`);
      }
    }
    if (count !== null) {
      paths.set(c.name, count);
      if (count > BigInt(options.maxPaths)) {
        const shown = count >= PATH_COUNT_CAP ? `more than ${PATH_COUNT_CAP}` : count.toString();
        sink.add('FSM005', c, c.pos, `${shown} possible futures exceed --max-paths ${options.maxPaths}`, {
          figure: { value: count >= PATH_COUNT_CAP ? `>${PATH_COUNT_CAP}` : figureNumber(count), limit: options.maxPaths },
        });
      }
    }
  }
  return { depth, paths };
}

/** Nodes ordered so that every node comes after the nodes it refers to (Tarjan numbers components that way). */
function reverseTopologicalByComponent(n: number, comp: Int32Array): number[] {
  return Array.from({ length: n }, (_, i) => i).sort((a, b) => (comp[a] as number) - (comp[b] as number) || a - b);
}
