/**
 * Supervised fine-tuning data: loading alpaca / ShareGPT records from `.json` / `.jsonl` files and
 * rendering them in XVERSE's chat template (spec §3.1 v1, §3.2 v2) with a loss mask, so that a
 * fine-tuned model sees at training time exactly the ids the inference prompt builders
 * (src/chat/prompt-v1.ts, prompt-v2.ts) feed it for each turn.
 */
import path from 'node:path';
import type { ChatFormat } from '../chat/format.js';
import type { ChatMessage, ChatRole } from '../chat/messages.js';
import type { ChatTokenizer } from '../chat/prompt-v1.js';
import { DatasetError } from '../errors.js';
import { isJsonObject, jsonSnippet, oneLine, readBoundedText } from '../formats/file-io.js';
import { Rng } from '../generation/rng.js';

/** The label of a position that is not trained (PyTorch's cross-entropy `ignore_index`). */
export const IGNORE_INDEX = -100;

/**
 * Largest data file read by default. The file is decoded into one JS string, and V8 strings stop at
 * 2^29 − 24 UTF-16 units (~512 Mi), so the bound stays just under that.
 */
export const MAX_SFT_FILE_BYTES = 500 * 1024 * 1024;

export interface SftSource {
  readonly file: string;
  /** 1-based line where the record starts. */
  readonly line: number;
}

export interface SftExample {
  readonly messages: readonly ChatMessage[];
  readonly source: SftSource;
}

export interface SftLoadOptions {
  /** What to do with a malformed record: throw (default) or warn and skip it. */
  onBadRecord?: 'error' | 'skip';
  /** Receives each skipped record's message under 'skip' (default: `xverse: warning: …` on stderr). */
  warn?: (message: string) => void;
  /** Largest file accepted, in bytes (default MAX_SFT_FILE_BYTES). */
  maxBytes?: number;
}

export interface SftRenderOptions {
  readonly format: ChatFormat;
  /** Appended (and trained) after every assistant turn: 3 = `<|endoftext|>` for XVERSE. */
  readonly eosTokenId: number;
  /** Keep only the first `maxLength` tokens (the end is cut); absent = no limit. */
  readonly maxLength?: number;
}

export interface SftSequence {
  readonly ids: number[];
  /** Aligned with `ids`: the id itself where the position is part of a response, else IGNORE_INDEX (the trainer shifts). */
  readonly labels: number[];
}

export interface SftDataset {
  readonly sequences: SftSequence[];
  /** Examples left with no trained token after truncation. */
  readonly dropped: number;
  /** Positions with a label (over the kept sequences). */
  readonly trainedTokens: number;
  /** All positions of the kept sequences. */
  readonly totalTokens: number;
}

// ---------------------------------------------------------------------------------------------
// Loading

/**
 * Loads SFT records from a `.json` file (a top-level array of records) or a `.jsonl` file (one record
 * per line; blank lines skipped). Each record is, detected on its own:
 * - alpaca: `{instruction, input?, output, system?, history?: [[user, assistant], …]}` → optional
 *   system, the history turns, user `instruction + ("\n" + input if input)` (LLaMA-Factory's
 *   joining), assistant `output`;
 * - ShareGPT: `{conversations: [{from, value}, …], system?}` with `from` human/user → user,
 *   gpt/bot/assistant/function_call → assistant, observation/exec/tool → exec, system → system (first
 *   turn only). Turns alternate between user/exec and assistant, starting with user/exec and ending
 *   with an assistant turn.
 * Other fields (`id`, …) are ignored; an empty `system` counts as none. A malformed record is a
 * DatasetError `file:line: what is wrong` (line = where the record starts), or under
 * `onBadRecord: 'skip'` that same message goes to `warn` and the record is left out. A file that
 * cannot be read or parsed as a whole, or holds no record at all, is always an error.
 */
