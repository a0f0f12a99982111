import fs from 'node:fs';
import { DatasetError, XverseError } from '../errors.js';
import { readJsonFile } from '../formats/file-io.js';
import type { CausalLM, SequenceStep } from '../model/causal-lm.js';
import type { KVCache } from '../model/kv-cache.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { answerProbabilities, answerTokens, argmax, type AnswerTokenRule } from './answer-tokens.js';
import { defaultSplit, listSubjects, splitFile } from './data-files.js';
import { loadDataset } from './datasets.js';
import { buildPrompt, promptFormat, type BenchmarkName, type BuiltPrompt } from './prompts.js';
import { summarize, type EvalResults, type EvalSettings, type QuestionRecord, type SubjectRecord } from './results.js';
import { subjectInfo } from './subjects.js';
import type { BadRowPolicy, McqItem } from './types.js';

export interface EvalProgress {
  done: number;
  total: number;
  subject: string;
}

export interface EvalOptions {
  benchmark: BenchmarkName;
  /** Folder with the benchmark's dev/ and test/ (or val/) folders. */
  dataDir: string;
  /** Model name recorded in the results (its path). */
  modelName: string;
  /** How the weights were quantized on load, if they were (recorded in the results). */
  quantize?: string | null;
  /** Few-shot examples, taken from the start of the subject's dev file (default 5). */
  shots?: number;
  /** Split to score (default: test; val for C-Eval). */
  split?: string;
  /** Only these subjects (default: every subject with a file in the split). */
  subjects?: readonly string[];
  /** Only the first `limit` questions of each subject. */
  limit?: number | null;
  /** Questions per forward pass (default 1). */
  batch?: number;
  /** Most prompt tokens; shots are dropped to fit (default: the model's context length). */
  maxTokens?: number;
  answerTokens?: AnswerTokenRule;
  /**
   * Reuse the KV cache of the few-shot prefix the questions of a subject share (default true).
   * false computes every prompt from scratch (the reference scripts' way; for checking).
   */
  prefixCache?: boolean;
  onBadRow?: BadRowPolicy;
  warn?: (message: string) => void;
  signal?: AbortSignal;
  onProgress?: (progress: EvalProgress) => void;
  /** Called with the results so far at most every `checkpointSeconds` and after each subject. */
  onCheckpoint?: (results: EvalResults) => void;
  checkpointSeconds?: number;
  /** A results file of an interrupted run with the same settings: its questions are not run again. */
  resumeFrom?: EvalResults;
}

interface PendingQuestion {
  index: number;
  item: McqItem;
  prompt: BuiltPrompt;
}

/**
 * The KV caches of one subject: `prefix` holds the shared few-shot prefix, computed once; each
 * worker cache copies it (or keeps it from its last question) and appends one question. Every
 * question's logits thus come from the same two passes (prefix, then its own tokens), whatever
 * ran before it — so a resumed run computes exactly what an uninterrupted one does.
 */
class PrefixCaches {
  private prefix: KVCache | null = null;
  private prefixIds: number[] = [];
  private readonly workers: KVCache[] = [];
  /** Per worker: how many leading positions still hold the prefix cache's values. */
  private readonly intact: number[] = [];

  constructor(private readonly model: CausalLM) {}

  /** Computes the prefix for a new subject (one token short of it, so no prompt is wholly cached). */
  setPrefix(ids: readonly number[]): void {
    this.prefix ??= this.model.createCache();
    this.prefix.clear();
    this.prefixIds = ids.slice(0, Math.max(0, Math.min(ids.length, this.prefix.maxLength) - 1));
    if (this.prefixIds.length > 0) this.model.forward(this.prefixIds, this.prefix);
    this.intact.fill(0);
  }

  /** Worker `slot` made ready for `ids`: returns the step that completes it. */
  step(slot: number, ids: readonly number[]): SequenceStep {
    while (this.workers.length <= slot) {
      this.workers.push(this.model.createCache());
      this.intact.push(0);
    }
    const cache = this.workers[slot]!;
    let shared = 0;
    // Under dynamic NTK RoPE a prompt past the trained length rotates by its own length: no reuse.
    const reusable = ids.length <= cache.lengthIndependentUpTo;
    const limit = reusable ? Math.min(this.prefixIds.length, ids.length - 1) : 0;
    while (shared < limit && this.prefixIds[shared] === ids[shared]) shared++;
    if (shared > this.intact[slot]!) {
      cache.adoptPrefix(this.prefix!, shared);
      this.intact[slot] = shared;
    } else {
      cache.truncate(shared);
    }
    // Positions from `shared` on are about to be overwritten by this question.
    this.intact[slot] = Math.min(this.intact[slot]!, shared);
    return { ids: ids.slice(shared), cache };
  }
}

