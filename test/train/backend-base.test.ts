import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadBackendTrainable } from '../../src/train/backend-base.js';
import { loraArrays } from '../../src/train/graph.js';
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
