// The plugin prompt (spec §5.1 step 1) and where withTools puts it, down to the prompt ids the v1/v2
// builders make. Ids: see ../fake-tokenizer.ts ("Human: "=10, "Assistant: "=11, "Exec: "=12, "\n"=13).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { ChatMessage } from '../../../src/chat/messages.js';
import { buildChatInputV1 } from '../../../src/chat/prompt-v1.js';
import { buildChatInputV2 } from '../../../src/chat/prompt-v2.js';
import { ChatError } from '../../../src/errors.js';
import { formatTime, renderToolsPrompt, ToolError, ToolRegistry, withTools, ZH_TOOLS_INSTRUCTION, type ToolSpec } from '../../../src/chat/tools/index.js';
import { TableTokenizer } from '../fake-tokenizer.js';

/** XVERSE-13B README, "Function Call" example, first paragraph of the user turn. */
const README_INSTRUCTION =
  '你是个大语言模型，有多种能力，可以通过插件集成api来回复用户的问题，还能解答用户使用模型遇到的问题和模型知识相关问答。目前支持的插件信息如下，请自行判断是否需要调用插件来解决当前用户问题。若需要调用插件，则需要将插件调用请求按照json格式给出，必须包含api_name、url、parameters字段，并在其前后使用<|startofthink|>和<|endofthink|>作为标志。然后你需要根据插件API调用结果生成合理的答复；若无需调用插件，则直接给出对应回复即可：';

/** Local-time constructor, so the rendered time does not depend on the machine's time zone. */
const NOW = new Date(2007, 2, 9, 7, 2, 15);

const hotel: ToolSpec = {
  name: 'hotel_search',
  description: '可以查询多个酒店的信息',
  parameters: {
    type: 'object',
    properties: {
      city: { type: 'string', description: '城市名称，比如上海' },
      guests: { type: 'integer', description: '旅客人数' },
    },
    required: ['city'],
  },
};
const weather: ToolSpec = {
  name: 'get_weather',
  description: 'Current weather',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string', description: 'City' }, unit: { type: 'string', enum: ['c', 'f'], description: 'Unit' } },
    required: ['city'],
  },
};

const EXPECTED_ZH = [
  README_INSTRUCTION,
  '1. {"name": "hotel_search", "description": "可以查询多个酒店的信息", "parameters": [{"name": "city", "description": "城市名称，比如上海", "required": true}, {"name": "guests", "description": "旅客人数（类型：integer）", "required": false}]}',
  '2. {"name": "get_weather", "description": "Current weather", "parameters": [{"name": "city", "description": "City", "required": true}, {"name": "unit", "description": "Unit（可选值：c、f）", "required": false}]}',
  '当前时间：2007-03-09 07:02:15',
].join('\n');

describe('renderToolsPrompt', () => {
  it('renders a two-tool registry exactly (zh, README layout)', () => {
    const registry = new ToolRegistry([hotel, weather]);
    assert.equal(ZH_TOOLS_INSTRUCTION, README_INSTRUCTION);
    assert.equal(renderToolsPrompt(registry.list(), { now: NOW }), EXPECTED_ZH);
  });

  it('English variant, instruction override, url, no time line', () => {
    const prompt = renderToolsPrompt([{ ...weather, url: 'http://x/w' }], { language: 'en', now: NOW });
    assert.equal(
      prompt.split('\n').slice(1).join('\n'),
      '1. {"name": "get_weather", "url": "http://x/w", "description": "Current weather", "parameters": [{"name": "city", "description": "City", "required": true}, {"name": "unit", "description": "Unit (one of: c, f)", "required": false}]}\n' +
        'Current time: 2007-03-09 07:02:15',
    );
    assert.equal(renderToolsPrompt([hotel], { instruction: 'TOOLS:', includeTime: false }).split('\n')[0], 'TOOLS:');
    assert.equal(renderToolsPrompt([hotel], { instruction: 'TOOLS:', includeTime: false }).split('\n').length, 2);
  });

  it('formatTime pads every field', () => {
    assert.equal(formatTime(new Date(987, 0, 2, 3, 4, 5)), '0987-01-02 03:04:05');
  });
});

