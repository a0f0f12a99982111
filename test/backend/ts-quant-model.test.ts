/**
 * Whole-model check of the reference backend's quantized path against llama.cpp: the xverse-tiny
 * q8_0 / q4_0 GGUFs (every matrix block-quantized; the q4_0 file's output.weight is Q8_0) run
 * through XverseModel + TsBackend with the blocks as stored, compared with the logits and greedy
 * ids llama.cpp computed from the same files (reference.json, KV cache f32, printed to 6
 * significant digits, i.e. ±5e-6 at these magnitudes).
 *
 * llama.cpp also quantizes activations to Q8_0 before each weight product, so a faithful emulation
 * lands at the print precision, while multiplying dequantized weights in f32 is ~0.08 off (the
 * fixture README's cross-check). One case does not land there: q4_0 on P2 is off by 0.062.
 * Investigation: P2's activations contain exact quantization ties (x = amax/2 → x·127/amax = 63.5:
 * the bf16 norm weights repeat within a block and embedding rows are multiples of their scale),
 * and llama.cpp's x86 build quantizes activations with SIMD code that is not the reference
 * quantizer (id = 127/amax instead of 1/(amax/127), round-half-even instead of roundf) after an
 * RMSNorm rounded in a different order (ggml: f32(f32(x·scale)·w); ours: one rounding of x·scale·w
 * in doubles). Emulating both of those brings q4_0 P2 to 5.0e-6 and 16/16 greedy ids; the
 * reference backend deliberately keeps ggml's *reference* quantizer (the documented, portable
 * semantics the native kernels are tested against), so the bound here covers that one tie flip.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TsBackend } from '../../src/backend/ts/ts-backend.js';
import { loadModel } from '../../src/model/load.js';
import type { XverseModel } from '../../src/model/xverse.js';
import { fixture, readJson } from '../helpers/fixtures.js';
import { xverseTinyFromGguf } from '../helpers/gguf-model.js';

type Prompt = 'P1' | 'P2';
interface PromptRef { logits: number[]; greedy: number[]; greedy_top1_minus_top2: number[] }
interface TinyReference {
  prompts: Record<Prompt, { ids: number[] }>;
  llamacpp: Record<'q8_0' | 'q4_0', Record<Prompt, PromptRef>>;
  torch_reference: Record<Prompt, PromptRef>;
}

const ref = readJson<TinyReference>(fixture('xverse-tiny/reference.json'));

function maxAbsDiff(a: Float32Array, b: number[]): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

/** Prompt logits (the prompt as one batch, n > 1) and 16 greedy steps (n = 1 each). */
function run(model: XverseModel, prompt: Prompt): { logits: Float32Array; greedy: number[] } {
  const cache = model.createCache();
  const logits = Float32Array.from(model.forward(ref.prompts[prompt].ids, cache));
  const greedy: number[] = [];
  let next: Float32Array = logits;
  for (let i = 0; i < 16; i++) {
    greedy.push(argmax(next));
    next = model.forward([greedy.at(-1)!], cache);
  }
  return { logits, greedy };
}

/** Number of leading greedy ids that agree. */
function agreeing(a: number[], b: number[]): number {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return i;
}

// [file, reference, prompt, bound on max |logit diff|, greedy ids that must agree]
const cases: Array<[string, 'q8_0' | 'q4_0', Prompt, number, number]> = [
  // Print precision (5e-6) plus f32 ordering differences in llama.cpp's SIMD dots (measured ≤ 5.1e-6).
  ['xverse-tiny-q8_0.gguf', 'q8_0', 'P1', 2e-5, 16],
  ['xverse-tiny-q8_0.gguf', 'q8_0', 'P2', 2e-5, 16],
  ['xverse-tiny-q4_0.gguf', 'q4_0', 'P1', 2e-5, 16],
  // One activation tie rounds the other way (see above): measured 0.062; the 14th greedy step has
  // a top-1/top-2 gap of 0.0029 in llama.cpp and flips, the first 13 agree.
  ['xverse-tiny-q4_0.gguf', 'q4_0', 'P2', 0.1, 13],
];

