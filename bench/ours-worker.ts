/**
 * Measures xverse-ts on one model folder in its own process (so peak RSS is its own). Prints one
 * JSON line (EngineResult).
 *   node dist/bench/ours-worker.js --model DIR [--quantize q8_0|q4_0] --threads N [--backend native]
 */
import { createBackend } from '../src/backend/select.js';
import { loadModel } from '../src/model/load.js';
import type { QuantizeMode } from '../src/model/quant-policy.js';
import { BENCH_SHAPE, parseArgs, syntheticPrompt, type EngineResult } from './bench-common.js';

const args = parseArgs(process.argv.slice(2));
const dir = args.get('model')!;
const quantize = args.get('quantize') as QuantizeMode | undefined;
const threads = Number(args.get('threads') ?? 2);
const vocab = Number(args.get('vocab') ?? 100534);
const backend = createBackend({ backend: (args.get('backend') ?? 'native') as 'native' | 'typescript', threads });

let t = performance.now();
const model = loadModel(dir, { backend, ...(quantize ? { quantize } : {}) });
const loadMs = performance.now() - t;

// One cache, cleared between runs (as the llama.cpp worker reuses its context's sequence): its
// memory is allocated once, to the longest prompt, and not left behind for the GC per run.
const cache = model.createCache();
cache.reserve(BENCH_SHAPE.prefillLengths[BENCH_SHAPE.prefillLengths.length - 1]!);

// Warm-up (JIT, first-touch of scratch buffers), as the llama.cpp worker does.
model.forward(syntheticPrompt(8, 1, vocab), cache);

const prefill: Record<number, number> = {};
for (const n of BENCH_SHAPE.prefillLengths) {
  cache.clear();
  const prompt = syntheticPrompt(n, n, vocab);
  t = performance.now();
  model.forward(prompt, cache);
  prefill[n] = n / ((performance.now() - t) / 1000);
}

// Peak RSS of loading and running the model, before the bandwidth probe's 1 GiB buffer adds to it.
const peakRssBytes = process.resourceUsage().maxRSS * 1024;
// The machine's read bandwidth varies from minute to minute on shared hosts: it is measured here
// right before and right after the decode, under the same conditions (the mean is the yardstick).
const bandwidthBefore = backend.readBandwidth?.(1 << 30, threads);

cache.clear();
model.forward(syntheticPrompt(BENCH_SHAPE.decodeContext, 7, vocab), cache);
let token = syntheticPrompt(1, 9, vocab)[0]!;
t = performance.now();
for (let i = 0; i < BENCH_SHAPE.decodeTokens; i++) {
  const logits = model.forward([token], cache);
  // Greedy, like the llama.cpp worker (the argmax costs ~0.1 ms at this vocabulary).
  let best = 0;
  for (let j = 1; j < logits.length; j++) if (logits[j]! > logits[best]!) best = j;
  token = best;
}
const decodeTokensPerSecond = BENCH_SHAPE.decodeTokens / ((performance.now() - t) / 1000);

const bandwidthAfter = backend.readBandwidth?.(1 << 30, threads);
const readBandwidth = bandwidthBefore && bandwidthAfter ? (bandwidthBefore + bandwidthAfter) / 2 : undefined;
const info = backend.info();
const result: EngineResult = {
  engine: 'xverse-ts',
  loadMs,
  peakRssBytes,
  prefillTokensPerSecond: prefill,
  decodeTokensPerSecond,
  detail: `${info.name} ${info.isa}, ${info.threads} threads`,
  ...(readBandwidth ? { readBandwidth } : {}),
};
process.stdout.write(JSON.stringify(result) + '\n');
