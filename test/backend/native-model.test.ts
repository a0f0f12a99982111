/**
 * Whole-model parity of the native backend, at every instruction-set level this CPU runs:
 * - stories260K (f32 weights): logits of all 257 positions against run.c's (1e-4, as the
 *   reference backend is held to) and the TypeScript backend's, greedy tokens, prefill = decode;
 * - xverse-tiny (bf16 weights): next-token logits against torch f32 and llama.cpp, and the 16
 *   greedy ids of llama.cpp's reference, with f32 and f16 KV caches;
 * - xverse-tiny quantized on load to q8_0 / q4_0: llama.cpp's q8_0 / q4_0 logits and greedy ids.
 *
 * An f16 KV cache rounds keys and values to 11 significant bits; where an input lies within an ulp
 * of a rounding boundary, the native and reference backends (whose f32 sums differ in the last
 * bit) can round it to neighbouring f16 values, so f16-cache logits are compared with the
 * tolerance of the cache type (llama.cpp's own f16 cache moves xverse-tiny's logits by 1.7e-3).
 * Bounds are about 3× the largest difference measured; the measurements are in comments.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import type { KVCacheType } from '../../src/backend/backend.js';
import { loadModel } from '../../src/model/load.js';
import type { XverseModel } from '../../src/model/xverse.js';
import { fixture, readJson } from '../helpers/fixtures.js';
import { forEachIsa, nativeBackend, skipNative } from '../helpers/native.js';

const STORIES = fixture('stories260K/hf');
const TINY = fixture('xverse-tiny/safetensors');

interface StoriesReference { logits: { tokens_in: number[]; shape: [number, number] } }
interface PromptRef { logits: number[]; greedy: number[] }
interface TinyReference {
  prompts: Record<'P1' | 'P2', { ids: number[] }>;
  llamacpp: Record<'f32' | 'q8_0' | 'q4_0', Record<'P1' | 'P2', PromptRef>>;
  torch_reference: Record<'P1' | 'P2', PromptRef>;
}

const stories = readJson<StoriesReference>(fixture('stories260K/reference/stories260K_reference.json'));
const [positions, vocab] = stories.logits.shape;
const tokens = stories.logits.tokens_in.slice(0, positions);
const runcLogits = (() => {
  const buf = fs.readFileSync(fixture('stories260K/reference/logits_greedy_bos_257x512.f32'));
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
})();
const tiny = readJson<TinyReference>(fixture('xverse-tiny/reference.json'));

function argmax(a: ArrayLike<number>, off = 0, n = a.length): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (a[off + i]! > a[off + best]!) best = i;
  return best;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>, n = a.length): number {
  let m = 0;
  for (let i = 0; i < n; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Logits of every position, one decode step at a time. */
function stepLogits(model: XverseModel): Float32Array {
  const cache = model.createCache();
  const out = new Float32Array(positions * vocab);
  for (let p = 0; p < positions; p++) out.set(model.forward([tokens[p]!], cache), p * vocab);
  return out;
}

/** Next-token logits after a prompt and the 16 greedy ids that follow. */
function promptRun(model: XverseModel, ids: number[]): { logits: Float32Array; greedy: number[] } {
  const cache = model.createCache();
  const logits = model.forward(ids, cache).slice(); // forward() reuses its output buffer
  const greedy: number[] = [];
  let step: Float32Array = logits;
  for (let i = 0; i < 16; i++) {
    greedy.push(argmax(step));
    step = model.forward([greedy[i]!], cache);
  }
  return { logits, greedy };
}

