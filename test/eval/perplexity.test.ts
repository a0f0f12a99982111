import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { AutoTokenizer } from '../../src/api/pretrained.js';
import { GenerationError } from '../../src/errors.js';
import { computePerplexity, perplexityWindows, type PerplexityResult } from '../../src/eval/perplexity.js';
import { loadModel } from '../../src/model/load.js';
import type { XverseModel } from '../../src/model/xverse.js';
import { runCli } from '../helpers/cli.js';
import { fixture, readJson, REPO_ROOT, tempDir } from '../helpers/fixtures.js';

const STORIES = path.join(REPO_ROOT, 'models/stories260K');
const ref = readJson<{ runs: Array<{ published_stdout_without_final_newline: string }>; logits: { tokens_in: number[]; shape: [number, number] } }>(
  fixture('stories260K/reference/stories260K_reference.json'));
const V = ref.logits.shape[1];
/** run.c's logits: row i = next-token logits after tokens_in[0..i]. */
const refLogits = (() => {
  const buf = fs.readFileSync(fixture('stories260K/reference/logits_greedy_bos_257x512.f32'));
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
})();

/** llama2.c's greedy story, written to a temp file for the CLI. */
const TEXT = ref.runs[0]!.published_stdout_without_final_newline;
const dir = tempDir('xverse-ppl-');
const TEXT_FILE = path.join(dir, 'story.txt');
fs.writeFileSync(TEXT_FILE, TEXT);

/** −log softmax(row)[target] in float64. */
function nllOf(logits: Float32Array, row: number, target: number): number {
  let max = -Infinity;
  for (let j = 0; j < V; j++) max = Math.max(max, logits[row * V + j]!);
  let sum = 0;
  for (let j = 0; j < V; j++) sum += Math.exp(logits[row * V + j]! - max);
  return max + Math.log(sum) - logits[row * V + target]!;
}

/** BOS + the text's tokens, as our tokenizer encodes the text (checked against tokens_in below). */
const tokenizer = await AutoTokenizer.fromPretrained(STORIES);
const ids = tokenizer.encode(TEXT);
const n = ids.length;

/** Perplexity of `ids` from run.c's reference logits (one full-context window). */
const REFERENCE_PPL = (() => {
  let nll = 0;
  for (let i = 0; i + 1 < n; i++) nll += nllOf(refLogits, i, ids[i + 1]!);
  return Math.exp(nll / (n - 1));
})();

const models = new Map<string, XverseModel>();
function model(backend: 'typescript' | 'auto'): XverseModel {
  let m = models.get(backend);
  if (!m) models.set(backend, (m = loadModel(STORIES, { backend })));
  return m;
}

/** Sliding-window perplexity computed the plain way: each window in one full pass on a fresh cache. */
function windowedReference(m: XverseModel, ctx: number, stride: number): { ppl: number; tokens: number; windows: number } {
  let nll = 0;
  let tokens = 0;
  let windows = 0;
  let prevEnd = 0;
  for (let begin = 0; begin < n; begin += stride) {
    const end = Math.min(begin + ctx, n);
    const logits = m.forward(ids.slice(begin, end), m.createCache(), { allLogits: true });
    for (let t = Math.max(prevEnd, begin + 1); t < end; t++) {
      nll += nllOf(logits, t - 1 - begin, ids[t]!);
      tokens++;
    }
    windows++;
    prevEnd = end;
    if (end === n) break;
  }
  return { ppl: Math.exp(nll / tokens), tokens, windows };
}

test('stories260K reference text: our tokenizer reproduces tokens_in; the reference perplexity from run.c logits is 1.6055', () => {
  assert.equal(n, 201);
  assert.deepEqual(ids, ref.logits.tokens_in.slice(0, n));
  assert.ok(Math.abs(REFERENCE_PPL - 1.6055) < 1e-4, `reference perplexity ${REFERENCE_PPL}`);
});

