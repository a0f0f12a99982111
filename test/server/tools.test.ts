import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type OpenAI from 'openai';
import { TsBackend } from '../../src/index.js';
import type { CausalLM } from '../../src/model/causal-lm.js';
import { KVCache } from '../../src/model/kv-cache.js';
import type { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { getJson, loadTinyModel, startServer, type TestServer } from './server-helpers.js';

const CALL_TEXT = 'Let me check.\n<|startofthink|>```JSON\n{"api_name": "get_weather", "parameters": {"city": "Paris"}}\n```<|endofthink|>';
const ANSWER_TEXT = 'It is sunny in Paris.';
/** stories260K's llama2.c tokenizer decodes a reply's first piece with its SentencePiece space (model.chat does the same). */
const LEAD = ' ';

/**
 * How the tiny model is steered: stories260K knows nothing of tools, so the server is given a
 * scripted CausalLM with the tiny model's vocabulary (and so its tokenizer) whose logits make one
 * scripted token overwhelmingly the most likely at each step. With temperature 0 the sampler must
 * pick exactly the script: the tool call while the prompt holds no tool result, the final answer
 * once it holds an `Exec:` turn. Its context is 4096 (stories260K has 512), because XVERSE's
 * Chinese plugin prompt alone is ~730 tokens in a 512-token vocabulary; its cache only records
 * ids, which is all generate() reads. Everything between — the tools prompt, prompt building,
 * parsing the markers, OpenAI's tool_calls shape, streaming — is the real code.
 */
function scriptedModel(real: CausalLM, tokenizer: Tokenizer): CausalLM {
  const config = { ...real.config, maxPositionEmbeddings: 4096 };
  const scriptFor = (promptIds: ArrayLike<number>): number[] => {
    const prompt = tokenizer.decode(Array.from(promptIds), { skipSpecialTokens: false });
    const text = prompt.includes('Exec:') ? ANSWER_TEXT : CALL_TEXT;
    return [...tokenizer.encode(text, { addSpecialTokens: false }), tokenizer.eosTokenId!];
  };
  const backend = new TsBackend();
  const state = new WeakMap<KVCache, { script: number[]; step: number }>();
  return {
    config,
    createCache: () => new KVCache(backend, { numLayers: 1, kvDim: 1, maxLength: config.maxPositionEmbeddings }),
    forward(ids, cache) {
      if (cache.length === 0) state.set(cache, { script: scriptFor(ids), step: 0 });
      cache.reserve(ids.length);
      cache.commit(ids);
      const s = state.get(cache)!;
      const logits = new Float32Array(config.vocabSize).fill(-50);
      logits[s.script[Math.min(s.step++, s.script.length - 1)]!] = 0;
      return logits;
    },
  };
}

let t: TestServer;
before(async () => {
  const tiny = await loadTinyModel();
  const model = { path: tiny.model.path, generationConfig: tiny.model.generationConfig, chatFormat: 'v2' as const, model: scriptedModel(tiny.model.model, tiny.tokenizer) };
  t = await startServer({ model, tokenizer: tiny.tokenizer });
});
after(() => t.close());

const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [{
  type: 'function',
  function: { name: 'get_weather', description: 'Weather of a city', parameters: { type: 'object', properties: { city: { type: 'string', description: 'city name' } }, required: ['city'] } },
}];
const question: OpenAI.Chat.Completions.ChatCompletionMessageParam = { role: 'user', content: 'Weather in Paris?' };

test('tools: a tool call comes out as tool_calls with finish_reason tool_calls; the tools prompt is in the system turn', async () => {
  const res = await t.client.chat.completions.create({ model: 'stories260K', messages: [question], tools, temperature: 0 });
  const choice = res.choices[0]!;
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.content, `${LEAD}Let me check.\n`);
  assert.equal(choice.message.tool_calls!.length, 1);
  const call = choice.message.tool_calls![0]!;
  assert.equal(call.type, 'function');
  assert.match(call.id, /^call_[0-9a-f]{12}_0$/);
  assert.deepEqual(call.type === 'function' && [call.function.name, call.function.arguments], ['get_weather', '{"city":"Paris"}']);
  const { text } = (await getJson<{ text: string }>(`${t.url}/debug/last-prompt`)).body;
  assert.ok(text.startsWith(' Human: '), text);
  assert.ok(text.includes('1. {"name": "get_weather", "description": "Weather of a city", "parameters": [{"name": "city", "description": "city name", "required": true}]}'), text);
  assert.ok(text.endsWith(' Human:  Weather in Paris?\n\n Assistant: '), text);
});