function checkSettings(previous: EvalSettings, current: EvalSettings): void {
  for (const key of Object.keys(current) as Array<keyof EvalSettings>) {
    if (JSON.stringify(previous[key]) !== JSON.stringify(current[key])) {
      throw new XverseError(`--resume: the results file was made with ${key} ${JSON.stringify(previous[key])}, this run has ${JSON.stringify(current[key])}; run with the same settings or without --resume`);
    }
  }
}

function groupQuestions(pending: readonly PendingQuestion[], batch: number): PendingQuestion[][] {
  const groups: PendingQuestion[][] = [];
  for (let i = 0; i < pending.length; i += batch) groups.push(pending.slice(i, i + batch));
  return groups;
}

/**
 * Runs a multiple-choice benchmark: per subject, the first `shots` dev questions as examples and
 * each test question scored from the model's next-token distribution over the four answer tokens
 * (softmax over those four, argmax = prediction), as hendrycks/test's evaluate_hf.py does.
 */
export async function runEval(model: CausalLM, tokenizer: Tokenizer, options: EvalOptions): Promise<EvalResults> {
  const benchmark = options.benchmark;
  const format = promptFormat(benchmark);
  const split = options.split ?? defaultSplit(benchmark);
  const shots = options.shots ?? 5;
  const batch = options.batch ?? 1;
  const contextLength = model.createCache().maxLength;
  const maxTokens = options.maxTokens ?? contextLength;
  if (!Number.isSafeInteger(shots) || shots < 0) throw new XverseError(`shots must be an integer ≥ 0, got ${shots}`);
  if (!Number.isSafeInteger(batch) || batch < 1) throw new XverseError(`batch must be an integer ≥ 1, got ${batch}`);
  if (!Number.isSafeInteger(maxTokens) || maxTokens < 2 || maxTokens > contextLength) {
    throw new XverseError(`the prompt limit must be an integer from 2 to the model's context length ${contextLength}, got ${maxTokens}`);
  }
  const settings: EvalSettings = {
    benchmark, split, shots, maxTokens, answerTokens: options.answerTokens ?? 'continuation',
    limit: options.limit ?? null, model: options.modelName, quantize: options.quantize ?? null,
  };
  if (options.resumeFrom) checkSettings(options.resumeFrom.settings, settings);

  const available = listSubjects(benchmark, options.dataDir, split);
  const subjects = options.subjects ?? available;
  const missing = subjects.filter((s) => !available.includes(s));
  if (missing.length > 0) {
    throw new DatasetError(`no ${split} file for subject(s) ${missing.join(', ')} in ${options.dataDir} (it has: ${available.join(', ')})`);
  }
  const loadOptions = { ...(options.onBadRow ? { onBadRow: options.onBadRow } : {}), ...(options.warn ? { warn: options.warn } : {}) };
  const previous = new Map((options.resumeFrom?.subjects ?? []).map((s) => [s.subject, s]));

  // Load everything first, so a bad file stops the run before any compute and the total is known.
  const plan = subjects.map((subject) => {
    const devFile = splitFile(benchmark, options.dataDir, 'dev', subject);
    const testFile = splitFile(benchmark, options.dataDir, split, subject);
    if (shots > 0 && !fs.existsSync(devFile)) throw new DatasetError(`${devFile}: no such file (the ${shots}-shot examples of ${subject} come from it)`);
    const dev = shots > 0 ? loadDataset(benchmark, devFile, loadOptions).slice(0, shots) : [];
    const all = loadDataset(benchmark, testFile, loadOptions);
    const test = settings.limit === null ? all : all.slice(0, settings.limit);
    const done = previous.get(subject)?.questions ?? [];
    return { subject, dev, test, testFile, done };
  });
  const total = plan.reduce((sum, p) => sum + p.test.length, 0);
  let doneCount = plan.reduce((sum, p) => sum + p.done.length, 0);

  const startedAt = options.resumeFrom?.startedAt ?? new Date().toISOString();
  const secondsBefore = options.resumeFrom?.seconds ?? 0;
  const started = performance.now();
  const records: SubjectRecord[] = [];
  const snapshot = (complete: boolean): EvalResults => ({
    format: 'xverse-ts-eval', version: 1, settings, complete, startedAt, updatedAt: new Date().toISOString(), plannedQuestions: total,
    seconds: secondsBefore + (performance.now() - started) / 1000,
    subjects: records.map((r) => ({ ...r, questions: [...r.questions].sort((a, b) => a.index - b.index) })),
    summary: summarize(benchmark, records),
  });
  const checkpointMs = (options.checkpointSeconds ?? 2) * 1000;
  let lastCheckpoint = performance.now();
  const caches = new PrefixCaches(model);

  for (const p of plan) {
    if (options.signal?.aborted) break;
    const info = subjectInfo(benchmark, p.subject);
    const doneIndexes = new Set(p.done.map((q) => q.index));
    const pending: PendingQuestion[] = p.test
      .map((item, index) => ({ item, index }))
      .filter((q) => !doneIndexes.has(q.index))
      .map((q) => ({ ...q, prompt: buildPrompt(format, tokenizer, p.subject, p.dev, q.item, maxTokens) }));
    const probe = pending[0]?.prompt.text ?? format.header(p.subject);
    const tokens = p.test.length === 0 ? { lead: [], ids: [], tokens: [] } : answerTokens(settings.answerTokens, format, tokenizer, probe);
    // Tokens all four answers start with are read past: they end every prompt.
    if (tokens.lead.length > 0) for (const q of pending) q.prompt.ids.push(...tokens.lead);
    const record: SubjectRecord = {
      subject: p.subject, categories: info?.categories ?? [], file: p.testFile, total: p.test.length,
      answerTokenIds: [...tokens.lead, ...tokens.ids], answerTokens: tokens.tokens, questions: [...p.done],
    };
    records.push(record);
    if (pending.length === 0) continue;
    if (options.prefixCache !== false) caches.setPrefix(tokenizer.encode(format.header(p.subject) + p.dev.map((s) => format.example(s, true)).join('')));

    for (const group of groupQuestions(pending, batch)) {
      if (options.signal?.aborted) break;
      const logits = scoreGroup(model, caches, group, options.prefixCache !== false);
      group.forEach((q, i) => record.questions.push(questionRecord(q, logits[i]!, tokens.ids)));
      doneCount += group.length;
      options.onProgress?.({ done: doneCount, total, subject: p.subject });
      if (options.onCheckpoint && performance.now() - lastCheckpoint >= checkpointMs) {
        options.onCheckpoint(snapshot(false));
        lastCheckpoint = performance.now();
      }
      // Let timers and signal handlers (Ctrl-C) run between forward passes.
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (options.onCheckpoint) {
      options.onCheckpoint(snapshot(false));
      lastCheckpoint = performance.now();
    }
  }
  return snapshot(!options.signal?.aborted && doneCount === total && records.length === plan.length);
}

function scoreGroup(model: CausalLM, caches: PrefixCaches, group: readonly PendingQuestion[], reusePrefix: boolean): Float32Array[] {
  const steps: SequenceStep[] = group.map((q, slot) => {
    if (reusePrefix) return caches.step(slot, q.prompt.ids);
    return { ids: q.prompt.ids, cache: model.createCache() };
  });
  if (steps.length > 1 && model.forwardMany) return model.forwardMany(steps);
  return steps.map((s) => model.forward(s.ids, s.cache).slice());
}

function questionRecord(q: PendingQuestion, logits: Float32Array, ids: readonly number[]): QuestionRecord {
  const probs = answerProbabilities(logits, ids);
  return {
    index: q.index, line: q.item.source.line, answer: q.item.answer, prediction: argmax(probs), probs,
    shots: q.prompt.shots, promptTokens: q.prompt.ids.length, ...(q.prompt.truncated ? { truncated: true } : {}),
  };
}

/** Reads a results file written by a run (for --resume and `xverse report`), checking its shape. */
export function readResults(file: string): EvalResults {
  const r = readJsonFile(file) as Partial<EvalResults> | null;
  if (r === null || typeof r !== 'object' || r.format !== 'xverse-ts-eval' || r.version !== 1) {
    throw new DatasetError(`${file}: not an xverse eval results file (no "format": "xverse-ts-eval", "version": 1)`);
  }
  if (typeof r.settings !== 'object' || r.settings === null || !Array.isArray(r.subjects) || typeof r.summary !== 'object') {
    throw new DatasetError(`${file}: results file lacks "settings", "subjects" or "summary"`);
  }
  for (const s of r.subjects) {
    if (typeof s?.subject !== 'string' || !Array.isArray(s.questions)) throw new DatasetError(`${file}: a "subjects" entry lacks "subject" or "questions"`);
    for (const q of s.questions) {
      if (!Number.isSafeInteger(q?.index) || !Number.isSafeInteger(q.answer) || !Number.isSafeInteger(q.prediction)) {
        throw new DatasetError(`${file}: subject ${s.subject}: a question lacks an integer "index", "answer" or "prediction"`);
      }
    }
  }
  return r as EvalResults;
}
