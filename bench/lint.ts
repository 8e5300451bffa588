/**
 * bench:lint: checking time (parse + every rule) of generated contracts of 100, 1,000 and
 * 10,000 waiting states, and the growth between sizes (linear growth means a ratio near 10
 * per tenfold size). Sizes are measured in alternation within each round, so the ratios
 * compare figures taken moments apart; medians over the rounds. One JSON line last.
 */
import { checkSources, DEFAULT_OPTIONS } from '../contracts/checker.js';
import { generate, render } from '../test/contracts/gen.js';
import { arg, median, note, round } from './util.js';

const runs = arg('runs', 9);
const sizes = [100, 1_000, 10_000];
// Edges reach at most 3 states ahead; the path count is astronomical at these sizes, so
// FSM005 fires and the checker does all its work, including the saturating count; every
// check must report it (and nothing else), or the benchmark fails.
const sources = sizes.map((n) => render(generate(n, n, { fanout: 3, finals: 3, ahead: 3 })));
const transitions = sources.map((s) => (s.match(/ -> /g) ?? []).length);
const options = { ...DEFAULT_OPTIONS, maxHorizon: 1_000_000_000 };

function once(i: number): number {
  const start = performance.now();
  const r = checkSources([{ file: `gen-${sizes[i]}.scl`, text: sources[i] as string }], options);
  const ms = performance.now() - start;
  if (r.diagnostics.some((d) => d.ruleId !== 'FSM005')) throw new Error(`unexpected findings: ${JSON.stringify(r.diagnostics.slice(0, 3))}`);
  // FSM005 is what shows the checker did all its work (the saturating path count).
  if (!r.diagnostics.some((d) => d.ruleId === 'FSM005')) throw new Error(`no FSM005 finding at ${sizes[i]} states: the checker did not do the work this benchmark times`);
  return ms;
}

for (let i = 0; i < sizes.length; i++) once(i); // warm up
const times: number[][] = sizes.map(() => []);
const growth: number[][] = [[], []];
for (let r = 0; r < runs; r++) {
  const t = sizes.map((_, i) => once(i));
  t.forEach((ms, i) => (times[i] as number[]).push(ms));
  (growth[0] as number[]).push((t[1] as number) / (t[0] as number));
  (growth[1] as number[]).push((t[2] as number) / (t[1] as number));
}
const result: Record<string, number | string> = { bench: 'lint', runs };
sizes.forEach((n, i) => {
  const ms = median(times[i] as number[]);
  note(`${n} states, ${transitions[i]} transitions, ${sources[i]?.length} bytes: ${round(ms, 2)} ms (${round((ms * 1000) / n, 2)} us per state)`);
  result[`ms_${n}_states`] = round(ms, 2);
  result[`us_per_state_${n}`] = round((ms * 1000) / n, 2);
  result[`transitions_${n}`] = transitions[i] as number;
});
result.growth_100_to_1000 = round(median(growth[0] as number[]), 2);
result.growth_1000_to_10000 = round(median(growth[1] as number[]), 2);
note(`growth per tenfold size: ${result.growth_100_to_1000} (100 -> 1,000), ${result.growth_1000_to_10000} (1,000 -> 10,000); linear is 10`);
process.stdout.write(`${JSON.stringify(result)}\n`);
