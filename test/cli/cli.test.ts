import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { fixture, readJson } from '../helpers/fixtures.js';

const TINY = fixture('xverse-tiny/safetensors');
const stories = readJson<{ runs: Array<{ published_stdout_without_final_newline: string }> }>(
  fixture('stories260K/reference/stories260K_reference.json'));
const tiny = readJson<{ llamacpp: { f32: Record<'P1' | 'P2', { greedy: number[]; logits: number[] }> } }>(fixture('xverse-tiny/reference.json'));

test('xverse generate --greedy with no prompt prints exactly llama2.c\'s 200-token story (embedded model)', async () => {
  const r = await runCli(['generate', '--greedy', '--max-new-tokens', '200']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, stories.runs[0]!.published_stdout_without_final_newline + '\n');
});

test('xverse generate "Once upon a time" echoes the prompt and streams a continuation; --verbose prints speeds', async () => {
  const r = await runCli(['generate', '--greedy', '-n', '30', '--verbose', 'Once upon a time']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Once upon a time, there was a little girl named Lily\./);
  assert.match(r.stderr, /^\[length\] prompt 5 tokens .*prefill .* tok\/s.*generated 30 tokens, decode .* tok\/s; time to first token [\d.]+ ms/);
});

test('xverse generate --prompt-ids --json: ids equal llama.cpp\'s greedy reference and top-5 log-probs are right', async () => {
  const r = await runCli(['generate', '--model', TINY, '--prompt-ids', '2,382,387', '--json', '--greedy', '--repetition-penalty', '1', '-n', '16', '--kv-cache', 'f32']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    prompt_ids: number[]; ids: number[]; text: string; finish_reason: string;
    tokens: Array<{ id: number; logprob: number; top_logprobs: Array<{ id: number; logprob: number }> }>;
  };
  assert.deepEqual(out.prompt_ids, [2, 382, 387]);
  assert.deepEqual(out.ids, tiny.llamacpp.f32.P1.greedy);
  assert.equal(out.finish_reason, 'length');
  assert.equal(out.tokens.length, 16);
  // First step: log-softmax of llama.cpp's logits, top 5.
  const logits = tiny.llamacpp.f32.P1.logits;
  const max = Math.max(...logits);
  const logZ = max + Math.log(logits.reduce((s, x) => s + Math.exp(x - max), 0));
  const expected = logits.map((x, id) => ({ id, logprob: x - logZ })).sort((a, b) => b.logprob - a.logprob).slice(0, 5);
  const first = out.tokens[0]!;
  assert.deepEqual(first.top_logprobs.map((t) => t.id), expected.map((t) => t.id));
  first.top_logprobs.forEach((t, i) => assert.ok(Math.abs(t.logprob - expected[i]!.logprob) < 1e-4));
  assert.equal(first.logprob, first.top_logprobs[0]!.logprob);
});

test('xverse tokenize prints ids without BOS unless --bos', async () => {
  let r = await runCli(['tokenize', '--model', TINY, 'hello world']);
  assert.equal(r.stdout, '382 387\n');
  r = await runCli(['tokenize', '--model', TINY, '--json', '--bos', 'hello world']);
  assert.equal(r.stdout, '[2,382,387]\n');
  r = await runCli(['tokenize', '--json', '--tokens', 'Once upon']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(Array.isArray(JSON.parse(r.stdout)));
});

test('xverse chat reads turns from piped stdin, streams replies, handles /reset and /exit', async () => {
  const r = await runCli(['chat', '--model', TINY, '--greedy', '-n', '4', '--verbose'], 'hello world\nthe hello\n/reset\n/bogus\nhello\n/exit\nnot sent\n');
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.ok(lines.includes('(new conversation)'));
  assert.match(r.stdout, /unknown command \/bogus/);
  // Three replies, each with stats; the second turn reuses the first turn's cached prompt.
  const stats = r.stderr.trim().split('\n');
  assert.equal(stats.length, 3, r.stderr);
  assert.match(stats[1]!, /\(([1-9]\d*) cached\)/);
});

test('bad input: one-line errors with exit code 1, no stack traces', async () => {
  let r = await runCli(['generate', '--model', '/nonexistent/model']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'xverse: FormatError: /nonexistent/model: no such model folder\n');
  r = await runCli(['generate', '--top-p', '2']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--top-p <p>' argument '2' is invalid\. expected a number in \(0, 1\]/);
  r = await runCli(['generate', '--model', TINY, '--prompt-ids', '2,9999']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^xverse: \w+Error: [^\n]*token id 9999[^\n]*outside the vocabulary[^\n]*\n$/);
});

test('conflicting flags are refused with a message, not silently', async () => {
  let r = await runCli(['generate', 'hi', '--prompt-ids', '1,2']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'error: give either a text prompt or --prompt-ids, not both\n');
  r = await runCli(['generate', '--no-bos', '--prompt-ids', '1,2']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--bos\/--no-bos apply to a text prompt/);
  r = await runCli(['chat', '--model', TINY, '--chat-format', 'v1', '--system', 'be brief']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--system needs the v2 chat format/);
});

test('chat commands match whole words; a bad turn is reported and the chat goes on', async () => {
  const r = await runCli(['chat', '--model', TINY, '--chat-format', 'v1', '--greedy', '-n', '2'], '/systemfoo\n/system x\nhello\n');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^unknown command \/systemfoo;/);
  assert.equal(r.stderr, 'error: ChatError: the v1 chat format has no system role\n');
});
