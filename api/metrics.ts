/**
 * Prometheus text exposition format 0.0.4: `# HELP`, `# TYPE`, then one line per sample.
 * Names and label names are checked (a bad one is a programming error: RangeError); label
 * values and help text are escaped as the format requires.
 */
import type { Metric } from './node-view.js';

export type { Metric };

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function number(value: number | bigint): string {
  if (typeof value === 'bigint') return value.toString();
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/**
 * Renders metric families; a family name seen twice is refused.
 * @throws RangeError for a bad or repeated metric name or label name.
 * @example renderMetrics([{ name: 'x_total', help: 'x', type: 'counter', samples: [{ value: 1 }] }])
 */
export function renderMetrics(metrics: readonly Metric[]): string {
  const seen = new Set<string>();
  let out = '';
  for (const m of metrics) {
    if (!NAME_RE.test(m.name)) throw new RangeError(`bad metric name ${JSON.stringify(m.name)}`);
    if (seen.has(m.name)) throw new RangeError(`metric ${m.name} listed twice`);
    seen.add(m.name);
    out += `# HELP ${m.name} ${escapeHelp(m.help)}\n# TYPE ${m.name} ${m.type}\n`;
    for (const s of m.samples) {
      const labels = Object.entries(s.labels ?? {});
      for (const [name] of labels) if (!LABEL_RE.test(name) || name.startsWith('__')) throw new RangeError(`bad label name ${JSON.stringify(name)}`);
      const text = labels.length === 0 ? '' : `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
      out += `${m.name}${text} ${number(s.value)}\n`;
    }
  }
  return out;
}
