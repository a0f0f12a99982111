import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../src/errors.js';
import { parseModelConfig } from '../../src/model/config.js';
import { contextLength, ropeInvFreq } from '../../src/model/rope.js';
import { fixture, readJson } from '../helpers/fixtures.js';
import { tinyConfig } from '../helpers/synthetic-model.js';

test('xverse-tiny config: XVERSE defaults fill the fields it lacks (MHA, theta 10000, no scaling)', () => {
  const c = parseModelConfig(readJson(fixture('xverse-tiny/safetensors/config.json')));
  assert.equal(c.modelType, 'xverse');
  assert.equal(c.numKvHeads, 4);
  assert.equal(c.headDim, 32);
  assert.equal(c.ropeTheta, 10000);
  assert.equal(c.ropeScaling, null);
  assert.equal(c.rmsNormEps, 1e-6);
  assert.equal(c.tieWordEmbeddings, false);
  assert.deepEqual(c.eosTokenIds, [3]);
  assert.equal(c.maxTokenizerTruncation, null);
});

test('llama config with GQA, rope_theta, eos list and rope_scaling', () => {
  const c = parseModelConfig(tinyConfig({
    model_type: 'llama', num_key_value_heads: 2, rope_theta: 500000, eos_token_id: [3, 7],
    rope_scaling: { type: 'dynamic', factor: 2 }, max_tokenizer_truncation: 6144,
  }));
  assert.equal(c.numKvHeads, 2);
  assert.equal(c.ropeTheta, 500000);
  assert.deepEqual(c.eosTokenIds, [3, 7]);
  assert.deepEqual(c.ropeScaling, { type: 'dynamic', factor: 2 });
  assert.equal(c.maxTokenizerTruncation, 6144);
  assert.equal(parseModelConfig(tinyConfig({ rope_scaling: { rope_type: 'linear', factor: 4 } })).ropeScaling?.type, 'linear');
});

test('bad configs are ConfigErrors naming the field', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ hidden_size: undefined }, /missing required field "hidden_size"/],
    [{ hidden_size: 'big' }, /field "hidden_size" must be an integer/],
    [{ num_attention_heads: 5 }, /hidden_size 64 is not divisible by num_attention_heads 5/],
    [{ num_key_value_heads: 3 }, /not a multiple of num_key_value_heads 3/],
    [{ model_type: 'gpt2' }, /model_type "gpt2" is not supported/],
    [{ hidden_act: 'gelu' }, /hidden_act "gelu" is not supported/],
    [{ rope_scaling: { type: 'yarn', factor: 4 } }, /rope_scaling\.type "yarn" is not supported/],
    [{ rope_scaling: { type: 'linear' } }, /rope_scaling\.factor must be a number/],
    [{ eos_token_id: [3, -1] }, /eos_token_id must be a non-negative integer/],
    [{ chat_format: 'v3' }, /chat_format must be "v1" or "v2"/],
  ];
  for (const [patch, pattern] of cases) {
    const json = tinyConfig(patch);
    for (const k of Object.keys(patch)) if (patch[k] === undefined) delete json[k];
    assert.throws(() => parseModelConfig(json, 'cfg.json'), (e: unknown) =>
      e instanceof ConfigError && e.message.startsWith('cfg.json: ') && pattern.test(e.message), String(pattern));
  }
  assert.throws(() => parseModelConfig([1, 2]), ConfigError);
});

test('RoPE frequencies: plain, linear scaling and dynamic NTK (XVERSE-13B-256K rule)', () => {
  const base = parseModelConfig(tinyConfig({ hidden_size: 512, num_attention_heads: 4, max_position_embeddings: 8192, rope_theta: 500000 }));
  const d = 128;
  const plain = ropeInvFreq(base, 100);
  assert.equal(plain.length, 64);
  assert.equal(plain[0], 1);
  assert.equal(plain[10], Math.fround(1 / 500000 ** (20 / d)));

  const linear = ropeInvFreq({ ...base, ropeScaling: { type: 'linear', factor: 4 } }, 100);
  assert.equal(linear[10], Math.fround(1 / 500000 ** (20 / d) / 4));
  assert.equal(contextLength({ ...base, ropeScaling: { type: 'linear', factor: 4 } }), 32768);

  const dynamic = { ...base, ropeScaling: { type: 'dynamic' as const, factor: 2 } };
  assert.deepEqual(ropeInvFreq(dynamic, 8192), plain, 'no change within the trained length');
  // XVERSE-13B-256K: alpha = len / (max/2) − 1 = 16384/4096 − 1 = 3, base' = base · 3^(d/(d−2)).
  const grown = 500000 * 3 ** (128 / 126);
  assert.equal(ropeInvFreq(dynamic, 16384)[10], Math.fround(1 / grown ** (20 / d)));
});

test('a deeply nested field value is a one-line ConfigError (found by test/fuzz/json.test.ts)', () => {
  const deep = JSON.parse('['.repeat(20000) + '1' + ']'.repeat(20000)) as unknown;
  for (const field of ['eos_token_id', 'hidden_size', 'rope_theta', 'model_type']) {
    assert.throws(() => parseModelConfig(tinyConfig({ [field]: deep })), (err: unknown) => {
      assert.ok(err instanceof ConfigError, `${field}: expected ConfigError, got ${String(err)}`);
      assert.match(err.message, new RegExp(`${field}.*got \\[…\\]$`));
      assert.ok(err.message.length < 300);
      return true;
    });
  }
});
