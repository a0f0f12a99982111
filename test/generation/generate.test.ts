import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GenerationError } from '../../src/errors.js';
import {
  generate, generateText, type GeneratedChunk, type GenerateOptions, type GenerationResult,
} from '../../src/generation/generate.js';
import { EOS, fakeTokenizer, modelConfig, oneHot, ScriptedModel, sequence, VOCAB } from './fakes.js';

const PROMPT = [2, 7, 13]; // "<s>Hello "

async function collect(
  model: ScriptedModel, prompt: readonly number[], options: GenerateOptions = {},
  onChunk?: (chunk: GeneratedChunk, index: number) => void,
): Promise<{ chunks: GeneratedChunk[]; result: GenerationResult }> {
  const run = generate(model, fakeTokenizer, prompt, options);
  const chunks: GeneratedChunk[] = [];
  for (;;) {
    const step = await run.next();
    if (step.done) return { chunks, result: step.value };
    chunks.push(step.value);
    onChunk?.(step.value, chunks.length - 1);
  }
}

const always = (id: number) => () => oneHot(id);
const close = (actual: number, expected: number): void =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${actual} ≠ ${expected}`);

describe('generate: the loop', () => {
  it('prefills the prompt in one forward call, then feeds one token per call', async () => {
    const model = new ScriptedModel(sequence([4, 5, 6, EOS]));
    const { chunks, result } = await collect(model, PROMPT);
    assert.deepEqual(model.calls, [[2, 7, 13], [4], [5], [6]]);
    assert.deepEqual(chunks, [{ id: 4, text: 'a' }, { id: 5, text: 'b' }, { id: 6, text: 'c' }, { id: EOS, text: '' }]);
    assert.deepEqual(result.ids, [4, 5, 6, EOS], 'the EOS id is reported');
    assert.equal(result.text, 'abc', 'but adds no text');
    assert.equal(result.finishReason, 'eos');
    assert.deepEqual(result.promptIds, PROMPT);
    assert.deepEqual(result.cache.tokens, [2, 7, 13, 4, 5, 6], 'the last sampled token is never fed');
  });

  it('stops after maxNewTokens with finishReason length', async () => {
    const model = new ScriptedModel(sequence([4, 5, 6, EOS]));
    const result = await generateText(model, fakeTokenizer, PROMPT, { maxNewTokens: 2 });
    assert.deepEqual([result.ids, result.text, result.finishReason], [[4, 5], 'ab', 'length']);
    assert.deepEqual(model.calls, [[2, 7, 13], [4]]);

    const none = new ScriptedModel(sequence([4]));
    const empty = await collect(none, PROMPT, { maxNewTokens: 0 });
    assert.deepEqual([empty.chunks, empty.result.ids, empty.result.text, empty.result.finishReason], [[], [], '', 'length']);
    assert.deepEqual(none.calls, []);
  });

  it('stops with length when prompt + output reach the context; rejects a longer prompt', async () => {
    const config = modelConfig({ maxPositionEmbeddings: 8 });
    const model = new ScriptedModel(always(4), config);
    const result = await generateText(model, fakeTokenizer, [2, 4, 4, 4, 4, 4], { maxNewTokens: 100 });
    assert.deepEqual([result.ids, result.finishReason], [[4, 4], 'length']);
    assert.equal(result.cache.length, 7);

    const full = new ScriptedModel(always(4), config);
    const atLimit = await generateText(full, fakeTokenizer, [2, 4, 4, 4, 4, 4, 4, 4]);
    assert.deepEqual([atLimit.ids, atLimit.finishReason, full.calls], [[], 'length', []]);

    await assert.rejects(
      generateText(full, fakeTokenizer, [2, 4, 4, 4, 4, 4, 4, 4, 4]),
      (err: unknown) => err instanceof GenerationError && /9 tokens, more than the model's context of 8/.test(err.message),
    );
  });

  it('greedy picks the first of tied maxima', async () => {
    const row = new Float32Array(VOCAB);
    row[5] = 3;
    row[4] = 3;
    const result = await generateText(new ScriptedModel(() => row), fakeTokenizer, PROMPT, { maxNewTokens: 1 });
    assert.deepEqual(result.ids, [4]);
  });

  it('takes EOS ids from options, then generation_config, then the model config, then the tokenizer', async () => {
    const run = (options: GenerateOptions, config = modelConfig()) =>
      generateText(new ScriptedModel(sequence([4, 5, EOS, 6]), config), fakeTokenizer, PROMPT, { maxNewTokens: 4, ...options });
    assert.deepEqual((await run({})).ids, [4, 5, EOS]);
    assert.deepEqual((await run({}, modelConfig({ eosTokenIds: [] }))).ids, [4, 5, EOS], 'tokenizer.eosTokenId');
    assert.deepEqual((await run({ generationConfig: { eosTokenIds: [5] } })).ids, [4, 5]);
    assert.deepEqual((await run({ generationConfig: { eosTokenIds: [5] }, eosTokenIds: [6] })).ids, [4, 5, EOS, 6]);
    assert.equal((await run({ eosTokenIds: [] })).finishReason, 'length');
    // An option left undefined does not override generation_config.
    const layered = await run({ generationConfig: { maxNewTokens: 1 }, maxNewTokens: undefined });
    assert.deepEqual([layered.ids, layered.config.maxNewTokens], [[4], 1]);
  });

  it('drops special tokens from the text by default', async () => {
    const ids = [4, 14, 5, EOS];
    assert.equal((await generateText(new ScriptedModel(sequence(ids)), fakeTokenizer, PROMPT)).text, 'ab');
    const raw = await generateText(new ScriptedModel(sequence(ids)), fakeTokenizer, PROMPT, { skipSpecialTokens: false });
    assert.equal(raw.text, 'a<|sep|>b');
  });

  it('rejects bad options and prompts with GenerationError', async () => {
    const model = new ScriptedModel(always(EOS));
    const bad: Array<[readonly number[], GenerateOptions, RegExp]> = [
      [PROMPT, { temperature: -1 }, /^temperature/],
      [PROMPT, { topP: 0 }, /^topP/],
      [PROMPT, { topLogprobs: 1.5 }, /^topLogprobs/],
      [PROMPT, { stop: [''] }, /stop strings/],
      [PROMPT, { seed: 0.5 }, /^seed/],
      [[], {}, /prompt is empty/],
      [[2, VOCAB], {}, /outside the vocabulary/],
    ];
    for (const [prompt, options, message] of bad) {
      await assert.rejects(generateText(model, fakeTokenizer, prompt, options), (err: unknown) => {
        assert.ok(err instanceof GenerationError, String(err));
        assert.match(err.message, message);
        return true;
      });
    }
    assert.deepEqual(model.calls, []);
  });
});

describe('generate: stop strings', () => {
  const STOP = ['\nHuman:'];

  it('ends before a stop string spanning two tokens and never streams part of it', async () => {
    const model = new ScriptedModel(sequence([7, 8, 9, 10])); // "Hello" "\nHu" "man:" "more"
    const { chunks, result } = await collect(model, PROMPT, { stop: STOP });
    assert.deepEqual(chunks.map((c) => c.text), ['Hello', '', '']);
    assert.deepEqual([result.ids, result.text, result.finishReason], [[7, 8, 9], 'Hello', 'stop']);
    assert.equal(model.calls.length, 3);
  });

  it('releases held-back text once it cannot start a stop string, or when generation ends', async () => {
    const released = await collect(new ScriptedModel(sequence([4, 11, 12, EOS])), PROMPT, { stop: STOP });
    assert.deepEqual(released.chunks.map((c) => c.text), ['a', '', '\nHi', '']);
    assert.deepEqual([released.result.text, released.result.finishReason], ['a\nHi', 'eos']);

    const atEos = await collect(new ScriptedModel(sequence([4, 11, EOS])), PROMPT, { stop: STOP });
    assert.deepEqual(atEos.chunks.map((c) => c.text), ['a', '', '\nH']);
    assert.equal(atEos.result.text, 'a\nH');

    const atLength = await collect(new ScriptedModel(sequence([4, 11, 12])), PROMPT, { stop: STOP, maxNewTokens: 2 });
    assert.deepEqual(atLength.chunks.map((c) => c.text), ['a', '\nH']);
    assert.deepEqual([atLength.result.text, atLength.result.finishReason], ['a\nH', 'length']);
  });
});

describe('generate: abort', () => {
  it('stops within one token when the signal fires mid-stream, without throwing', async () => {
    const controller = new AbortController();
    const model = new ScriptedModel(always(4));
    const { chunks, result } = await collect(model, PROMPT, { signal: controller.signal, maxNewTokens: 50 }, (_c, i) => {
      if (i === 1) controller.abort();
    });
    assert.deepEqual(chunks, [{ id: 4, text: 'a' }, { id: 4, text: 'a' }]);
    assert.deepEqual([result.ids, result.text, result.finishReason], [[4, 4], 'aa', 'abort']);
    assert.deepEqual(model.calls, [PROMPT, [4]], 'no forward call after the abort');
  });

  it('an already-aborted signal yields nothing and runs no forward call', async () => {
    const model = new ScriptedModel(always(4));
    const { chunks, result } = await collect(model, PROMPT, { signal: AbortSignal.abort() });
    assert.deepEqual([chunks, result.ids, result.text, result.finishReason], [[], [], '', 'abort']);
    assert.deepEqual(model.calls, []);
    assert.equal(result.stats.timeToFirstTokenMs, null);
  });

  it('yields to the event loop between tokens, so a timer can abort a long run', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    // Without the yield the timer could not fire before all 200 000 tokens were done ('length').
    const model = new ScriptedModel(always(4), modelConfig({ maxPositionEmbeddings: 1_000_000 }));
    const result = await generateText(model, fakeTokenizer, PROMPT, { signal: controller.signal, maxNewTokens: 200_000 });
    assert.equal(result.finishReason, 'abort');
    assert.ok(result.ids.length > 0 && result.ids.length < 200_000);
  });

  it('drops text still held back for a stop string, so the result matches what was streamed', async () => {
    const controller = new AbortController();
    const { chunks, result } = await collect(
      new ScriptedModel(sequence([4, 11, 12])), PROMPT, { signal: controller.signal, stop: ['\nHuman:'] },
      (_c, i) => { if (i === 1) controller.abort(); },
    );
    assert.deepEqual(chunks.map((c) => c.text), ['a', '']);
    assert.deepEqual([result.ids, result.text], [[4, 11], 'a']);
  });
});

describe('generate: KV cache reuse', () => {
  it('keeps the common prefix and prefills only the new suffix', async () => {
    const model = new ScriptedModel(always(EOS));
    const cache = model.createCache();
    model.forward([2, 7, 13, 4], cache);
    model.calls.length = 0;

    const first = await generateText(model, fakeTokenizer, [2, 7, 13, 5, 6], { cache });
    assert.deepEqual(model.calls, [[5, 6]]);
    assert.equal(first.cache, cache);
    assert.deepEqual([first.stats.cachedTokens, first.stats.prefillTokens, first.stats.promptTokens], [3, 2, 5]);
    assert.deepEqual(cache.tokens, [2, 7, 13, 5, 6]);

    // The whole prompt is cached: one token is dropped and re-fed to get logits.
    model.calls.length = 0;
    const again = await generateText(model, fakeTokenizer, [2, 7, 13, 5, 6], { cache });
    assert.deepEqual(model.calls, [[6]]);
    assert.equal(again.stats.cachedTokens, 4);

    // A prompt shorter than the cache.
    model.calls.length = 0;
    await generateText(model, fakeTokenizer, [2, 7], { cache });
    assert.deepEqual([model.calls, cache.tokens], [[[7]], [2, 7]]);

    // Nothing in common.
    model.calls.length = 0;
    const fresh = await generateText(model, fakeTokenizer, [4, 5], { cache });
    assert.deepEqual([model.calls, fresh.stats.cachedTokens], [[[4, 5]], 0]);
  });

  it('without a cache, returns the fresh one it filled', async () => {
    const model = new ScriptedModel(sequence([4, 5, EOS]));
    const result = await generateText(model, fakeTokenizer, PROMPT);
    assert.deepEqual(result.cache.tokens, [...PROMPT, 4, 5]);
    model.calls.length = 0;
    await generateText(model, fakeTokenizer, [...PROMPT, 4, 5, 6], { cache: result.cache, maxNewTokens: 1 });
    assert.deepEqual(model.calls, [[6]]);
  });
});

describe('generate: sampling and logprobs', () => {
  it('same seed → same ids; different seeds → different ids', async () => {
    const run = async (seed?: number): Promise<number[]> => {
      const model = new ScriptedModel(() => new Float32Array(VOCAB)); // uniform over 16 tokens
      const options: GenerateOptions = { doSample: true, topK: 0, eosTokenIds: [], maxNewTokens: 24, seed };
      return (await generateText(model, fakeTokenizer, PROMPT, options)).ids;
    };
    assert.deepEqual(await run(7), await run(7));
    assert.notDeepEqual(await run(7), await run(8)); // equal by chance with probability 16^-24
    assert.notDeepEqual(await run(), await run());
  });

  it('reports logprobs from the raw logits, before any processor', async () => {
    const row = new Float32Array(VOCAB);
    row[4] = 2;
    row[5] = 1.5;
    const model = new ScriptedModel((call) => (call === 0 ? row : oneHot(EOS)));
    // The prompt holds id 4, so the repetition penalty halves its logit (2 → 1) and greedy picks 5.
    const { chunks } = await collect(model, [2, 4], { repetitionPenalty: 2, topLogprobs: 2 });
    assert.deepEqual(chunks.map((c) => c.id), [5, EOS]);
    const logZ = Math.log(Math.exp(2) + Math.exp(1.5) + 14);
    close(chunks[0]!.logprob!, 1.5 - logZ);
    assert.deepEqual(chunks[0]!.topLogprobs!.map((t) => t.id), [4, 5]);
    close(chunks[0]!.topLogprobs![0]!.logprob, 2 - logZ);
    close(chunks[0]!.topLogprobs![1]!.logprob, 1.5 - logZ);
    close(chunks[1]!.logprob!, 10 - Math.log(Math.exp(10) + 15));

    const bare = await collect(new ScriptedModel(sequence([4, EOS])), PROMPT, { topLogprobs: 0 });
    assert.deepEqual(bare.chunks[0]!.topLogprobs, []);
    close(bare.chunks[0]!.logprob!, 10 - Math.log(Math.exp(10) + 15));
    const none = await collect(new ScriptedModel(sequence([4, EOS])), PROMPT);
    assert.equal('logprob' in none.chunks[0]!, false);
    assert.equal('topLogprobs' in none.chunks[0]!, false);
  });
});

describe('generate: stats', () => {
  it('reports consistent counts, times and rates', async () => {
    const model = new ScriptedModel(sequence([4, 5, 6, EOS]), modelConfig(), 2);
    const { stats, ids } = await generateText(model, fakeTokenizer, PROMPT);
    assert.equal(stats.promptTokens, 3);
    assert.equal(stats.cachedTokens + stats.prefillTokens, stats.promptTokens);
    assert.equal(stats.generatedTokens, ids.length);
    assert.ok(stats.prefillMs >= 2, `prefillMs ${stats.prefillMs}`);
    assert.ok(stats.decodeMs >= 3 * 2, `decodeMs ${stats.decodeMs}`); // three decode forward calls
    const rel = (a: number, b: number) => assert.ok(Math.abs(a - b) <= 1e-9 * Math.abs(b), `${a} ≠ ${b}`);
    rel(stats.prefillTokensPerSecond, (stats.prefillTokens * 1000) / stats.prefillMs);
    rel(stats.decodeTokensPerSecond, ((stats.generatedTokens - 1) * 1000) / stats.decodeMs);
    assert.ok(stats.timeToFirstTokenMs !== null && stats.timeToFirstTokenMs >= stats.prefillMs);
    assert.ok(stats.totalMs >= stats.timeToFirstTokenMs + stats.decodeMs - 1e-6);
  });
});
