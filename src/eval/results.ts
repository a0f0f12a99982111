import { CATEGORY_ORDER } from './subjects.js';
import type { AnswerTokenRule } from './answer-tokens.js';
import type { BenchmarkName } from './prompts.js';

/** One scored question. */
export interface QuestionRecord {
  /** Index of the question in its subject's file (0-based row, header excluded). */
  index: number;
  /** Line of the file where its row starts. */
  line: number;
  answer: number;
  prediction: number;
  /** Softmax over the four answer tokens' logits, A–D. */
  probs: number[];
  /** Shots the prompt kept (fewer than asked when the prompt had to fit the context). */
  shots: number;
  promptTokens: number;
  /** Present (true) when even the shot-less prompt was cut to fit. */
  truncated?: boolean;
}

export interface SubjectRecord {
  subject: string;
  categories: string[];
  /** The test file, as given. */
  file: string;
  /** Questions this run covers (after --limit). */
  total: number;
  /** Token ids compared for A–D and their strings (after any tokens all four start with, which end each prompt). */
  answerTokenIds: number[];
  answerTokens: string[];
  questions: QuestionRecord[];
}

/** The settings a run was made with; --resume refuses a results file made with other ones. */
export interface EvalSettings {
  benchmark: BenchmarkName;
  split: string;
  shots: number;
  maxTokens: number;
  answerTokens: AnswerTokenRule;
  limit: number | null;
  model: string;
  quantize: string | null;
}

export interface Score {
  questions: number;
  correct: number;
  /** Question-weighted accuracy in % (hendrycks/test's "weighted accuracy"). */
  accuracy: number;
  /** Mean of subject accuracies in % (CMMLU's own script averages subjects this way). */
  subjectMean: number;
}

export interface Summary {
  subjects: Record<string, Score>;
  categories: Record<string, Score>;
  overall: Score;
}

export interface EvalResults {
  format: 'xverse-ts-eval';
  version: 1;
  settings: EvalSettings;
  /** False while questions remain (an interrupted run, continued with --resume). */
  complete: boolean;
  startedAt: string;
  updatedAt: string;
  /** Questions the run covers (all subjects, after --limit); `summary.overall.questions` of them are scored. */
  plannedQuestions: number;
  /** Seconds spent scoring, summed over runs (resumed runs add theirs). */
  seconds: number;
  subjects: SubjectRecord[];
  summary: Summary;
}

function score(records: readonly SubjectRecord[]): Score {
  const questions = records.reduce((sum, r) => sum + r.questions.length, 0);
  const correct = records.reduce((sum, r) => sum + r.questions.filter((q) => q.prediction === q.answer).length, 0);
  const scored = records.filter((r) => r.questions.length > 0);
  const subjectMean = scored.length === 0 ? 0
    : scored.reduce((sum, r) => sum + r.questions.filter((q) => q.prediction === q.answer).length / r.questions.length, 0) / scored.length * 100;
  return { questions, correct, accuracy: questions === 0 ? 0 : (correct / questions) * 100, subjectMean };
}

/** Per subject, per category (in the benchmark's order) and overall; overall is question-weighted. */
export function summarize(benchmark: BenchmarkName, subjects: readonly SubjectRecord[]): Summary {
  const categories: Record<string, Score> = {};
  const names = [...CATEGORY_ORDER[benchmark], ...new Set(subjects.flatMap((s) => s.categories))];
  for (const name of new Set(names)) {
    const members = subjects.filter((s) => s.categories.includes(name));
    if (members.length > 0) categories[name] = score(members);
  }
  return {
    subjects: Object.fromEntries(subjects.map((s) => [s.subject, score([s])])),
    categories,
    overall: score(subjects),
  };
}

function pct(x: number): string {
  return x.toFixed(2);
}

/** One row per subject, category and the overall score: level,name,questions,correct,accuracy,subject_mean. */
export function resultsCsv(results: EvalResults): string {
  const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const rows = ['level,name,questions,correct,accuracy,subject_mean'];
  const add = (level: string, name: string, s: Score) => rows.push([level, quote(name), s.questions, s.correct, pct(s.accuracy), pct(s.subjectMean)].join(','));
  for (const [name, s] of Object.entries(results.summary.subjects)) add('subject', name, s);
  for (const [name, s] of Object.entries(results.summary.categories)) add('category', name, s);
  add('overall', 'overall', results.summary.overall);
  return rows.join('\n') + '\n';
}

/** The same figures as Markdown tables (categories and overall first, then subjects). */
export function resultsMarkdown(results: EvalResults): string {
  const s = results.settings;
  const lines = [
    `# ${BENCHMARK_TITLES[s.benchmark]} ${s.shots}-shot — ${s.model}${s.quantize ? ` (${s.quantize})` : ''}`,
    '',
    `Split ${s.split}; answer tokens: ${s.answerTokens}; prompt limit ${s.maxTokens} tokens${s.limit !== null ? `; first ${s.limit} questions per subject` : ''}${results.complete ? '' : '; **incomplete run**'}.`,
    '',
    '| category | questions | accuracy % | subject mean % |',
    '|---|---:|---:|---:|',
    ...Object.entries(results.summary.categories).map(([name, c]) => `| ${name} | ${c.questions} | ${pct(c.accuracy)} | ${pct(c.subjectMean)} |`),
    `| **overall** | ${results.summary.overall.questions} | **${pct(results.summary.overall.accuracy)}** | ${pct(results.summary.overall.subjectMean)} |`,
    '',
    '| subject | categories | questions | accuracy % |',
    '|---|---|---:|---:|',
    ...results.subjects.map((r) => {
      const c = results.summary.subjects[r.subject]!;
      return `| ${r.subject} | ${r.categories.join(', ')} | ${c.questions}${c.questions < r.total ? ` of ${r.total}` : ''} | ${pct(c.accuracy)} |`;
    }),
  ];
  return lines.join('\n') + '\n';
}

export const BENCHMARK_TITLES: Record<BenchmarkName, string> = { mmlu: 'MMLU', ceval: 'C-Eval', cmmlu: 'CMMLU' };

/** The table printed at the end of a run (plain text, aligned): subjects, then categories, then overall. */
export function resultsTable(results: EvalResults): string {
  const rows: Array<[string, string, string] | null> = [['subject', 'questions', 'accuracy %']];
  for (const [name, c] of Object.entries(results.summary.subjects)) rows.push([name, String(c.questions), pct(c.accuracy)]);
  rows.push(null);
  for (const [name, c] of Object.entries(results.summary.categories)) rows.push([name, String(c.questions), pct(c.accuracy)]);
  rows.push(['overall', String(results.summary.overall.questions), pct(results.summary.overall.accuracy)]);
  const filled = rows.filter((r): r is [string, string, string] => r !== null);
  const w = [0, 1, 2].map((i) => Math.max(...filled.map((r) => r[i]!.length)));
  return rows.map((r) => (r === null ? '-'.repeat(w[0]! + w[1]! + w[2]! + 4) : `${r[0].padEnd(w[0]!)}  ${r[1].padStart(w[1]!)}  ${r[2].padStart(w[2]!)}`)).join('\n') + '\n';
}
