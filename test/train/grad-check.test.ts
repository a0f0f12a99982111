import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { parseModelConfig } from '../../src/model/config.js';
import { loadModel } from '../../src/model/load.js';
import { namedParams, TrainableLlama } from '../../src/train/graph.js';
import { seededRandom } from '../helpers/synthetic-model.js';
import { loadTrainable } from '../../src/train/trainer.js';
import { Rng } from '../../src/generation/rng.js';
import {
  attentionBackward, attentionForward, crossEntropy, embeddingBackward, embeddingForward, linearBackward, linearForward,
  rmsNormBackward, rmsNormForward, ropeBackward, ropeForward, swigluBackward, swigluForward, type AttentionShape,
} from '../../src/train/ops.js';
import { fixture } from '../helpers/fixtures.js';
import { tinyConfig } from '../helpers/synthetic-model.js';

/*
 * Gradient checks in float64: analytic gradients against central finite differences
 * (f(x + ε) − f(x − ε)) / 2ε with ε = 1e-6. The error measure is per tensor:
 *   rel = max_i |analytic_i − numeric_i| / max(max_i |analytic_i|, max_i |numeric_i|, 1e-8)
 * over the checked entries, and must stay below 1e-4.
 */
const EPS = 1e-6;
const TOL = 1e-4;
const observed = new Map<string, number>();
after(() => {
  const isModel = (name: string) => name.startsWith('model ') || name.startsWith('tied ');
  for (const [label, keep] of [['ops', (n: string) => !isModel(n)], ['whole model', isModel]] as const) {
    const worst = [...observed.entries()].filter(([n]) => keep(n)).sort((a, b) => b[1] - a[1]);
    console.log(`${label}: max relative gradient error ${worst[0]?.[1].toExponential(2)} (${worst[0]?.[0]}) over ${worst.length} tensors`);
  }
});

const rand = seededRandom(12345);
function randomArray(n: number, scale = 1): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * scale;
  return a;
}
function weightedSum(y: Float64Array, r: Float64Array): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i]! * r[i]!;
  return s;
}

/** The relative error (see above) of `analytic` against central differences of `loss` in `x` at `indices` (default all). */
function gradError(loss: () => number, x: Float64Array, analytic: Float64Array, indices?: readonly number[]): { rel: number; maxMag: number } {
  const idx = indices ?? Array.from({ length: x.length }, (_, i) => i);
  let maxDiff = 0;
  let maxMag = 1e-8;
  for (const i of idx) {
    const saved = x[i]!;
    x[i] = saved + EPS;
    const plus = loss();
    x[i] = saved - EPS;
    const minus = loss();
    x[i] = saved;
    const numeric = (plus - minus) / (2 * EPS);
    maxDiff = Math.max(maxDiff, Math.abs(numeric - analytic[i]!));
    maxMag = Math.max(maxMag, Math.abs(numeric), Math.abs(analytic[i]!));
  }
  return { rel: maxDiff / maxMag, maxMag };
}

/** gradError, recorded for the summary and asserted below TOL; the checked gradient must not be all ~0. */
function checkGrad(name: string, loss: () => number, x: Float64Array, analytic: Float64Array, indices?: readonly number[]): number {
  assert.equal(analytic.length, x.length, `${name}: gradient length`);
  const { rel, maxMag } = gradError(loss, x, analytic, indices);
  assert.ok(maxMag > 1e-6, `${name}: the checked gradient entries are all ~0 (${maxMag.toExponential(2)}), the check would prove nothing`);
  observed.set(name, Math.max(rel, observed.get(name) ?? 0));
  assert.ok(rel < TOL, `${name}: relative error ${rel.toExponential(2)} ≥ ${TOL} (max |grad| ${maxMag.toExponential(2)})`);
  return rel;
}