test('stories260K, native backend with an f32 KV cache: run.c logits within 1e-4 at all 257 positions, same greedy tokens, prefill = decode, at every ISA level', { skip: skipNative }, () => {
  const be = nativeBackend();
  const reference = stepLogits(loadModel(STORIES, { backend: 'typescript' }));
  forEachIsa((level) => {
    const model = loadModel(STORIES, { backend: be, kvCacheType: 'f32', maxBatch: 100 });
    const steps = stepLogits(model);
    assert.ok(maxAbsDiff(steps, runcLogits) < 1e-4, `${level}: max |logit − run.c| ${maxAbsDiff(steps, runcLogits)}`);
    // Measured 8e-6 … 9.4e-6 (by level): f32 summation order only.
    assert.ok(maxAbsDiff(steps, reference) < 3e-5, `${level}: max |native − typescript| ${maxAbsDiff(steps, reference)}`);
    for (let p = 0; p + 1 < positions; p++) assert.equal(argmax(steps, p * vocab, vocab), tokens[p + 1], `${level}: greedy token at ${p + 1}`);
    const prefill = model.forward(tokens, model.createCache(), { allLogits: true });
    // Prefill and decode take different attention paths (query blocks vs position chunks), so they
    // differ in f32 summation order only: measured 1.1e-5.
    assert.ok(maxAbsDiff(prefill, steps) < 5e-5, `${level}: prefill vs decode ${maxAbsDiff(prefill, steps)}`);
  });
});

test('stories260K, native backend with its default f16 KV cache: close to the TypeScript f16 cache and the same greedy tokens', { skip: skipNative }, () => {
  const be = nativeBackend();
  const reference = stepLogits(loadModel(STORIES, { backend: 'typescript', kvCacheType: 'f16' }));
  forEachIsa((level) => {
    const model = loadModel(STORIES, { backend: be });
    assert.equal(model.createCache().type, 'f16');
    const steps = stepLogits(model);
    // Measured 3.0e-3 … 7.1e-3 (by level): a few values round to the neighbouring f16 (file comment).
    assert.ok(maxAbsDiff(steps, reference) < 2e-2, `${level}: max |native − typescript| ${maxAbsDiff(steps, reference)}`);
    for (let p = 0; p + 1 < positions; p++) assert.equal(argmax(steps, p * vocab, vocab), tokens[p + 1], `${level}: greedy token at ${p + 1}`);
  });
});

for (const kv of ['f32', 'f16'] as const satisfies readonly KVCacheType[]) {
  test(`xverse-tiny, native backend with an ${kv} KV cache: torch / llama.cpp logits and llama.cpp's greedy ids, at every ISA level`, { skip: skipNative }, () => {
    const be = nativeBackend();
    forEachIsa((level) => {
      const model = loadModel(TINY, { backend: be, kvCacheType: kv });
      for (const name of ['P1', 'P2'] as const) {
        const { logits, greedy } = promptRun(model, tiny.prompts[name].ids);
        const torch = maxAbsDiff(logits, tiny.torch_reference[name].logits);
        // f32: measured ≤ 7.9e-6 (the reference backend's bound is 1e-4); f16: measured ≤ 1.27e-3.
        const bound = kv === 'f32' ? 1e-4 : 4e-3;
        assert.ok(torch < bound, `${level} ${name}: max |logit − torch| ${torch}`);
        assert.ok(maxAbsDiff(logits, tiny.llamacpp.f32[name].logits) < bound + 1e-3, `${level} ${name}: vs llama.cpp`);
        assert.deepEqual(greedy, tiny.llamacpp.f32[name].greedy, `${level} ${name} greedy`);
      }
    });
  });
}

test('xverse-tiny quantized on load, native backend (f32 KV): llama.cpp\'s q8_0 and q4_0 logits within 1e-4 and its greedy ids', { skip: skipNative }, () => {
  const be = nativeBackend();
  forEachIsa((level) => {
    for (const type of ['q8_0', 'q4_0'] as const) {
      const model = loadModel(TINY, { backend: be, kvCacheType: 'f32', quantize: type });
      // q4_0 P2 is left out: one of its activations sits on a rounding tie that llama.cpp's SIMD
      // quantizer breaks the other way (see test/backend/ts-quant-model.test.ts).
      for (const name of type === 'q8_0' ? ['P1', 'P2'] as const : ['P1'] as const) {
        const { logits, greedy } = promptRun(model, tiny.prompts[name].ids);
        const diff = maxAbsDiff(logits, tiny.llamacpp[type][name].logits);
        assert.ok(diff < 1e-4, `${level} ${type} ${name}: max |logit − llama.cpp| ${diff}`); // measured 5e-6
        assert.deepEqual(greedy, tiny.llamacpp[type][name].greedy, `${level} ${type} ${name} greedy`);
      }
    }
  });
});
