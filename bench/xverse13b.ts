/**
 * `npm run bench`: XVERSE-13B-shaped model, xverse-ts against llama.cpp on the same weights, side by
 * side in one run. Writes its section of BENCHMARKS.md.
 *
 *   npm run bench -- [--layers 4] [--types bf16,q8_0,q4_0] [--threads N] [--no-llama] [--cache DIR]
 *
 * For each weight type: load time, peak RSS, prefill tok/s (64 and 512 tokens), decode tok/s (32
 * tokens after a 64-token context), each engine in a fresh process; ratios ours ÷ llama.cpp; decode's
 * effective bandwidth (weight bytes read per token × tok/s) against the machine's measured read
 * bandwidth. Ours loads the bf16 safetensors checkpoint and quantizes while loading; llama.cpp
 * (node-llama-cpp's prebuilt CPU build, installed on demand into bench/.deps) runs GGUF files that
 * our converter exports from the same checkpoint.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBackend } from '../src/backend/select.js';
import { storageTypeFor } from '../src/model/quant-policy.js';
import { parseModelConfig } from '../src/model/config.js';
import type { TensorType } from '../src/tensor/dtype.js';
import { byteSize } from '../src/tensor/tensor.js';
import { BENCH_SHAPE, parseArgs, type EngineResult } from './bench-common.js';
import { table, writeSection } from './report.js';
import { writeSyntheticXverse, xverse13bConfig } from './synthetic.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NODE_LLAMA_CPP = 'node-llama-cpp@3.22.1';
const args = parseArgs(process.argv.slice(2));
const layers = Number(args.get('layers') ?? 4);
const types = (args.get('types') ?? 'bf16,q8_0,q4_0').split(',') as Array<'bf16' | 'q8_0' | 'q4_0'>;
const cacheDir = path.resolve(args.get('cache') ?? path.join(ROOT, 'bench/.cache'));
const depsDir = path.join(ROOT, 'bench/.deps');
const withLlama = !args.has('no-llama');
const log = (s: string) => process.stderr.write(s + '\n');

const backend = createBackend({ backend: 'native', ...(args.has('threads') ? { threads: Number(args.get('threads')) } : {}) });
const info = backend.info();
const threads = info.threads;

function run(script: string, scriptArgs: string[]): EngineResult {
  const out = execFileSync(process.execPath, [path.join(ROOT, 'dist/bench', script), ...scriptArgs], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
  return JSON.parse(out.trim().split('\n').pop()!) as EngineResult;
}

function ensureNodeLlamaCpp(): void {
  if (fs.existsSync(path.join(depsDir, 'node_modules/node-llama-cpp/package.json'))) return;
  log(`installing ${NODE_LLAMA_CPP} (benchmark-only, CPU prebuilt binaries) into ${depsDir} …`);
  fs.mkdirSync(depsDir, { recursive: true });
  if (!fs.existsSync(path.join(depsDir, 'package.json'))) fs.writeFileSync(path.join(depsDir, 'package.json'), '{"name":"xverse-ts-bench-deps","private":true}\n');
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefix', depsDir, NODE_LLAMA_CPP], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`npm install ${NODE_LLAMA_CPP} failed`);
}

function ensureGguf(modelDir: string, type: 'bf16' | 'q8_0' | 'q4_0'): string {
  const out = path.join(cacheDir, `xverse13b-L${layers}-${type}.gguf`);
  if (fs.existsSync(out)) return out;
  log(`exporting ${path.basename(out)} …`);
  const how = type === 'bf16' ? ['--outtype', 'bf16'] : ['--quantize', type];
  execFileSync(process.execPath, [path.join(ROOT, 'dist/src/cli/main.js'), 'convert', modelDir, out + '.partial', '--to', 'gguf', ...how], { stdio: 'inherit' });
  fs.renameSync(out + '.partial', out);
  return out;
}

/** Weight bytes a decode step reads: every matrix but the embedding (one row of it is negligible). */
function bytesPerToken(type: 'bf16' | 'q8_0' | 'q4_0'): number {
  const config = xverse13bConfig(layers);
  const c = parseModelConfig(config);
  const D = c.hiddenSize, F = c.intermediateSize;
  const mats: Array<[string, number[]]> = [];
  for (let l = 0; l < c.numLayers; l++) {
    for (const n of ['q', 'k', 'v', 'o']) mats.push([`model.layers.${l}.self_attn.${n}_proj.weight`, [D, D]]);
    mats.push([`model.layers.${l}.mlp.gate_proj.weight`, [F, D]], [`model.layers.${l}.mlp.up_proj.weight`, [F, D]], [`model.layers.${l}.mlp.down_proj.weight`, [D, F]]);
  }
  mats.push(['lm_head.weight', [c.vocabSize, D]]);
  const opts = type === 'bf16' ? {} : { quantize: type };
  return mats.reduce((sum, [name, shape]) => sum + byteSize(storageTypeFor(name, shape, 'bf16' as TensorType, opts), shape), 0);
}

const fmt = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '–');
const gb = (b: number) => (b / 1e9).toFixed(2);