export function loadSftRecords(file: string, options: SftLoadOptions = {}): SftExample[] {
  if (options.onBadRecord !== undefined && options.onBadRecord !== 'error' && options.onBadRecord !== 'skip') {
    throw new DatasetError(`onBadRecord must be "error" or "skip", got ${jsonSnippet(options.onBadRecord)}`);
  }
  const ext = path.extname(file).toLowerCase();
  if (ext !== '.json' && ext !== '.jsonl') {
    throw new DatasetError(`${file}: expected a .json (array of records) or .jsonl (one record per line) file`);
  }
  const maxBytes = options.maxBytes ?? MAX_SFT_FILE_BYTES;
  let text = readBoundedText(file, maxBytes, (message, cause) => new DatasetError(message, { cause }));
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);

  const raw: { value: unknown; line: number; parseError?: string }[] = ext === '.jsonl' ? splitJsonl(text) : splitJsonArray(file, text);
  if (raw.length === 0) throw new DatasetError(`${file}: no records`);

  const skip = options.onBadRecord === 'skip';
  const warn = options.warn ?? ((message: string) => process.stderr.write(`xverse: warning: ${message}\n`));
  const examples: SftExample[] = [];
  for (const { value, line, parseError } of raw) {
    let messages: ChatMessage[];
    try {
      if (parseError !== undefined) throw new RecordProblem(parseError);
      messages = recordMessages(value);
    } catch (err) {
      if (!(err instanceof RecordProblem)) throw err;
      const error = new DatasetError(`${file}:${line}: ${err.message}`);
      if (!skip) throw error;
      warn(error.message);
      continue;
    }
    examples.push({ messages, source: { file, line } });
  }
  return examples;
}

/** A record's fault; becomes a DatasetError with the file and line in front. */
class RecordProblem extends Error {}

function splitJsonl(text: string): { value: unknown; line: number; parseError?: string }[] {
  const out: { value: unknown; line: number; parseError?: string }[] = [];
  const lines = text.split('\n');
  lines.forEach((content, i) => {
    if (content.trim() === '') return;
    try {
      out.push({ value: JSON.parse(content) as unknown, line: i + 1 });
    } catch (err) {
      out.push({ value: undefined, line: i + 1, parseError: `not valid JSON (${oneLine((err as Error).message)})` });
    }
  });
  return out;
}

function splitJsonArray(file: string, text: string): { value: unknown; line: number }[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch (err) {
    const message = oneLine((err as Error).message);
    const position = /at position (\d+)/.exec(message);
    const where = position ? `:${lineAt(text, Number(position[1]))}` : '';
    throw new DatasetError(`${file}${where}: not valid JSON (${message})`, { cause: err });
  }
  if (!Array.isArray(parsed)) {
    throw new DatasetError(`${file}: expected a JSON array of records at the top level (or use a .jsonl file)`);
  }
  const lines = topLevelElementLines(text);
  // The scan and JSON.parse agree on any valid text; the check keeps a scanner slip from mislabelling.
  if (lines.length !== parsed.length) throw new Error(`internal: found ${lines.length} array elements, JSON.parse found ${parsed.length}`);
  return parsed.map((value: unknown, i) => ({ value, line: lines[i] as number }));
}

/** 1-based line of UTF-16 offset `position`. */
function lineAt(text: string, position: number): number {
  let line = 1;
  const end = Math.min(position, text.length);
  for (let i = 0; i < end; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * The 1-based line where each element of the top-level JSON array in `text` starts: a scan that
 * tracks string/escape state and bracket depth (valid JSON assumed; JSON.parse has already run).
 */
export function topLevelElementLines(text: string): number[] {
  const lines: number[] = [];
  let line = 1;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let expectElement = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (escaped) escaped = false;
      else if (c === 0x5c) escaped = true;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x0a) {
      line++;
      continue;
    }
    if (c === 0x20 || c === 0x09 || c === 0x0d) continue;
    if (depth === 1 && expectElement && c !== 0x5d) {
      lines.push(line);
      expectElement = false;
    }
    switch (c) {
      case 0x22:
        inString = true;
        break;
      case 0x5b: // [
      case 0x7b: // {
        depth++;
        if (depth === 1) expectElement = true;
        break;
      case 0x5d: // ]
      case 0x7d: // }
        depth--;
        break;
      case 0x2c: // ,
        if (depth === 1) expectElement = true;
        break;
    }
  }
  return lines;
}

