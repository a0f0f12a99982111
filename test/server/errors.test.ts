import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { getJson, loadTinyModel, postJson, startServer, type ErrorBody, type TestServer } from './server-helpers.js';

const MODEL = 'stories260K';
const KEY = 'sk-test-123';
let t: TestServer;

before(async () => {
  const tiny = await loadTinyModel();
  t = await startServer({ ...tiny, apiKey: KEY, bodyLimit: 8192 });
});
after(() => t.close());

const auth = { authorization: `Bearer ${KEY}` };
const chat = (body: object | string) => postJson<ErrorBody>(`${t.url}/v1/chat/completions`, body, auth);
const ok = { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 };

/** After every bad request the server must still answer a good one. */
async function stillServing(): Promise<void> {
  const res = await chat(ok);
  assert.equal(res.status, 200);
}

function assertError(res: { status: number; body: ErrorBody }, status: number, param: string | null, messageStart: string, type = 'invalid_request_error'): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.deepEqual(Object.keys(res.body.error).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(res.body.error.type, type);
  assert.equal(res.body.error.param, param);
  assert.ok(res.body.error.message.startsWith(messageStart), res.body.error.message);
}

test('malformed JSON → 400 in OpenAI\'s error shape', async () => {
  assertError(await chat('{"model": "stories260K", "messages": ['), 400, null, 'Body is not valid JSON');
  await stillServing();
});

test('wrong types and missing fields → 400 naming the field (no type coercion)', async () => {
  assertError(await chat({ ...ok, max_tokens: '5' }), 400, 'max_tokens', 'max_tokens: must be integer or must be null');
  assertError(await chat({ ...ok, temperature: 3 }), 400, 'temperature', 'temperature: must be <= 2');
  assertError(await chat({ model: MODEL }), 400, 'messages', 'messages: is required');
  assertError(await postJson<ErrorBody>(`${t.url}/v1/completions`, { model: MODEL }, auth), 400, 'prompt', 'prompt: is required');
  assertError(await chat({ ...ok, messages: [{ role: 'robot', content: 'x' }] }), 400, 'messages[0].role', 'messages[0].role: must be one of');
  assertError(await chat({ ...ok, messages: [{ role: 'user', content: 5 }] }), 400, 'messages[0].content', 'messages[0].content: must be string or must be array or must be null');
  assertError(await chat({ ...ok, messages: [{ role: 'assistant', content: 'x' }] }), 400, 'messages', 'messages: messages[0]: the last message must be a user or exec message');
  assertError(await chat({ ...ok, n: 2 }), 400, 'n', 'n: only n = 1 is supported');
  assertError(await chat({ ...ok, top_logprobs: 2 }), 400, 'top_logprobs', 'top_logprobs: needs "logprobs": true');
  assertError(await chat({ ...ok, tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: 'required' }), 400, 'tool_choice', 'tool_choice: only "auto" and "none" are supported');
  await stillServing();
});

test('per-request limits: max_tokens beyond the context, prompt ids outside the vocabulary', async () => {
  assertError(await chat({ ...ok, max_tokens: 100_000 }), 400, 'max_tokens', 'max_tokens: 100000 tokens requested, but the prompt has');
  assertError(await chat({ ...ok, max_tokens: null, max_completion_tokens: 600 }), 400, 'max_completion_tokens', 'max_completion_tokens: 600 tokens requested');
  const long = await postJson<ErrorBody>(`${t.url}/v1/completions`, { model: MODEL, prompt: new Array(512).fill(5) }, auth);
  assertError(long, 400, 'prompt', 'prompt: the prompt has 512 tokens; the model\'s context is 512 tokens');
  const vocab = await postJson<ErrorBody>(`${t.url}/v1/completions`, { model: MODEL, prompt: [1, 9999] }, auth);
  assertError(vocab, 400, 'prompt[1]', 'prompt[1]: token id 9999 is outside the vocabulary');
  // XVERSE's Chinese plugin prompt does not fit stories260K's 512-token context: refused, not silently dropped.
  const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: {} } } }];
  assertError(await postJson<ErrorBody>(`${t.url}/v1/chat/completions`, { ...ok, max_tokens: 1, tools }, auth), 400, 'tools', 'tools: the tools prompt (');
  await stillServing();
});

test('oversized body → 413', async () => {
  const res = await chat({ ...ok, messages: [{ role: 'user', content: 'x'.repeat(9000) }] });
  assertError(res, 413, null, 'the request body is larger than the limit of 8192 bytes');
  await stillServing();
});

test('unknown model and unknown route → 404; the openai client sees NotFoundError', async () => {
  assertError(await chat({ ...ok, model: 'gpt-4' }), 404, 'model', 'The model \'gpt-4\' does not exist', 'not_found_error');
  const route = await getJson<ErrorBody>(`${t.url}/v1/nope`, { headers: auth });
  assertError(route, 404, null, 'Invalid URL (GET /v1/nope)', 'not_found_error');
  await assert.rejects(t.client.chat.completions.create({ model: 'gpt-4', messages: [{ role: 'user', content: 'x' }] }), (err: unknown) => {
    assert.ok(err instanceof OpenAI.NotFoundError);
    assert.equal(err.status, 404);
    assert.equal(err.code, 'model_not_found');
    return true;
  });
  await stillServing();
});

test('API key: missing or wrong → 401 on /v1/*; the web page itself needs none', async () => {
  assertError(await postJson<ErrorBody>(`${t.url}/v1/chat/completions`, ok), 401, null, 'Missing API key', 'authentication_error');
  assertError(await postJson<ErrorBody>(`${t.url}/v1/chat/completions`, ok, { authorization: 'Bearer nope' }), 401, null, 'Incorrect API key', 'authentication_error');
  assertError(await getJson<ErrorBody>(`${t.url}/v1/models`), 401, null, 'Missing API key', 'authentication_error');
  const bad = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(bad.models.list(), (err: unknown) => err instanceof OpenAI.AuthenticationError && err.status === 401);
  assert.equal((await t.client.models.list()).data[0]!.id, MODEL);
  assert.equal((await fetch(`${t.url}/`)).status, 200);
  await stillServing();
});

test('rejected requests get a log line with their status and reason', async () => {
  const before = t.logs.length;
  await chat({ ...ok, n: 3 });
  const entry = t.logs.slice(before).find((e) => e.status === 400)!;
  assert.equal(entry.outcome, 'error: n: only n = 1 is supported, got 3');
  assert.equal(entry.url, '/v1/chat/completions');
});
