/**
 * SentencePiece-style pair merging as llama2.c's run.c specifies it: repeatedly replace the adjacent
 * pair whose joined piece has the highest score (the leftmost such pair on ties) until no adjacent pair
 * joins into a piece.
 *
 * run.c rescans every pair after each merge (quadratic); this keeps the candidates in a max-heap keyed
 * by (score, position of the left symbol) and drops stale entries when popped, which picks the very
 * same pair at every step: a symbol keeps the position of its leftmost original symbol, so "leftmost"
 * means the same in both.
 */
export interface MergeCandidate {
  /** Id of the joined piece. */
  readonly id: number;
  readonly score: number;
}

/** Returns the merge for two adjacent ids, or undefined when their joined piece is not mergeable. */
export type MergeLookup = (left: number, right: number) => MergeCandidate | undefined;

interface Entry {
  readonly score: number;
  readonly left: number; // symbol index (also its position)
  readonly right: number;
  readonly leftVersion: number;
  readonly rightVersion: number;
  readonly id: number;
}

export function mergePieces(ids: readonly number[], lookup: MergeLookup): number[] {
  const n = ids.length;
  if (n < 2) return ids.slice();
  const token = Int32Array.from(ids);
  const next = new Int32Array(n);
  const prev = new Int32Array(n);
  // A symbol's version changes whenever its token does, which invalidates heap entries built on it.
  const version = new Int32Array(n);
  const alive = new Uint8Array(n).fill(1);
  for (let i = 0; i < n; i++) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }

  const heap = new EntryHeap();
  const consider = (left: number, right: number): void => {
    if (left < 0 || right < 0) return;
    const found = lookup(token[left]!, token[right]!);
    // `!(score > -Infinity)` also rejects NaN, which run.c's `>` comparison never picks.
    if (found === undefined || !(found.score > -Infinity)) return;
    heap.push({ score: found.score, left, right, leftVersion: version[left]!, rightVersion: version[right]!, id: found.id });
  };
  for (let i = 0; i + 1 < n; i++) consider(i, i + 1);

  for (let e = heap.pop(); e !== undefined; e = heap.pop()) {
    const { left, right } = e;
    if (!alive[left] || !alive[right] || next[left] !== right) continue;
    if (version[left] !== e.leftVersion || version[right] !== e.rightVersion) continue;
    token[left] = e.id;
    version[left]!++;
    alive[right] = 0;
    const after = next[right]!;
    next[left] = after;
    if (after >= 0) prev[after] = left;
    consider(prev[left]!, left);
    consider(left, after);
  }

  const out: number[] = [];
  for (let i = 0; i >= 0; i = next[i]!) out.push(token[i]!);
  return out;
}

/** Max-heap on score, then min on left position. */
class EntryHeap {
  readonly #items: Entry[] = [];

  push(entry: Entry): void {
    const items = this.#items;
    items.push(entry);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): Entry | undefined {
    const items = this.#items;
    if (items.length === 0) return undefined;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < items.length && before(items[l]!, items[best]!)) best = l;
        if (r < items.length && before(items[r]!, items[best]!)) best = r;
        if (best === i) break;
        [items[i], items[best]] = [items[best]!, items[i]!];
        i = best;
      }
    }
    return top;
  }
}

function before(a: Entry, b: Entry): boolean {
  return a.score > b.score || (a.score === b.score && a.left < b.left);
}
