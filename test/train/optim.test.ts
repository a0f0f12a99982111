import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseModelConfig } from '../../src/model/config.js';
import { TrainableLlama, namedParams } from '../../src/train/graph.js';
import { AdamW, clipGradNorm, lrMultiplier } from '../../src/train/optim.js';

test('AdamW: the first step moves each weight by lr·sign(g) after decoupled decay (bias correction makes m̂/√v̂ = ±1)', () => {
  const p = new Float64Array([1, -2, 0.5]);
  const opt = new AdamW([p], { weightDecay: 0.1, eps: 0 });
  opt.update([new Float64Array([0.3, -4, 1e-3])], 0.01);
  const expected = [1 - 0.01 * 0.1 * 1 - 0.01, -2 + 0.01 * 0.1 * 2 + 0.01, 0.5 - 0.01 * 0.1 * 0.5 - 0.01];
  p.forEach((x, i) => assert.ok(Math.abs(x - expected[i]!) < 1e-12, `${i}: ${x} vs ${expected[i]}`));
  // Second step with the same gradient: m̂ = g, v̂ = g², so again a step of lr (plus decay).
  const before = Array.from(p);
  opt.update([new Float64Array([0.3, -4, 1e-3])], 0.01);
  p.forEach((x, i) => assert.ok(Math.abs(x - (before[i]! * (1 - 0.001) - 0.01 * Math.sign([0.3, -4, 1e-3][i]!))) < 1e-12));
});

test('clipGradNorm scales to the max norm as clip_grad_norm_ does, and leaves small gradients alone', () => {
  const g = [new Float64Array([3, 0]), new Float64Array([4])];
  assert.equal(clipGradNorm(g, 0.5), 5);
  const coef = 0.5 / (5 + 1e-6);
  assert.deepEqual([g[0]![0], g[1]![0]], [3 * coef, 4 * coef]);
  const small = [new Float64Array([0.1])];
  assert.equal(clipGradNorm(small, 0.5), 0.1);
  assert.equal(small[0]![0], 0.1);
});

test('learning-rate schedules match transformers\' with-warm-up schedules', () => {
  assert.equal(lrMultiplier('cosine', 0, 10, 110), 0);
  assert.equal(lrMultiplier('cosine', 5, 10, 110), 0.5);
  assert.equal(lrMultiplier('cosine', 10, 10, 110), 1);
  assert.ok(Math.abs(lrMultiplier('cosine', 60, 10, 110) - 0.5) < 1e-15);
  assert.ok(Math.abs(lrMultiplier('cosine', 35, 10, 110) - 0.5 * (1 + Math.cos(Math.PI / 4))) < 1e-15);
  assert.equal(lrMultiplier('cosine', 110, 10, 110), 0);
  assert.equal(lrMultiplier('linear', 60, 10, 110), 0.5);
  assert.equal(lrMultiplier('linear', 200, 10, 110), 0);
  assert.equal(lrMultiplier('constant', 60, 10, 110), 1);
});

test('a few AdamW steps on the reference graph memorize a sequence (loss falls by more than half), deterministically', () => {
  const config = parseModelConfig({
    hidden_size: 16, intermediate_size: 24, num_attention_heads: 4, num_key_value_heads: 2, num_hidden_layers: 2,
    vocab_size: 32, max_position_embeddings: 64, rms_norm_eps: 1e-6, tie_word_embeddings: false,
  }, 'test');
  const run = () => {
    const model = TrainableLlama.random(config, { seed: 7, std: 0.2 });
    const params = namedParams(model.params).map(([, p]) => p);
    const opt = new AdamW(params, { weightDecay: 0 });
    const ids = [1, 5, 9, 13, 17, 21, 25, 29];
    const targets = [...ids.slice(1), -100];
    const losses: number[] = [];
    for (let step = 0; step < 30; step++) {
      const { loss, grads } = model.lossAndGrads(ids, targets);
      losses.push(loss);
      const g = namedParams(grads!).map(([, x]) => x);
      clipGradNorm(g, 1);
      opt.update(g, 0.02 * lrMultiplier('cosine', step, 3, 30));
    }
    return losses;
  };
  const losses = run();
  assert.ok(losses.at(-1)! < losses[0]! / 2, `loss ${losses[0]} → ${losses.at(-1)}`);
  assert.deepEqual(run(), losses);
});
