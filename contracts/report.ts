/**
 * The output of `stele lint` (SCL.md section 6): text for people, one JSON document, or
 * SARIF 2.1.0 for code-scanning tools. Pure: diagnostics and sources in, a string out.
 */
import { RULES, severityOf, type Diagnostic, type RuleId } from './diagnostic.js';

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

/** Characters of a source line shown above a caret. */
const SHOWN_LINE_CHARS_MAX = 200;

/**
 * The lines of a source text, indexed once: finding a diagnostic's line by scanning the
 * text from its start made the text output cost diagnostics × file size (a 4 MB file has
 * room for millions of diagnostics; review, 2026-12-01).
 */
export class SourceLines {
  /** Offset of the first character of each line. */
  private readonly starts: number[] = [0];
  /** By line start: the offset of the line's first surrogate pair, or -1 (firstPair). */
  private readonly pairs = new Map<number, number>();
  constructor(private readonly text: string) {
    // Line breaks as the parser counts them: LF (a lone CR ends no line, contracts/parser.ts).
    for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) this.starts.push(at + 1);
  }
  /** Line `line` (1-based) without its line break, cut at `charsMax`; null past the last line. */
  line(line: number, charsMax: number): string | null {
    const shown = this.around(line, 1, charsMax);
    return shown === null ? null : shown.text;
  }
  /**
   * At most `charsMax` UTF-16 units of line `line` (1-based, without its line break) that
   * hold column `column`: from the line's start when the column is within the first
   * `charsMax`, else a window centred on it. `caret` is the index in `text` of the column's
   * character (the line's length when the column is past its end); null past the last line.
   *
   * Columns count characters (the parser counts a character beyond U+FFFF, two UTF-16
   * units, as one column), so a column is turned into a unit offset first: by walking the
   * line from its first surrogate pair, only when the column lies past one. Such characters
   * occur only in `//` comments, which run to the end of the line, so in practice only a
   * diagnostic at the end of the file right after such a comment pays for the walk.
   */
  around(line: number, column: number, charsMax: number): { text: string; caret: number } | null {
    const start = this.starts[line - 1];
    if (start === undefined) return null;
    const next = this.starts[line];
    let end = next === undefined ? this.text.length : next - 1;
    if (end > start && this.text.charCodeAt(end - 1) === 13) end--;
    const at = Math.min(end, this.unitOffset(start, end, column - 1)) - start;
    const from = at < charsMax ? 0 : Math.min(at - Math.floor(charsMax / 2), Math.max(0, end - start - charsMax));
    let cut = Math.min(end, start + from + charsMax);
    // Never split a surrogate pair at the window's end (nor start: a window starts before
    // a low surrogate only when `from` lands inside a pair, moved back one unit then).
    const first = from > 0 && isLowSurrogate(this.text.charCodeAt(start + from)) ? from - 1 : from;
    if (cut < end && isLowSurrogate(this.text.charCodeAt(cut))) cut--;
    return { text: this.text.slice(start + first, cut), caret: at - first };
  }
  /** The offset in `text` of character `chars` (0-based) of the line [start, end). */
  private unitOffset(start: number, end: number, chars: number): number {
    const plain = start + chars;
    const pair = this.firstPair(start, end);
    if (pair < 0 || pair >= plain) return plain;
    let at = pair;
    let left = chars - (pair - start);
    while (left > 0 && at < end) {
      at += isHighSurrogate(this.text.charCodeAt(at)) && isLowSurrogate(this.text.charCodeAt(at + 1)) ? 2 : 1;
      left--;
    }
    return at + left;
  }
  /** Offset of the first surrogate pair of the line starting at `start`, or -1; found once per line. */
  private firstPair(start: number, end: number): number {
    let found = this.pairs.get(start);
    if (found === undefined) {
      found = -1;
      for (let at = start; at + 1 < end; at++) {
        if (isHighSurrogate(this.text.charCodeAt(at)) && isLowSurrogate(this.text.charCodeAt(at + 1))) {
          found = at;
          break;
        }
      }
      this.pairs.set(start, found);
    }
    return found;
  }
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}
function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/**
 * Text: `FILE:LINE:COL: error|warning RULE message`, the source line with a caret, then
 * the trace and figure when there are, and a summary line last.
 */
export function formatText(report: LintReport, sources: ReadonlyMap<string, string>): string {
  let out = '';
  const indexed = new Map<string, SourceLines | null>();
  for (const d of report.diagnostics) {
    out += `${d.file}:${d.line}:${d.column}: ${d.severity} ${d.ruleId} ${d.message}\n`;
    let lines = indexed.get(d.file);
    if (lines === undefined) {
      const text = sources.get(d.file);
      lines = text === undefined ? null : new SourceLines(text);
      indexed.set(d.file, lines);
    }
    // The line, even an empty one (a diagnostic at the end of the file), and a caret under
    // the column; a line longer than the bound is shown around the column.
    const shown = lines === null ? null : lines.around(d.line, d.column, SHOWN_LINE_CHARS_MAX);
    if (shown !== null) {
      // One space per UTF-16 unit before the caret (a tab stays a tab): a character beyond
      // U+FFFF, two units, is most often shown two cells wide. Wide characters of the basic
      // plane (CJK) are still counted one cell: display width is not modelled.
      const pad = shown.text.slice(0, shown.caret).replace(/[^\t]/g, ' ');
      out += `  ${shown.text}\n  ${pad}^\n`;
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
                artifactLocation: { uri: fileUri(d.file) },
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

/**
 * A file name as SARIF's `artifactLocation.uri`, a URI reference: each path segment
 * percent-encoded, so that a space or a `#` in a name stays part of it (review of
 * 2026-12-02: the raw name was written, and `a#1.scl` read back as `a`).
 * @example fileUri('my file#1.scl') // 'my%20file%231.scl'
 */
export function fileUri(file: string): string {
  return file.split('/').map((segment) => encodeURIComponent(segment)).join('/');
}
