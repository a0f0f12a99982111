import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { subjectInfo } from './subjects.js';
import { CHOICE_LETTERS, type McqItem } from './types.js';

export type BenchmarkName = 'mmlu' | 'ceval' | 'cmmlu';
export const BENCHMARKS: readonly BenchmarkName[] = ['mmlu', 'ceval', 'cmmlu'];

/**
 * How a benchmark's reference code writes its few-shot prompt (the exact strings, see
 * docs/evaluation.md for their sources):
 *  - MMLU, hendrycks/test evaluate*.py: "The following are multiple choice questions (with
 *    answers) about{ subject words}.\n\n", then per example the question, "\nA. …" … "\nD. …",
 *    "\nAnswer:" and, for the shots, " X\n\n".
 *  - C-Eval, hkust-nlp/ceval evaluators (llama.py, chatglm.py): "以下是中国关于{科目}考试的单项选择题，
 *    请选出其中的正确答案。\n\n", examples end in "\n答案：" and, for the shots, "X\n\n".
 *  - CMMLU, haonan-li/CMMLU src/mp_utils.py: "以下是关于{科目}的单项选择题，请直接给出正确答案的选项。\n\n",
 *    examples start with "题目：" and end in "\n答案是：" and, for the shots, "X\n\n".
 */
export interface PromptFormat {
  readonly benchmark: BenchmarkName;
  header(subject: string): string;
  /** An example: a shot (with its answer) or the question under test (ending where the answer goes). */
  example(item: McqItem, withAnswer: boolean): string;
  /** What the reference prompt puts after the test question for answer `letter` (" A" or "A"). */
  answerText(letter: string): string;
  /**
   * How shots are dropped when the prompt is too long: hendrycks/test removes the last shot, one at
   * a time, while the whole prompt has more tokens than the limit (we do the same for C-Eval, whose
   * code does not truncate); CMMLU removes every shot of the longest token length while the shots'
   * tokens (encoded one by one) reach the limit minus header and question.
   */
  readonly shotDropping: 'last' | 'longest';
}

function choicesText(item: McqItem): string {
  return item.choices.map((choice, j) => `\n${CHOICE_LETTERS[j]}. ${choice}`).join('');
}

function promptName(benchmark: BenchmarkName, subject: string): string {
  // A subject the tables do not know still gets a prompt: MMLU's rule works for any file name;
  // for the Chinese benchmarks the subject's own name stands in for its Chinese one.
  return subjectInfo(benchmark, subject)?.promptName ?? (benchmark === 'mmlu' ? subject.split('_').map((w) => ` ${w}`).join('') : subject);
}

const MMLU: PromptFormat = {
  benchmark: 'mmlu',
  header: (subject) => `The following are multiple choice questions (with answers) about ${promptName('mmlu', subject)}.\n\n`,
  example: (item, withAnswer) => `${item.question}${choicesText(item)}\nAnswer:${withAnswer ? ` ${CHOICE_LETTERS[item.answer]}\n\n` : ''}`,
  answerText: (letter) => ` ${letter}`,
  shotDropping: 'last',
};

const CEVAL: PromptFormat = {
  benchmark: 'ceval',
  header: (subject) => `以下是中国关于${promptName('ceval', subject)}考试的单项选择题，请选出其中的正确答案。\n\n`,
  example: (item, withAnswer) => `${item.question}${choicesText(item)}\n答案：${withAnswer ? `${CHOICE_LETTERS[item.answer]}\n\n` : ''}`,
  answerText: (letter) => letter,
  shotDropping: 'last',
};

const CMMLU: PromptFormat = {
  benchmark: 'cmmlu',
  header: (subject) => `以下是关于${promptName('cmmlu', subject)}的单项选择题，请直接给出正确答案的选项。\n\n`,
  example: (item, withAnswer) => `题目：${item.question}${choicesText(item)}\n答案是：${withAnswer ? `${CHOICE_LETTERS[item.answer]}\n\n` : ''}`,
  answerText: (letter) => letter,
  shotDropping: 'longest',
};

export function promptFormat(benchmark: BenchmarkName): PromptFormat {
  return benchmark === 'mmlu' ? MMLU : benchmark === 'ceval' ? CEVAL : CMMLU;
}

/** The few-shot prompt for one question, with the number of shots it kept. */
export interface BuiltPrompt {
  text: string;
  ids: number[];
  shots: number;
  /** True when even the shot-less prompt was too long and its start was cut off to fit. */
  truncated: boolean;
}

/** The prompt text with the first `shots` examples, without tokenizing (for inspection and tests). */
export function promptText(format: PromptFormat, subject: string, shots: readonly McqItem[], question: McqItem): string {
  return format.header(subject) + shots.map((s) => format.example(s, true)).join('') + format.example(question, false);
}

/**
 * Builds the prompt for `question` with up to `shots.length` shots, dropped by the benchmark's rule
 * until it fits in `maxTokens` tokens (tokenized with the tokenizer's own special-token rule, as
 * the reference scripts call `tokenizer(prompt)`). A prompt too long even without shots keeps its
 * last maxTokens tokens (the reference scripts have no answer for this case; it is counted).
 */
export function buildPrompt(format: PromptFormat, tokenizer: Tokenizer, subject: string, shots: readonly McqItem[], question: McqItem, maxTokens: number): BuiltPrompt {
  const header = format.header(subject);
  const end = format.example(question, false);
  const shotTexts = shots.map((s) => format.example(s, true));
  let kept = shotTexts;
  if (format.shotDropping === 'last') {
    for (;;) {
      const text = header + kept.join('') + end;
      const ids = tokenizer.encode(text);
      if (ids.length <= maxTokens) return { text, ids, shots: kept.length, truncated: false };
      if (kept.length === 0) return { text, ids: ids.slice(ids.length - maxTokens), shots: 0, truncated: true };
      kept = kept.slice(0, -1);
    }
  }
  // CMMLU's gen_prompt: lengths of the header + question and of each shot, each encoded alone.
  const fixed = tokenizer.encode(header).length + tokenizer.encode(end).length;
  if (fixed > maxTokens) {
    // CMMLU then sends the question alone, without the header.
    const ids = tokenizer.encode(end);
    return { text: end, ids: ids.length > maxTokens ? ids.slice(ids.length - maxTokens) : ids, shots: 0, truncated: ids.length > maxTokens };
  }
  let withLengths = shotTexts.map((t) => ({ t, n: tokenizer.encode(t).length }));
  while (withLengths.length > 0 && withLengths.reduce((sum, e) => sum + e.n, 0) >= maxTokens - fixed) {
    const longest = Math.max(...withLengths.map((e) => e.n));
    withLengths = withLengths.filter((e) => e.n !== longest);
  }
  const text = header + withLengths.map((e) => e.t).join('') + end;
  const ids = tokenizer.encode(text);
  // Pieces encoded alone can count fewer tokens than the joined text: cut the start if it overflows.
  return ids.length <= maxTokens
    ? { text, ids, shots: withLengths.length, truncated: false }
    : { text, ids: ids.slice(ids.length - maxTokens), shots: withLengths.length, truncated: true };
}