describe('ToolRegistry', () => {
  it('keeps registration order and looks tools up by name', () => {
    const handler = (): string => 'ok';
    const registry = new ToolRegistry().register(weather).register(hotel, handler);
    assert.deepEqual(registry.list().map((t) => t.name), ['get_weather', 'hotel_search']);
    assert.equal(registry.get('hotel_search')?.handler, handler);
    assert.equal(registry.get('get_weather')?.handler, undefined);
    assert.equal(registry.has('nope'), false);
    assert.equal(registry.size, 2);
  });

  it('rejects duplicate and invalid names and bad schemas', () => {
    const registry = new ToolRegistry([hotel]);
    assert.throws(() => registry.register(hotel), /tool "hotel_search" is already registered/);
    assert.throws(() => registry.register({ ...hotel, name: 'bad name' }), ToolError);
    assert.throws(() => registry.register({ ...hotel, name: 'x'.repeat(65) }), /is invalid/);
    assert.throws(() => registry.register({ ...hotel, name: 'h2', parameters: { type: 'object', required: ['zip'] } }), /required parameter "zip"/);
    assert.throws(() => registry.register({ ...hotel, name: 'h3', parameters: { type: 'array' } as unknown as ToolSpec['parameters'] }), /must be "object"/);
    assert.equal(registry.size, 1);
  });
});

const user = (content: string): ChatMessage => ({ role: 'user', content });
const assistant = (content: string): ChatMessage => ({ role: 'assistant', content });
const exec = (content: string): ChatMessage => ({ role: 'exec', content });

describe('withTools', () => {
  const prompt = renderToolsPrompt([hotel], { now: NOW });

  it('v2 (default): a new system message; an existing one is kept after the prompt', () => {
    assert.deepEqual(withTools([user('q')], [hotel], { now: NOW }), [{ role: 'system', content: prompt }, user('q')]);
    assert.deepEqual(withTools([{ role: 'system', content: 'S' }, user('q')], [hotel], { now: NOW }), [
      { role: 'system', content: `${prompt}\nS` },
      user('q'),
    ]);
  });

  it('v1, or placement first-user: prepended to the first user turn (README layout)', () => {
    const messages = [user('q1'), assistant('a'), user('q2')];
    const expected = [user(`${prompt}\nq1`), assistant('a'), user('q2')];
    assert.deepEqual(withTools(messages, [hotel], { now: NOW, format: 'v1' }), expected);
    assert.deepEqual(withTools(messages, [hotel], { now: NOW, placement: 'first-user' }), expected);
    assert.deepEqual(messages, [user('q1'), assistant('a'), user('q2')], 'input not modified');
  });

  it('no tools: unchanged; impossible placements: ChatError', () => {
    assert.deepEqual(withTools([user('q')], []), [user('q')]);
    assert.throws(() => withTools([user('q')], [hotel], { format: 'v1', placement: 'system' }), ChatError);
    assert.throws(() => withTools([exec('r')], [hotel], { placement: 'first-user' }), /no user message/);
  });
});

describe('prompt ids with tools', () => {
  const tok = new TableTokenizer();
  const limits = { maxPositionEmbeddings: 65536, maxNewTokens: 2048, eosTokenId: 3 };
  const enc = (text: string): number[] => tok.encode(text);
  const prompt = renderToolsPrompt([hotel], { now: NOW });
  const call = '<|startofthink|>```JSON\n{"api_name": "hotel_search", "parameters": {"city": "上海"}}```<|endofthink|>';

  it('v2: Human: {tools}\\n … Assistant: {call}<eos> Exec: {result}\\n\\n Assistant: ', () => {
    const messages = [...withTools([user('q')], [hotel], { now: NOW }), assistant(call), exec('r')];
    const ids = buildChatInputV2(tok, messages, { ...limits, maxTokenizerTruncation: null });
    assert.deepEqual(ids, [
      10, ...enc(`${prompt}\n`), // Human: {system}\n
      10, 117, 13, 13, // Human: q\n\n
      11, ...enc(call), 3, // Assistant: {call}<eos>
      12, 118, 13, 13, 11, // Exec: r\n\nAssistant:
    ]);
    assert.equal(enc(`${prompt}\n`).filter((id) => id === 13).length, 3, 'instruction, 1 tool, time: three lines');
  });

  it('v1: the prompt opens the first Human turn; a tool result goes back as a user turn', () => {
    const messages = [...withTools([user('q')], [hotel], { now: NOW, format: 'v1' }), assistant(call), user('r')];
    const ids = buildChatInputV1(tok, messages, limits);
    assert.deepEqual(ids, [10, ...enc(`${prompt}\n`), 117, 13, 13, 11, ...enc(call), 3, 10, 118, 13, 13, 11]);
    // v1 has no exec role (spec §3.1): the builder refuses it.
    assert.throws(() => buildChatInputV1(tok, [...messages.slice(0, 2), exec('r')], limits), ChatError);
  });
});