test('tools: streamed, the call arrives as a tool_calls delta and the markers never reach content', async () => {
  const stream = await t.client.chat.completions.create({ model: 'stories260K', messages: [question], tools, temperature: 0, stream: true });
  let content = '';
  const calls: Array<{ index: number; id?: string; name?: string; arguments?: string }> = [];
  let finish: string | null = null;
  for await (const chunk of stream) {
    const c = chunk.choices[0];
    if (!c) continue;
    content += c.delta.content ?? '';
    for (const d of c.delta.tool_calls ?? []) calls.push({ index: d.index, id: d.id, name: d.function?.name, arguments: d.function?.arguments });
    finish = c.finish_reason ?? finish;
  }
  assert.equal(content, `${LEAD}Let me check.\n`);
  assert.equal(finish, 'tool_calls');
  assert.deepEqual(calls.map((c) => [c.index, c.name, c.arguments]), [[0, 'get_weather', '{"city":"Paris"}']]);
});

test('tools: round trip — the assistant call and a role "tool" result go back in; the final answer stops normally', async () => {
  const first = await t.client.chat.completions.create({ model: 'stories260K', messages: [question], tools, temperature: 0 });
  const call = first.choices[0]!.message.tool_calls![0]!;
  const res = await t.client.chat.completions.create({
    model: 'stories260K',
    tools,
    temperature: 0,
    messages: [
      question,
      { role: 'assistant', content: first.choices[0]!.message.content, tool_calls: first.choices[0]!.message.tool_calls! },
      { role: 'tool', tool_call_id: call.id, content: '{"weather": "sunny"}' },
    ],
  });
  assert.equal(res.choices[0]!.finish_reason, 'stop');
  assert.equal(res.choices[0]!.message.content, LEAD + ANSWER_TEXT);
  assert.equal(res.choices[0]!.message.tool_calls, undefined);
  const { text } = (await getJson<{ text: string }>(`${t.url}/debug/last-prompt`)).body;
  // The call is written back the way XVERSE writes it, then the result as an Exec turn (spec §5.1).
  assert.ok(text.endsWith(' Human:  Weather in Paris?\n\n Assistant:   Let me check.\n<|startofthink|>```JSON\n{"api_name":"get_weather","parameters":{"city":"Paris"}}\n```<|endofthink|>\n</s>\n Exec:  {"weather": "sunny"}\n\n Assistant: '), text);
});

test('tools: tool_choice other than auto/none and malformed tools are 400s naming the field', async () => {
  const bad = async (body: object, param: string) => {
    const res = await fetch(`${t.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'stories260K', messages: [question], ...body }) });
    const json = (await res.json()) as { error: { param: string } };
    assert.equal(res.status, 400);
    assert.equal(json.error.param, param);
  };
  await bad({ tools, tool_choice: 'required' }, 'tool_choice');
  await bad({ tools: [{ type: 'function', function: { name: 'bad name!' } }] }, 'tools[0].function');
  await bad({ tools: [{ type: 'retrieval' }] }, 'tools[0]');
  await bad({ messages: [question, { role: 'assistant', content: null, tool_calls: [{ id: 'x', type: 'function', function: { name: 'f', arguments: '{oops' } }] }, { role: 'tool', content: 'r' }] }, 'messages[1].tool_calls[0].function.arguments');
});
