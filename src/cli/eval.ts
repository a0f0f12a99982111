import fs from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import { XverseError } from '../errors.js';
import type { AnswerTokenRule } from '../eval/answer-tokens.js';
import { outputPaths, writeAllResults, writeResultsJson } from '../eval/output.js';
import { BENCHMARKS, type BenchmarkName } from '../eval/prompts.js';
import { modelName } from '../eval/report.js';
import { resultsTable } from '../eval/results.js';
import { readResults, runEval, type EvalProgress } from '../eval/runner.js';
import type { BadRowPolicy } from '../eval/types.js';
import { addModelFlags, integerArg, loadFromFlags, type ModelFlags } from './options.js';

interface EvalFlags extends ModelFlags {
  data: string;
  shots: number;
  subjects?: string[];
  limit?: number;
  batch: number;
  out?: string;
  resume?: boolean;
  force?: boolean;
  split?: string;
  maxLength?: number;
  answerTokens: AnswerTokenRule;
  prefixCache: boolean;
  badRows: BadRowPolicy;
  stopAfter?: number;
}

function subjectList(value: string): string[] {
  const list = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (list.length === 0) throw new InvalidArgumentError(`expected comma-separated subject names, got "${value}"`);
  return list;
}

/** results/<benchmark>-<model>[-<quant>]-<k>shot.json */
function defaultOut(benchmark: string, modelPath: string, quantize: string | undefined, shots: number): string {
  return path.join('results', `${benchmark}-${modelName(modelPath)}${quantize ? `-${quantize}` : ''}-${shots}shot.json`);
}

/** A progress bar with ETA on an interactive stderr; nothing when piped. */
function progressBar(): { update: (p: EvalProgress) => void; stop: () => void } | undefined {
  if (process.stderr.isTTY !== true) return undefined;
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: '{bar} {percentage}% {value}/{total} questions | {speed} q/s | ETA {eta_formatted} | {subject}',
    barsize: 30, hideCursor: true, clearOnComplete: true, etaBuffer: 50,
  }, cliProgress.Presets.shades_classic);
  let started: { at: number; done: number } | undefined;
  return {
    update(p) {
      if (!started) {
        started = { at: performance.now(), done: p.done - 1 };
        bar.start(p.total, p.done, { subject: p.subject, speed: '–' });
      }
      const speed = (p.done - started.done) / ((performance.now() - started.at) / 1000);
      bar.update(p.done, { subject: p.subject, speed: Number.isFinite(speed) ? speed.toFixed(2) : '–' });
    },
    stop: () => bar.stop(),
  };
}

export function evalCommand(): Command {
  const cmd = new Command('eval')
    .description('score a model on MMLU, C-Eval or CMMLU (k-shot multiple choice, as the reference harnesses do)')
    .addArgument(new Command().createArgument('<benchmark>', 'mmlu, ceval or cmmlu').choices(BENCHMARKS))
    .requiredOption('--data <dir>', 'the benchmark\'s data folder (with dev/ and test/ or val/ folders of CSV files)')
    .option('--shots <k>', 'few-shot examples per prompt, from the subject\'s dev file', integerArg(0), 5)
    .option('--subjects <list>', 'only these subjects (comma-separated file names, e.g. anatomy,astronomy)', subjectList)
    .option('--limit <n>', 'only the first n questions of each subject', integerArg(1))
    .option('--batch <n>', 'questions per forward pass (uses one KV cache each)', integerArg(1), 1)
    .option('--out <file>', 'results file (.json; .csv and .md are written beside it) (default: results/<benchmark>-<model>-<k>shot.json)')
    .option('--resume', 'continue an interrupted run from its results file')
    .option('--force', 'overwrite an existing results file')
    .option('--split <name>', 'split to score: test (default) or val (default for C-Eval, whose test answers are not public)')
    .option('--max-length <n>', 'most prompt tokens; shots are dropped to fit (default: the model\'s context length; the reference scripts use 2048)', integerArg(2))
    .addOption(new Option('--answer-tokens <rule>', 'token ids compared for A–D: continuation = the token the tokenizer produces for the letter after the prompt; isolated = last id of encode("A") (evaluate_hf.py)').choices(['continuation', 'isolated']).default('continuation'))
    .option('--no-prefix-cache', 'compute every prompt from scratch instead of reusing the shared few-shot prefix\'s KV cache')
    .option('--stop-after <n>', 'score at most n more questions, then save and stop as if interrupted (continue with --resume)', integerArg(1))
    .addOption(new Option('--bad-rows <policy>', 'a malformed data row: error stops, skip warns and leaves it out').choices(['error', 'skip']).default('error'));
  addModelFlags(cmd);
  return cmd.action(async (benchmark: BenchmarkName, flags: EvalFlags) => {
    if (flags.resume && flags.force) cmd.error('error: give --resume or --force, not both');
    const { model, tokenizer } = await loadFromFlags(flags);
    const out = flags.out ?? defaultOut(benchmark, model.path, flags.quantize, flags.shots);
    const files = outputPaths(out);
    let resumeFrom;
    if (flags.resume) {
      if (!fs.existsSync(files.json)) throw new XverseError(`--resume: ${files.json} does not exist (nothing to continue)`);
      resumeFrom = readResults(files.json);
    } else if (fs.existsSync(files.json) && !flags.force) {
      throw new XverseError(`${files.json} exists: continue it with --resume, or overwrite it with --force`);
    }

    const controller = new AbortController();
    const onSigint = () => {
      if (controller.signal.aborted) process.exit(130);
      controller.abort();
    };
    process.on('SIGINT', onSigint);
    const bar = progressBar();
    let scored = 0;
    try {
      const results = await runEval(model.model, tokenizer, {
        benchmark, dataDir: flags.data, modelName: model.path, quantize: flags.quantize ?? null, shots: flags.shots,
        batch: flags.batch, answerTokens: flags.answerTokens, prefixCache: flags.prefixCache, onBadRow: flags.badRows,
        signal: controller.signal,
        onCheckpoint: (partial) => writeResultsJson(files.json, partial),
        onProgress: (p) => {
          bar?.update(p);
          scored++;
          if (flags.stopAfter !== undefined && scored >= flags.stopAfter) controller.abort();
        },
        ...(flags.subjects ? { subjects: flags.subjects } : {}),
        ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
        ...(flags.split ? { split: flags.split } : {}),
        ...(flags.maxLength !== undefined ? { maxTokens: flags.maxLength } : {}),
        ...(resumeFrom ? { resumeFrom } : {}),
        ...(bar ? { warn: (m: string) => process.stderr.write(`\nxverse: warning: ${m}\n`) } : {}),
      });
      bar?.stop();
      writeAllResults(files.json, results);
      process.stdout.write(resultsTable(results));
      if (!results.complete) {
        process.stderr.write(`xverse: stopped after ${results.summary.overall.questions} of ${results.plannedQuestions} questions; continue with the same command plus --resume --out ${files.json}\n`);
        process.exitCode = 130;
        return;
      }
      process.stderr.write(`wrote ${files.json}, ${files.csv}, ${files.md} (${results.seconds.toFixed(1)} s)\n`);
    } finally {
      bar?.stop();
      process.off('SIGINT', onSigint);
    }
  });
}
