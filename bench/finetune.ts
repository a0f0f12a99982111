/**
 * `npm run bench:finetune`: training throughput and peak memory, each case in a fresh process.
 *
 *   npm run bench:finetune -- [--layers 4] [--steps 3] [--seq 128] [--threads N]
 *
 *  - full fine-tuning of the embedded stories260K: on the float64 reference graph, and with the
 *    products on the native backend in f32 and in bf16 (float64 master weights);
 *  - LoRA (r 8, all seven projections) over an XVERSE-13B-shaped base (`--layers` of its 40) quantized
 *    to q4_0 while loading, frozen in the native backend (forward on the q4_0 kernels, backward on
 *    transposed f32 copies).
 * Sequences are synthetic token ids with every position trained. Writes its section of BENCHMARKS.md.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultModelPath } from '../src/api/default-model.js';
import { loadBackendFullTrainable, loadBackendTrainable } from '../src/train/backend-base.js';
import { loadTrainable, Trainer, type TrainSequence } from '../src/train/trainer.js';
import { parseArgs, syntheticPrompt } from './bench-common.js';
import { table, writeSection } from './report.js';
import { writeSyntheticXverse } from './synthetic.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const args = parseArgs(process.argv.slice(2));
const layers = Number(args.get('layers') ?? 4);
const steps = Number(args.get('steps') ?? 3);
const seq = Number(args.get('seq') ?? 128);
const log = (s: string) => process.stderr.write(s + '\n');

const CASE_TITLES: Record<string, string> = {
  'stories-full-f64': 'stories260K, full fine-tuning, float64 reference graph (batch 4)',
  'stories-full-f32': 'stories260K, full fine-tuning, native f32 products (batch 4)',
  'stories-full-bf16': 'stories260K, full fine-tuning, native bf16 products (batch 4)',
};

interface CaseResult { name: string; loadSeconds: number; tokensPerSecond: number; peakRssGB: number; firstLoss: number; lastLoss: number; steps: number; tokens: number }

function sequences(count: number, length: number, vocab: number): TrainSequence[] {
  return Array.from({ length: count }, (_, i) => {
    const ids = syntheticPrompt(length, 100 + i, vocab);
    return { ids, labels: [...ids] };
  });
}

/** Runs one case in this (child) process and prints its result as JSON. */
function runCase(which: string): void {
  const started = performance.now();
  const full = which.startsWith('stories-full');
  const dir = full ? defaultModelPath() : path.join(ROOT, `bench/.cache/xverse13b-${layers}l`);
  const threads = args.has('threads') ? { threads: Number(args.get('threads')) } : {};
  const model = which === 'stories-full-f64' ? loadTrainable(dir)
    : full ? loadBackendFullTrainable(dir, { backend: 'native', computeType: which.endsWith('bf16') ? 'bf16' : 'f32', ...threads })
    : loadBackendTrainable(dir, { quantize: 'q4_0', backend: 'native', ...threads });
  const loadSeconds = (performance.now() - started) / 1000;
  const data = full ? sequences(4, seq, model.config.vocabSize) : sequences(1, seq, model.config.vocabSize);
  const trainer = new Trainer(model, data, [], {
    finetuningType: full ? 'full' : 'lora', learningRate: 1e-3, epochs: steps, batchSize: data.length, gradAccum: 1, maxGradNorm: 1,
    scheduler: 'constant', warmupSteps: 0, weightDecay: 0, seed: 1, outputDir: path.join(os.tmpdir(), `xverse-bench-ft-${process.pid}`), saveSteps: 0, evalSteps: 0,
    ...(full ? {} : { lora: { r: 8, alpha: 16, dropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] } }),
  });
  const t0 = performance.now();
  for (let i = 0; i < trainer.totalSteps; i++) log(`  step ${i + 1}: loss ${trainer.trainStep().loss.toFixed(4)}`);
  const seconds = (performance.now() - t0) / 1000;
  const tokens = trainer.history.reduce((s, h) => s + h.tokens, 0);
  const result: CaseResult = {
    name: which, loadSeconds, tokensPerSecond: tokens / seconds, peakRssGB: process.resourceUsage().maxRSS * 1024 / 1e9,
    firstLoss: trainer.history[0]!.loss, lastLoss: trainer.history.at(-1)!.loss, steps: trainer.history.length, tokens,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

if (args.has('case')) {
  runCase(args.get('case')!);
} else {
  writeSyntheticXverse(path.join(ROOT, `bench/.cache/xverse13b-${layers}l`), layers, { log });
  const results: CaseResult[] = [];
  for (const which of ['stories-full-f64', 'stories-full-f32', 'stories-full-bf16', 'xverse13b-lora-q4_0']) {
    log(`${which}…`);
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--case', which, ...process.argv.slice(2)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
    if (r.status !== 0) throw new Error(`${which} failed (status ${r.status})`);
    results.push(JSON.parse(r.stdout.trim().split('\n').at(-1)!) as CaseResult);
  }
  const body = [
    '## Fine-tuning (`npm run bench:finetune`)',
    '',
    `${os.cpus()[0]?.model ?? 'CPU'}, ${os.cpus().length} cores; each case in a fresh process; synthetic sequences of ${seq} tokens, every position trained.`,
    '',
    table(['case', 'load s', 'steps', 'tokens', 'tokens/s', 'peak RSS GB', 'loss first → last'], results.map((r) => [
      CASE_TITLES[r.name] ?? `XVERSE-13B shape, ${layers} layers, LoRA r 8 (7 projections) over a q4_0 base (native, batch 1)`,
      r.loadSeconds.toFixed(1), String(r.steps), String(r.tokens), r.tokensPerSecond.toFixed(2), r.peakRssGB.toFixed(2), `${r.firstLoss.toFixed(3)} → ${r.lastLoss.toFixed(3)}`,
    ]), ['l', 'r', 'r', 'r', 'r', 'r', 'l']),
  ].join('\n');
  process.stdout.write(body + '\n');
  writeSection(path.join(ROOT, 'BENCHMARKS.md'), 'finetune', body);
}
