/**
 * Properties (fast-check): random well-formed contracts pass; one mutation is rejected
 * with the matching rule; random runs conserve money and end with zero escrow.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { generate, render, type GenContract } from './gen.js';
import { check, rules } from './support.js';
import { compile, create, act, deadlineOf, expire, type Env, type Instance, type Outcome } from '../../contracts/interpreter.js';
import { parseSource } from '../../contracts/parser.js';

const arbContract = fc.record({ seed: fc.integer({ min: 1, max: 2 ** 31 }), size: fc.integer({ min: 1, max: 12 }) }).map(({ seed, size }) => generate(seed, size));

test('random well-formed contracts pass with no finding', () => {
  fc.assert(
    fc.property(arbContract, (g) => {
      const r = check(render(g));
      assert.deepEqual(r.diagnostics, [], render(g));
    }),
    { numRuns: 300 },
  );
});

function clone(g: GenContract): GenContract {
  return JSON.parse(JSON.stringify(g)) as GenContract;
}

test('one mutation is rejected with the matching rule', () => {
  const mutations: Array<{ rule: string; apply: (g: GenContract, pick: number) => GenContract }> = [
    {
      rule: 'FSM001', // a back edge to the initial state
      apply: (g, pick) => {
        const m = clone(g);
        const s = pick % m.nonFinal;
        m.transitions[s]?.unshift({ kind: 'on', actor: 'c', action: 'back', args: [], target: 0, effects: [] });
        return m;
      },
    },
    {
      rule: 'FSM002', // a removed deadline
      apply: (g, pick) => {
        const m = clone(g);
        const s = pick % m.nonFinal;
        m.transitions[s] = (m.transitions[s] ?? []).filter((t) => t.kind !== 'after');
        return m;
      },
    },
    {
      rule: 'ESC001', // an unbalanced payment on a reachable transition
      apply: (g, pick) => {
        const m = clone(g);
        const s = pick % m.nonFinal;
        const list = m.transitions[s] ?? [];
        list[pick % list.length]?.effects.push({ kind: 'pay', amount: '1', party: 'b' });
        return m;
      },
    },
    {
      rule: 'TEMP001', // a future operator in a guard
      apply: (g, pick) => {
        const m = clone(g);
        const s = pick % m.nonFinal;
        m.transitions[s]?.unshift({ kind: 'on', actor: 'c', action: 'later', args: [], guard: 'eventually(p > 0)', target: m.nonFinal, effects: [] });
        if (m.level[s] !== 0) m.transitions[s]?.[0]?.effects.push({ kind: 'pay', amount: `${m.level[s]} * p`, party: 'c' });
        return m;
      },
    },
    {
      rule: 'GRD001',
      apply: (g, pick) => {
        const m = clone(g);
        const s = pick % m.nonFinal;
        const after = (m.transitions[s] ?? []).find((t) => t.kind === 'after');
        m.transitions[s]?.unshift({ kind: 'on', actor: 'a', action: 'peek', args: [], guard: 'mempool() == 0', target: after?.target ?? m.nonFinal, effects: [...(after?.effects ?? [])] });
        return m;
      },
    },
  ];
  fc.assert(
    fc.property(arbContract, fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: mutations.length - 1 }), (g, pick, which) => {
      const mutation = mutations[which] as (typeof mutations)[0];
      const mutated = render(mutation.apply(g, pick));
      const found = rules(check(mutated));
      assert.ok(found.includes(mutation.rule), `${mutation.rule} expected, got ${found.join(',')}\n${mutated}`);
    }),
    { numRuns: 400 },
  );
});

test('random runs of random passing contracts: supply conserved at every step, escrow zero in every final state', (t) => {
  // Runs that ended in a final state, where the zero-escrow check applies.
  let runs = 0;
  let finalRuns = 0;
  fc.assert(
    fc.property(arbContract, fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 100 }), (g, choices, p) => {
      const parsed = parseSource('g.scl', render(g));
      const program = compile(parsed.contracts[0] as NonNullable<(typeof parsed.contracts)[0]>);
      const balances = new Map([
        ['A', 1_000n],
        ['B', 1_000n],
        ['C', 1_000n],
      ]);
      const env: Env = { balance: (who) => balances.get(who) ?? 0n, instance: () => undefined };
      const total = 3_000n;
      const apply = (o: Outcome & { ok: true }) => {
        for (const m of o.moves) balances.set(m.identity, (balances.get(m.identity) as bigint) + (m.kind === 'escrow' ? -m.amount : m.amount));
      };
      const held = (x: Instance) => [...balances.values()].reduce((a, b) => a + b, 0n) + x.escrow;
      const created = create(program, { parties: new Map([['a', 'A'], ['b', 'B'], ['c', 'C']]), params: new Map<string, bigint | string>([['p', BigInt(p)], ['cur', 'CUR']]), refs: new Map() }, 1, env);
      assert.ok(created.ok, created.ok ? '' : created.message);
      apply(created);
      let x = created.instance;
      let height = 1;
      for (const choice of choices) {
        assert.equal(held(x), total);
        if (x.status !== 'active') break;
        const deadline = deadlineOf(program, x);
        assert.ok(deadline !== null);
        const actions = (program.transitions.get(x.state) ?? []).filter((t) => t.kind === 'on');
        if (choice % 4 === 0 || actions.length === 0) {
          height = deadline.at; // let the deadline pass
          const out = expire(program, x, height, env);
          assert.ok(out !== null && out.ok, out === null || out.ok ? 'not due' : out.message);
          apply(out);
          x = out.instance;
          continue;
        }
        const t = actions[choice % actions.length] as (typeof actions)[0] & { kind: 'on' };
        height = Math.min(deadline.at - 1, height + (choice % 3));
        const out = act(program, x, t.actor, t.action, t.args.map(() => BigInt(choice % 60)), height, env, () => true);
        if (out.ok) {
          apply(out);
          x = out.instance;
        } else assert.ok(['CONTRACT_GUARD_FALSE', 'CONTRACT_INSUFFICIENT_BALANCE'].includes(out.code), out.code);
      }
      assert.equal(held(x), total);
      runs++;
      if (x.status === 'final') {
        assert.equal(x.escrow, 0n);
        finalRuns++;
      }
    }),
    { numRuns: 300 },
  );
  t.diagnostic(`${finalRuns} of ${runs} runs ended in a final state`);
  assert.ok(finalRuns > 0, `${finalRuns} of ${runs} runs ended in a final state`);
});
