import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, GenerationError } from '../../src/errors.js';
import {
  DEFAULT_GENERATION_CONFIG, isGreedy, parseGenerationConfig, resolveGenerationConfig,
} from '../../src/generation/config.js';

describe('generation config', () => {
  it('defaults follow HF (greedy, temperature 1, top_k 50, top_p 1, penalty 1)', () => {
    assert.deepEqual({ ...DEFAULT_GENERATION_CONFIG }, {
      maxNewTokens: 512, doSample: false, temperature: 1, topK: 50, topP: 1, repetitionPenalty: 1,
      eosTokenIds: [], bosTokenId: null, padTokenId: null,
    });
    assert.equal(isGreedy(DEFAULT_GENERATION_CONFIG), true);
  });

  it('parses XVERSE chat generation_config.json (spec §3.4), keeping only the fields it sets', () => {
    const json = {
      pad_token_id: 1, bos_token_id: 2, eos_token_id: 3, max_new_tokens: 2048, temperature: 0.5, top_k: 30,
      top_p: 0.85, repetition_penalty: 1.1, do_sample: true, transformers_version: '4.29.1',
    };
    assert.deepEqual(parseGenerationConfig(json), {
      padTokenId: 1, bosTokenId: 2, eosTokenIds: [3], maxNewTokens: 2048, temperature: 0.5, topK: 30,
      topP: 0.85, repetitionPenalty: 1.1, doSample: true,
    });
    assert.deepEqual(parseGenerationConfig({ eos_token_id: [3, 7], max_length: 20, top_k: null, pad_token_id: null }), {
      eosTokenIds: [3, 7], padTokenId: null,
    });
    assert.deepEqual(parseGenerationConfig({}), {});
  });

  it('rejects bad values with a ConfigError naming file and field', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ top_p: 1.5 }, 'top_p'], [{ top_p: 0 }, 'top_p'], [{ temperature: 'hot' }, 'temperature'],
      [{ temperature: -0.1 }, 'temperature'], [{ top_k: -1 }, 'top_k'], [{ top_k: 2.5 }, 'top_k'],
      [{ repetition_penalty: 0 }, 'repetition_penalty'], [{ do_sample: 'yes' }, 'do_sample'],
      [{ eos_token_id: [3, -1] }, 'eos_token_id'], [{ eos_token_id: '3' }, 'eos_token_id'],
      [{ max_new_tokens: -5 }, 'max_new_tokens'], [{ bos_token_id: 1.5 }, 'bos_token_id'],
    ];
    for (const [json, field] of cases) {
      assert.throws(() => parseGenerationConfig(json, 'models/x/generation_config.json'), (err: unknown) => {
        assert.ok(err instanceof ConfigError, `${JSON.stringify(json)} → ${String(err)}`);
        assert.match(err.message, /^models\/x\/generation_config\.json: field "/);
        assert.ok(err.message.includes(`"${field}"`), err.message);
        return true;
      });
    }
    assert.throws(() => parseGenerationConfig([1, 2], 'g.json'), /g\.json: expected a JSON object/);
  });

  it('merges defaults ← file ← call; undefined does not override', () => {
    const file = parseGenerationConfig({ temperature: 0.5, top_k: 30, do_sample: true, eos_token_id: 3 });
    const merged = resolveGenerationConfig({ eosTokenIds: [9], bosTokenId: 2 }, file, { topK: 0, temperature: undefined });
    assert.deepEqual(merged, {
      maxNewTokens: 512, doSample: true, temperature: 0.5, topK: 0, topP: 1, repetitionPenalty: 1,
      eosTokenIds: [3], bosTokenId: 2, padTokenId: null,
    });
    // The result owns its eos list.
    const ids = [1];
    const r = resolveGenerationConfig({ eosTokenIds: ids });
    ids.push(2);
    assert.deepEqual(r.eosTokenIds, [1]);
  });

  it('validates the merged options with a GenerationError naming the option', () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ temperature: -1 }, /^temperature must be a number ≥ 0/],
      [{ temperature: Number.NaN }, /^temperature/],
      [{ topP: 0 }, /^topP must be a number in \(0, 1\]/],
      [{ topP: 1.01 }, /^topP/],
      [{ topK: -1 }, /^topK must be an integer ≥ 0/],
      [{ repetitionPenalty: 0 }, /^repetitionPenalty must be a number > 0/],
      [{ maxNewTokens: 1.5 }, /^maxNewTokens must be an integer ≥ 0/],
      [{ doSample: 1 }, /^doSample must be true or false/],
      [{ eosTokenIds: [-3] }, /^eosTokenIds/],
    ];
    for (const [options, message] of bad) {
      assert.throws(() => resolveGenerationConfig(options), (err: unknown) => {
        assert.ok(err instanceof GenerationError);
        assert.match(err.message, message);
        return true;
      });
    }
    // Boundary values that are allowed.
    const ok = resolveGenerationConfig({ temperature: 0, topP: 1, topK: 0, maxNewTokens: 0, doSample: true });
    assert.equal(isGreedy(ok), true, 'temperature 0 means greedy even with doSample');
  });
});

describe('parseGenerationConfig on hostile values (found by test/fuzz/json.test.ts)', () => {
  it('a deeply nested value is a ConfigError with a short message, not a stack overflow', () => {
    const deep = JSON.parse('['.repeat(20000) + '1' + ']'.repeat(20000)) as unknown;
    for (const field of ['top_k', 'eos_token_id', 'temperature']) {
      assert.throws(() => parseGenerationConfig({ [field]: deep }), (err: unknown) => {
        assert.ok(err instanceof ConfigError, `${field}: expected ConfigError, got ${String(err)}`);
        assert.ok(err.message.includes(field) && err.message.length < 300, err.message.slice(0, 300));
        return true;
      });
    }
  });
});
