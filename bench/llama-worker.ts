/**
 * Measures llama.cpp (through node-llama-cpp's prebuilt CPU binaries) on one GGUF file, in its own
 * process so that peak RSS belongs to it alone. Prints one JSON line (see EngineResult).
 *   node dist/bench/llama-worker.js --deps DIR --gguf FILE --threads N
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BENCH_SHAPE, parseArgs, type EngineResult, syntheticPrompt } from './bench-common.js';

/** The few node-llama-cpp calls used here (its package is installed on demand, not a dependency). */
interface LlamaSequence {
  evaluateWithoutGeneratingNewTokens(tokens: number[]): Promise<void>;
  evaluate(tokens: number[], options: { temperature: number }): AsyncGenerator<number>;
  clearHistory(): Promise<void>;
}
interface LlamaContext { getSequence(): LlamaSequence; dispose(): Promise<void> }
interface LlamaModel { createContext(o: { contextSize: number; batchSize: number; threads: number }): Promise<LlamaContext> }
interface Llama { loadModel(o: { modelPath: string; gpuLayers: number }): Promise<LlamaModel>; systemInfo: string }
interface NodeLlamaCpp { getLlama(o: { gpu: false; build: 'never'; maxThreads: number; logLevel: string }): Promise<Llama> }

const args = parseArgs(process.argv.slice(2));
const deps = args.get('deps')!;
const gguf = args.get('gguf')!;
const threads = Number(args.get('threads') ?? 2);
const vocab = Number(args.get('vocab') ?? 100534);

const lib = (await import(pathToFileURL(path.join(deps, 'node_modules/node-llama-cpp/dist/index.js')).href)) as NodeLlamaCpp;
const llama = await lib.getLlama({ gpu: false, build: 'never', maxThreads: threads, logLevel: 'error' });

let t = performance.now();
const model = await llama.loadModel({ modelPath: gguf, gpuLayers: 0 });
const loadMs = performance.now() - t;
const ctx = await model.createContext({ contextSize: 1024, batchSize: 512, threads });
const seq = ctx.getSequence();

// Warm-up: touches every weight page once (llama.cpp maps the file lazily).
await seq.evaluateWithoutGeneratingNewTokens(syntheticPrompt(8, 1, vocab));
await seq.clearHistory();

const prefill: Record<number, number> = {};
for (const n of BENCH_SHAPE.prefillLengths) {
  const prompt = syntheticPrompt(n, n, vocab);
  t = performance.now();
  await seq.evaluateWithoutGeneratingNewTokens(prompt);
  prefill[n] = n / ((performance.now() - t) / 1000);
  await seq.clearHistory();
}

await seq.evaluateWithoutGeneratingNewTokens(syntheticPrompt(BENCH_SHAPE.decodeContext, 7, vocab));
t = performance.now();
let produced = 0;
for await (const token of seq.evaluate([syntheticPrompt(1, 9, vocab)[0]!], { temperature: 0 })) {
  void token;
  if (++produced >= BENCH_SHAPE.decodeTokens) break;
}
const decodeTokensPerSecond = produced / ((performance.now() - t) / 1000);

const result: EngineResult = {
  engine: 'llama.cpp',
  loadMs,
  peakRssBytes: process.resourceUsage().maxRSS * 1024,
  prefillTokensPerSecond: prefill,
  decodeTokensPerSecond,
  detail: llama.systemInfo.replace(/\s+/g, ' ').trim(),
};
process.stdout.write(JSON.stringify(result) + '\n');
await ctx.dispose();
process.exit(0);