const SHAREGPT_ROLES: Readonly<Record<string, ChatRole>> = {
  human: 'user',
  user: 'user',
  gpt: 'assistant',
  bot: 'assistant',
  assistant: 'assistant',
  function_call: 'assistant',
  observation: 'exec',
  exec: 'exec',
  tool: 'exec',
  system: 'system',
};

/** The chat messages of one record, or a RecordProblem saying what is wrong with it. */
function recordMessages(record: unknown): ChatMessage[] {
  if (!isJsonObject(record)) throw new RecordProblem(`expected a record object, got ${jsonSnippet(record, 60)}`);
  if ('conversations' in record) return shareGptMessages(record);
  if ('instruction' in record || 'output' in record) return alpacaMessages(record);
  throw new RecordProblem('neither an alpaca record ("instruction", "output") nor a ShareGPT record ("conversations")');
}

function optionalString(record: Record<string, unknown>, key: string): string | undefined {
  const value = record[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new RecordProblem(`"${key}" must be a string, got ${jsonSnippet(value, 60)}`);
  return value;
}

function checkReply(content: string, where: string): string {
  if (content.trim() === '') throw new RecordProblem(`${where} is empty: there would be no response to train on`);
  return content;
}

function alpacaMessages(record: Record<string, unknown>): ChatMessage[] {
  const instruction = optionalString(record, 'instruction');
  if (instruction === undefined) throw new RecordProblem('alpaca record: missing "instruction"');
  const output = optionalString(record, 'output');
  if (output === undefined) throw new RecordProblem('alpaca record: missing "output"');
  const input = optionalString(record, 'input');
  const system = optionalString(record, 'system');
  const messages: ChatMessage[] = [];
  if (system) messages.push({ role: 'system', content: system });
  const history = record['history'];
  if (history !== undefined && history !== null) {
    if (!Array.isArray(history)) throw new RecordProblem(`"history" must be a list of [user, assistant] pairs, got ${jsonSnippet(history, 60)}`);
    history.forEach((pair: unknown, i) => {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
        throw new RecordProblem(`history[${i}]: expected a [user, assistant] pair of strings, got ${jsonSnippet(pair, 60)}`);
      }
      messages.push({ role: 'user', content: pair[0] }, { role: 'assistant', content: checkReply(pair[1], `history[${i}] reply`) });
    });
  }
  messages.push({ role: 'user', content: input ? `${instruction}\n${input}` : instruction });
  messages.push({ role: 'assistant', content: checkReply(output, '"output"') });
  return messages;
}

function shareGptMessages(record: Record<string, unknown>): ChatMessage[] {
  const conversations = record['conversations'];
  if (!Array.isArray(conversations)) throw new RecordProblem(`"conversations" must be a list of turns, got ${jsonSnippet(conversations, 60)}`);
  const system = optionalString(record, 'system');
  const messages: ChatMessage[] = [];
  if (system) messages.push({ role: 'system', content: system });
  let previous: ChatRole | null = null;
  conversations.forEach((turn: unknown, i) => {
    if (!isJsonObject(turn)) throw new RecordProblem(`conversations[${i}]: expected a {"from", "value"} object, got ${jsonSnippet(turn, 60)}`);
    const { from, value } = turn;
    if (typeof from !== 'string') throw new RecordProblem(`conversations[${i}]: "from" must be a string, got ${jsonSnippet(from, 60)}`);
    if (typeof value !== 'string') throw new RecordProblem(`conversations[${i}]: "value" must be a string, got ${jsonSnippet(value, 60)}`);
    const role = Object.hasOwn(SHAREGPT_ROLES, from) ? SHAREGPT_ROLES[from] : undefined;
    if (role === undefined) {
      throw new RecordProblem(`conversations[${i}]: unknown "from" ${jsonSnippet(from, 40)} (expected one of ${Object.keys(SHAREGPT_ROLES).join(', ')})`);
    }
    if (role === 'system') {
      if (i !== 0) throw new RecordProblem(`conversations[${i}]: a system turn is only allowed first`);
      if (system) throw new RecordProblem('conversations[0]: a system turn and a "system" field are both given');
      if (value) messages.push({ role: 'system', content: value });
      return;
    }
    if (role === 'assistant') {
      if (previous !== 'user' && previous !== 'exec') {
        throw new RecordProblem(`conversations[${i}]: a ${from} turn must follow a user or tool turn${previous === null ? ' (the conversation cannot start with it)' : ''}`);
      }
      checkReply(value, `conversations[${i}] (${from})`);
    } else if (previous === 'user' || previous === 'exec') {
      throw new RecordProblem(`conversations[${i}]: a ${from} turn follows another user/tool turn; turns must alternate`);
    }
    messages.push({ role, content: value });
    previous = role;
  });
  if (previous === null) throw new RecordProblem('"conversations" has no user/assistant turns');
  if (previous !== 'assistant') throw new RecordProblem('the conversation must end with an assistant turn');
  return messages;
}

