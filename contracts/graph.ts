/**
 * Graph algorithms for the checker, all iterative (no recursion, so 10^5 states cannot
 * overflow the stack) and linear in nodes plus edges. Nodes are 0..n-1; `succ[i]` lists
 * the targets of i's edges (repeats allowed).
 */

/**
 * Strongly connected components (Tarjan, with an explicit stack).
 * @returns the component index of every node; components are numbered in reverse
 *   topological order (a component's successors have smaller numbers).
 */
export function components(succ: readonly (readonly number[])[]): Int32Array {
  const n = succ.length;
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const comp = new Int32Array(n).fill(-1);
  const onStack = new Uint8Array(n);
  const stack: number[] = [];
  const work: number[] = []; // DFS frames: node, then the next edge position
  const edgeAt: number[] = [];
  let counter = 0;
  let compCount = 0;
  for (let root = 0; root < n; root++) {
    if (index[root] !== -1) continue;
    work.push(root);
    edgeAt.push(0);
    index[root] = low[root] = counter++;
    stack.push(root);
    onStack[root] = 1;
    while (work.length > 0) {
      const v = work[work.length - 1] as number;
      const at = edgeAt[edgeAt.length - 1] as number;
      const edges = succ[v] as readonly number[];
      if (at < edges.length) {
        edgeAt[edgeAt.length - 1] = at + 1;
        const w = edges[at] as number;
        if (index[w] === -1) {
          index[w] = low[w] = counter++;
          stack.push(w);
          onStack[w] = 1;
          work.push(w);
          edgeAt.push(0);
        } else if (onStack[w] === 1) low[v] = Math.min(low[v] as number, index[w] as number);
        continue;
      }
      work.pop();
      edgeAt.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1] as number;
        low[parent] = Math.min(low[parent] as number, low[v] as number);
      }
      if (low[v] === index[v]) {
        let w: number;
        do {
          w = stack.pop() as number;
          onStack[w] = 0;
          comp[w] = compCount;
        } while (w !== v);
        compCount++;
      }
    }
  }
  return comp;
}

/** True for nodes on some cycle: in a component of two or more nodes, or with a self-loop. */
export function onCycle(succ: readonly (readonly number[])[], comp: Int32Array): Uint8Array {
  const size = new Int32Array(succ.length);
  for (let i = 0; i < succ.length; i++) size[comp[i] as number] = (size[comp[i] as number] as number) + 1;
  const out = new Uint8Array(succ.length);
  for (let i = 0; i < succ.length; i++) {
    if ((size[comp[i] as number] as number) > 1 || (succ[i] as readonly number[]).includes(i)) out[i] = 1;
  }
  return out;
}

/**
 * One cycle through `start` inside its component, as the list of nodes from start back to
 * start (start appears at both ends). Breadth-first, so the cycle is a shortest one.
 */
export function cycleThrough(succ: readonly (readonly number[])[], comp: Int32Array, start: number): number[] {
  const parent = new Map<number, number>();
  const queue = [start];
  for (let q = 0; q < queue.length; q++) {
    const v = queue[q] as number;
    for (const w of succ[v] as readonly number[]) {
      if (comp[w] !== comp[start]) continue;
      if (w === start) {
        const path = [start];
        for (let x = v; x !== start; x = parent.get(x) as number) path.push(x);
        path.push(start);
        return path.reverse();
      }
      if (!parent.has(w)) {
        parent.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start];
}

/** Nodes reachable from `from` (breadth-first). */
export function reachable(succ: readonly (readonly number[])[], from: readonly number[]): Uint8Array {
  const seen = new Uint8Array(succ.length);
  const queue: number[] = [];
  for (const f of from) {
    if (seen[f] === 0) {
      seen[f] = 1;
      queue.push(f);
    }
  }
  for (let q = 0; q < queue.length; q++) {
    for (const w of succ[queue[q] as number] as readonly number[]) {
      if (seen[w] === 0) {
        seen[w] = 1;
        queue.push(w);
      }
    }
  }
  return seen;
}

/** The reverse graph. */
export function reverse(succ: readonly (readonly number[])[]): number[][] {
  const pred: number[][] = succ.map(() => []);
  succ.forEach((edges, v) => {
    for (const w of edges) (pred[w] as number[]).push(v);
  });
  return pred;
}

/**
 * A topological order of an acyclic graph (successors before predecessors), or null when
 * there is a cycle. Kahn's algorithm on the reverse graph.
 */
export function reverseTopological(succ: readonly (readonly number[])[]): number[] | null {
  const n = succ.length;
  const outDegree = new Int32Array(n);
  const pred = reverse(succ);
  for (let v = 0; v < n; v++) outDegree[v] = (succ[v] as readonly number[]).length;
  const order: number[] = [];
  for (let v = 0; v < n; v++) if (outDegree[v] === 0) order.push(v);
  for (let q = 0; q < order.length; q++) {
    for (const p of pred[order[q] as number] as number[]) {
      outDegree[p] = (outDegree[p] as number) - 1;
      if (outDegree[p] === 0) order.push(p);
    }
  }
  return order.length === n ? order : null;
}
