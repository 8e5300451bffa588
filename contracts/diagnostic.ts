/** Diagnostics: the rule ids of SCL.md section 5 and what every finding carries. */

export const RULES = {
  SYN001: 'the grammar does not derive the text',
  NAME001: 'an undefined name, a name declared twice, or a missing or repeated member',
  TYPE001: 'a type mismatch',
  FSM001: 'a cycle in the state graph',
  FSM002: 'a non-final state without an after transition',
  FSM003: 'a final state with transitions, or a contract without a final state',
  FSM004: 'a lifetime bound above the horizon',
  FSM005: 'more possible futures than the path budget',
  FSM006: 'two transitions of one state that cannot be told apart',
  FSM007: 'a state that cannot be reached from init',
  TEMP001: 'a future temporal operator',
  GRD001: 'a read of what is not committed',
  XREF001: 'a cycle among contracts through ref, or refs nested too deep',
  XREF002: 'a read of r.state not guarded by settled(r)',
  XREF003: 'a state whose deadline may end before a referenced outcome is known',
  ESC001: 'escrow not conserved on some path',
  AUTH001: 'escrow taken from a party who does not act',
} as const;
export type RuleId = keyof typeof RULES;

export const WARNING_RULES: ReadonlySet<RuleId> = new Set<RuleId>(['FSM007', 'XREF003']);

export type Severity = 'error' | 'warning';

export interface Figure {
  /** A number when it is a safe integer, else its decimal text (path counts can be huge). */
  readonly value: number | string;
  readonly limit: number | string;
}

export interface Diagnostic {
  readonly ruleId: RuleId;
  readonly severity: Severity;
  readonly message: string;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly contract?: string;
  readonly state?: string;
  readonly trace?: readonly string[];
  readonly figure?: Figure;
}

/** A JSON-safe rendering of a big integer. */
export function figureNumber(value: bigint): number | string {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
}

export function severityOf(rule: RuleId): Severity {
  return WARNING_RULES.has(rule) ? 'warning' : 'error';
}

/** Stable order: file, line, column, rule, message. */
export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  if (a.line !== b.line) return a.line - b.line;
  if (a.column !== b.column) return a.column - b.column;
  if (a.ruleId !== b.ruleId) return a.ruleId < b.ruleId ? -1 : 1;
  return a.message < b.message ? -1 : a.message > b.message ? 1 : 0;
}
