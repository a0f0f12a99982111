/**
 * Mutation fuzzing of the model-file parsers (GitHub issue 4, item 5).
 *
 * A fuzz target (test/fuzz/targets/*.ts) prepares its seed files once, then builds case after case:
 * a deterministic mutation of a seed (bit flips, boundary-value overwrites, truncation, inflated
 * length/count fields, duplicated or removed chunks, structure-aware JSON edits) and a `run` that
 * parses it and, when parsing succeeds, reads everything it declares. The oracle, applied to every
 * case: either `run` returns, or it throws an XverseError whose message is one line and names one of
 * the case's files. Anything else (a TypeError/RangeError escaping a parser, a multi-line message, a
 * case slower than the time bound, memory growing past the bound) is a bug.
 *
 * Cases run in a worker thread (test/helpers/fuzz-worker.ts) so that a hang — a synchronous loop
 * that never returns — is caught: the main thread's watchdog terminates the worker and reports the
 * case. Case count: `XVERSE_FUZZ_CASES` (default 2,000 per target); base seed: `XVERSE_FUZZ_SEED`.
 */
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { XverseError } from '../../src/errors.js';
import { seededRandom } from './synthetic-model.js';

export const FUZZ_CASES: number = envInt('XVERSE_FUZZ_CASES', 2000);
export const FUZZ_SEED: number = envInt('XVERSE_FUZZ_SEED', 20240605);
/** A case slower than this is a hang. */
export const FUZZ_CASE_LIMIT_MS = 2000;
/** Memory above the baseline taken after setup, at any sampled case. */
export const FUZZ_MEMORY_LIMIT_BYTES = 256 * 1024 * 1024;

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return v;
}

// ---- deterministic randomness ------------------------------------------------------------------

export class FuzzRng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = seededRandom(seed);
  }
  /** Uniform in [0, 1). */
  float(): number { return this.next(); }
  /** Uniform integer in [0, n). */
  int(n: number): number { return Math.floor(this.next() * n); }
  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number { return lo + this.int(hi - lo + 1); }
  chance(p: number): boolean { return this.next() < p; }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)]!;
  }
  /** Picks by weight: [[weight, value], …]. */
  weighted<T>(choices: ReadonlyArray<readonly [number, T]>): T {
    const total = choices.reduce((s, [w]) => s + w, 0);
    let r = this.next() * total;
    for (const [w, v] of choices) {
      if ((r -= w) < 0) return v;
    }
    return choices[choices.length - 1]![1];
  }
}

// ---- binary mutations --------------------------------------------------------------------------

/** A little-endian length/count/offset field of a seed file, found by walking its structure. */
export interface Field {
  readonly name: string;
  readonly offset: number;
  readonly size: 1 | 2 | 4 | 8;
}

export interface BinaryLayout {
  /** Length, count, size and offset fields worth inflating. */
  readonly fields: readonly Field[];
  /** Offsets where one structure ends and the next begins (truncation points). */
  readonly boundaries: readonly number[];
  /** [start, end) ranges holding structure rather than bulk data; most mutations land here. */
  readonly hot: ReadonlyArray<readonly [number, number]>;
}

export interface Mutated<T> {
  readonly value: T;
  /** What was done, for the report of a failing case. */
  readonly what: string;
}

const BOUNDARY_BYTES = [0x00, 0xff, 0x7f, 0x80] as const;
/** Huge values for inflated fields, as unsigned bit patterns of the field's width. */
const HUGE: Readonly<Record<Field['size'], readonly bigint[]>> = {
  1: [0xffn, 0x80n, 0x7fn, 0n],
  2: [0xffffn, 0x8000n, 0x7fffn, 0n],
  4: [2n ** 31n, 2n ** 32n - 1n, 2n ** 31n - 1n, 0n],
  8: [2n ** 31n, 2n ** 32n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 40n, 0n],
};

function readField(bytes: Uint8Array, f: Field): bigint {
  let v = 0n;
  for (let i = f.size - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[f.offset + i] ?? 0);
  return v;
}

