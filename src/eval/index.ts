/** The evaluation harness's public surface (re-exported by the package root). */
export { runEval, readResults, type EvalOptions, type EvalProgress } from './runner.js';
export { computePerplexity, type PerplexityResult } from './perplexity.js';
export { loadDataset, loadMmluFile, loadCevalFile, loadCmmluFile, type DatasetLoadOptions } from './datasets.js';
export { buildPrompt, promptFormat, promptText, BENCHMARKS, type BenchmarkName, type BuiltPrompt, type PromptFormat } from './prompts.js';
export { answerTokens, type AnswerTokenRule, type AnswerTokens } from './answer-tokens.js';
export { summarize, resultsCsv, resultsMarkdown, type EvalResults, type EvalSettings, type QuestionRecord, type SubjectRecord, type Score, type Summary } from './results.js';
export { renderReport } from './report.js';
export { CHOICE_LETTERS, type McqItem, type BadRowPolicy } from './types.js';
