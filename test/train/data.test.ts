// SFT data: loaders (alpaca / ShareGPT, .json / .jsonl, file:line errors) and chat-template rendering
// with loss masks, checked against the inference prompt builders with real tokenizers.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';

import { AutoTokenizer } from '../../src/api/pretrained.js';
import type { ChatMessage } from '../../src/chat/messages.js';
import { buildChatInputV1 } from '../../src/chat/prompt-v1.js';
import { buildChatInputV2 } from '../../src/chat/prompt-v2.js';
import { DatasetError } from '../../src/errors.js';
import type { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import {
  IGNORE_INDEX,
  buildSftDataset,
  loadSftRecords,
  renderSftExample,
  shuffle,
  splitEval,
  topLevelElementLines,
  type SftExample,
  type SftLoadOptions,
} from '../../src/train/data.js';
import { REPO_ROOT, fixture, tempDir } from '../helpers/fixtures.js';

const TINY = fixture('xverse-tiny/safetensors');
const STORIES = path.join(REPO_ROOT, 'models/stories260K');
const LIMITS_V1 = { maxPositionEmbeddings: 2048, maxNewTokens: 512, eosTokenId: 3 };
const LIMITS_V2 = { ...LIMITS_V1, maxTokenizerTruncation: null };

const dir = tempDir('xverse-sft-');
let fileCounter = 0;
function writeData(ext: '.json' | '.jsonl', text: string): string {
  const file = path.join(dir, `data${fileCounter++}${ext}`);
  fs.writeFileSync(file, text);
  return file;
}
const jsonl = (...records: unknown[]): string => records.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n';

const system = (content: string): ChatMessage => ({ role: 'system', content });
const user = (content: string): ChatMessage => ({ role: 'user', content });
const assistant = (content: string): ChatMessage => ({ role: 'assistant', content });
const exec = (content: string): ChatMessage => ({ role: 'exec', content });
const example = (messages: ChatMessage[]): SftExample => ({ messages, source: { file: 'mem.jsonl', line: 7 } });

/** Loads `file` with 'skip', returning the examples and the warnings. */
function loadSkipping(file: string, extra: SftLoadOptions = {}): { examples: SftExample[]; warnings: string[] } {
  const warnings: string[] = [];
  const examples = loadSftRecords(file, { ...extra, onBadRecord: 'skip', warn: (m) => warnings.push(m) });
  return { examples, warnings };
}

/** The message loadSftRecords throws for `file` under the default policy. */
function loadError(file: string): string {
  try {
    loadSftRecords(file);
  } catch (err) {
    assert.ok(err instanceof DatasetError, `expected a DatasetError, got ${String(err)}`);
    return err.message;
  }
  assert.fail(`${file}: loaded without error`);
}

const TWO_TURN = {
  id: 'x1',
  system: 'You are a helpful assistant.',
  conversations: [
    { from: 'human', value: 'What is 2+2?' },
    { from: 'gpt', value: 'It is 4.' },
    { from: 'human', value: 'And 3+3? 你好' },
    { from: 'gpt', value: 'That is 6. 再见' },
  ],
};

for (const [name, dirOf] of [
  ['xverse-tiny', TINY],
  ['stories260K', STORIES],
] as const) {
  describe(`rendering consistent with the inference prompt builders (${name} tokenizer)`, () => {
    let tok: Tokenizer;
    const enc = (text: string): number[] => tok.encode(text, { addSpecialTokens: false });
    before(async () => {
      tok = await AutoTokenizer.fromPretrained(dirOf);
    });

    it('v2: a 2-turn ShareGPT record with a system message', () => {
      const [ex] = loadSftRecords(writeData('.jsonl', jsonl(TWO_TURN)));
      assert.ok(ex);
      const messages = ex.messages;
      assert.deepEqual(messages, [
        system('You are a helpful assistant.'),
        user('What is 2+2?'),
        assistant('It is 4.'),
        user('And 3+3? 你好'),
        assistant('That is 6. 再见'),
      ]);
      const seq = renderSftExample(tok, ex, { format: 'v2', eosTokenId: 3 });
      assert.ok(seq);
      assert.equal(seq.ids.length, seq.labels.length);

      // Everything before the last reply is exactly the inference prompt for the history up to it.
      const prompt = buildChatInputV2(tok, messages.slice(0, 4), LIMITS_V2);
      assert.deepEqual(seq.ids.slice(0, prompt.length), prompt);
      const lastReply = [...enc('That is 6. 再见'), 3];
      assert.deepEqual(seq.ids.slice(prompt.length), lastReply);
      assert.deepEqual(seq.labels.slice(prompt.length), lastReply);

      // The earlier reply sits right after the prompt for the first question, and is trained too.
      const firstPrompt = buildChatInputV2(tok, messages.slice(0, 2), LIMITS_V2);
      assert.deepEqual(seq.ids.slice(0, firstPrompt.length), firstPrompt);
      const firstReply = [...enc('It is 4.'), 3];
      const firstEnd = firstPrompt.length + firstReply.length;
      assert.deepEqual(seq.ids.slice(firstPrompt.length, firstEnd), firstReply);
      const expectedLabels = seq.ids.map((id, i) =>
        (i >= firstPrompt.length && i < firstEnd) || i >= prompt.length ? id : IGNORE_INDEX,
      );
      assert.deepEqual(seq.labels, expectedLabels);

      // The whole sequence is the history inference builds when the user asks again.
      assert.deepEqual(
        [...seq.ids, ...enc('Human: '), ...enc('next\n\n'), ...enc('Assistant: ')],
        buildChatInputV2(tok, [...messages, user('next')], LIMITS_V2),
      );
    });

    it('v2: exec turns and function calls render as Exec: / Assistant: turns', () => {
      const file = writeData(
        '.jsonl',
        jsonl({
          conversations: [
            { from: 'user', value: 'find a hotel' },
            { from: 'function_call', value: '<|startofthink|>```JSON{}```<|endofthink|>' },
            { from: 'observation', value: '{"hotel": "A"}' },
            { from: 'assistant', value: 'Hotel A.' },
          ],
        }),
      );
      const [ex] = loadSftRecords(file);
      assert.ok(ex);
      assert.deepEqual(ex.messages.map((m) => m.role), ['user', 'assistant', 'exec', 'assistant']);
      const seq = renderSftExample(tok, ex, { format: 'v2', eosTokenId: 3 });
      assert.ok(seq);
      const prompt = buildChatInputV2(tok, ex.messages.slice(0, 3), LIMITS_V2);
      assert.deepEqual(seq.ids, [...prompt, ...enc('Hotel A.'), 3]);
      const call = [...enc('<|startofthink|>```JSON{}```<|endofthink|>'), 3];
      const head = [...enc('Human: '), ...enc('find a hotel\n\n'), ...enc('Assistant: ')];
      const tail = [...enc('Exec: '), ...enc('{"hotel": "A"}\n\n'), ...enc('Assistant: ')];
      assert.deepEqual(prompt, [...head, ...call, ...tail]);
      const masked = (ids: number[]): number[] => ids.map(() => IGNORE_INDEX);
      assert.deepEqual(seq.labels, [...masked(head), ...call, ...masked(tail), ...enc('Hotel A.'), 3]);
    });

    it('v1: the same record without a system message', () => {
      const messages = [user('What is 2+2?'), assistant('It is 4.'), user('And 3+3? 你好'), assistant('That is 6. 再见')];
      const seq = renderSftExample(tok, example(messages), { format: 'v1', eosTokenId: 3 });
      assert.ok(seq);
      const prefix = enc('Assistant: ');
      const trainedPart = (content: string): number[] => {
        const piece = enc(`Assistant: ${content}`);
        let k = 0;
        while (k < prefix.length && piece[k] === prefix[k]) k++;
        return [...piece.slice(k), 3];
      };
      // History rounds as buildChatInputV1 renders them: enc("Human: q\n\n"), enc("Assistant: a") + eos.
      const round1 = [...enc('Human: What is 2+2?\n\n'), ...enc('Assistant: It is 4.'), 3];
      const lastUser = enc('Human: And 3+3? 你好\n\n');
      const lastAssistant = [...enc('Assistant: That is 6. 再见'), 3];
      assert.deepEqual(seq.ids, [...round1, ...lastUser, ...lastAssistant]);
      // The ids before the last question are what buildChatInputV1 puts before its newest round.
      assert.deepEqual(buildChatInputV1(tok, messages.slice(0, 3), LIMITS_V1), [...round1, ...enc('Human: And 3+3? 你好\n\nAssistant: ')]);
      // The whole sequence is the history inference builds when the user asks again.
      assert.deepEqual(buildChatInputV1(tok, [...messages, user('next')], LIMITS_V1), [...seq.ids, ...enc('Human: next\n\nAssistant: ')]);
      // Labels: only each reply's tokens after the "Assistant: " prefix, plus eos.
      const t1 = trainedPart('It is 4.');
      const t2 = trainedPart('That is 6. 再见');
      const expected = [
        ...new Array<number>(round1.length - t1.length).fill(IGNORE_INDEX),
        ...t1,
        ...new Array<number>(lastUser.length + lastAssistant.length - t2.length).fill(IGNORE_INDEX),
        ...t2,
      ];
      assert.deepEqual(seq.labels, expected);
      assert.equal(tok.decode(t2.slice(0, -1)).trim(), 'That is 6. 再见');
    });
  });
}

describe('v1 mask of the "Assistant: " prefix (xverse-tiny tokenizer)', () => {
  let tok: Tokenizer;
  const enc = (text: string): number[] => tok.encode(text, { addSpecialTokens: false });
  before(async () => {
    tok = await AutoTokenizer.fromPretrained(TINY);
  });

  it('masks all of enc("Assistant: ") when the piece starts with it', () => {
    const prefix = enc('Assistant: ');
    const piece = enc('Assistant: 你好');
    assert.deepEqual(piece.slice(0, prefix.length), prefix, 'fixture: this reply keeps the prefix tokens intact');
    const seq = renderSftExample(tok, example([user('hi'), assistant('你好')]), { format: 'v1', eosTokenId: 3 });
    assert.ok(seq);
    const userPart = enc('Human: hi\n\n');
    assert.deepEqual(seq.ids, [...userPart, ...piece, 3]);
    assert.deepEqual(seq.labels, [...userPart.map(() => IGNORE_INDEX), ...prefix.map(() => IGNORE_INDEX), ...piece.slice(prefix.length), 3]);
  });

  it('masks the longest common prefix when the reply merges with the prefix\'s last token', () => {
    const prefix = enc('Assistant: ');
    const piece = enc('Assistant: hello');
    assert.notDeepEqual(piece.slice(0, prefix.length), prefix, 'fixture: " hello" merges with the trailing space');
    let common = 0;
    while (piece[common] === prefix[common]) common++;
    assert.ok(common > 0 && common < prefix.length);
    const seq = renderSftExample(tok, example([user('hi'), assistant('hello')]), { format: 'v1', eosTokenId: 3 });
    assert.ok(seq);
    const userPart = enc('Human: hi\n\n');
    assert.deepEqual(seq.ids, [...userPart, ...piece, 3]);
    assert.deepEqual(seq.labels.slice(userPart.length), [...new Array<number>(common).fill(IGNORE_INDEX), ...piece.slice(common), 3]);
  });

  it('refuses system and exec roles in v1, naming the record', () => {
    assert.throws(
      () => renderSftExample(tok, example([system('s'), user('u'), assistant('a')]), { format: 'v1', eosTokenId: 3 }),
      (err: unknown) => err instanceof DatasetError && err.message.startsWith('mem.jsonl:7: messages[0]: the v1 chat format') && /"system"/.test(err.message),
    );
    assert.throws(
      () => renderSftExample(tok, example([user('u'), assistant('a'), exec('e'), assistant('b')]), { format: 'v1', eosTokenId: 3 }),
      /mem\.jsonl:7: messages\[2\].*"exec"/,
    );
  });

  it('refuses an example without an assistant turn and bad options', () => {
    assert.throws(() => renderSftExample(tok, example([user('u')]), { format: 'v2', eosTokenId: 3 }), /mem\.jsonl:7: .*no assistant turn/);
    assert.throws(() => renderSftExample(tok, example([user('u'), assistant('a')]), { format: 'v2', eosTokenId: 3, maxLength: 0 }), DatasetError);
    assert.throws(() => renderSftExample(tok, example([user('u'), assistant('a')]), { format: 'v2', eosTokenId: -1 }), DatasetError);
  });
});

describe('record kinds', () => {
  it('alpaca: user content is instruction + "\\n" + input; history and system come first', () => {
    const file = writeData(
      '.jsonl',
      jsonl(
        { instruction: 'Translate to French', input: 'hello', output: 'bonjour', system: 'Be brief.', history: [['hi', 'hey'], ['how are you?', 'fine']] },
        { instruction: 'Say hi', input: '', output: 'hi' },
        { instruction: 'Say bye', output: 'bye', system: '' },
      ),
    );
    const examples = loadSftRecords(file);
    assert.deepEqual(
      examples.map((e) => e.messages),
      [
        [system('Be brief.'), user('hi'), assistant('hey'), user('how are you?'), assistant('fine'), user('Translate to French\nhello'), assistant('bonjour')],
        [user('Say hi'), assistant('hi')],
        [user('Say bye'), assistant('bye')],
      ],
    );
    assert.deepEqual(examples.map((e) => e.source), [1, 2, 3].map((line) => ({ file, line })));
  });

  it("XVERSE README's record shape (id, conversations with from human/bot) loads", () => {
    const file = writeData('.json', JSON.stringify([{ id: '', conversations: [{ from: 'human', value: '你好' }, { from: 'bot', value: '你好！有什么可以帮你？' }] }]));
    assert.deepEqual(loadSftRecords(file), [{ messages: [user('你好'), assistant('你好！有什么可以帮你？')], source: { file, line: 1 } }]);
  });

  it('ShareGPT: a leading system turn becomes the system message', () => {
    const file = writeData('.jsonl', jsonl({ conversations: [{ from: 'system', value: 'S' }, { from: 'human', value: 'q' }, { from: 'gpt', value: 'a' }] }));
    assert.deepEqual(loadSftRecords(file)[0]?.messages, [system('S'), user('q'), assistant('a')]);
  });
});

/** Bad records, each with the fragment its message must contain. */
const BAD_RECORDS: { record: unknown; problem: RegExp }[] = [
  { record: { instruction: 'q' }, problem: /alpaca record: missing "output"/ },
  { record: { conversations: [{ from: 'human', value: 'q' }, { from: 'robot', value: 'a' }] }, problem: /conversations\[1\]: unknown "from" "robot"/ },
  { record: { conversations: [{ from: 'human', value: 'q' }, { from: 'gpt', value: 'a' }, { from: 'human', value: 'q2' }] }, problem: /must end with an assistant turn/ },
  { record: { instruction: 5, output: 'a' }, problem: /"instruction" must be a string, got 5/ },
  { record: { conversations: [{ from: 'human', value: ['x'] }, { from: 'gpt', value: 'a' }] }, problem: /conversations\[0\]: "value" must be a string/ },
  { record: { instruction: 'q', output: '  ' }, problem: /"output" is empty/ },
  { record: { conversations: [{ from: 'gpt', value: 'a' }] }, problem: /cannot start with it/ },
  { record: { conversations: [{ from: 'human', value: 'q' }] }, problem: /must end with an assistant turn/ },
  { record: { conversations: [{ from: 'human', value: 'q' }, { from: 'human', value: 'q' }, { from: 'gpt', value: 'a' }] }, problem: /turns must alternate/ },
  { record: { conversations: [{ from: 'human', value: 'q' }, { from: 'gpt', value: 'a' }, { from: 'system', value: 's' }] }, problem: /conversations\[2\]: a system turn is only allowed first/ },
  { record: { instruction: 'q', output: 'a', history: [['only one']] }, problem: /history\[0\]: expected a \[user, assistant\] pair/ },
  { record: { text: 'plain' }, problem: /neither an alpaca record/ },
  { record: [1, 2], problem: /expected a record object/ },
];

describe('malformed records in JSONL files', () => {
  const good = { instruction: 'q', output: 'a' };

  it('names file:line and what is wrong; "skip" loads the rest and warns with the same message', () => {
    // Lines: 1 good, 2 blank, 3 bad JSON, 4 missing output, 5 unknown from, 6 ends on user, 7 wrong type, 8 good.
    const lines = [JSON.stringify(good), '   ', '{"instruction": "q", "output": ', ...BAD_RECORDS.slice(0, 4).map((b) => JSON.stringify(b.record)), JSON.stringify({ conversations: [{ from: 'user', value: 'x' }, { from: 'bot', value: 'y' }] })];
    const file = writeData('.jsonl', lines.join('\r\n'));
    const { examples, warnings } = loadSkipping(file);
    assert.deepEqual(examples.map((e) => e.source.line), [1, 8]);
    assert.deepEqual(examples[1]?.messages, [user('x'), assistant('y')]);
    assert.equal(warnings.length, 5);
    assert.match(warnings[0]!, new RegExp(`^${escape(file)}:3: not valid JSON \\(`));
    BAD_RECORDS.slice(0, 4).forEach((b, i) => {
      assert.ok(warnings[i + 1]!.startsWith(`${file}:${i + 4}: `), warnings[i + 1]);
      assert.match(warnings[i + 1]!, b.problem);
    });
    // Default policy: the first bad record is the error, with exactly the warning's message.
    assert.equal(loadError(file), warnings[0]);
  });

  it('each kind of bad record gives the same message as error and as warning', () => {
    for (const b of BAD_RECORDS) {
      const file = writeData('.jsonl', jsonl(good, good, b.record, good));
      const message = loadError(file);
      assert.ok(message.startsWith(`${file}:3: `), message);
      assert.match(message, b.problem);
      const { examples, warnings } = loadSkipping(file);
      assert.deepEqual(warnings, [message]);
      assert.deepEqual(examples.map((e) => e.source.line), [1, 2, 4]);
    }
  });

  it('skip with the default warn writes "xverse: warning: …" to stderr', () => {
    const file = writeData('.jsonl', jsonl(good, { instruction: 'q' }));
    const written: string[] = [];
    const original = process.stderr.write;
    process.stderr.write = ((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      assert.equal(loadSftRecords(file, { onBadRecord: 'skip' }).length, 1);
    } finally {
      process.stderr.write = original;
    }
    assert.deepEqual(written, [`xverse: warning: ${file}:2: alpaca record: missing "output"\n`]);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('JSON array files', () => {
  it('locates each record\'s starting line, past strings holding brackets, quotes and escapes', () => {
    const text = [
      '[',
      '  {"instruction": "brackets ] } [ { and \\"quotes\\" and \\\\", "output": "a, b"},', // line 2
      '  {',                                                                                   // line 3
      '    "conversations": [',
      '      {"from": "human", "value": "q\\n"},',
      '      {"from": "robot", "value": "x"}',
      '    ]',
      '  }, {"instruction": "q"},',                                                             // line 8 (also the 3rd record)
      '',
      '  {"instruction": 5, "output": "a"}',                                                   // line 10
      '  ,{"instruction": "last", "output": "ok"}',                                            // line 11
      ']',
    ].join('\n');
    assert.deepEqual(topLevelElementLines(text), [2, 3, 8, 10, 11]);
    const file = writeData('.json', text);
    const { examples, warnings } = loadSkipping(file);
    assert.deepEqual(examples.map((e) => e.source.line), [2, 11]);
    assert.deepEqual(examples[0]?.messages, [user('brackets ] } [ { and "quotes" and \\'), assistant('a, b')]);
    assert.equal(warnings.length, 3);
    assert.ok(warnings[0]!.startsWith(`${file}:3: conversations[1]: unknown "from" "robot"`), warnings[0]);
    assert.ok(warnings[1]!.startsWith(`${file}:8: alpaca record: missing "output"`), warnings[1]);
    assert.ok(warnings[2]!.startsWith(`${file}:10: "instruction" must be a string`), warnings[2]);
    assert.equal(loadError(file), warnings[0]);
  });

  it('whole-file faults: bad JSON (with its line), not an array, no records, wrong extension, over the size bound', () => {
    const bad = writeData('.json', '[\n  {"instruction": "q", "output": "a"},\n  {"instruction": "q" "output": "a"}\n]\n');
    assert.match(loadError(bad), new RegExp(`^${escape(bad)}:3: not valid JSON`));
    // 'skip' cannot skip part of a file that does not parse.
    assert.throws(() => loadSkipping(bad), DatasetError);
    const obj = writeData('.json', '{"instruction": "q", "output": "a"}');
    assert.match(loadError(obj), /expected a JSON array of records/);
    assert.match(loadError(writeData('.json', '[]')), /: no records$/);
    assert.match(loadError(writeData('.jsonl', '\n\n')), /: no records$/);
    const txt = path.join(dir, 'data.txt');
    fs.writeFileSync(txt, '[]');
    assert.match(loadError(txt), /expected a \.json .* or \.jsonl/);
    assert.match(loadError(path.join(dir, 'missing.jsonl')), /missing\.jsonl: no such file/);
    const big = writeData('.jsonl', jsonl({ instruction: 'q', output: 'a' }));
    assert.throws(() => loadSftRecords(big, { maxBytes: 10 }), /more than the 10-byte limit/);
    assert.throws(() => loadSftRecords(big, { onBadRecord: 'ignore' as 'skip' }), /onBadRecord must be/);
  });
});

describe('truncation and buildSftDataset', () => {
  let tok: Tokenizer;
  const enc = (text: string): number[] => tok.encode(text, { addSpecialTokens: false });
  before(async () => {
    tok = await AutoTokenizer.fromPretrained(TINY);
  });

  it('maxLength keeps the first tokens; an example whose responses are all cut is dropped and counted', () => {
    const messages = [user('tell me a story'), assistant('once upon a time')];
    const prompt = buildChatInputV2(tok, [messages[0]!], LIMITS_V2);
    const reply = [...enc('once upon a time'), 3];
    const full = renderSftExample(tok, example(messages), { format: 'v2', eosTokenId: 3 });
    assert.deepEqual(full?.ids, [...prompt, ...reply]);

    const cut = renderSftExample(tok, example(messages), { format: 'v2', eosTokenId: 3, maxLength: prompt.length + 2 });
    assert.deepEqual(cut, { ids: [...prompt, ...reply.slice(0, 2)], labels: [...prompt.map(() => IGNORE_INDEX), ...reply.slice(0, 2)] });
    assert.equal(renderSftExample(tok, example(messages), { format: 'v2', eosTokenId: 3, maxLength: prompt.length }), null);
    assert.deepEqual(renderSftExample(tok, example(messages), { format: 'v2', eosTokenId: 3, maxLength: 10_000 }), full);

    // A later reply cut away still leaves the first one trained.
    const twoTurn = [...messages, user('another'), assistant('the end')];
    const firstEnd = prompt.length + reply.length;
    const kept = renderSftExample(tok, example(twoTurn), { format: 'v2', eosTokenId: 3, maxLength: firstEnd + 3 });
    assert.equal(kept?.ids.length, firstEnd + 3);
    assert.deepEqual(kept?.labels.slice(prompt.length), [...reply, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX]);

    const dataset = buildSftDataset(tok, [example(messages), example(twoTurn), example(messages)], { format: 'v2', eosTokenId: 3, maxLength: prompt.length + 2 });
    assert.equal(dataset.dropped, 0);
    assert.equal(dataset.sequences.length, 3);
    assert.equal(dataset.totalTokens, 3 * (prompt.length + 2));
    assert.equal(dataset.trainedTokens, 6);

    const longPrompt = [user('tell me a story, a long one with many words in it please'), assistant('ok')];
    const small = buildSftDataset(tok, [example(messages), example(longPrompt)], { format: 'v2', eosTokenId: 3, maxLength: prompt.length + 1 });
    assert.equal(small.dropped, 1);
    assert.deepEqual(small.sequences, [cut && { ids: cut.ids.slice(0, -1), labels: cut.labels.slice(0, -1) }]);
    assert.equal(small.trainedTokens, 1);
    assert.equal(small.totalTokens, prompt.length + 1);
  });
});

describe('shuffle and splitEval', () => {
  const items = Array.from({ length: 20 }, (_, i) => i);

  it('shuffle is a seeded permutation that leaves its input alone', () => {
    const a = shuffle(items, 42);
    assert.deepEqual(a, shuffle(items, 42));
    assert.notDeepEqual(a, shuffle(items, 43));
    assert.notDeepEqual(a, items);
    assert.deepEqual([...a].sort((x, y) => x - y), items);
    assert.deepEqual(items, Array.from({ length: 20 }, (_, i) => i));
    assert.deepEqual(shuffle([], 1), []);
  });

  it('splitEval: fraction or count, deterministic, disjoint, covering', () => {
    const s = splitEval(items, 0.25, 7);
    assert.equal(s.eval.length, 5);
    assert.equal(s.train.length, 15);
    assert.deepEqual(s, splitEval(items, 0.25, 7));
    assert.deepEqual([...s.eval, ...s.train], shuffle(items, 7));
    assert.deepEqual([...s.eval, ...s.train].sort((x, y) => x - y), items);
    assert.equal(splitEval(items, 3, 7).eval.length, 3);
    assert.equal(splitEval(items, 0.01, 7).eval.length, 1);
    assert.deepEqual(splitEval(items, 0, 7).eval, []);
    assert.throws(() => splitEval(items, 1.5, 7), DatasetError);
    assert.throws(() => splitEval(items, -1, 7), DatasetError);
    assert.throws(() => splitEval(items, 20, 7), /leaves nothing to train on/);
  });
});