test('the gradient check itself flags a gradient off by 0.1% in one entry', () => {
  const x = randomArray(6);
  const r = randomArray(6);
  const loss = () => weightedSum(swigluForward(x, x), r);
  const good = swigluBackward(r, x, x);
  const exact = good.dGate.map((g, i) => g + good.dUp[i]!);
  assert.ok(gradError(loss, x, exact).rel < TOL);
  const wrong = exact.slice();
  wrong[2] = wrong[2]! * 1.001 + 1e-3 * Math.max(...exact.map(Math.abs));
  assert.ok(gradError(loss, x, wrong).rel > TOL);
});

test('linear: dX and dW match finite differences', () => {
  const [n, inDim, outDim] = [3, 7, 5];
  const x = randomArray(n * inDim);
  const w = randomArray(outDim * inDim);
  const r = randomArray(n * outDim);
  const loss = () => weightedSum(linearForward(x, w, n, inDim, outDim), r);
  const dw = new Float64Array(w.length);
  const dx = linearBackward(r, x, w, n, inDim, outDim, dw);
  checkGrad('linear.dX', loss, x, dx);
  checkGrad('linear.dW', loss, w, dw);
});

test('embedding: scatter-add gradient, repeated ids summed', () => {
  const [V, D] = [9, 6];
  const ids = [2, 5, 2, 8, 2];
  const table = randomArray(V * D);
  const r = randomArray(ids.length * D);
  const loss = () => weightedSum(embeddingForward(table, ids, V, D), r);
  const dTable = new Float64Array(table.length);
  embeddingBackward(r, ids, D, dTable);
  checkGrad('embedding.dTable', loss, table, dTable);
  assert.throws(() => embeddingForward(table, [V], V, D), RangeError);
});

test('rmsNorm: dX and dW match finite differences', () => {
  const [n, D, eps] = [3, 11, 1e-6];
  const x = randomArray(n * D);
  const w = randomArray(D, 1.5);
  const r = randomArray(n * D);
  const loss = () => weightedSum(rmsNormForward(x, w, n, D, eps), r);
  const dw = new Float64Array(D);
  const dx = rmsNormBackward(r, x, w, n, D, eps, dw);
  checkGrad('rmsNorm.dX', loss, x, dx);
  checkGrad('rmsNorm.dW', loss, w, dw);
});

test('rope (rotate_half): backward is the inverse rotation', () => {
  const [n, heads, hd] = [3, 2, 4];
  const invFreq = Float32Array.from({ length: hd / 2 }, (_, j) => 1 / 10000 ** ((2 * j) / hd));
  for (const start of [0, 7]) {
    const x = randomArray(n * heads * hd);
    const r = randomArray(x.length);
    const loss = () => weightedSum(ropeForward(x, n, heads, hd, invFreq, start), r);
    checkGrad(`rope.dX (start ${start})`, loss, x, ropeBackward(r, n, heads, hd, invFreq, start));
    // Orthogonal: rotating forward then back is the identity.
    const back = ropeBackward(ropeForward(x, n, heads, hd, invFreq, start), n, heads, hd, invFreq, start);
    for (let i = 0; i < x.length; i++) assert.ok(Math.abs(back[i]! - x[i]!) < 1e-12);
  }
});

for (const [nHeads, nKvHeads] of [[2, 2], [4, 2], [4, 1]] as const) {
  test(`attention (causal, ${nHeads} heads / ${nKvHeads} kv heads): dQ, dK, dV match finite differences`, () => {
    const s: AttentionShape = { n: 5, nHeads, nKvHeads, headDim: 4 };
    const q = randomArray(s.n * nHeads * s.headDim, 1.5);
    const k = randomArray(s.n * nKvHeads * s.headDim, 1.5);
    const v = randomArray(s.n * nKvHeads * s.headDim);
    const r = randomArray(q.length);
    const loss = () => weightedSum(attentionForward(q, k, v, s).out, r);
    const { probs } = attentionForward(q, k, v, s);
    const { dq, dk, dv } = attentionBackward(r, q, k, v, probs, s);
    const tag = `attention ${nHeads}/${nKvHeads}`;
    checkGrad(`${tag}.dQ`, loss, q, dq);
    checkGrad(`${tag}.dK`, loss, k, dk);
    checkGrad(`${tag}.dV`, loss, v, dv);
    // Causality: the first position sees only itself, so its output is v[0] of its kv head.
    const { out } = attentionForward(q, k, v, s);
    for (let e = 0; e < s.headDim; e++) assert.ok(Math.abs(out[e]! - v[e]!) < 1e-12);
  });
}