// ---------------------------------------------------------------------------------------------
// Rendering

/**
 * One example's ids and labels in XVERSE's chat layout. `enc` = `encode(text, {addSpecialTokens:
 * false})`, no BOS; only assistant content and its eos are trained.
 * - v2 (spec §3.2): system `enc("Human: ") + enc(system + "\n")`; user `enc("Human: ") +
 *   enc(content + "\n\n")`; exec `enc("Exec: ") + enc(content + "\n\n")`; assistant
 *   `enc("Assistant: ")` (not trained) + `enc(content) + [eos]` (trained). The ids before a reply are
 *   exactly buildChatInputV2's prompt for the history up to that reply.
 * - v1 (spec §3.1): user `enc("Human: " + content + "\n\n")`; assistant `enc("Assistant: " +
 *   content) + [eos]` as one piece, as buildChatInputV1 renders history turns; its leading tokens
 *   that match `enc("Assistant: ")` (the longest common prefix) are not trained, the rest and the
 *   eos are. The sequence is exactly buildChatInputV1's history for these turns; note that v1
 *   inference encodes the *newest* question as the single piece `"Human: q\n\nAssistant: "`, which a
 *   Metaspace tokenizer splits differently at the "Assistant" boundary — this renders every turn
 *   the way it appears once it is history.
 * Truncation keeps the first `maxLength` tokens; an example left without a trained token gives null.
 */
export function renderSftExample(tokenizer: ChatTokenizer, example: SftExample, options: SftRenderOptions): SftSequence | null {
  const { format, eosTokenId: eos } = options;
  const where = `${example.source.file}:${example.source.line}`;
  checkRenderOptions(options);
  const messages = example.messages;
  if (!messages.some((m) => m.role === 'assistant')) throw new DatasetError(`${where}: the record has no assistant turn to train on`);
  const enc = (text: string): number[] => tokenizer.encode(text, { addSpecialTokens: false });
  const ids: number[] = [];
  const labels: number[] = [];
  const context = (tokens: readonly number[]): void => {
    for (const t of tokens) {
      ids.push(t);
      labels.push(IGNORE_INDEX);
    }
  };
  const trained = (tokens: readonly number[]): void => {
    for (const t of tokens) {
      ids.push(t);
      labels.push(t);
    }
  };

  if (format === 'v2') {
    const userPrefix = enc('Human: ');
    const execPrefix = enc('Exec: ');
    const assistantPrefix = enc('Assistant: ');
    messages.forEach((message, i) => {
      switch (message.role) {
        case 'system':
          if (i !== 0) throw new DatasetError(`${where}: messages[${i}]: a system message is only allowed first`);
          context([...userPrefix, ...enc(`${message.content}\n`)]);
          break;
        case 'user':
          context([...userPrefix, ...enc(`${message.content}\n\n`)]);
          break;
        case 'exec':
          context([...execPrefix, ...enc(`${message.content}\n\n`)]);
          break;
        case 'assistant':
          context(assistantPrefix);
          trained([...enc(message.content), eos]);
          break;
        default:
          throw new DatasetError(`${where}: messages[${i}]: unknown role ${jsonSnippet(message.role as unknown)}`);
      }
    });
  } else if (format === 'v1') {
    const assistantPrefix = enc('Assistant: ');
    messages.forEach((message, i) => {
      switch (message.role) {
        case 'user':
          context(enc(`Human: ${message.content}\n\n`));
          break;
        case 'assistant': {
          const piece = enc(`Assistant: ${message.content}`);
          let common = 0;
          while (common < assistantPrefix.length && common < piece.length && piece[common] === assistantPrefix[common]) common++;
          context(piece.slice(0, common));
          trained([...piece.slice(common), eos]);
          break;
        }
        default:
          throw new DatasetError(
            `${where}: messages[${i}]: the v1 chat format (XVERSE-13B-Chat) has no ${jsonSnippet(message.role as unknown)} role, only user and assistant`,
          );
      }
    });
  } else {
    throw new DatasetError(`chat format must be "v1" or "v2", got ${jsonSnippet(format as unknown)}`);
  }

  if (options.maxLength !== undefined && ids.length > options.maxLength) {
    ids.length = options.maxLength;
    labels.length = options.maxLength;
  }
  return labels.some((l) => l !== IGNORE_INDEX) ? { ids, labels } : null;
}

