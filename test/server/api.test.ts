import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { logSumExp, topLogprobs } from '../../src/generation/logprobs.js';
import { loadTinyModel, getJson, startServer, type TestServer } from './server-helpers.js';

let t: TestServer;
let tiny: Awaited<ReturnType<typeof loadTinyModel>>;
const MODEL = 'stories260K';

before(async () => {
  tiny = await loadTinyModel();
  t = await startServer({ ...tiny });
});
after(() => t.close());

async function lastPrompt(): Promise<{ prompt_ids: number[]; text: string }> {
  return (await getJson<{ prompt_ids: number[]; text: string }>(`${t.url}/debug/last-prompt`)).body;
}

test('GET /v1/models lists the served model by its folder name', async () => {
  const page = await t.client.models.list();
  assert.deepEqual(page.data.map((m) => [m.id, m.object, m.owned_by]), [[MODEL, 'model', 'xverse-ts']]);
});

test('chat: greedy non-streaming text equals the concatenated streamed deltas; usage and finish_reason length', async () => {
  const messages = [{ role: 'user' as const, content: 'Tell me a story' }];
  const full = await t.client.chat.completions.create({ model: MODEL, messages, max_tokens: 25, temperature: 0 });
  const prompt = await lastPrompt();
  assert.equal(full.object, 'chat.completion');
  assert.equal(full.choices.length, 1);
  assert.equal(full.choices[0]!.finish_reason, 'length');
  assert.equal(full.choices[0]!.message.role, 'assistant');
  assert.deepEqual(full.usage && [full.usage.prompt_tokens, full.usage.completion_tokens, full.usage.total_tokens],
    [prompt.prompt_ids.length, 25, prompt.prompt_ids.length + 25]);
  assert.equal(prompt.text, ' Human:  Tell me a story\n\n Assistant: ');
  // The same reply as the library's model.chat with the same settings.
  assert.equal(full.choices[0]!.message.content, await tiny.model.chat(tiny.tokenizer, messages, { maxNewTokens: 25, temperature: 0, doSample: false }));

  const stream = await t.client.chat.completions.create({ model: MODEL, messages, max_tokens: 25, temperature: 0, stream: true, stream_options: { include_usage: true } });
  let text = '';
  const finishes: Array<string | null> = [];
  let usage: unknown = null;
  let roles = 0;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      if (c.delta.role === 'assistant') roles++;
      text += c.delta.content ?? '';
      finishes.push(c.finish_reason);
    }
  }
  assert.equal(text, full.choices[0]!.message.content);
  assert.equal(roles, 1);
  assert.equal(finishes.at(-1), 'length');
  assert.equal(finishes.filter((f) => f !== null).length, 1);
  assert.deepEqual(usage, full.usage);
});

test('chat: sampling with a seed is reproducible, streamed or not', async () => {
  const messages = [{ role: 'user' as const, content: 'Once' }];
  const params = { model: MODEL, messages, max_tokens: 20, temperature: 0.9, top_p: 0.95, seed: 7 };
  const a = await t.client.chat.completions.create(params);
  const stream = await t.client.chat.completions.create({ ...params, stream: true });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
  assert.equal(text, a.choices[0]!.message.content);
  assert.ok(text.length > 0);
});

test('chat: content parts, tool → exec role and system message build XVERSE\'s prompt layout', async () => {
  await t.client.chat.completions.create({
    model: MODEL,
    max_tokens: 1,
    messages: [
      { role: 'system', content: 'SYS' },
      { role: 'user', content: [{ type: 'text', text: 'Hel' }, { type: 'text', text: 'lo' }] },
      { role: 'assistant', content: 'ok' },
      { role: 'tool', tool_call_id: 'call_1', content: 'RESULT' },
    ],
  });
  const { text } = await lastPrompt();
  assert.equal(text, ' Human:  SYS\n Human:  Hello\n\n Assistant:  ok\n</s>\n Exec:  RESULT\n\n Assistant: ');
});

