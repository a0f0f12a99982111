// Tool-call extraction (spec §5.1 steps 2–3): XVERSE's README reply, JSON repairs, failures, streaming.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parseToolCalls, repairJson, ToolCallParser, type ParsedToolCall } from '../../../src/chat/tools/index.js';

/** XVERSE-13B README "Function Call" example, the model's last reply (spec §5.1 step 2). */
const README_REPLY =
  '好的，我会为您查询符合条件的酒店。请稍等片刻\n<|startofthink|>```JSON\n{ \n   "api_name": "hotel_search","parameters": {\n      "city": "上海",\n' +
  '      "check_in": "2007-03-09",\n      "check_out": "2007-03-10",\n      "guests": 2,\n      "rooms": 1,\n      "price_min": 300,\n' +
  '      "price_max": 500,\n      "rating_min": 8,\n      "amenities": "停车场"\n   }\n}```<|endofthink|>';

const README_ARGS = {
  city: '上海', check_in: '2007-03-09', check_out: '2007-03-10', guests: 2, rooms: 1, price_min: 300, price_max: 500, rating_min: 8, amenities: '停车场',
};

const wrap = (body: string): string => `<|startofthink|>${body}<|endofthink|>`;

describe('parseToolCalls', () => {
  it("parses XVERSE's README example", () => {
    const { content, toolCalls, errors } = parseToolCalls(README_REPLY);
    assert.equal(content, '好的，我会为您查询符合条件的酒店。请稍等片刻\n');
    assert.deepEqual(errors, []);
    assert.deepEqual(toolCalls, [{
      id: 'call_0',
      name: 'hotel_search',
      arguments: README_ARGS,
      argumentsJson: JSON.stringify(README_ARGS),
      raw: README_REPLY.slice(README_REPLY.indexOf('<|startofthink|>')),
    }]);
  });

  it('no markers: all content, no calls', () => {
    assert.deepEqual(parseToolCalls('a < b, <|x|>'), { content: 'a < b, <|x|>', toolCalls: [], errors: [] });
  });

  it('accepts name/arguments (object or JSON string), url, no fence or a ```json fence, several calls', () => {
    const text = `A${wrap('{"name": "f", "arguments": "{\\"x\\": 1}", "url": "http://u"}')}B${wrap('```json\n{"name": "g", "arguments": {"y": [1]}}\n```')}C${wrap('{"api_name": "h"}')}`;
    const { content, toolCalls, errors } = parseToolCalls(text, { idPrefix: 'c' });
    assert.equal(content, 'ABC');
    assert.deepEqual(errors, []);
    assert.deepEqual(toolCalls.map(({ raw: _raw, ...call }) => call), [
      { id: 'c0', name: 'f', arguments: { x: 1 }, argumentsJson: '{"x":1}', url: 'http://u' },
      { id: 'c1', name: 'g', arguments: { y: [1] }, argumentsJson: '{"y":[1]}' },
      { id: 'c2', name: 'h', arguments: {}, argumentsJson: '{}' },
    ]);
  });

  const repairs: ReadonlyArray<readonly [string, string, Record<string, unknown>]> = [
    ['trailing commas', '{"api_name": "f", "parameters": {"a": [1, 2,], "b": 3,},}', { a: [1, 2], b: 3 }],
    ['single quotes', "{'api_name': 'f', 'parameters': {'s': 'it\\'s \"x\"'}}", { s: 'it\'s "x"' }],
    ['unquoted keys', '{api_name: "f", parameters: {城市: "上海", n_1: 1}}', { 城市: '上海', n_1: 1 }],
    ['full-width punctuation outside strings', '{"api_name"："f"，"parameters"：{"city"："上海，浦东"}}', { city: '上海，浦东' }],
    ['Chinese quotes', '{"api_name": "f", "parameters": {“city”: “上海”}}', { city: '上海' }],
    ['missing closing braces at the end', '```JSON\n{"api_name": "f", "parameters": {"a": [1, {"b": 2', { a: [1, { b: 2 }] }],
    ['Python literals', '{"api_name": "f", "parameters": {"a": True, "b": False, "c": None, "d": -1.5e2}}', { a: true, b: false, c: null, d: -150 }],
    ['raw newline in a string', '{"api_name": "f", "parameters": {"t": "x\ny"}}', { t: 'x\ny' }],
  ];
  for (const [defect, body, args] of repairs) {
    it(`repairs ${defect}`, () => {
      const { toolCalls, errors } = parseToolCalls(wrap(body));
      assert.deepEqual(errors, []);
      assert.equal(toolCalls.length, 1);
      assert.equal(toolCalls[0]?.name, 'f');
      assert.deepEqual(toolCalls[0]?.arguments, args);
      assert.deepEqual(JSON.parse(toolCalls[0]?.argumentsJson ?? ''), args);
    });
  }

  const failures: ReadonlyArray<readonly [string, string, RegExp]> = [
    ['an unterminated string', '{"api_name": "f", "parameters": {"q": "abc}}', /unterminated string/],
    ['a bare word as a value', '{"api_name": "f", "parameters": {"city": 上海}}', /unquoted word "上海"/],
    ['text after the object', '{"api_name": "f"} and more', /unexpected text after the JSON value/],
    ['no name', '{"parameters": {}}', /no "api_name" or "name"/],
    ['parameters not an object', '{"api_name": "f", "parameters": [1]}', /not an object/],
    ['an empty call', '```JSON\n```', /empty tool call/],
    ['no JSON object', 'call f please', /no JSON object/],
    ['a non-object value', '{"api_name": "f", "parameters": "[1,2]"}', /not an object/],
  ];
  for (const [what, body, reason] of failures) {
    it(`reports ${what} as a ToolCallError`, () => {
      const text = `x${wrap(body)}y`;
      const result = parseToolCalls(text);
      assert.equal(result.content, 'xy');
      assert.deepEqual(result.toolCalls, []);
      assert.equal(result.errors.length, 1);
      assert.equal(result.errors[0]?.raw, wrap(body));
      assert.match(result.errors[0]?.reason ?? '', reason);
    });
  }

  it('a call cut off before <|endofthink|> is still parsed at end()', () => {
    const { content, toolCalls, errors } = parseToolCalls('ok <|startofthink|>```JSON\n{"api_name": "f", "parameters": {"a": 1}}```');
    assert.equal(content, 'ok ');
    assert.deepEqual(errors, []);
    assert.deepEqual(toolCalls.map((c) => [c.name, c.arguments, c.raw]), [['f', { a: 1 }, '<|startofthink|>```JSON\n{"api_name": "f", "parameters": {"a": 1}}```']]);
  });

  it('repairJson leaves strict JSON alone', () => {
    assert.equal(repairJson('{"a": [1, "x"], "b": {"c": null}}'), '{"a": [1, "x"], "b": {"c": null}}');
  });
});