test('swiglu: dGate and dUp match finite differences', () => {
  const gate = randomArray(12, 3);
  const up = randomArray(12, 2);
  const r = randomArray(12);
  const loss = () => weightedSum(swigluForward(gate, up), r);
  const { dGate, dUp } = swigluBackward(r, gate, up);
  checkGrad('swiglu.dGate', loss, gate, dGate);
  checkGrad('swiglu.dUp', loss, up, dUp);
});

test('crossEntropy: mean over kept positions, ignored rows get no gradient', () => {
  const [n, V] = [5, 7];
  const targets = [3, -100, 0, 6, -1];
  const logits = randomArray(n * V, 3);
  const { loss, dLogits } = crossEntropy(logits, targets, n, V);
  checkGrad('crossEntropy.dLogits', () => crossEntropy(logits, targets, n, V).loss, logits, dLogits);
  // Direct value: mean of −log softmax at the three kept rows.
  let expected = 0;
  for (const i of [0, 2, 3]) {
    const row = Array.from(logits.subarray(i * V, (i + 1) * V));
    expected += Math.log(row.reduce((s, z) => s + Math.exp(z), 0)) - row[targets[i]!]!;
  }
  assert.ok(Math.abs(loss - expected / 3) < 1e-12);
  for (const i of [1, 4]) for (let j = 0; j < V; j++) assert.equal(dLogits[i * V + j], 0);
  const none = crossEntropy(logits, [-100, -100, -100, -100, -100], n, V);
  assert.equal(none.loss, 0);
  assert.ok(none.dLogits.every((g) => g === 0));
  assert.throws(() => crossEntropy(logits, [7, 0, 0, 0, 0], n, V), RangeError);
});

/** Up to `count` distinct random indices into an array of `length`, plus any `must` ones. */
function sampleIndices(length: number, count: number, pick: () => number, must: readonly number[] = []): number[] {
  const set = new Set<number>(must.filter((i) => i < length));
  while (set.size < Math.min(length, count + must.length)) set.add(Math.floor(pick() * length));
  return [...set];
}

function checkModelGrads(label: string, model: TrainableLlama, ids: number[], targets: number[]): void {
  const { loss, grads } = model.lossAndGrads(ids, targets);
  assert.ok(Number.isFinite(loss) && loss > 0);
  assert.ok(Math.abs(loss - model.loss(ids, targets)) < 1e-12);
  const pick = seededRandom(777);
  const D = model.config.hiddenSize;
  // Entries of the embedding rows the sequence uses (the others have zero gradient).
  const usedEmbed = ids.slice(0, 4).flatMap((id) => [id * D, id * D + 3, id * D + D - 1]);
  const gradList = namedParams(grads!);
  namedParams(model.params).forEach(([name, p], i) => {
    const g = gradList[i]![1];
    const indices = sampleIndices(p.length, 20, pick, name === 'model.embed_tokens.weight' ? usedEmbed : []);
    checkGrad(`${label} ${name}`, () => model.loss(ids, targets), p, g, indices);
  });
}

const TINY = parseModelConfig(tinyConfig({
  hidden_size: 16, intermediate_size: 24, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 32, num_hidden_layers: 2,
}));

test('whole model (2 layers, hidden 16, 4 heads / 2 kv heads): every parameter gradient matches finite differences', () => {
  const model = TrainableLlama.random(TINY, { seed: 3, std: 0.3, normJitter: 0.3 });
  const ids = [5, 17, 2, 31, 17, 9, 0];
  const targets = [17, 2, -100, 17, 9, 0, 4];
  checkModelGrads('model', model, ids, targets);
});

