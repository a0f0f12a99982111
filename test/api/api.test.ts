import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { AutoModelForCausalLM, AutoTokenizer } from '../../src/index.js';
import { buildChatInputV2 } from '../../src/chat/prompt-v2.js';
import { fixture, readJson, REPO_ROOT } from '../helpers/fixtures.js';

const TINY = fixture('xverse-tiny/safetensors');
const stories = readJson<{ runs: Array<{ published_stdout_without_final_newline: string }>; logits: { tokens_in: number[] } }>(
  fixture('stories260K/reference/stories260K_reference.json'));

test('HF-layout stories260K (fixture copy): greedy from BOS gives llama2.c\'s 200 tokens and text', async () => {
  const model = await AutoModelForCausalLM.fromPretrained(fixture('stories260K/hf'));
  const tokenizer = await AutoTokenizer.fromPretrained(fixture('stories260K/tok512.bin'));
  const result = await model.generate(tokenizer, [1], { doSample: false, maxNewTokens: 200 });
  assert.deepEqual(result.ids, stories.logits.tokens_in.slice(1, 201));
  assert.equal(result.text, stories.runs[0]!.published_stdout_without_final_newline);
  assert.equal(result.finishReason, 'length');
});

test('default model: fromPretrained() with no path loads the embedded stories260K and its tokenizer', async () => {
  const model = await AutoModelForCausalLM.fromPretrained();
  const tokenizer = await AutoTokenizer.fromPretrained();
  assert.equal(model.path, path.join(REPO_ROOT, 'models/stories260K'));
  assert.equal(tokenizer.kind, 'llama2c');
  assert.deepEqual(model.generationConfig.eosTokenIds, [2, 1]);
  const a = await model.generate(tokenizer, 'Once upon a time', { seed: 42, maxNewTokens: 40 });
  const b = await model.generate(tokenizer, 'Once upon a time', { seed: 42, maxNewTokens: 40 });
  assert.equal(a.text, b.text, 'same seed, same text');
  assert.deepEqual(a.promptIds, tokenizer.encode('Once upon a time'));
  assert.equal(a.promptIds[0], 1, 'llama2.c tokenizer prepends BOS');
});

test('generationConfig comes from generation_config.json (XVERSE chat defaults)', async () => {
  const model = await AutoModelForCausalLM.fromPretrained(TINY);
  const g = model.generationConfig;
  assert.deepEqual(
    [g.doSample, g.temperature, g.topK, g.topP, g.repetitionPenalty, g.maxNewTokens, g.eosTokenIds, g.bosTokenId, g.padTokenId],
    [true, 0.5, 30, 0.85, 1.1, 2048, [3], 2, 1]);
  assert.equal(model.chatFormat, 'v2');
  assert.equal((await AutoModelForCausalLM.fromPretrained(TINY, { chatFormat: 'v1' })).chatFormat, 'v1');
});

test('model.chat: v2 prompt layout, streamed deltas equal the whole reply, multi-turn, no EOS text', async () => {
  const model = await AutoModelForCausalLM.fromPretrained(TINY, { dtype: 'float32' });
  const tokenizer = await AutoTokenizer.fromPretrained(TINY);
  const history = [{ role: 'user' as const, content: 'hello world' }];
  const opts = { doSample: false, maxNewTokens: 12 };
  assert.deepEqual(model.buildChatInput(tokenizer, history, opts),
    buildChatInputV2(tokenizer, history, { maxPositionEmbeddings: 2048, maxNewTokens: 12, maxTokenizerTruncation: null, eosTokenId: 3 }));
  const reply = await model.chat(tokenizer, history, opts);
  assert.equal(typeof reply, 'string');
  let streamed = '';
  const stream = model.chat(tokenizer, history, { ...opts, stream: true });
  for await (const delta of stream) streamed += delta;
  assert.equal(streamed, reply);
  assert.ok(!reply.includes('<|endoftext|>'));

  const turn2 = [...history, { role: 'assistant' as const, content: reply }, { role: 'user' as const, content: 'the hello' }];
  const second = await model.chat(tokenizer, turn2, opts);
  assert.equal(typeof second, 'string');
  // Seeded sampling with the file's defaults is reproducible.
  const s1 = await model.chat(tokenizer, turn2, { seed: 3, maxNewTokens: 10 });
  const s2 = await model.chat(tokenizer, turn2, { seed: 3, maxNewTokens: 10 });
  assert.equal(s1, s2);
});

test('chat with a cache reuses the previous turn\'s prefix', async () => {
  const model = await AutoModelForCausalLM.fromPretrained(TINY);
  const tokenizer = await AutoTokenizer.fromPretrained(TINY);
  const cache = model.createCache();
  const first = [{ role: 'user' as const, content: 'hello world' }];
  const run1 = model.chat(tokenizer, first, { doSample: false, maxNewTokens: 6, cache, stream: true });
  let r1 = await run1.next();
  while (!r1.done) r1 = await run1.next();
  const turn2 = [...first, { role: 'assistant' as const, content: r1.value.text }, { role: 'user' as const, content: 'the' }];
  const run2 = model.chat(tokenizer, turn2, { doSample: false, maxNewTokens: 6, cache, stream: true });
  let r2 = await run2.next();
  while (!r2.done) r2 = await run2.next();
  assert.ok(r2.value.stats.cachedTokens >= r1.value.promptIds.length, `cached ${r2.value.stats.cachedTokens}`);
  // Same reply as without the cache.
  const fresh = await model.chat(tokenizer, turn2, { doSample: false, maxNewTokens: 6 });
  assert.equal(r2.value.text, fresh);
});