for (const [file, kind, prompt, bound, greedyAgree] of cases) {
  test(`xverse-tiny ${kind} GGUF, ${prompt}: integer block products match llama.cpp's logits within ${bound}`, (t) => {
    const model = xverseTinyFromGguf(file, new TsBackend());
    const { logits, greedy } = run(model, prompt);
    const expected = ref.llamacpp[kind][prompt];
    const diff = maxAbsDiff(logits, expected.logits);
    const agree = agreeing(greedy, expected.greedy);
    t.diagnostic(`max |logit − llama.cpp| = ${diff.toExponential(3)}; greedy ids agree for ${agree}/16 steps`);
    assert.ok(diff <= bound, `max |logit diff| vs llama.cpp ${kind} = ${diff}`);
    assert.ok(agree >= greedyAgree, `greedy ids agree for ${agree} steps: ${greedy} vs ${expected.greedy}`);
  });
}

test('xverse-tiny q8_0: dequantizing to f32 instead is ~0.08 off llama.cpp — the gap the integer path closes', (t) => {
  // The same weights, widened to f32 before upload: f32 activations, no activation quantization.
  const model = xverseTinyFromGguf('xverse-tiny-q8_0.gguf', new TsBackend(), { convertTo: 'f32' });
  for (const prompt of ['P1', 'P2'] as const) {
    const diff = maxAbsDiff(run(model, prompt).logits, ref.llamacpp.q8_0[prompt].logits);
    t.diagnostic(`${prompt}: dequantized-f32 max |logit − llama.cpp q8_0| = ${diff.toExponential(3)}`);
    // The fixture's own cross-check measured 0.077 / 0.080 for this method.
    assert.ok(diff > 0.05 && diff < 0.12, `${prompt}: ${diff}`);
  }
});

// KV cache types on the f32 path (safetensors weights): f16 rounds keys/values to 11 significant
// bits (relative error ≤ 2^-11), q8_0 to 8 bits per block. llama.cpp's own f16 cache moves this
// model's logits by up to 1.7e-3 (fixture cross-check); ours measured 9.9e-4 / 1.25e-3 (f16) and
// 0.047 / 0.036 (q8_0), greedy ids unchanged. Bounds: about 2× the measurements.
for (const [kv, bound] of [['f16', 3e-3], ['q8_0', 0.1]] as const) {
  test(`xverse-tiny with a ${kv} KV cache: logits within ${bound} of the f32 reference, same greedy ids`, (t) => {
    const model = loadModel(fixture('xverse-tiny/safetensors'), { kvCacheType: kv });
    for (const prompt of ['P1', 'P2'] as const) {
      const { logits, greedy } = run(model, prompt);
      const diff = maxAbsDiff(logits, ref.torch_reference[prompt].logits);
      t.diagnostic(`${prompt}: max |logit − torch f32| = ${diff.toExponential(3)}`);
      assert.ok(diff <= bound, `${prompt}: ${diff}`);
      // Rounding on write really happened (an f32 cache is within 1e-5 of torch).
      assert.ok(diff > 1e-4, `${prompt}: ${diff} — is the cache still f32?`);
      assert.deepEqual(greedy, ref.torch_reference[prompt].greedy);
    }
  });
}

test('quantizing the bf16 safetensors on load gives the GGUF models bit for bit (same blocks, same logits)', () => {
  // The f32 GGUF holds the bf16 weights exactly, llama-quantize's blocks are reproduced byte for
  // byte (test/tensor/quant-gguf.test.ts), and the q4_0 policy keeps the head at q8_0 as
  // llama-quantize did here, so both routes must compute identical logits.
  for (const kind of ['q8_0', 'q4_0'] as const) {
    const fromGguf = xverseTinyFromGguf(`xverse-tiny-${kind}.gguf`, new TsBackend());
    const onLoad = loadModel(fixture('xverse-tiny/safetensors'), { quantize: kind, backend: 'typescript' });
    for (const prompt of ['P1', 'P2'] as const) {
      const a = run(fromGguf, prompt);
      const b = run(onLoad, prompt);
      assert.deepEqual(Array.from(b.logits), Array.from(a.logits), `${kind} ${prompt}`);
      assert.deepEqual(b.greedy, a.greedy);
    }
  }
});