function writeField(bytes: Uint8Array, f: Field, value: bigint): void {
  const mask = (1n << BigInt(8 * f.size)) - 1n;
  let v = ((value % (mask + 1n)) + (mask + 1n)) & mask;
  for (let i = 0; i < f.size && f.offset + i < bytes.length; i++) {
    bytes[f.offset + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/** A position: inside a hot range most of the time, anywhere otherwise. */
function position(rng: FuzzRng, length: number, layout: BinaryLayout): number {
  if (length === 0) return 0;
  if (layout.hot.length > 0 && rng.chance(0.85)) {
    const [start, end] = rng.pick(layout.hot);
    const s = Math.min(start, length - 1);
    const e = Math.min(Math.max(end, s + 1), length);
    return rng.range(s, e - 1);
  }
  return rng.int(length);
}

type BinaryOp = 'flip' | 'flips' | 'byte' | 'inflate' | 'nudge' | 'truncBoundary' | 'truncRandom' | 'duplicate' | 'remove';

/**
 * One to three mutations of `seed` (a copy; the seed is untouched). Truncations end the list, since
 * they change what later offsets mean.
 */
export function mutateBinary(rng: FuzzRng, seed: Uint8Array, layout: BinaryLayout): Mutated<Uint8Array> {
  let bytes = Uint8Array.from(seed);
  const what: string[] = [];
  const steps = rng.weighted([[6, 1], [3, 2], [1, 3]] as const);
  for (let s = 0; s < steps; s++) {
    const op = rng.weighted<BinaryOp>([
      [3, 'flip'], [2, 'flips'], [3, 'byte'], [layout.fields.length > 0 ? 5 : 0, 'inflate'],
      [layout.fields.length > 0 ? 2 : 0, 'nudge'], [2, 'truncBoundary'], [1, 'truncRandom'], [1, 'duplicate'], [1, 'remove'],
    ]);
    if (bytes.length === 0) break;
    switch (op) {
      case 'flip':
      case 'flips': {
        const n = op === 'flip' ? 1 : rng.range(2, 16);
        for (let k = 0; k < n; k++) {
          const at = position(rng, bytes.length, layout);
          const bit = rng.int(8);
          bytes[at]! ^= 1 << bit;
          what.push(`flip@${at}.${bit}`);
        }
        break;
      }
      case 'byte': {
        const n = rng.range(1, 4);
        const at = position(rng, bytes.length, layout);
        for (let k = 0; k < n && at + k < bytes.length; k++) {
          const v = rng.chance(0.75) ? rng.pick(BOUNDARY_BYTES) : rng.int(256);
          bytes[at + k] = v;
          what.push(`byte@${at + k}=0x${v.toString(16)}`);
        }
        break;
      }
      case 'inflate': {
        const f = rng.pick(layout.fields);
        const v = rng.pick(HUGE[f.size]);
        writeField(bytes, f, v);
        what.push(`inflate ${f.name}@${f.offset}=${v}`);
        break;
      }
      case 'nudge': { // plausible lies: off by one, doubled, the file size
        const f = rng.pick(layout.fields);
        const old = readField(bytes, f);
        const v = rng.pick([old + 1n, old - 1n, old * 2n, old + 8n, BigInt(bytes.length), BigInt(bytes.length) + 1n]);
        writeField(bytes, f, v);
        what.push(`nudge ${f.name}@${f.offset}: ${old}->${v}`);
        break;
      }
      case 'truncBoundary':
      case 'truncRandom': {
        const at = op === 'truncRandom' || layout.boundaries.length === 0
          ? rng.int(bytes.length)
          : Math.max(0, Math.min(bytes.length - 1, rng.pick(layout.boundaries) + rng.pick([0, 0, -1, 1])));
        bytes = bytes.slice(0, at);
        what.push(`truncate@${at}`);
        s = steps;
        break;
      }
      case 'duplicate': {
        const at = position(rng, bytes.length, layout);
        const len = Math.min(rng.range(1, 256), bytes.length - at);
        const out = new Uint8Array(bytes.length + len);
        out.set(bytes.subarray(0, at + len));
        out.set(bytes.subarray(at, at + len), at + len);
        out.set(bytes.subarray(at + len), at + 2 * len);
        bytes = out;
        what.push(`duplicate@${at}+${len}`);
        break;
      }
      case 'remove': {
        const at = position(rng, bytes.length, layout);
        const len = Math.min(rng.range(1, 256), bytes.length - at);
        const out = new Uint8Array(bytes.length - len);
        out.set(bytes.subarray(0, at));
        out.set(bytes.subarray(at + len), at);
        bytes = out;
        what.push(`remove@${at}+${len}`);
        break;
      }
    }
  }
  return { value: bytes, what: what.join(', ') };
}

// ---- JSON mutations ----------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type PathStep = string | number;

const DEEP_MARK = '__xverse_fuzz_deep__';
const DEEP = JSON.stringify(DEEP_MARK);

function isObject(v: Json): v is { [key: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function nodes(root: Json, skip: (path: readonly PathStep[]) => boolean): PathStep[][] {
  const out: PathStep[][] = [];
  const walk = (v: Json, path: PathStep[]): void => {
    if (path.length > 0 && skip(path)) return;
    out.push(path);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
    else if (isObject(v)) for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  walk(root, []);
  return out;
}

function getAt(root: Json, path: readonly PathStep[]): Json {
  let v: Json = root;
  for (const step of path) v = (v as Record<string | number, Json>)[step]!;
  return v;
}

/** Values a field may be replaced by: every JSON type, boundary and huge numbers, odd strings. */
function replacement(rng: FuzzRng, old: Json): Json {
  const numbers = [0, -1, 1, 0.5, -0.5, 2 ** 31, 2 ** 32 - 1, 2 ** 53, 2 ** 53 + 2, 2 ** 63, 2 ** 64, 1e308, -1e308, 5e-324];
  if (typeof old === 'number' && rng.chance(0.3)) return rng.pick([old + 1, old - 1, -old, old * 2, old * 1e6, old + 0.5]);
  return rng.weighted<Json>([
    [4, rng.pick(numbers)],
    [1, null], [1, true], [1, false],
    [2, rng.pick(['', 'x', 'F32', 'BF16', 'q8_0', 'BPE', 'a\nb', '\u2581', '<0xZZ>', '.', '..', './', 'missing.bin', 'x'.repeat(70000)])],
    [1, []], [1, {}], [1, [1, 2]], [1, { type: 'x' }],
    [1, typeof old === 'string' ? old + old : 'y'],
    [1, Array.isArray(old) ? [...old, ...old] : [old]],
  ]);
}

/**
 * One to three structure-aware edits of a JSON document: delete a key or element, replace a value by
 * another type / a huge number / an odd string, rename a key, duplicate an element, nest very deeply.
 * `focus` picks the nodes most edits go to (e.g. everything but a 500-entry vocabulary).
 * Returns JSON text (deep nesting cannot go through JSON.stringify).
 */
export function mutateJson(rng: FuzzRng, doc: unknown, focus: (path: readonly PathStep[]) => boolean = () => false): Mutated<string> {
  const root = structuredClone(doc) as Json;
  const what: string[] = [];
  let deep = 0;
  const steps = rng.weighted([[6, 1], [3, 2], [1, 3]] as const);
  let wrapped: Json = root;
  for (let s = 0; s < steps; s++) {
    const candidates = rng.chance(0.7) ? nodes(wrapped, focus) : nodes(wrapped, () => false);
    const path = rng.pick(candidates);
    const label = path.length === 0 ? '<root>' : path.join('.');
    const parentPath = path.slice(0, -1);
    const last = path[path.length - 1];
    const parent = path.length > 0 ? getAt(wrapped, parentPath) : null;
    const old = getAt(wrapped, path);
    const set = (v: Json): void => {
      if (path.length === 0) wrapped = v;
      else (parent as Record<string | number, Json>)[last!] = v;
    };
    const op = rng.weighted([[3, 'replace'], [2, 'delete'], [1, 'rename'], [1, 'duplicate'], [1, 'deep'], [1, 'clear']] as const);
    if (op === 'delete' && parent !== null) {
      if (Array.isArray(parent)) parent.splice(last as number, 1);
      else delete (parent as Record<string, Json>)[last as string];
      what.push(`delete ${label}`);
    } else if (op === 'rename' && isObject(parent)) {
      const v = parent[last as string]!;
      delete parent[last as string];
      parent[rng.pick([`${String(last)}_`, String(last).toUpperCase(), '', '__proto__', 'constructor'])] = v;
      what.push(`rename ${label}`);
    } else if (op === 'duplicate' && Array.isArray(old) && old.length > 0) {
      const i = rng.int(old.length);
      old.splice(i, 0, structuredClone(old[i]!));
      what.push(`duplicate ${label}[${i}]`);
    } else if (op === 'deep' && deep === 0) {
      deep = rng.pick([64, 1000, 20000]);
      set(DEEP_MARK);
      what.push(`nest ${label} ${deep} deep`);
    } else if (op === 'clear' && (Array.isArray(old) || isObject(old))) {
      set(Array.isArray(old) ? [] : {});
      what.push(`clear ${label}`);
    } else {
      const v = replacement(rng, old);
      set(v);
      what.push(`set ${label}=${typeof v === 'string' && v.length > 20 ? `<${v.length} chars>` : JSON.stringify(v)}`);
    }
  }
  let text = JSON.stringify(wrapped) ?? 'null';
  if (deep > 0) {
    const open = rng.chance(0.5) ? '[' : '{"a":';
    const close = open === '[' ? ']' : '}';
    text = text.replace(DEEP, open.repeat(deep) + '0' + close.repeat(deep));
  }
  return { value: text, what: what.join(', ') };
}

/** Byte-level mutation of JSON text (bit flips, truncation…): mostly yields invalid JSON. */
export function mutateText(rng: FuzzRng, text: string): Mutated<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  const boundaries: number[] = [];
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x2c || bytes[i] === 0x7b || bytes[i] === 0x5b || bytes[i] === 0x3a) boundaries.push(i);
  const m = mutateBinary(rng, bytes, { fields: [], boundaries, hot: [] });
  return { value: m.value, what: `text: ${m.what}` };
}

// ---- targets and the oracle --------------------------------------------------------------------

/** One fuzz case: `run` parses the mutated input and reads all it declares. */
export interface FuzzCase {
  readonly what: string;
  /** Files (or sources) one of which every error message must name. */
  readonly names: readonly string[];
  run(): void;
}

export interface FuzzTarget<C = unknown> {
  /** Prepares seeds in `dir` (a fresh temporary folder, removed afterwards). */
  setup(dir: string): C;
  make(context: C, rng: FuzzRng, index: number): FuzzCase;
}

/** Thrown by a case's success checks (a declared size that does not match what was read). */
export class OracleFailure extends Error {}

/** Why an error thrown by a case breaks the oracle, or null when it is a clean error. */
export function oracleViolation(err: unknown, names: readonly string[]): string | null {
  if (err instanceof OracleFailure) return `oracle: ${err.message}`;
  if (!(err instanceof XverseError)) {
    const e = err as Error;
    return `escaped ${e?.constructor?.name ?? typeof err}: ${String(e?.message ?? err).slice(0, 300)}\n${String(e?.stack ?? '').split('\n').slice(1, 6).join('\n')}`;
  }
  if (/[\r\n]/.test(err.message)) return `multi-line ${err.name}: ${JSON.stringify(err.message.slice(0, 300))}`;
  if (!names.some((n) => err.message.includes(n))) return `${err.name} names none of ${names.join(', ')}: ${err.message.slice(0, 300)}`;
  return null;
}

export interface FuzzBug {
  readonly index: number;
  readonly what: string;
  readonly problem: string;
}

export interface FuzzReport {
  readonly cases: number;
  readonly passed: number;
  /** Clean errors by class name. */
  readonly errors: Readonly<Record<string, number>>;
  readonly bugs: readonly FuzzBug[];
  readonly maxCaseMs: number;
  readonly slowest: string;
  readonly totalMs: number;
  readonly maxArrayBufferGrowth: number;
  readonly maxRssGrowth: number;
  /** Set when the watchdog stopped a case that ran past the limit. */
  readonly hang?: FuzzBug;
}

export interface FuzzRun {
  /** Module (compiled .js URL) exporting the target. */
  readonly module: URL;
  readonly exportName: string;
  readonly cases?: number;
  readonly seed?: number;
  readonly caseLimitMs?: number;
}

export type WorkerMessage =
  | { type: 'start'; index: number; what: string }
  | { type: 'report'; report: FuzzReport }
  | { type: 'error'; message: string };

/** Runs a target's cases in a worker, stopping it if one case runs past the limit. */
export function runFuzz(spec: FuzzRun): Promise<FuzzReport> {
  const caseLimitMs = spec.caseLimitMs ?? FUZZ_CASE_LIMIT_MS;
  const worker = new Worker(new URL('./fuzz-worker.js', import.meta.url), {
    workerData: { module: spec.module.href, exportName: spec.exportName, cases: spec.cases ?? FUZZ_CASES, seed: spec.seed ?? FUZZ_SEED },
  });
  return new Promise((resolve, reject) => {
    let current: { index: number; what: string; since: number } | null = null;
    let done = false;
    const finish = (fn: () => void): void => {
      if (done) return;
      done = true;
      clearInterval(watchdog);
      fn();
    };
    // Setup (building seeds) is not a case: the clock starts at the first 'start' message.
    const watchdog = setInterval(() => {
      if (current && performance.now() - current.since > caseLimitMs * 2.5) {
        const hung = current;
        void worker.terminate();
        finish(() => resolve({
          cases: hung.index, passed: 0, errors: {}, bugs: [], maxCaseMs: performance.now() - hung.since, slowest: hung.what,
          totalMs: 0, maxArrayBufferGrowth: 0, maxRssGrowth: 0,
          hang: { index: hung.index, what: hung.what, problem: `still running after ${caseLimitMs * 2.5} ms (hang)` },
        }));
      }
    }, 100);
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'start') current = { index: m.index, what: m.what, since: performance.now() };
      else if (m.type === 'report') finish(() => resolve(m.report));
      else finish(() => reject(new Error(m.message)));
    });
    worker.on('error', (err) => finish(() => reject(err)));
    worker.on('exit', (code) => finish(() => reject(new Error(`fuzz worker exited with code ${code} before reporting`))));
  });
}

/** One line per report, for the test log. */
export function summarize(name: string, r: FuzzReport): string {
  const mb = (n: number) => (n / 1048576).toFixed(0);
  const errors = Object.entries(r.errors).map(([k, v]) => `${k} ${v}`).join(', ');
  return `${name}: ${r.cases} cases in ${(r.totalMs / 1000).toFixed(1)} s: ${r.passed} parsed, errors {${errors}}, `
    + `${r.bugs.length} bugs, slowest ${r.maxCaseMs.toFixed(0)} ms, memory +${mb(r.maxArrayBufferGrowth)} MB buffers / +${mb(r.maxRssGrowth)} MB rss`;
}

/** Fails with every bug the fuzzer found (case index, mutation, what went wrong). */
export function assertClean(name: string, r: FuzzReport): void {
  console.log(summarize(name, r));
  if (r.hang) assert.fail(`${name}: case #${r.hang.index} (${r.hang.what}) ${r.hang.problem}`);
  const bugs = r.bugs.map((b) => `#${b.index} [${b.what}]: ${b.problem}`).join('\n');
  assert.equal(r.bugs.length, 0, `${name}: ${r.bugs.length} oracle violations:\n${bugs}`);
  assert.equal(r.cases, FUZZ_CASES, `${name}: ran ${r.cases} of ${FUZZ_CASES} cases`);
  // Both outcomes must occur, or the mutations are too weak (or too strong) to test anything.
  assert.ok(r.passed > 0, `${name}: no mutated input parsed`);
  assert.ok(r.cases - r.passed > 0, `${name}: every mutated input parsed`);
  assert.ok(r.maxArrayBufferGrowth < FUZZ_MEMORY_LIMIT_BYTES, `${name}: buffers grew by ${r.maxArrayBufferGrowth} bytes`);
  assert.ok(r.maxRssGrowth < FUZZ_MEMORY_LIMIT_BYTES, `${name}: rss grew by ${r.maxRssGrowth} bytes`);
}

