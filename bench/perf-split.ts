/**
 * perf-split: where on-CPU time goes, by thread role and by kind of work, from `perf
 * script` output (docs/performance.md, thirteenth session). perf counts time on a core
 * only; V8's --cpu-prof also counts the time a thread waits descheduled, which makes thread
 * hand-offs look expensive on a busy machine.
 *
 *   perf record -a -g -F 1999 -o perf.data -- sleep 7     # while the load runs, validators
 *                                                          # started with STELE_NODE_FLAGS=--perf-basic-prof
 *   perf script -i perf.data -F tid,ip,sym,dso > perf.txt
 *   node dist/bench/perf-split.js perf.txt --main 101,102,103 --workers 201,202,203
 *
 * --main and --workers name thread ids (a validator's main thread id is its process id; a
 * verify worker is the thread whose stacks are mostly `ossl_ed25519_verify`; see
 * /proc/PID/task). Every other thread counts as "other". Prints a table, then the main
 * threads' innermost JavaScript functions, then one JSON line.
 */
import { readFileSync } from 'node:fs';

/** One sample: its thread and its frames, innermost first ("symbol (dso)"). */
interface Sample {
  readonly tid: string;
  readonly frames: string[];
}

/** Input larger than this is refused (perf script of a few seconds is tens of MB). */
const INPUT_BYTES_MAX = 2 * 1024 * 1024 * 1024;

export function parsePerfScript(text: string): Sample[] {
  const samples: Sample[] = [];
  let current: Sample | null = null;
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (current !== null) samples.push(current);
      current = null;
    } else if (line.startsWith('\t')) {
      // "\t  addr symbol (dso)"
      const rest = line.trim();
      const space = rest.indexOf(' ');
      current?.frames.push(space < 0 ? rest : rest.slice(space + 1));
    } else {
      if (current !== null) samples.push(current);
      current = { tid: line.trim().split(/\s+/)[0] ?? '', frames: [] };
    }
  }
  if (current !== null) samples.push(current);
  return samples;
}

const GC_RE = /Scaveng|MarkCompact|Heap::|ConcurrentMark|MinorMark|IncrementalMarking|Evacuat|Sweeper|GCTracer/;
const KERNEL_KINDS: ReadonlyArray<readonly [RegExp, string]> = [
  [/msync/, 'kernel: msync'],
  [/page_fault|exc_page/, 'kernel: page faults'],
  [/sys_write|writev|sendmsg|sendto/, 'kernel: socket and file writes'],
  [/sys_read|recvmsg|recvfrom/, 'kernel: reads'],
  [/futex/, 'kernel: futex'],
  [/epoll/, 'kernel: epoll'],
  [/madvise/, 'kernel: madvise'],
];

/** The kind of work a sample is doing, from its whole stack (innermost frame first). */
export function kindOf(frames: readonly string[]): string {
  const stack = frames.join(' | ');
  const leaf = frames[0] ?? '';
  if (stack.includes('ossl_ed25519_verify')) return 'Ed25519 verify';
  if (stack.includes('ossl_ed25519_sign')) return 'Ed25519 sign';
  if (GC_RE.test(stack)) return 'garbage collection';
  if (stack.includes('compiler::') || stack.includes('Maglev')) return 'JIT compiler';
  if (leaf.includes('kallsyms')) return KERNEL_KINDS.find(([re]) => re.test(stack))?.[1] ?? 'kernel: other';
  if (leaf.includes('classic-level')) return 'LevelDB';
  if (leaf.includes('jemalloc') || /^(malloc|free|operator new|operator delete)\b/.test(leaf)) return 'malloc';
  if (/sha256|SHA256/.test(leaf)) return 'SHA-256';
  if (/crc32|Crc32/.test(leaf)) return 'CRC';
  if (leaf.includes('stele_native')) return 'stele native addon';
  return 'JavaScript and V8 runtime';
}

/** The innermost named JavaScript function of a stack (perf-basic-prof's "JS:*name file:line"). */
export function innermostJs(frames: readonly string[]): string | null {
  for (const f of frames) {
    if (!f.startsWith('JS:')) continue;
    return f
      .replace(/ \(\/tmp\/perf-\d+\.map\)$/, '')
      .replace(/^JS:[*^~]?/, '')
      .replace(/file:\/\/\/.*?\/dist\//, '');
  }
  return null;
}

function tids(name: string): Set<string> {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return new Set();
  const list = process.argv[at + 1] ?? '';
  if (!/^\d+(,\d+)*$/.test(list)) throw new Error(`--${name} expects thread ids separated by commas`);
  return new Set(list.split(','));
}

function main(): void {
  const file = process.argv[2];
  if (file === undefined || file.startsWith('--')) throw new Error('usage: perf-split FILE [--main TIDS] [--workers TIDS]');
  const text = readFileSync(file);
  if (text.length > INPUT_BYTES_MAX) throw new Error(`${file}: more than ${INPUT_BYTES_MAX} bytes`);
  const samples = parsePerfScript(text.toString('utf8'));
  const mains = tids('main');
  const workers = tids('workers');
  const roleOf = (s: Sample): string => (mains.has(s.tid) ? 'main threads' : workers.has(s.tid) ? 'verify workers' : s.tid === '0' ? 'idle' : 'other threads');
  const byRole = new Map<string, Map<string, number>>();
  const roleTotal = new Map<string, number>();
  const jsOfMain = new Map<string, number>();
  for (const s of samples) {
    const role = roleOf(s);
    roleTotal.set(role, (roleTotal.get(role) ?? 0) + 1);
    const kind = role === 'idle' ? 'idle' : kindOf(s.frames);
    const kinds = byRole.get(role) ?? new Map<string, number>();
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    byRole.set(role, kinds);
    if (role === 'main threads') {
      const js = innermostJs(s.frames) ?? `(no JavaScript) ${kind}`;
      jsOfMain.set(js, (jsOfMain.get(js) ?? 0) + 1);
    }
  }
  const n = samples.length;
  const pct = (x: number, of = n): number => Math.round((1000 * x) / Math.max(1, of)) / 10;
  const result: Record<string, unknown> = { bench: 'perf-split', samples: n };
  for (const role of ['main threads', 'verify workers', 'other threads', 'idle']) {
    const total = roleTotal.get(role) ?? 0;
    console.log(`${role}: ${pct(total)} % of all samples`);
    const kinds = [...(byRole.get(role) ?? new Map<string, number>())].sort((a, b) => b[1] - a[1]);
    for (const [kind, count] of kinds) if (pct(count) >= 0.2) console.log(`  ${kind.padEnd(32)} ${pct(count)} %`);
    result[role.replace(' ', '_')] = { percent: pct(total), kinds: Object.fromEntries(kinds.map(([k, c]) => [k, pct(c)])) };
  }
  const mainTotal = roleTotal.get('main threads') ?? 0;
  if (mainTotal > 0) {
    console.log('main threads, innermost JavaScript function (% of main-thread samples):');
    for (const [fn, count] of [...jsOfMain].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${pct(count, mainTotal).toFixed(1).padStart(5)} %  ${fn}`);
  }
  console.log(JSON.stringify(result));
}

if (import.meta.url === `file://${process.argv[1]}`) main();