fs.mkdirSync(cacheDir, { recursive: true });
const modelDir = path.join(cacheDir, `xverse13b-L${layers}`);
log(`synthetic XVERSE-13B-shaped checkpoint, ${layers} layers, bf16 → ${modelDir}`);
writeSyntheticXverse(modelDir, layers, { log });
if (withLlama) ensureNodeLlamaCpp();

const bandwidths = [backend.readBandwidth ? backend.readBandwidth(1 << 30, threads) : NaN];
log(`read bandwidth ${fmt(bandwidths[0]!)} GB/s (${threads} threads)`);

const results: Array<{ type: 'bf16' | 'q8_0' | 'q4_0'; ours: EngineResult; theirs: EngineResult | null }> = [];
for (const type of types) {
  const ggufPath = withLlama ? ensureGguf(modelDir, type) : '';
  log(`[${type}] xverse-ts …`);
  const ours = run('ours-worker.js', ['--model', modelDir, '--threads', String(threads), ...(type === 'bf16' ? [] : ['--quantize', type])]);
  if (ours.readBandwidth) bandwidths.push(ours.readBandwidth);
  const theirs = withLlama ? (log(`[${type}] llama.cpp …`), run('llama-worker.js', ['--deps', depsDir, '--gguf', ggufPath, '--threads', String(threads)])) : null;
  results.push({ type, ours, theirs });
}

// Each weight type's yardstick is the bandwidth measured around our decode of that type (the same
// minute, the same process); llama.cpp's row of the type is compared with the same figure.
const bandwidth = Math.max(...bandwidths.filter(Number.isFinite));
const rows: string[][] = [];
const summary: string[] = [];
for (const { type, ours, theirs } of results) {
  const bpt = bytesPerToken(type);
  const yardstick = ours.readBandwidth ?? bandwidth;
  for (const r of [ours, theirs]) {
    if (!r) continue;
    const eff = (bpt * r.decodeTokensPerSecond) / 1e9;
    rows.push([type, r.engine, fmt(r.loadMs / 1000, 2), gb(r.peakRssBytes),
      ...BENCH_SHAPE.prefillLengths.map((n) => fmt(r.prefillTokensPerSecond[n]!)), fmt(r.decodeTokensPerSecond, 2),
      `${fmt(eff)} (${fmt((100 * eff) / yardstick, 0)} % of ${fmt(yardstick)})`]);
  }
  if (theirs) {
    const ratio = (a: number, b: number) => fmt(a / b, 2) + '×';
    rows.push([type, '**ratio ours ÷ llama.cpp**', ratio(ours.loadMs, theirs.loadMs), ratio(ours.peakRssBytes, theirs.peakRssBytes),
      ...BENCH_SHAPE.prefillLengths.map((n) => `**${ratio(ours.prefillTokensPerSecond[n]!, theirs.prefillTokensPerSecond[n]!)}**`),
      `**${ratio(ours.decodeTokensPerSecond, theirs.decodeTokensPerSecond)}**`, '']);
    summary.push(`${type}: decode ${ratio(ours.decodeTokensPerSecond, theirs.decodeTokensPerSecond)}, prefill-512 ${ratio(ours.prefillTokensPerSecond[512]!, theirs.prefillTokensPerSecond[512]!)}`);
  }
}

const command = `npm run bench -- --layers ${layers} --types ${types.join(',')} --threads ${threads}${withLlama ? '' : ' --no-llama'}`;
const body = [
  `## XVERSE-13B shape: xverse-ts vs llama.cpp (${layers} of 40 layers)`,
  '',
  `Run on ${new Date().toISOString().slice(0, 10)}: \`${command}\``,
  '',
  `Machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} logical CPUs, ${gb(os.totalmem())} GB RAM, Node ${process.version}; ` +
    `xverse-ts backend ${info.name} (${info.isa}; ${info.features.join(', ')}), ${threads} threads; llama.cpp: ${NODE_LLAMA_CPP} prebuilt CPU binaries, ${threads} threads, batch 512.`,
  `Read bandwidth (${threads} threads, 1 GiB on huge pages, like the weights): measured at the start and around each of our decodes: ${bandwidths.map((b) => fmt(b)).join(', ')} GB/s (best ${fmt(bandwidth)}). ` +
    'It varies from minute to minute on this shared host, so each decode is compared with the bandwidth measured in the same process just before and after it (the last column).',
  '',
  `Model: hidden 5120, intermediate 13824, 40 heads, vocab 100,534, ${layers} layers; random bf16 weights (synthetic). ` +
    'xverse-ts loads the bf16 safetensors checkpoint and quantizes while loading (q8_0: every matrix; q4_0: projections and embedding q4_0, output head q8_0); ' +
    'llama.cpp runs GGUF exports of the same checkpoint (`xverse convert`). Each engine runs in a fresh process; peak RSS is that process\'s maximum resident set.',
  '',
  table(['weights', 'engine', 'load s', 'peak RSS GB', 'prefill 64 tok/s', 'prefill 512 tok/s', 'decode tok/s', 'decode GB/s (% of read bw, GB/s)'], rows,
    ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r']),
  '',
  summary.length ? `Summary: ${summary.join('; ')}.` : '',
].join('\n');
writeSection(path.join(ROOT, 'BENCHMARKS.md'), `xverse13b-L${layers}`, body);
process.stdout.write(body + '\n');