test('chat: logprobs in OpenAI\'s content[] shape; greedy picks the top alternative', async () => {
  const res = await t.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 8, temperature: 0, logprobs: true, top_logprobs: 3 });
  const content = res.choices[0]!.logprobs!.content!;
  assert.equal(content.length, 8);
  assert.equal(content.map((e) => e.token).join(''), res.choices[0]!.message.content);
  for (const e of content) {
    assert.equal(e.top_logprobs.length, 3);
    assert.equal(e.top_logprobs[0]!.token, e.token);
    assert.equal(e.top_logprobs[0]!.logprob, e.logprob);
    assert.ok(e.logprob <= 0 && e.top_logprobs[1]!.logprob <= e.logprob);
    assert.deepEqual(e.bytes, [...Buffer.from(e.token, 'utf8')]);
  }
});

test('completions: echo + logprobs scores the prompt exactly as the model\'s all-position logits say', async () => {
  const prompt = 'Once upon a time there was';
  const res = await t.client.completions.create({ model: MODEL, prompt, max_tokens: 4, temperature: 0, echo: true, logprobs: 2 });
  const ids = tiny.tokenizer.encode(prompt);
  const lp = res.choices[0]!.logprobs!;
  assert.equal(lp.tokens!.length, ids.length + 4);
  assert.ok(res.choices[0]!.text.startsWith(prompt));

  // Direct computation: one forward over the prompt with all positions' logits, log-softmax per row.
  const V = tiny.model.config.vocabSize;
  const logits = tiny.model.model.forward(ids, tiny.model.createCache(), { allLogits: true });
  const expected: Array<number | null> = [null];
  const expectedTop: Array<Record<string, number> | null> = [null];
  for (let i = 1; i < ids.length; i++) {
    const row = logits.subarray((i - 1) * V, i * V);
    const logZ = logSumExp(row);
    expected.push(row[ids[i]!]! - logZ);
    expectedTop.push(Object.fromEntries(topLogprobs(row, 2, logZ).map((x) => [tiny.tokenizer.idToToken(x.id)!.replace(/\u2581/g, ' '), x.logprob])));
  }
  assert.deepEqual(lp.token_logprobs!.slice(0, ids.length), expected);
  assert.deepEqual(lp.top_logprobs!.slice(0, ids.length), expectedTop);
  assert.deepEqual(res.usage, { prompt_tokens: ids.length, completion_tokens: 4, total_tokens: ids.length + 4 });

  // The generated part is the same as without echo (the scoring pass's cache is reused correctly).
  const plain = await t.client.completions.create({ model: MODEL, prompt, max_tokens: 4, temperature: 0 });
  assert.equal(res.choices[0]!.text, prompt + plain.choices[0]!.text);
});

test('completions: echo with max_tokens 0 only scores the prompt', async () => {
  const res = await t.client.completions.create({ model: MODEL, prompt: 'The cat', max_tokens: 0, echo: true, logprobs: 0 });
  assert.equal(res.choices[0]!.text, 'The cat');
  assert.equal(res.choices[0]!.finish_reason, 'length');
  assert.equal(res.usage!.completion_tokens, 0);
  assert.equal(res.choices[0]!.logprobs!.tokens!.length, tiny.tokenizer.encode('The cat').length);
});

test('completions: a stop string cuts the text before it, with finish_reason stop; streaming agrees', async () => {
  const base = { model: MODEL, prompt: 'Once upon a time', max_tokens: 40, temperature: 0 } as const;
  const full = (await t.client.completions.create(base)).choices[0]!.text;
  const words = full.trim().split(/\s+/);
  const stop = ` ${words[3]}`;
  const cut = full.slice(0, full.indexOf(stop));
  const res = await t.client.completions.create({ ...base, stop: [stop, 'zzzz'] });
  assert.equal(res.choices[0]!.text, cut);
  assert.equal(res.choices[0]!.finish_reason, 'stop');
  const stream = await t.client.completions.create({ ...base, stop, stream: true });
  let text = '';
  let finish: string | null = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.text ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(text, cut);
  assert.equal(finish, 'stop');
});

test('completions: token-id prompt, and a per-request log line with token counts and outcome', async () => {
  const before = t.logs.length;
  const res = await t.client.completions.create({ model: MODEL, prompt: [1, 403, 407], max_tokens: 5, temperature: 0 });
  assert.equal(res.usage!.prompt_tokens, 3);
  const entry = t.logs.slice(before).find((e) => e.url === '/v1/completions')!;
  assert.deepEqual([entry.client, entry.status, entry.promptTokens, entry.generatedTokens, entry.outcome], ['127.0.0.1', 200, 3, 5, 'length']);
  assert.ok(entry.tokensPerSecond > 0);
});
