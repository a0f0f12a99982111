import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AutoModelForCausalLM } from '../api/pretrained.js';
import { Command, Option } from 'commander';
import { createBackend, type BackendChoice } from '../backend/select.js';
import { exportSafetensors } from '../convert/to-safetensors.js';
import { backendOption, loadProgress, threadsOption } from './options.js';
import { exportGguf, type GgufOutType } from '../convert/to-gguf.js';
import { ConfigError } from '../errors.js';
import type { QuantType } from '../tensor/dtype.js';

interface ConvertFlags {
  to: string;
  quantize?: QuantType;
  outtype?: GgufOutType;
  name?: string;
  backend?: BackendChoice;
  threads?: number;
  adapter?: string;
}

function formatBytes(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(1)} kB`;
}

export function convertCommand(): Command {
  return new Command('convert')
    .description('convert a model folder to GGUF (for llama.cpp) or to a (quantized) safetensors model folder, tensor by tensor')
    .argument('<in>', 'model folder (config.json, safetensors weights, tokenizer.json)')
    .argument('<out>', 'output file (gguf) or folder (safetensors)')
    .addOption(new Option('--to <format>', 'output format').choices(['gguf', 'safetensors']).makeOptionMandatory())
    .addOption(new Option('--quantize <type>', 'quantize the matrices (q4_0 keeps output.weight at q8_0, as llama-quantize does)').choices(['q8_0', 'q4_0']))
    .addOption(new Option('--outtype <type>', 'type of the matrices (default f16, like llama.cpp\'s converter); with --quantize, of those that cannot be quantized').choices(['f32', 'f16', 'bf16', 'q8_0']))
    .option('--name <name>', 'general.name in the GGUF (default: the model folder\'s name)')
    .addOption(backendOption())
    .addOption(threadsOption())
    .option('--adapter <dir>', 'merge this LoRA adapter (PEFT layout) into the weights before converting')
    .action(async (input: string, output: string, flags: ConvertFlags) => {
      if (flags.adapter) return convertMerged(input, output, flags);
      if (flags.to === 'safetensors') return convertToSafetensors(input, output, flags);
      exportGgufFile(input, output, flags);
    });
}

/** The GGUF export with its progress line and summary. */
function exportGgufFile(input: string, output: string, flags: ConvertFlags): void {
  const tty = process.stderr.isTTY === true;
  const started = Date.now();
  const result = exportGguf(input, output, {
    outtype: flags.outtype,
    quantize: flags.quantize,
    name: flags.name,
    onWarning: (m) => process.stderr.write(`warning: ${m}\n`),
    onProgress: tty
      ? (p) => process.stderr.write(`\r\x1b[K[${p.index + 1}/${p.count}] ${p.name}  ${formatBytes(p.bytesDone)} / ${formatBytes(p.bytesTotal)}`)
      : undefined,
  });
  if (tty) process.stderr.write('\r\x1b[K');
  const types = [...new Set(result.tensors.map((t) => t.type))].join('/');
  process.stdout.write(`${output}: GGUF ${result.architecture}, ${result.tensors.length} tensors (${types}), ${formatBytes(result.bytes)}, ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

/**
 * Base + LoRA adapter merged, then exported: loaded in float32 with the adapter merged (W + (alpha/r)·B·A)
 * and saved as a float32 model folder — the output itself for --to safetensors (quantized after the
 * merge with --quantize), a temporary one that the GGUF export then reads for --to gguf.
 */
async function convertMerged(input: string, output: string, flags: ConvertFlags): Promise<void> {
  const load = (quantize?: QuantType) => AutoModelForCausalLM.fromPretrained(input, {
    adapter: flags.adapter!, dtype: 'float32', ...(quantize === 'q8_0' || quantize === 'q4_0' ? { quantize } : {}),
    ...(flags.backend ? { backend: flags.backend } : {}), ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
  });
  if (flags.to === 'safetensors') {
    const files = (await load(flags.quantize)).savePretrained(output);
    process.stdout.write(`${output}: safetensors model folder with the adapter merged, ${files.length} files\n`);
    return;
  }
  const merged = fs.mkdtempSync(path.join(os.tmpdir(), 'xverse-merged-'));
  try {
    (await load()).savePretrained(merged);
    exportGgufFile(merged, output, { ...flags, name: flags.name ?? path.basename(path.resolve(input)) });
  } finally {
    fs.rmSync(merged, { recursive: true, force: true });
  }
}

/**
 * A model folder in (quantized) safetensors from a model folder (safetensors or PyTorch .bin) or a
 * GGUF file, streamed tensor by tensor (see exportSafetensors); the result reloads without
 * re-quantizing.
 */
function convertToSafetensors(input: string, output: string, flags: ConvertFlags): void {
  if (flags.name !== undefined) throw new ConfigError('--name applies to --to gguf only');
  if (flags.outtype === 'q8_0') throw new ConfigError('--outtype q8_0 applies to --to gguf; use --quantize q8_0');
  const started = Date.now();
  const progress = loadProgress();
  const backend = createBackend({
    ...(flags.backend ? { backend: flags.backend } : {}),
    ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
  });
  const files = exportSafetensors(input, output, {
    ...(flags.quantize ? { quantize: flags.quantize } : {}),
    ...(flags.outtype ? { dtype: flags.outtype } : {}),
    backend,
    ...(progress ? { onProgress: progress } : {}),
  });
  const bytes = files.reduce((sum, f) => sum + fs.statSync(path.join(output, f)).size, 0);
  process.stdout.write(`${output}: safetensors model folder, ${files.length} files, ${formatBytes(bytes)}, ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