describe('ToolCallParser streaming', () => {
  const STREAM_TEXT = `a < b <|start 😀${README_REPLY} then${wrap('{"name": "g"')} end <|startofth`;
  const oneShot = parseToolCalls(STREAM_TEXT);

  /** Feeds `pieces`; checks that shown text is only ever a prefix of the one-shot content. */
  function stream(pieces: readonly string[]): { content: string; toolCalls: ParsedToolCall[]; errors: number } {
    const parser = new ToolCallParser();
    let content = '';
    const toolCalls: ParsedToolCall[] = [];
    for (const piece of pieces) {
      const out = parser.push(piece);
      content += out.content;
      toolCalls.push(...out.toolCalls);
      assert.ok(oneShot.content.startsWith(content), `shown text ${JSON.stringify(content)} is not a prefix of the content`);
    }
    const last = parser.end();
    return { content: content + last.content, toolCalls: [...toolCalls, ...last.toolCalls], errors: last.errors.length };
  }

  it('the one-shot result has what the stream test relies on', () => {
    assert.equal(oneShot.content, 'a < b <|start 😀好的，我会为您查询符合条件的酒店。请稍等片刻\n then end <|startofth');
    assert.deepEqual(oneShot.toolCalls.map((c) => c.name), ['hotel_search', 'g']);
    assert.deepEqual(oneShot.errors, []);
  });

  it('split in two at every boundary: same content and calls, no marker fragment ever shown', () => {
    for (let i = 0; i <= STREAM_TEXT.length; i++) {
      const got = stream([STREAM_TEXT.slice(0, i), STREAM_TEXT.slice(i)]);
      assert.deepEqual(got, { content: oneShot.content, toolCalls: oneShot.toolCalls, errors: 0 }, `split at ${i}`);
    }
  });

  it('one UTF-16 unit at a time: same result, never half a surrogate pair', () => {
    const parser = new ToolCallParser();
    let content = '';
    for (const unit of STREAM_TEXT.split('')) {
      const out = parser.push(unit).content;
      assert.ok(!/[\ud800-\udbff]$/.test(out), 'a lone high surrogate was shown');
      content += out;
    }
    const got = stream(STREAM_TEXT.split(''));
    assert.deepEqual(got, { content: oneShot.content, toolCalls: oneShot.toolCalls, errors: 0 });
    assert.ok(oneShot.content.startsWith(content));
  });

  it('holds back a possible marker start until it is decided', () => {
    const parser = new ToolCallParser();
    assert.deepEqual(parser.push('hi <|start'), { content: 'hi ', toolCalls: [] });
    assert.deepEqual(parser.push('ed'), { content: '<|started', toolCalls: [] });
    assert.deepEqual(parser.push(' <|startofthink|>{"name": "f"}'), { content: ' ', toolCalls: [] });
    const { toolCalls } = parser.push('<|endofthink|>');
    assert.deepEqual(toolCalls.map((c) => c.id), ['call_0']);
  });
});
