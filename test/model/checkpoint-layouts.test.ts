import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, FormatError, ResourceError } from '../../src/errors.js';
import { loadModel } from '../../src/model/load.js';
import type { XverseModel } from '../../src/model/xverse.js';
import { tempDir } from '../helpers/fixtures.js';
import { syntheticTensors, tinyConfig, writeSyntheticModel } from '../helpers/synthetic-model.js';
import { writeCheckpoint } from '../../src/formats/checkpoint.js';
import { tensorSources } from '../../src/formats/safetensors.js';
import type { Tensor } from '../../src/tensor/tensor.js';

const root = tempDir();

function greedy(model: XverseModel, prompt: number[], steps: number): { ids: number[]; firstLogits: Float32Array } {
  const cache = model.createCache();
  let logits = model.forward(prompt, cache);
  const firstLogits = Float32Array.from(logits); // forward reuses its output buffer
  const ids: number[] = [];
  for (let i = 0; i < steps; i++) {
    let best = 0;
    for (let j = 1; j < logits.length; j++) if (logits[j]! > logits[best]!) best = j;
    ids.push(best);
    logits = model.forward([best], cache);
  }
  return { ids, firstLogits };
}

test('the same weights as single and sharded safetensors in F32/F16/BF16 give identical logits and greedy ids', () => {
  const config = tinyConfig();
  const results: Array<{ label: string; ids: number[]; firstLogits: Float32Array }> = [];
  for (const dtype of ['f32', 'f16', 'bf16'] as const) {
    for (const sharded of [false, true]) {
      const dir = path.join(root, `${dtype}-${sharded ? 'sharded' : 'single'}`);
      writeSyntheticModel(dir, config, { dtype, ...(sharded ? { maxShardBytes: 40_000 } : {}) });
      const files = fs.readdirSync(dir);
      if (sharded) {
        assert.ok(files.includes('model.safetensors.index.json'));
        assert.ok(files.filter((f) => f.endsWith('.safetensors')).length >= 3, `${dtype} shards: ${files.join(', ')}`);
      } else {
        assert.ok(files.includes('model.safetensors'));
      }
      results.push({ label: `${dtype}/${sharded ? 'sharded' : 'single'}`, ...greedy(loadModel(dir), [2, 17, 42, 99], 12) });
    }
  }
  const [first, ...rest] = results;
  for (const r of rest) {
    assert.deepEqual(r.ids, first!.ids, r.label);
    assert.deepEqual([...r.firstLogits], [...first!.firstLogits], r.label);
  }
  // The weights are nontrivial: greedy output is not one repeated token.
  assert.ok(new Set(first!.ids).size > 2, `greedy ids ${first!.ids.join(',')}`);
});

test('dtype option converts on load without changing exact-representable weights', () => {
  const dir = path.join(root, 'conv');
  writeSyntheticModel(dir, tinyConfig(), { dtype: 'bf16' });
  const base = greedy(loadModel(dir), [5, 6, 7], 6);
  for (const dtype of ['f32', 'f16'] as const) {
    const model = loadModel(dir, { dtype });
    assert.equal((model.weights.layers[0]!.q as unknown as { dtype: string }).dtype, dtype);
    assert.deepEqual(greedy(model, [5, 6, 7], 6).ids, base.ids);
  }
});

test('GQA and tied heads load and run (config num_key_value_heads, tie_word_embeddings)', () => {
  const dir = path.join(root, 'gqa');
  writeSyntheticModel(dir, tinyConfig({ num_key_value_heads: 2, tie_word_embeddings: true }));
  const model = loadModel(dir);
  assert.equal(model.weights.lmHead, model.weights.embed);
  assert.equal(greedy(model, [1, 2, 3], 4).ids.length, 4);
});

test('missing tensor, wrong shape and a config missing hidden_size are one-line errors naming the problem', () => {
  const dir = path.join(root, 'broken');
  writeSyntheticModel(dir, tinyConfig());
  // The config says 3 layers; the weights have 2.
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(tinyConfig({ num_hidden_layers: 3 })));
  assert.throws(() => loadModel(dir), (e: unknown) => e instanceof FormatError && /missing tensor "model\.layers\.2\.input_layernorm\.weight"/.test(e.message));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(tinyConfig({ intermediate_size: 100 })));
  assert.throws(() => loadModel(dir), (e: unknown) =>
    e instanceof FormatError && /model\.safetensors: tensor "model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[96, 64\], the config implies \[100, 64\]/.test(e.message));
  const noHidden = tinyConfig();
  delete noHidden['hidden_size'];
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(noHidden));
  assert.throws(() => loadModel(dir), (e: unknown) => e instanceof ConfigError && /config\.json: missing required field "hidden_size"/.test(e.message));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(tinyConfig({ tie_word_embeddings: false })));
  fs.rmSync(path.join(dir, 'model.safetensors'));
  writeSyntheticModel(dir, tinyConfig({ tie_word_embeddings: true }));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(tinyConfig({ tie_word_embeddings: false })));
  assert.throws(() => loadModel(dir), (e: unknown) => e instanceof FormatError && /missing tensor "lm_head\.weight" \(set "tie_word_embeddings": true/.test(e.message));
});

test('rotary_emb.inv_freq tensors are ignored; other unknown tensors are reported', () => {
  const dir = path.join(root, 'extra');
  const config = tinyConfig();
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  const tensors = syntheticTensors(config).map(([name, shape, data]) => [name, { dtype: 'f32', shape, data }] as [string, Tensor]);
  tensors.push(['model.layers.0.self_attn.rotary_emb.inv_freq', { dtype: 'f32', shape: [8], data: new Float32Array(8) }]);
  tensors.push(['model.extra.weight', { dtype: 'f32', shape: [2], data: new Float32Array(2) }]);
  writeCheckpoint(dir, tensorSources(tensors));
  const unused: string[][] = [];
  const model = loadModel(dir, { onUnusedTensors: (n) => unused.push(n) });
  assert.equal(model.weights.layers.length, 2);
  assert.deepEqual(unused, [['model.extra.weight']]);
});

test('a model that does not fit in memory is refused before any tensor is read', () => {
  const dir = path.join(root, 'memory');
  writeSyntheticModel(dir, tinyConfig(), { dtype: 'bf16' });
  // 2 layers · (4·64² + 3·64·96) + 2·300·64 matrix elements at 2 bytes, norms at 4 bytes.
  const bytes = 2 * (2 * (4 * 64 * 64 + 3 * 64 * 96) + 2 * 300 * 64) + 4 * (2 * 2 * 64 + 64);
  assert.ok(loadModel(dir, { maxBytes: bytes }));
  assert.throws(() => loadModel(dir, { maxBytes: bytes - 1 }), (e: unknown) =>
    e instanceof ResourceError && /the weights need 0\.217 MB in memory, more than the 0\.217 MB available; load with a smaller dtype/.test(e.message));
  assert.throws(() => loadModel(dir, { maxBytes: bytes, dtype: 'f32' }), ResourceError);
});
