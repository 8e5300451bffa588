/** Helpers for the contract tests: check source text, list findings. */
import { checkSources, DEFAULT_OPTIONS, type CheckOptions, type CheckResult } from '../../contracts/checker.js';
import type { Diagnostic } from '../../contracts/diagnostic.js';

export function check(source: string | Record<string, string>, options: Partial<CheckOptions> = {}): CheckResult {
  const files = typeof source === 'string' ? [{ file: 'test.scl', text: source }] : Object.entries(source).map(([file, text]) => ({ file, text }));
  return checkSources(files, { ...DEFAULT_OPTIONS, ...options });
}

/** Sorted distinct rule ids of the findings of one severity. */
export function rules(result: CheckResult, severity: 'error' | 'warning' = 'error'): string[] {
  return [...new Set(result.diagnostics.filter((d) => d.severity === severity).map((d) => d.ruleId))].sort();
}

export function find(result: CheckResult, rule: string): Diagnostic {
  const d = result.diagnostics.find((x) => x.ruleId === rule);
  if (d === undefined) throw new Error(`no ${rule} in ${JSON.stringify(result.diagnostics, null, 1)}`);
  return d;
}

/** A passing contract the rule tests mutate: one action, one deadline, conserving. */
export const BASE = `contract Sale {
  parties seller, buyer
  params price: amount, window: blocks max 10, cur: asset
  currency cur
  init Open { escrow price from buyer }
  state Open {
    on seller.ship() -> Shipped
    after window -> Refunded { pay price to buyer }
  }
  state Shipped {
    on buyer.accept() -> Done { pay price to seller }
    after 5 -> Done { pay price to seller }
  }
  final Done, Refunded
}
`;

/** BASE with one textual replacement (which must apply). */
export function mutate(from: string, to: string, base = BASE): string {
  if (!base.includes(from)) throw new Error(`mutation target ${JSON.stringify(from)} not in source`);
  return base.replace(from, to);
}
