/**
 * A generator of random well-formed contracts (acyclic, every state reachable, deadlines
 * everywhere, escrow conserved), as a plain description that renders to SCL, so tests can
 * apply one mutation and know which rule must fire. Shared by the properties and bench:lint.
 */

export interface GenEffect {
  kind: 'escrow' | 'pay';
  amount: string;
  party: string;
}
export interface GenTransition {
  kind: 'on' | 'after';
  actor?: string;
  action?: string;
  args?: string[];
  guard?: string;
  deadline?: string;
  target: number;
  effects: GenEffect[];
}
export interface GenContract {
  name: string;
  parties: string[];
  /** Non-final states 0..nonFinal-1, final states nonFinal..states-1. */
  nonFinal: number;
  states: number;
  level: number[];
  init: GenEffect[];
  transitions: GenTransition[][];
}

/** Deterministic pseudo-random numbers (xorshift32) so a seed reproduces a contract. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.s = x;
    return x;
  }
  int(min: number, max: number): number {
    return min + (this.next() % (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[this.next() % items.length] as T;
  }
}

function moveEffects(delta: number, actor: string | null, rng: Rng, parties: string[]): GenEffect[] {
  if (delta === 0) return [];
  if (delta > 0) return [{ kind: 'escrow', amount: delta === 1 ? 'p' : `${delta} * p`, party: actor as string }];
  return [{ kind: 'pay', amount: -delta === 1 ? 'p' : `${-delta} * p`, party: rng.pick(parties) }];
}

/**
 * A random contract with `nonFinal` waiting states. `fanout` bounds the actions per state;
 * `maxTargetsAhead` keeps edges local so the path count stays small for big contracts.
 */
export function generate(seed: number, nonFinal: number, options: { fanout?: number; finals?: number; ahead?: number; name?: string } = {}): GenContract {
  const rng = new Rng(seed);
  const fanout = options.fanout ?? 3;
  const finals = options.finals ?? rng.int(1, 3);
  const ahead = options.ahead ?? nonFinal + finals;
  const states = nonFinal + finals;
  const parties = ['a', 'b', 'c'];
  // level[s] = escrow held in state s, in units of p; finals hold nothing.
  const level = Array.from({ length: states }, (_, s) => (s < nonFinal ? rng.int(0, 3) : 0));
  const transitions: GenTransition[][] = Array.from({ length: states }, () => []);
  const target = (s: number, ok: (t: number) => boolean): number => {
    const candidates: number[] = [];
    for (let t = s + 1; t < Math.min(states, s + 1 + ahead); t++) if (ok(t)) candidates.push(t);
    for (let t = nonFinal; t < states && candidates.length === 0; t++) if (ok(t)) candidates.push(t);
    return rng.pick(candidates);
  };
  for (let s = 0; s < nonFinal; s++) {
    const seen = new Set<string>();
    const actions = rng.int(s + 1 < nonFinal ? 1 : 0, fanout);
    for (let i = 0; i < actions; i++) {
      const actor = rng.pick(parties);
      const action = `act${i}`;
      if (seen.has(`${actor}.${action}`)) continue;
      seen.add(`${actor}.${action}`);
      // The first action of each state walks to the next state, so every state is reachable.
      const t = i === 0 && s + 1 < nonFinal ? s + 1 : target(s, () => true);
      const effects = moveEffects((level[t] as number) - (level[s] as number), actor, rng, parties);
      const args: string[] = [];
      let guard: string | undefined;
      if (rng.int(0, 2) === 0) {
        args.push('x');
        guard = 'x >= 0 and x <= 50';
        effects.push({ kind: 'escrow', amount: 'x', party: actor }, { kind: 'pay', amount: 'x', party: rng.pick(parties) });
      }
      transitions[s]?.push({ kind: 'on', actor, action, args, ...(guard !== undefined ? { guard } : {}), target: t, effects });
    }
    // The deadline pays out, so its target holds no more than this state.
    const t = target(s, (x) => (level[x] as number) <= (level[s] as number));
    transitions[s]?.push({ kind: 'after', deadline: String(rng.int(1, 9)), target: t, effects: moveEffects((level[t] as number) - (level[s] as number), null, rng, parties) });
  }
  // Every final state is the target of something (else FSM007 would warn).
  const targeted = new Set(transitions.flatMap((list) => list.map((t) => t.target)));
  for (let f = nonFinal; f < states; f++) {
    if (targeted.has(f)) continue;
    const s = rng.int(0, nonFinal - 1);
    transitions[s]?.unshift({ kind: 'on', actor: 'c', action: `end${f}`, args: [], target: f, effects: moveEffects(-(level[s] as number), 'c', rng, parties) });
  }
  const init = (level[0] as number) > 0 ? [{ kind: 'escrow' as const, amount: `${level[0]} * p`, party: 'a' }] : [];
  return { name: options.name ?? 'G', parties, nonFinal, states, level, init, transitions };
}

function effectText(e: GenEffect): string {
  return e.kind === 'escrow' ? `escrow ${e.amount} from ${e.party}` : `pay ${e.amount} to ${e.party}`;
}

/** Renders SCL source. */
export function render(g: GenContract, horizon?: number): string {
  const name = (s: number) => `S${s}`;
  let out = `contract ${g.name} {\n  parties ${g.parties.join(', ')}\n  params p: amount, cur: asset\n  currency cur\n`;
  if (horizon !== undefined) out += `  horizon ${horizon}\n`;
  out += `  init S0${g.init.length > 0 ? ` { ${g.init.map(effectText).join(' ')} }` : ''}\n`;
  for (let s = 0; s < g.nonFinal; s++) {
    out += `  state ${name(s)} {\n`;
    for (const t of g.transitions[s] ?? []) {
      const effects = t.effects.length > 0 ? ` { ${t.effects.map(effectText).join(' ')} }` : '';
      if (t.kind === 'after') out += `    after ${t.deadline} -> ${name(t.target)}${effects}\n`;
      else out += `    on ${t.actor}.${t.action}(${(t.args ?? []).map((a) => `${a}: amount`).join(', ')})${t.guard !== undefined ? ` when ${t.guard}` : ''} -> ${name(t.target)}${effects}\n`;
    }
    out += '  }\n';
  }
  const finals = Array.from({ length: g.states - g.nonFinal }, (_, i) => name(g.nonFinal + i));
  return `${out}  final ${finals.join(', ')}\n}\n`;
}
