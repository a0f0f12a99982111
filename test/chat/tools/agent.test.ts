// The agent loop (spec §5.1) against a scripted model that returns canned replies in order.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { XverseForCausalLM } from '../../../src/api/pretrained.js';
import type { ChatOptions } from '../../../src/chat/chat.js';
import type { ChatFormat } from '../../../src/chat/format.js';
import type { ChatMessage } from '../../../src/chat/messages.js';
import { renderToolsPrompt, runAgent, ToolRegistry, type AgentChatModel, type ToolSpec } from '../../../src/chat/tools/index.js';
import type { Tokenizer } from '../../../src/tokenizer/tokenizer.js';

// XverseForCausalLM must fit the agent's model interface (a compile-time check).
export type ApiModelFits = XverseForCausalLM extends AgentChatModel<Tokenizer> ? true : never;
const fits: ApiModelFits = true;

/** Returns `replies` in order and records every history and options it was asked with. */
class ScriptedModel implements AgentChatModel<'tok'> {
  readonly seen: Array<{ messages: ChatMessage[]; options: ChatOptions | undefined }> = [];
  constructor(private readonly replies: readonly string[], readonly chatFormat?: ChatFormat) {}
  async chat(tokenizer: 'tok', messages: readonly ChatMessage[], options?: ChatOptions): Promise<string> {
    assert.equal(tokenizer, 'tok');
    this.seen.push({ messages: [...messages], options });
    const reply = this.replies[this.seen.length - 1];
    if (reply === undefined) throw new Error('script exhausted');
    return reply;
  }
}

const NOW = new Date(2024, 0, 1, 12, 0, 0);
const weather: ToolSpec = {
  name: 'get_weather',
  description: '天气',
  parameters: { type: 'object', properties: { city: { type: 'string', description: '城市' } }, required: ['city'] },
};
const call = (name: string, args: string): string => `<|startofthink|>\`\`\`JSON\n{"api_name": "${name}", "parameters": ${args}}\`\`\`<|endofthink|>`;
const question: ChatMessage = { role: 'user', content: '上海天气？' };

function registry(handler: (args: Record<string, unknown>) => unknown): ToolRegistry {
  return new ToolRegistry().register(weather, handler);
}

describe('runAgent', () => {
  it('call → exec → final answer', async () => {
    assert.equal(fits, true);
    const reply1 = `查询中\n${call('get_weather', '{"city": "上海"}')}`;
    const model = new ScriptedModel([reply1, '上海晴，25度。']);
    const calls: unknown[] = [];
    const seenResults: string[] = [];
    const result = await runAgent(model, 'tok', [question], registry(async (args) => {
      calls.push(args);
      return { temp: 25, sky: '晴' };
    }), { now: NOW, chatOptions: { maxNewTokens: 64 }, onToolResult: (_c, text) => seenResults.push(text) });

    const system: ChatMessage = { role: 'system', content: renderToolsPrompt([weather], { now: NOW }) };
    const exec: ChatMessage = { role: 'exec', content: '{"temp":25,"sky":"晴"}' };
    assert.deepEqual(calls, [{ city: '上海' }]);
    assert.deepEqual(seenResults, [exec.content]);
    assert.deepEqual(result, {
      answer: '上海晴，25度。',
      messages: [system, question, { role: 'assistant', content: reply1 }, exec, { role: 'assistant', content: '上海晴，25度。' }],
      steps: 2,
      finishReason: 'answer',
    });
    assert.deepEqual(model.seen.map((s) => s.messages), [[system, question], [system, question, { role: 'assistant', content: reply1 }, exec]]);
    assert.deepEqual(model.seen[0]?.options, { maxNewTokens: 64, format: 'v2' });
  });

  it('a reply without calls ends at once; the visible answer has no markers', async () => {
    const model = new ScriptedModel(['你好']);
    const result = await runAgent(model, 'tok', [question], registry(() => 'unused'), { now: NOW });
    assert.equal(result.steps, 1);
    assert.equal(result.answer, '你好');
  });

  it('unknown tool and a throwing handler become {"error": …} exec results', async () => {
    const reply1 = `${call('nope', '{}')}${call('get_weather', '{"city": "x"}')}`;
    const model = new ScriptedModel([reply1, 'sorry']);
    const result = await runAgent(model, 'tok', [question], registry(() => {
      throw new Error('service down');
    }), { now: NOW });
    assert.deepEqual(result.messages.slice(3), [
      { role: 'exec', content: '{"error":"unknown tool \\"nope\\""}' },
      { role: 'exec', content: '{"error":"service down"}' },
      { role: 'assistant', content: 'sorry' },
    ]);
    assert.equal(result.finishReason, 'answer');
  });

  it('an unparseable call is answered with an error exec message', async () => {
    const model = new ScriptedModel(['<|startofthink|>{"parameters": {}}<|endofthink|>', 'ok']);
    const result = await runAgent(model, 'tok', [question], registry(() => 1), { now: NOW });
    assert.deepEqual(result.messages[3], { role: 'exec', content: '{"error":"could not parse the tool call: the tool call has no \\"api_name\\" or \\"name\\""}' });
    assert.equal(result.steps, 2);
  });

  it('stops at maxSteps without running the last calls', async () => {
    const looping = call('get_weather', '{"city": "x"}');
    const model = new ScriptedModel([`a${looping}`, `b${looping}`, `c${looping}`]);
    let runs = 0;
    const result = await runAgent(model, 'tok', [question], registry(() => ++runs), { now: NOW, maxSteps: 3 });
    assert.deepEqual({ answer: result.answer, steps: result.steps, finishReason: result.finishReason, runs }, { answer: 'c', steps: 3, finishReason: 'max_steps', runs: 2 });
    assert.deepEqual(result.messages.filter((m) => m.role === 'exec').map((m) => m.content), ['1', '2']);
    await assert.rejects(runAgent(model, 'tok', [question], registry(() => 1), { maxSteps: 0 }), RangeError);
  });

  it('v1 model: prompt in the first user turn, results sent as user turns', async () => {
    const model = new ScriptedModel([call('get_weather', '{"city": "x"}'), 'done'], 'v1');
    const result = await runAgent(model, 'tok', [question], registry(() => 'sunny'), { now: NOW });
    assert.deepEqual(result.messages.map((m) => m.role), ['user', 'assistant', 'user', 'assistant']);
    assert.equal(result.messages[0]?.content, `${renderToolsPrompt([weather], { now: NOW })}\n上海天气？`);
    assert.equal(result.messages[2]?.content, 'sunny');
    assert.equal(model.seen[0]?.options?.format, 'v1');
  });
});