test('LoRA on every projection (with dropout, mask replayed by seed): A and B gradients match finite differences; the base gets none', () => {
  const model = TrainableLlama.random(TINY, { seed: 5, std: 0.3, normJitter: 0.3 });
  const lora = model.addLora({ r: 2, alpha: 4, dropout: 0.25, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] }, 9);
  // B starts at zero (the model is unchanged); give it values so A's gradient is not zero too.
  for (const layer of lora.layers) for (const pair of Object.values(layer)) pair.B.set(randomArray(pair.B.length, 0.3));
  const ids = [5, 17, 2, 31, 17, 9, 0];
  const targets = [17, 2, -100, 17, 9, 0, 4];
  const lossOf = () => model.lossAndGrads(ids, targets, new Rng(77)).loss;
  const { grads, loraGrads } = model.lossAndGrads(ids, targets, new Rng(77));
  assert.equal(grads, null);
  const pick = seededRandom(778);
  lora.layers.forEach((layer, l) => {
    for (const [module, pair] of Object.entries(layer)) {
      const g = loraGrads!.layers[l]![module as keyof typeof layer]!;
      checkGrad(`model lora ${l}.${module}.A`, lossOf, pair.A as Float64Array, g.A as Float64Array, sampleIndices(pair.A.length, 10, pick));
      checkGrad(`model lora ${l}.${module}.B`, lossOf, pair.B as Float64Array, g.B as Float64Array, sampleIndices(pair.B.length, 10, pick));
    }
  });
  // Without a dropout generator (evaluation) the branch is deterministic and B = 0 gives the base model.
  const base = TrainableLlama.random(TINY, { seed: 5, std: 0.3, normJitter: 0.3 });
  const fresh = TrainableLlama.random(TINY, { seed: 5, std: 0.3, normJitter: 0.3 });
  fresh.addLora({ r: 2, alpha: 4, dropout: 0.25, targetModules: ['q_proj', 'v_proj'] });
  assert.deepEqual(fresh.forwardLogits(ids), base.forwardLogits(ids));
});

test('whole model on the real xverse-tiny checkpoint: every parameter tensor\'s gradient (sampled entries) matches finite differences', () => {
  const model = loadTrainable(fixture('xverse-tiny/safetensors'));
  checkModelGrads('model xverse-tiny', model, [2, 40, 77, 301, 5, 99, 12], [40, 77, 301, -100, 99, 12, 260]);
});

test('whole model with tied embeddings: the shared matrix gets both gradients', () => {
  const config = { ...TINY, tieWordEmbeddings: true };
  const model = TrainableLlama.random(config, { seed: 4, std: 0.3, normJitter: 0.3 });
  assert.equal(model.params.lmHead, model.params.embed);
  assert.ok(!namedParams(model.params).some(([name]) => name === 'lm_head.weight'));
  checkModelGrads('tied', model, [1, 30, 7, 7, 12], [30, 7, 7, 12, 3]);
});

test('forwardLogits equals the inference model on the xverse-tiny checkpoint', () => {
  const dir = fixture('xverse-tiny/safetensors');
  const model = loadModel(dir, { backend: 'typescript', kvCacheType: 'f32' });
  const trainable = loadTrainable(dir);
  const ids = [2, 45, 300, 7, 511, 128, 45, 9];
  const expected = model.forward(ids, model.createCache(), { allLogits: true });
  const actual = trainable.forwardLogits(ids);
  assert.equal(actual.length, expected.length);
  let maxDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < actual.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i]! - expected[i]!));
    maxAbs = Math.max(maxAbs, Math.abs(expected[i]!));
  }
  console.log(`xverse-tiny logits: max |float64 graph − inference| = ${maxDiff.toExponential(2)} (max |logit| ${maxAbs.toFixed(2)})`);
  assert.ok(maxDiff < 1e-4, `max abs logit difference ${maxDiff}`);
});