for (const backend of ['typescript', 'auto'] as const) {
  test(`computePerplexity (${backend} backend) matches the reference perplexity within 1e-3`, () => {
    const r = computePerplexity(model(backend), ids);
    assert.ok(Math.abs(r.perplexity - REFERENCE_PPL) < 1e-3, `perplexity ${r.perplexity} vs reference ${REFERENCE_PPL}`);
    assert.equal(r.tokens, n - 1);
    assert.equal(r.windows, 1);
    assert.equal(r.ctx, 512);
    assert.equal(r.stride, 512);
    assert.ok(Math.abs(Math.exp(r.nll) - r.perplexity) < 1e-12);
    assert.ok(r.seconds >= 0 && r.seconds < 60);
  });
}

for (const args of [['--backend', 'typescript'], []]) {
  test(`xverse perplexity --json ${args.join(' ') || '(default backend)'} matches the reference perplexity within 1e-3`, async () => {
    const r = await runCli(['perplexity', '--file', TEXT_FILE, '--json', ...args]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as PerplexityResult & { model: string; file: string };
    assert.ok(Math.abs(out.perplexity - REFERENCE_PPL) < 1e-3, `perplexity ${out.perplexity} vs reference ${REFERENCE_PPL}`);
    assert.deepEqual([out.tokens, out.windows, out.ctx, out.stride], [n - 1, 1, 512, 512]);
    assert.equal(out.file, TEXT_FILE);
    assert.equal(path.basename(out.model), 'stories260K');
    assert.equal(typeof out.nll, 'number');
    assert.equal(typeof out.seconds, 'number');
  });
}

test('xverse perplexity prints one summary line; --no-bos scores one token fewer', async () => {
  let r = await runCli(['perplexity', '--file', TEXT_FILE]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^perplexity 1\.605\d over 200 tokens \(1 window of 512, stride 512\) in [\d.]+ s \(\d+ tok\/s\)\n$/);
  r = await runCli(['perplexity', '--file', TEXT_FILE, '--ctx', '64', '--stride', '32']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^perplexity 1\.6894 over 200 tokens \(6 windows of 64, stride 32\) in /);
  r = await runCli(['perplexity', '--file', TEXT_FILE, '--no-bos', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as PerplexityResult).tokens, n - 2);
});

test('the window rule: begin = i·stride, end = min(begin + ctx, n), targets [max(prevEnd, begin + 1), end)', () => {
  assert.deepEqual(perplexityWindows(10, 4, 2), [
    { begin: 0, end: 4, first: 1 }, { begin: 2, end: 6, first: 4 }, { begin: 4, end: 8, first: 6 }, { begin: 6, end: 10, first: 8 },
  ]);
  assert.deepEqual(perplexityWindows(9, 4, 4), [{ begin: 0, end: 4, first: 1 }, { begin: 4, end: 8, first: 5 }, { begin: 8, end: 9, first: 9 }]);
  assert.deepEqual(perplexityWindows(3, 8, 8), [{ begin: 0, end: 3, first: 1 }]);
});

for (const backend of ['typescript', 'auto'] as const) {
  test(`sliding window (${backend} backend): ctx 64 / stride 32 scores n − 1 tokens in 6 windows; stride = ctx equals independent chunks`, () => {
    const m = model(backend);
    const full = computePerplexity(m, ids);

    const sliding = computePerplexity(m, ids, { ctx: 64, stride: 32 });
    assert.equal(sliding.tokens, n - 1);
    assert.equal(sliding.windows, 6); // begins 0, 32, …, 160; the one at 160 reaches n = 201
    const slidingRef = windowedReference(m, 64, 32);
    assert.deepEqual([slidingRef.tokens, slidingRef.windows], [sliding.tokens, sliding.windows]);
    assert.ok(Math.abs(sliding.perplexity - slidingRef.ppl) < 1e-5, `${sliding.perplexity} vs ${slidingRef.ppl}`);
    // Measured: 1.68936 (f32 KV cache), 1.68940 (f16); less context, higher perplexity.
    assert.ok(Math.abs(sliding.perplexity - 1.6894) < 1e-4, `ctx 64 / stride 32 perplexity ${sliding.perplexity}`);
    assert.ok(sliding.perplexity >= full.perplexity);

    // Disjoint chunks [0,64) [64,128) [128,192) [192,201), each without its first token.
    const chunks = computePerplexity(m, ids, { ctx: 64 });
    assert.equal(chunks.stride, 64);
    assert.equal(chunks.windows, 4);
    assert.equal(chunks.tokens, n - 4);
    let nll = 0;
    let tokens = 0;
    for (let begin = 0; begin < n; begin += 64) {
      const chunk = ids.slice(begin, begin + 64);
      const logits = m.forward(chunk, m.createCache(), { allLogits: true });
      for (let i = 1; i < chunk.length; i++, tokens++) nll += nllOf(logits, i - 1, chunk[i]!);
    }
    assert.equal(tokens, chunks.tokens);
    assert.ok(Math.abs(chunks.perplexity - Math.exp(nll / tokens)) < 1e-5, `${chunks.perplexity} vs ${Math.exp(nll / tokens)}`);
    assert.ok(Math.abs(chunks.perplexity - 1.8905) < 1e-4, `ctx 64 / stride 64 perplexity ${chunks.perplexity}`);
    assert.ok(chunks.perplexity >= sliding.perplexity);
  });
}

test('computePerplexity reports progress up to the total and stops on an aborted signal', () => {
  const m = model('typescript');
  const seen: Array<[number, number]> = [];
  computePerplexity(m, ids.slice(0, 40), { ctx: 16, stride: 8, onProgress: (s, t) => seen.push([s, t]) });
  assert.ok(seen.length >= 2);
  assert.deepEqual(seen.at(-1), [39, 39]);
  const controller = new AbortController();
  assert.throws(() => computePerplexity(m, ids, {
    ctx: 16, stride: 8, signal: controller.signal, onProgress: () => controller.abort(new Error('stop here')),
  }), /stop here/);
});

test('computePerplexity refuses bad options and too-short input with one-line GenerationErrors', () => {
  const m = model('typescript');
  const cases: Array<[readonly number[], Parameters<typeof computePerplexity>[2], RegExp]> = [
    [ids, { ctx: 64, stride: 65 }, /stride 65 exceeds ctx 64/],
    [ids, { ctx: 1024 }, /ctx 1024 exceeds the model's context length 512/],
    [ids, { ctx: 1 }, /ctx must be an integer ≥ 2/],
    [ids, { ctx: 64, stride: 0 }, /stride must be an integer ≥ 1/],
    [[1], {}, /at least 2 tokens, got 1/],
    [[1, 600], {}, /token id 600 at position 1 is outside the vocabulary/],
  ];
  for (const [input, options, pattern] of cases) {
    assert.throws(() => computePerplexity(m, input, options), (err: unknown) => {
      assert.ok(err instanceof GenerationError, String(err));
      assert.match(err.message, pattern);
      assert.ok(!err.message.includes('\n'));
      return true;
    });
  }
});

test('xverse perplexity errors: one line, exit code 1, no stack trace', async () => {
  const missing = path.join(dir, 'missing.txt');
  const big = path.join(dir, 'big.txt');
  fs.writeFileSync(big, '');
  fs.truncateSync(big, 64 * 1024 * 1024 + 1); // sparse: no disk used
  const latin1 = path.join(dir, 'latin1.txt');
  fs.writeFileSync(latin1, Buffer.from([0x41, 0xe9, 0x42]));
  const cases: Array<[string[], RegExp]> = [
    [['--file', missing], new RegExp(`^xverse: XverseError: ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: no such file\\n$`)],
    [['--file', big], /^xverse: XverseError: .*big\.txt: file is 67108865 bytes, more than the 67108864-byte limit\n$/],
    [['--file', latin1], /^xverse: XverseError: .*latin1\.txt: not valid UTF-8 text\n$/],
    [['--file', dir], /^xverse: XverseError: .*: not a regular file\n$/],
    [['--file', TEXT_FILE, '--ctx', '64', '--stride', '65'], /^xverse: GenerationError: perplexity: stride 65 exceeds ctx 64[^\n]*\n$/],
    [['--file', TEXT_FILE, '--ctx', '1024'], /^xverse: GenerationError: perplexity: ctx 1024 exceeds the model's context length 512\n$/],
    [['--file', TEXT_FILE, '--ctx', '1'], /--ctx <n>' argument '1' is invalid\. expected an integer ≥ 2/],
  ];
  for (const [args, pattern] of cases) {
    const r = await runCli(['perplexity', ...args]);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, pattern);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
  const r = await runCli(['perplexity']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /required option '--file <path>' not specified/);
});
