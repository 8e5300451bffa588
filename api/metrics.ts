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
      out += `${m.name}${s.suffix ?? ''}${text} ${number(s.value)}\n`;
    }
  }
  return out;
}

/** Upper bounds, in seconds, of latency histograms: 1 ms to 10 s. */
export const LATENCY_BUCKETS_S: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * A Prometheus histogram with fixed buckets, one series per label set (callers keep label
 * values to a small fixed set: route templates, never raw input). Counts are cumulative
 * when rendered, as the format requires; `+Inf` is the total count.
 * @example const h = new Histogram(LATENCY_BUCKETS_S); h.observe(0.004, { route: '/v1/x' }); h.metric('x_seconds', 'x')
 */
export class Histogram {
  private readonly series = new Map<string, { readonly labels: Readonly<Record<string, string>>; readonly counts: number[]; sum: number; count: number }>();

  constructor(private readonly bounds: readonly number[]) {
    if (bounds.length === 0 || bounds.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= (bounds[i - 1] as number)))) throw new RangeError('histogram bounds must be finite and ascending');
  }

  observe(value: number, labels: Readonly<Record<string, string>> = {}): void {
    if (!Number.isFinite(value)) return;
    const key = JSON.stringify(labels);
    let s = this.series.get(key);
    if (s === undefined) {
      s = { labels, counts: new Array<number>(this.bounds.length).fill(0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    // The first bucket whose bound is at least the value; none: only +Inf counts it.
    let i = 0;
    while (i < this.bounds.length && value > (this.bounds[i] as number)) i++;
    if (i < this.bounds.length) s.counts[i] = (s.counts[i] as number) + 1;
    s.sum += value;
    s.count++;
  }

  metric(name: string, help: string): Metric {
    const samples: Metric['samples'][number][] = [];
    for (const s of this.series.values()) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += s.counts[i] as number;
        samples.push({ suffix: '_bucket', labels: { ...s.labels, le: String(bound) }, value: cumulative });
      });
      samples.push({ suffix: '_bucket', labels: { ...s.labels, le: '+Inf' }, value: s.count });
      samples.push({ suffix: '_sum', labels: s.labels, value: s.sum });
      samples.push({ suffix: '_count', labels: s.labels, value: s.count });
    }
    return { name, help, type: 'histogram', samples };
  }
}