function checkRenderOptions(options: SftRenderOptions): void {
  if (!Number.isInteger(options.eosTokenId) || options.eosTokenId < 0) {
    throw new DatasetError(`eosTokenId must be an integer ≥ 0, got ${String(options.eosTokenId)}`);
  }
  if (options.maxLength !== undefined && (!Number.isInteger(options.maxLength) || options.maxLength < 1)) {
    throw new DatasetError(`maxLength must be an integer ≥ 1, got ${String(options.maxLength)}`);
  }
}

/** Renders every example; those left without a trained token after truncation are dropped and counted. */
export function buildSftDataset(tokenizer: ChatTokenizer, examples: readonly SftExample[], options: SftRenderOptions): SftDataset {
  const sequences: SftSequence[] = [];
  let dropped = 0;
  let trainedTokens = 0;
  let totalTokens = 0;
  for (const example of examples) {
    const sequence = renderSftExample(tokenizer, example, options);
    if (sequence === null) {
      dropped++;
      continue;
    }
    sequences.push(sequence);
    totalTokens += sequence.ids.length;
    for (const label of sequence.labels) if (label !== IGNORE_INDEX) trainedTokens++;
  }
  return { sequences, dropped, trainedTokens, totalTokens };
}

// ---------------------------------------------------------------------------------------------
// Shuffling and splitting

/** A shuffled copy of `array` (Fisher–Yates driven by `new Rng(seed).nextFloat()`): the same seed gives the same order. */
export function shuffle<T>(array: readonly T[], seed: number): T[] {
  const rng = new Rng(seed);
  const out = array.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng.nextFloat() * (i + 1));
    const t = out[i] as T;
    out[i] = out[j] as T;
    out[j] = t;
  }
  return out;
}

/**
 * A held-out split: shuffles with `seed`, then the first `evalSize` items are the eval set and the
 * rest the training set (both in shuffled order). `evalSize` in (0, 1) is a fraction of the items
 * (rounded, at least 1); an integer ≥ 0 is a count. At least one item must stay for training.
 */
export function splitEval<T>(items: readonly T[], evalSize: number, seed: number): { train: T[]; eval: T[] } {
  let count: number;
  if (evalSize > 0 && evalSize < 1) count = Math.max(1, Math.round(items.length * evalSize));
  else if (Number.isInteger(evalSize) && evalSize >= 0) count = evalSize;
  else throw new DatasetError(`eval size must be a fraction in (0, 1) or a whole count ≥ 0, got ${String(evalSize)}`);
  if (count >= items.length) {
    throw new DatasetError(`eval split of ${count} item(s) leaves nothing to train on (${items.length} item(s) in all)`);
  }
  const shuffled = shuffle(items, seed);
  return { eval: shuffled.slice(0, count), train: shuffled.slice(count) };
}
