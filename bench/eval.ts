/**
 * `npm run bench:eval`: speed of `xverse eval`'s scoring paths on an XVERSE-13B-shaped model (a few
 * of its 40 layers, q8_0), side by side in one run: every prompt computed from scratch (the reference
 * harnesses' way), the few-shot prefix's KV cache reused, and reuse plus batched passes. Checks that
 * the three give the same letter probabilities, and writes its section of BENCHMARKS.md.
 *
 *   npm run bench:eval -- [--layers 2] [--questions 6] [--subject abstract_algebra] [--batch 4] [--quantize q8_0|q4_0] [--threads N]
 *
 * Weights stay bf16 unless --quantize: with q8_0/q4_0 weights the activations are rounded to 8 bits
 * before each product, and a last-bit difference between two ways of splitting a prompt can flip
 * one such rounding — so the paths then differ by up to ~1e-2 in probability on this random model,
 * as any quantized engine's would (bf16: ~1e-6).
 *
 * The synthetic tokenizer has no merges, so MMLU text becomes about one token per byte: prompts are
 * ~4× longer than with XVERSE's tokenizer, and so are prefix and question alike.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AutoModelForCausalLM, AutoTokenizer } from '../src/api/pretrained.js';
import { runEval } from '../src/eval/runner.js';
import type { EvalResults } from '../src/eval/results.js';
import { parseArgs } from './bench-common.js';
import { table, writeSection } from './report.js';
import { writeSyntheticXverse } from './synthetic.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const args = parseArgs(process.argv.slice(2));
const layers = Number(args.get('layers') ?? 2);
const questions = Number(args.get('questions') ?? 6);
const subject = args.get('subject') ?? 'abstract_algebra';
const batch = Number(args.get('batch') ?? 4);
const data = path.resolve(args.get('data') ?? path.join(ROOT, '../shared/fixtures/eval/mmlu'));
const dir = path.join(path.resolve(args.get('cache') ?? path.join(ROOT, 'bench/.cache')), `xverse13b-${layers}l`);
const log = (s: string) => process.stderr.write(s + '\n');

writeSyntheticXverse(dir, layers, { log });
const quantize = args.get('quantize') as 'q8_0' | 'q4_0' | undefined;
const model = await AutoModelForCausalLM.fromPretrained(dir, {
  ...(quantize ? { quantize } : {}), backend: 'native', ...(args.has('threads') ? { threads: Number(args.get('threads')) } : {}),
});
const tokenizer = await AutoTokenizer.fromPretrained(dir);
const threads = model.model.backend.info().threads;

const base = { benchmark: 'mmlu' as const, dataDir: data, modelName: dir, subjects: [subject], limit: questions, maxTokens: 8192 };
const modes = [
  { name: 'every prompt from scratch', options: { prefixCache: false } },
  { name: 'few-shot prefix cached', options: { prefixCache: true } },
  { name: `prefix cached + batch ${batch}`, options: { prefixCache: true, batch } },
];
const runs: Array<{ name: string; seconds: number; results: EvalResults }> = [];
for (const mode of modes) {
  log(`${mode.name}…`);
  const t0 = performance.now();
  const results = await runEval(model.model, tokenizer, { ...base, ...mode.options });
  runs.push({ name: mode.name, seconds: (performance.now() - t0) / 1000, results });
}
const reference = runs[0]!;
const maxDiff = (r: EvalResults) => Math.max(...r.subjects[0]!.questions.flatMap((q, i) => q.probs.map((p, k) => Math.abs(p - reference.results.subjects[0]!.questions[i]!.probs[k]!))));
const q0 = reference.results.subjects[0]!.questions;
const meanPrompt = q0.reduce((s, q) => s + q.promptTokens, 0) / q0.length;

const body = [
  '## Evaluation (`npm run bench:eval`)',
  '',
  `MMLU ${subject}, 5-shot, first ${questions} questions (mean prompt ${meanPrompt.toFixed(0)} tokens), on an XVERSE-13B-shaped model with ${layers} of its 40 layers, ${quantize ?? 'bf16'} weights, native backend, ${threads} threads, ${os.cpus()[0]?.model ?? 'CPU'}. One run, the three paths side by side.`,
  '',
  table(['path', 'seconds', 'questions/s', 'speed-up', 'max |Δp| vs scratch'], runs.map((r) => [
    r.name, r.seconds.toFixed(2), (questions / r.seconds).toFixed(3), `${(reference.seconds / r.seconds).toFixed(2)}×`, maxDiff(r.results).toExponential(1),
  ]), ['l', 'r', 'r', 'r', 'r']),
].join('\n');
process.stdout.write(body + '\n');
writeSection(path.join(ROOT, 'BENCHMARKS.md'), 'eval', body);
