/**
 * The output of `stele lint` (SCL.md section 6): text for people, one JSON document, or
 * SARIF 2.1.0 for code-scanning tools. Pure: diagnostics and sources in, a string out.
 */
import { RULES, severityOf, type Diagnostic, type RuleId } from './diagnostic.js';
import { sourceLine } from './parser.js';

export interface LintSummary {
  readonly files: number;
  readonly contracts: number;
  readonly errors: number;
  readonly warnings: number;
}

export interface LintReport {
  readonly diagnostics: readonly Diagnostic[];
  readonly summary: LintSummary;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * Text: `FILE:LINE:COL: error|warning RULE message`, the source line with a caret, then
 * the trace and figure when there are, and a summary line last.
 */
export function formatText(report: LintReport, sources: ReadonlyMap<string, string>): string {
  let out = '';
  for (const d of report.diagnostics) {
    out += `${d.file}:${d.line}:${d.column}: ${d.severity} ${d.ruleId} ${d.message}\n`;
    const text = sources.get(d.file);
    const line = text === undefined ? '' : sourceLine(text, d.line);
    if (line !== '') {
      const shown = line.length > 200 ? line.slice(0, 200) : line;
      const pad = shown.slice(0, Math.max(0, d.column - 1)).replace(/[^\t]/g, ' ');
      out += `  ${shown}\n  ${pad}^\n`;
    }
    if (d.trace !== undefined) out += `  trace: ${d.trace.join(' -> ')}\n`;
    if (d.figure !== undefined) out += `  figure: ${d.figure.value} (limit ${d.figure.limit})\n`;
  }
  const s = report.summary;
  out += `${plural(s.files, 'file')}, ${plural(s.contracts, 'contract')}: ${plural(s.errors, 'error')}, ${plural(s.warnings, 'warning')}\n`;
  return out;
}

/** The `--json` document. */
export function formatJson(report: LintReport): string {
  return `${JSON.stringify({ diagnostics: report.diagnostics, summary: report.summary }, null, 2)}\n`;
}

const RULE_IDS = Object.keys(RULES) as RuleId[];

/** SARIF 2.1.0: one run, every rule described, one result per diagnostic. */
export function formatSarif(report: LintReport): string {
  const sarif = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'stele-lint',
            version: '1',
            rules: RULE_IDS.map((id) => ({
              id,
              shortDescription: { text: RULES[id] },
              defaultConfiguration: { level: severityOf(id) },
              help: { text: `See docs/contracts.md, rule ${id}.` },
            })),
          },
        },
        results: report.diagnostics.map((d) => ({
          ruleId: d.ruleId,
          ruleIndex: RULE_IDS.indexOf(d.ruleId),
          level: d.severity,
          message: { text: d.message },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: d.file },
                region: { startLine: d.line, startColumn: d.column },
              },
              ...(d.contract !== undefined ? { logicalLocations: [{ name: d.state ?? d.contract, fullyQualifiedName: d.state === undefined ? d.contract : `${d.contract}.${d.state}`, kind: d.state === undefined ? 'type' : 'member' }] } : {}),
            },
          ],
          ...(d.trace !== undefined || d.figure !== undefined ? { properties: { ...(d.trace !== undefined ? { trace: d.trace } : {}), ...(d.figure !== undefined ? { figure: d.figure } : {}) } } : {}),
        })),
      },
    ],
  };
  return `${JSON.stringify(sarif, null, 2)}\n`;
}
