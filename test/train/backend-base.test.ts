import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createBackend } from '../../src/backend/select.js';
import { BackendProducts, loadBackendFullTrainable, loadBackendTrainable } from '../../src/train/backend-base.js';
import { loraArrays, namedParams, TrainableLlama } from '../../src/train/graph.js';
import { loadTrainable } from '../../src/train/trainer.js';
import { fixture } from '../helpers/fixtures.js';
import { skipNative } from '../helpers/native.js';
import { Rng } from '../../src/generation/rng.js';

const TINY = fixture('xverse-tiny/safetensors');
const LORA = { r: 4, alpha: 8, dropout: 0.1, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const };
const ids = [2, 40, 77, 301, 5, 99, 12, 260, 287];
const targets = [40, 77, 301, 5, 99, 12, 260, 287, -100];

/** max |a − b| / max |b| over every array. */
function relError(a: readonly Float64Array[], b: readonly Float64Array[]): number {
  let diff = 0;
  let mag = 1e-12;
  a.forEach((x, i) => x.forEach((v, j) => { diff = Math.max(diff, Math.abs(v - b[i]![j]!)); mag = Math.max(mag, Math.abs(b[i]![j]!)); }));
  return diff / mag;
}

for (const backend of ['typescript', 'native'] as const) {
  test(`LoRA over a frozen ${backend}-backend base: loss and adapter gradients equal the float64 reference graph's (f32 products: within 1e-4)`, { skip: backend === 'native' && skipNative }, () => {
    const reference = loadTrainable(TINY);
    const fast = loadBackendTrainable(TINY, { backend });
    for (const m of [reference, fast]) {
      const lora = m.addLora({ ...LORA, targetModules: [...LORA.targetModules] }, 3);
      // Non-zero B so that A's gradient is not zero.
      const rng = new Rng(8);
      for (const layer of lora.layers) for (const pair of Object.values(layer)) for (let i = 0; i < pair.B.length; i++) pair.B[i] = (rng.nextFloat() - 0.5) * 0.2;
    }
    const a = reference.lossAndGrads(ids, targets, new Rng(5));
    const b = fast.lossAndGrads(ids, targets, new Rng(5));
    assert.ok(Math.abs(a.loss - b.loss) / a.loss < 1e-5, `loss ${a.loss} vs ${b.loss}`);
    const err = relError(loraArrays(b.loraGrads!), loraArrays(a.loraGrads!));
    assert.ok(err < 1e-4, `gradient relative error ${err}`);
    assert.equal(b.grads, null);
    assert.throws(() => loadBackendTrainable(TINY, { backend }).lossAndGrads(ids, targets), /trains LoRA adapters only/);
  });
}

for (const backend of ['typescript', 'native'] as const) {
  test(`full fine-tuning with ${backend}-backend products: loss and every weight gradient equal the float64 graph's (f32: within 1e-4); bf16 compute stays close`, { skip: backend === 'native' && skipNative }, () => {
    const reference = loadTrainable(TINY).lossAndGrads(ids, targets);
    const f32 = loadBackendFullTrainable(TINY, { backend }).lossAndGrads(ids, targets);
    assert.ok(Math.abs(f32.loss - reference.loss) / reference.loss < 1e-5, `loss ${f32.loss} vs ${reference.loss}`);
    const err = relError(namedParams(f32.grads!).map(([, g]) => g), namedParams(reference.grads!).map(([, g]) => g));
    assert.ok(err < 1e-4, `gradient relative error ${err}`);
    // bf16 compute: the checkpoint's weights are bf16 already, so after an update they are not —
    // jitter them to see the rounding, which must stay small.
    const dense = loadTrainable(TINY);
    const rng = new Rng(4);
    for (const [, p] of namedParams(dense.params)) for (let i = 0; i < p.length; i++) p[i]! *= 1 + (rng.nextFloat() - 0.5) * 1e-2;
    const exact = dense.lossAndGrads(ids, targets);
    const products = new BackendProducts(createBackend({ backend }), dense.config, dense.params, 'bf16');
    const bf16 = new TrainableLlama(dense.config, dense.params, products).lossAndGrads(ids, targets);
    assert.ok(Math.abs(bf16.loss - exact.loss) / exact.loss < 1e-2, `bf16 loss ${bf16.loss} vs ${exact.loss}`);
    const bfErr = relError(namedParams(bf16.grads!).map(([, g]) => g), namedParams(exact.grads!).map(([, g]) => g));
    assert.ok(bfErr < 0.05 && bfErr > 1e-5, `bf16 gradient relative error ${bfErr}`);
  });
}
