/**
 * The scale-out path for full fine-tuning of XVERSE-13B: writes a ready-to-run LLaMA-Factory +
 * DeepSpeed job folder (data set, registry entry, DeepSpeed config, llamafactory-cli YAML, run.sh,
 * README), launches it where the tools exist, and imports the trained checkpoint back.
 *
 * The defaults reproduce the full-parameter SFT recipe of XVERSE-13B's README (8 GPUs, ZeRO-2,
 * batch 4 × accumulation 4, lr 2e-5 cosine, 2 epochs, max_grad_norm 0.5, bf16). Nothing here
 * trains: the job runs on a GPU machine with LLaMA-Factory and DeepSpeed installed.
 */
import { spawn as nodeSpawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { FormatError, XverseError } from '../errors.js';
import { openCheckpoint, SAFETENSORS_INDEX, SAFETENSORS_SINGLE, TORCH_INDEX, TORCH_SINGLE } from '../formats/checkpoint.js';
import { readJsonFile, readJsonObjectFile, writeFileAtomic, type JsonObject } from '../formats/file-io.js';
import { parseModelConfig } from '../model/config.js';
import { loadSftRecords } from './data.js';

/** How run.sh starts training: the current `llamafactory-cli train train.yaml` (FORCE_TORCHRUN=1), or the README's `deepspeed … src/train_bash.py …`. */
export type DeepSpeedLauncher = 'llamafactory-cli' | 'deepspeed';

/** LLaMA-Factory chat template: 'xverse' (`Human: {{content}}\n\nAssistant: `) or the README's 'default'. */
export type LlamaFactoryTemplate = 'xverse' | 'default';

export interface DeepSpeedJobOptions {
  /** Base model: a Hugging Face folder or repo id, written into the job as given. */
  modelPath: string;
  /** Training data: .json (array) or .jsonl records, alpaca (instruction/input/output) or ShareGPT (conversations of from/value), as loadSftRecords reads them; written as LLaMA-Factory sharegpt. */
  dataFile: string;
  /** The job folder to write. */
  outDir: string;
  /** Name of the data set in dataset_info.json (default `xverse_sft`). */
  datasetName?: string;
  /** Where training writes checkpoints (default `<outDir>/output`; written relative to the job folder when inside it). */
  outputDir?: string;
  /** LLaMA-Factory template (default 'xverse'; the README used 'default'). */
  template?: LlamaFactoryTemplate;
  /** DeepSpeed ZeRO stage: 2 (default, the README's config) or 3. */
  zeroStage?: 2 | 3;
  /** GPUs on the training node (default 8). */
  numGpus?: number;
  /** How run.sh starts training (default 'llamafactory-cli'). */
  launcher?: DeepSpeedLauncher;
  /** per_device_train_batch_size (default 4). */
  perDeviceTrainBatchSize?: number;
  /** per_device_eval_batch_size (default 4; used only with valSize). */
  perDeviceEvalBatchSize?: number;
  /** gradient_accumulation_steps (default 4). */
  gradientAccumulationSteps?: number;
  /** learning_rate (default 2e-5). */
  learningRate?: number;
  /** num_train_epochs (default 2). */
  numTrainEpochs?: number;
  /** lr_scheduler_type (default 'cosine'). */
  lrSchedulerType?: string;
  /** max_grad_norm (default 0.5). */
  maxGradNorm?: number;
  /** bf16 mixed precision (default true; false trains in fp32). */
  bf16?: boolean;
  /** logging_steps (default 10). */
  loggingSteps?: number;
  /** save_steps (default 200). */
  saveSteps?: number;
  /** eval_steps (default 200; used only with valSize). */
  evalSteps?: number;
  /** preprocessing_num_workers (default 16). */
  preprocessingNumWorkers?: number;
  /** cutoff_len: longest tokenized example (default: LLaMA-Factory's own). */
  cutoffLen?: number;
  /** val_size: a fraction in (0, 1) or a record count held out for evaluation; turns on step evaluation and load_best_model_at_end. */
  valSize?: number;
}

export interface DeepSpeedJob {
  /** The job folder (absolute). */
  dir: string;
  /** Every file written, absolute, in write order. */
  files: string[];
  /** What run.sh runs from the job folder (shell variables such as `${LLAMA_FACTORY_DIR}` unexpanded). */
  command: string[];
  /** Environment run.sh sets for the command. */
  env: Record<string, string>;
  launcher: DeepSpeedLauncher;
  /** The program that must be on PATH of the training machine. */
  tool: string;
  datasetName: string;
  /** The formatting of the written data set (always LLaMA-Factory's sharegpt). */
  formatting: 'sharegpt';
  /** Records written to data/<datasetName>.json. */
  records: number;
  /** Where training writes (absolute). */
  outputDir: string;
}

/** The XVERSE-13B README's DeepSpeed config (ZeRO-2), key for key. */
export const README_DEEPSPEED_ZERO2: JsonObject = {
  train_micro_batch_size_per_gpu: 'auto',
  gradient_accumulation_steps: 'auto',
  gradient_clipping: 'auto',
  zero_allow_untested_optimizer: true,
  bf16: { enabled: true },
  zero_optimization: {
    stage: 2,
    allgather_partitions: true,
    reduce_scatter: true,
    overlap_comm: false,
    contiguous_gradients: true,
  },
};

/** The DeepSpeed config for a stage: the README's ZeRO-2 object, or a ZeRO-3 variant that shards parameters too and saves 16-bit weights. */
export function deepSpeedConfig(zeroStage: 2 | 3, bf16 = true): JsonObject {
  const base: JsonObject = {
    train_micro_batch_size_per_gpu: 'auto',
    gradient_accumulation_steps: 'auto',
    gradient_clipping: 'auto',
    zero_allow_untested_optimizer: true,
    bf16: { enabled: bf16 },
  };
  if (zeroStage === 2) {
    return { ...base, zero_optimization: { ...(README_DEEPSPEED_ZERO2['zero_optimization'] as JsonObject) } };
  }
  return {
    ...base,
    zero_optimization: {
      stage: 3,
      overlap_comm: true,
      contiguous_gradients: true,
      sub_group_size: 1e9,
      reduce_bucket_size: 'auto',
      stage3_prefetch_bucket_size: 'auto',
      stage3_param_persistence_threshold: 'auto',
      stage3_max_live_parameters: 1e9,
      stage3_max_reuse_distance: 1e9,
      // Without this a ZeRO-3 checkpoint holds only sharded optimizer/parameter states, no model weights.
      stage3_gather_16bit_weights_on_model_save: true,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Data set conversion
// ---------------------------------------------------------------------------------------------

/** A turn as written: LLaMA-Factory's ShareGPT roles for user, assistant and tool-result turns. */
export interface ShareGptTurn {
  from: 'human' | 'gpt' | 'observation';
  value: string;
}

/** A record as written to data/<datasetName>.json. */
export interface ShareGptRecord {
  conversations: ShareGptTurn[];
  system?: string;
}

export interface ConvertedDataset {
  /** The records as they are written (one JSON object each). */
  records: ShareGptRecord[];
  /** The dataset_info.json entry, without file_name. */
  entry: JsonObject;
}

const SHAREGPT_FROM = { user: 'human', assistant: 'gpt', exec: 'observation' } as const;

/**
 * Reads alpaca or ShareGPT records (.json array or .jsonl) with loadSftRecords — which validates
 * each one and names `file:line` in its DatasetError — and returns them in LLaMA-Factory's
 * `sharegpt` formatting (`conversations` of from/value, optional `system`) with the dataset_info.json
 * entry that describes them.
 */
export function convertDataset(file: string): ConvertedDataset {
  const records = loadSftRecords(file).map(({ messages }): ShareGptRecord => {
    const system = messages[0]?.role === 'system' ? messages[0].content : undefined;
    const conversations = messages.filter((m) => m.role !== 'system').map((m) => ({ from: SHAREGPT_FROM[m.role as keyof typeof SHAREGPT_FROM], value: m.content }));
    return system === undefined ? { conversations } : { conversations, system };
  });
  // LLaMA-Factory indexes every example by the named system column (a KeyError when no record has it), so name it only when used.
  const columns: JsonObject = { messages: 'conversations' };
  if (records.some((r) => r.system !== undefined)) columns['system'] = 'system';
  const tags = { role_tag: 'from', content_tag: 'value', user_tag: 'human', assistant_tag: 'gpt', observation_tag: 'observation' };
  return { records, entry: { formatting: 'sharegpt', columns, tags } };
}

// ---------------------------------------------------------------------------------------------
// Job writing
// ---------------------------------------------------------------------------------------------

interface ResolvedHyperparameters {
  perDeviceTrainBatchSize: number;
  perDeviceEvalBatchSize: number;
  gradientAccumulationSteps: number;
  learningRate: number;
  numTrainEpochs: number;
  lrSchedulerType: string;
  maxGradNorm: number;
  bf16: boolean;
  loggingSteps: number;
  saveSteps: number;
  evalSteps: number;
  preprocessingNumWorkers: number;
  cutoffLen: number | undefined;
  valSize: number | undefined;
}

function positiveInt(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1) throw new XverseError(`${name} must be a positive integer, got ${v}`);
  return v;
}

function positiveNumber(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0) throw new XverseError(`${name} must be a positive number, got ${v}`);
  return v;
}

function resolveHyperparameters(o: DeepSpeedJobOptions): ResolvedHyperparameters {
  if (o.valSize !== undefined && !(Number.isFinite(o.valSize) && o.valSize > 0 && (o.valSize < 1 || Number.isSafeInteger(o.valSize)))) {
    throw new XverseError(`valSize must be a fraction in (0, 1) or a whole number of records, got ${o.valSize}`);
  }
  const scheduler = o.lrSchedulerType ?? 'cosine';
  if (!/^[a-z_]+$/.test(scheduler)) throw new XverseError(`lrSchedulerType must be a scheduler name such as "cosine", got ${JSON.stringify(scheduler)}`);
  return {
    perDeviceTrainBatchSize: positiveInt(o.perDeviceTrainBatchSize, 4, 'perDeviceTrainBatchSize'),
    perDeviceEvalBatchSize: positiveInt(o.perDeviceEvalBatchSize, 4, 'perDeviceEvalBatchSize'),
    gradientAccumulationSteps: positiveInt(o.gradientAccumulationSteps, 4, 'gradientAccumulationSteps'),
    learningRate: positiveNumber(o.learningRate, 2e-5, 'learningRate'),
    numTrainEpochs: positiveNumber(o.numTrainEpochs, 2, 'numTrainEpochs'),
    lrSchedulerType: scheduler,
    maxGradNorm: positiveNumber(o.maxGradNorm, 0.5, 'maxGradNorm'),
    bf16: o.bf16 ?? true,
    loggingSteps: positiveInt(o.loggingSteps, 10, 'loggingSteps'),
    saveSteps: positiveInt(o.saveSteps, 200, 'saveSteps'),
    evalSteps: positiveInt(o.evalSteps, 200, 'evalSteps'),
    preprocessingNumWorkers: positiveInt(o.preprocessingNumWorkers, 16, 'preprocessingNumWorkers'),
    cutoffLen: o.cutoffLen === undefined ? undefined : positiveInt(o.cutoffLen, 0, 'cutoffLen'),
    valSize: o.valSize,
  };
}

/**
 * A float as YAML 1.1 (PyYAML, which LLaMA-Factory uses) reads it as a float: `2e-5` would be a
 * string there, so the mantissa always has a dot (`2.0e-5`), and whole numbers end in `.0`.
 */
export function yamlFloat(x: number): string {
  let s = String(x);
  if (x !== 0 && Math.abs(x) < 1e-3 && !s.includes('e')) s = x.toExponential();
  const [mantissa, exponent] = s.split('e') as [string, string | undefined];
  const m = mantissa.includes('.') ? mantissa : `${mantissa}.0`;
  return exponent === undefined ? m : `${m}e${exponent}`;
}

/** A number for a command line or a person: `2e-5`, not `0.00002`. */
function cliNumber(x: number): string {
  return x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential() : String(x);
}

/** A YAML scalar for a string: plain when unambiguous, else double-quoted (JSON escapes are valid YAML). */
function yamlString(s: string): string {
  const plain = /^[A-Za-z0-9_./~][A-Za-z0-9_./~@+-]*$/.test(s)
    && !/^(true|false|yes|no|on|off|null|y|n|~)$/i.test(s)
    && !/^[-+]?(\d[\d_]*)?(\.\d*)?([eE][-+]?\d+)?$/.test(s);
  return plain ? s : JSON.stringify(s);
}

/** `'…'` for a shell word, unless it needs no quoting. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_./=:@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The path written into the job's config: relative to the job folder when inside it (so the folder can be copied elsewhere). */
function jobRelative(dir: string, target: string): string {
  const rel = path.relative(dir, target);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : target;
}

function trainYaml(o: { modelPath: string; datasetName: string; template: string; outputDir: string }, h: ResolvedHyperparameters): string {
  const lines: string[] = [
    '# LLaMA-Factory config for full fine-tuning of XVERSE (written by xverse-ts).',
    '# Run from this folder: FORCE_TORCHRUN=1 llamafactory-cli train train.yaml  (or ./run.sh)',
    '',
    '### model',
    `model_name_or_path: ${yamlString(o.modelPath)}`,
    'trust_remote_code: true',
    '',
    '### method',
    'stage: sft',
    'do_train: true',
    'finetuning_type: full',
    'deepspeed: deepspeed.json',
    '',
    '### dataset',
    'dataset_dir: data',
    `dataset: ${yamlString(o.datasetName)}`,
    `template: ${o.template}`,
  ];
  if (h.cutoffLen !== undefined) lines.push(`cutoff_len: ${h.cutoffLen}`);
  lines.push(
    'overwrite_cache: true',
    `preprocessing_num_workers: ${h.preprocessingNumWorkers}`,
    '',
    '### output',
    `output_dir: ${yamlString(o.outputDir)}`,
    `logging_steps: ${h.loggingSteps}`,
    `save_steps: ${h.saveSteps}`,
    'plot_loss: true',
    '',
    '### train',
    `per_device_train_batch_size: ${h.perDeviceTrainBatchSize}`,
    `gradient_accumulation_steps: ${h.gradientAccumulationSteps}`,
    `learning_rate: ${yamlFloat(h.learningRate)}`,
    `num_train_epochs: ${yamlFloat(h.numTrainEpochs)}`,
    `lr_scheduler_type: ${h.lrSchedulerType}`,
    `max_grad_norm: ${yamlFloat(h.maxGradNorm)}`,
    `bf16: ${h.bf16}`,
  );
  if (h.valSize !== undefined) {
    lines.push(
      '',
      '### eval',
      `val_size: ${Number.isInteger(h.valSize) ? String(h.valSize) : yamlFloat(h.valSize)}`,
      `per_device_eval_batch_size: ${h.perDeviceEvalBatchSize}`,
      'eval_strategy: steps',
      `eval_steps: ${h.evalSteps}`,
      'load_best_model_at_end: true',
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The README's `deepspeed --num_gpus=N src/train_bash.py …` command, with this job's data, template and settings. */
function deepspeedCommand(o: { modelPath: string; datasetName: string; template: string; outputDir: string; numGpus: number }, h: ResolvedHyperparameters): string[] {
  const cmd = [
    'deepspeed', `--num_gpus=${o.numGpus}`, '${LLAMA_FACTORY_DIR}/src/train_bash.py',
    '--stage', 'sft',
    '--model_name_or_path', o.modelPath,
    '--do_train',
    '--dataset_dir', 'data',
    '--dataset', o.datasetName,
    '--template', o.template,
    '--finetuning_type', 'full',
    '--output_dir', o.outputDir,
    '--overwrite_cache',
    '--per_device_train_batch_size', String(h.perDeviceTrainBatchSize),
  ];
  const withEval = h.valSize !== undefined;
  if (withEval) cmd.push('--per_device_eval_batch_size', String(h.perDeviceEvalBatchSize));
  cmd.push(
    '--gradient_accumulation_steps', String(h.gradientAccumulationSteps),
    '--preprocessing_num_workers', String(h.preprocessingNumWorkers),
    '--lr_scheduler_type', h.lrSchedulerType,
    '--logging_steps', String(h.loggingSteps),
    '--save_steps', String(h.saveSteps),
  );
  if (withEval) cmd.push('--eval_steps', String(h.evalSteps));
  cmd.push(
    '--learning_rate', cliNumber(h.learningRate),
    '--max_grad_norm', String(h.maxGradNorm),
    '--num_train_epochs', yamlFloat(h.numTrainEpochs),
  );
  if (withEval) cmd.push('--evaluation_strategy', 'steps', '--load_best_model_at_end', '--val_size', String(h.valSize));
  if (h.cutoffLen !== undefined) cmd.push('--cutoff_len', String(h.cutoffLen));
  cmd.push('--plot_loss');
  if (h.bf16) cmd.push('--bf16');
  cmd.push('--padding_side', 'right', '--deepspeed', 'deepspeed.json');
  return cmd;
}

function runScript(launcher: DeepSpeedLauncher, command: string[], env: Record<string, string>, zeroStage: number, numGpus: number): string {
  const head = [
    '#!/usr/bin/env bash',
    `# Full fine-tuning of XVERSE with LLaMA-Factory + DeepSpeed ZeRO-${zeroStage} on ${numGpus} GPU(s). Written by xverse-ts.`,
    '# Run it on the GPU machine from anywhere: it works in its own folder.',
    'set -euo pipefail',
    'cd "$(dirname "$0")"',
  ];
  if (launcher === 'llamafactory-cli') {
    return [
      ...head,
      ...Object.entries(env).map(([k, v]) => `export ${k}="\${${k}:-${v}}"`),
      `exec ${command.map(shellWord).join(' ')}`,
      '',
    ].join('\n');
  }
  const args = command.map((w) => (w.startsWith('${LLAMA_FACTORY_DIR}') ? `"${w}"` : shellWord(w)));
  // One flag (with its value) per line, as the README writes it.
  const parts: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1];
    if (i >= 3 && args[i]!.startsWith('--') && next !== undefined && !next.startsWith('--')) {
      parts.push(`${args[i]} ${next}`);
      i++;
    } else parts.push(args[i]!);
  }
  return [
    ...head,
    ': "${LLAMA_FACTORY_DIR:?set LLAMA_FACTORY_DIR to a LLaMA-Factory checkout that has src/train_bash.py}"',
    `exec ${parts.slice(0, 3).join(' ')} \\`,
    ...parts.slice(3).map((p, i, all) => `    ${p}${i < all.length - 1 ? ' \\' : ''}`),
    '',
  ].join('\n');
}

function jobReadme(o: {
  modelPath: string; datasetName: string; template: string; outputDirRel: string; zeroStage: number; numGpus: number;
  launcher: DeepSpeedLauncher; formatting: string; records: number; h: ResolvedHyperparameters;
}): string {
  const effective = o.h.perDeviceTrainBatchSize * o.h.gradientAccumulationSteps * o.numGpus;
  const run = o.launcher === 'llamafactory-cli'
    ? ['```sh', './run.sh        # = FORCE_TORCHRUN=1 NPROC_PER_NODE=' + o.numGpus + ' llamafactory-cli train train.yaml', '```']
    : ['```sh', 'LLAMA_FACTORY_DIR=/path/to/LLaMA-Factory ./run.sh   # deepspeed --num_gpus=' + o.numGpus + ' $LLAMA_FACTORY_DIR/src/train_bash.py …', '```'];
  return [
    '# XVERSE full fine-tuning job (LLaMA-Factory + DeepSpeed)',
    '',
    'Written by xverse-ts (`writeDeepSpeedJob`). Copy this whole folder to a GPU machine and run `./run.sh`.',
    '',
    '## What it does',
    '',
    `- Base model: \`${o.modelPath}\``,
    `- Data: \`data/${o.datasetName}.json\` (${o.records} ${o.formatting} record(s)), registered as \`${o.datasetName}\` in \`data/dataset_info.json\``,
    `- Template: \`${o.template}\`; full-parameter SFT, DeepSpeed ZeRO-${o.zeroStage} (\`deepspeed.json\`)`,
    `- ${o.numGpus} GPU(s) × batch ${o.h.perDeviceTrainBatchSize} × accumulation ${o.h.gradientAccumulationSteps} = ${effective} sequences per optimizer step;`
      + ` lr ${cliNumber(o.h.learningRate)} (${o.h.lrSchedulerType}), ${o.h.numTrainEpochs} epoch(s), max_grad_norm ${o.h.maxGradNorm}${o.h.bf16 ? ', bf16' : ', fp32'}`,
    `- Checkpoints every ${o.h.saveSteps} steps and the final model go to \`${o.outputDirRel}\``,
    o.h.valSize === undefined
      ? '- No evaluation split (written without val_size): step evaluation and load_best_model_at_end are off'
      : `- val_size ${o.h.valSize} held out: evaluation every ${o.h.evalSteps} steps, best model loaded at the end`,
    '',
    '## What it needs',
    '',
    `- ${o.numGpus} NVIDIA GPU(s) with bf16 support; XVERSE-13B's README used 8 × A800 80 GB for full fine-tuning`
      + ' (ZeRO-2). With less GPU memory, write the job with ZeRO-3.',
    '- Python with PyTorch (CUDA), DeepSpeed and LLaMA-Factory:'
      + (o.launcher === 'llamafactory-cli'
        ? ' `pip install -e ".[torch,metrics,deepspeed]"` in a LLaMA-Factory checkout puts `llamafactory-cli` on PATH.'
        : ' a LLaMA-Factory checkout of the `src/train_bash.py` era (the version XVERSE\'s README used), and `deepspeed` on PATH.'),
    `- The base model (\`${o.modelPath}\`) on that machine or reachable on the Hugging Face Hub (XVERSE needs \`trust_remote_code\`).`,
    '',
    '## Run',
    '',
    ...run,
    '',
    'Training output streams to the terminal; the loss plot is written next to the checkpoints (`plot_loss`).',
    '',
    '## Use the result with xverse',
    '',
    `Copy \`${o.outputDirRel}\` back, then:`,
    '',
    '```sh',
    `xverse chat -m ${o.outputDirRel}                                  # the final model (config.json + *.safetensors)`,
    `xverse convert ${o.outputDirRel} xverse-sft-q8_0.gguf --to gguf --quantize q8_0   # a GGUF for llama.cpp`,
    '```',
    '',
    'From TypeScript, `importTrainedCheckpoint(outputDir)` finds the final model (or the newest `checkpoint-N`),',
    'checks that config.json and the weights are there, and returns the folder to pass as `-m`.',
    '',
  ].join('\n');
}

/** Writes a ready-to-run LLaMA-Factory + DeepSpeed job folder for full fine-tuning of XVERSE. */
export function writeDeepSpeedJob(options: DeepSpeedJobOptions): DeepSpeedJob {
  if (typeof options.modelPath !== 'string' || options.modelPath.trim() === '') throw new XverseError('modelPath must name a model folder or Hugging Face repo id');
  const datasetName = options.datasetName ?? 'xverse_sft';
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(datasetName)) {
    throw new XverseError(`datasetName must be letters, digits, "_", "." or "-", got ${JSON.stringify(datasetName)}`);
  }
  const template = options.template ?? 'xverse';
  if (template !== 'xverse' && template !== 'default') throw new XverseError(`template must be "xverse" or "default", got ${JSON.stringify(template)}`);
  const zeroStage = options.zeroStage ?? 2;
  if (zeroStage !== 2 && zeroStage !== 3) throw new XverseError(`zeroStage must be 2 or 3, got ${String(zeroStage)}`);
  const launcher = options.launcher ?? 'llamafactory-cli';
  if (launcher !== 'llamafactory-cli' && launcher !== 'deepspeed') throw new XverseError(`launcher must be "llamafactory-cli" or "deepspeed", got ${JSON.stringify(launcher)}`);
  const numGpus = positiveInt(options.numGpus, 8, 'numGpus');
  const h = resolveHyperparameters(options);

  const data = convertDataset(options.dataFile);

  const dir = path.resolve(options.outDir);
  const outputDir = path.resolve(options.outputDir ?? path.join(dir, 'output'));
  const outputDirRel = jobRelative(dir, outputDir);
  const files: string[] = [];
  const write = (rel: string, text: string): string => {
    const file = path.join(dir, rel);
    writeFileAtomic(file, text);
    files.push(file);
    return file;
  };

  // One record a line: a large data set stays readable and diffable.
  write(`data/${datasetName}.json`, data.records.length === 0 ? '[]\n' : `[\n${data.records.map((r) => JSON.stringify(r)).join(',\n')}\n]\n`);

  // Keep other data sets an earlier job registered in the same folder.
  const infoFile = path.join(dir, 'data', 'dataset_info.json');
  const info: JsonObject = fs.existsSync(infoFile) ? readJsonObjectFile(infoFile) : {};
  info[datasetName] = { file_name: `${datasetName}.json`, ...data.entry };
  write('data/dataset_info.json', `${JSON.stringify(info, null, 2)}\n`);

  write('deepspeed.json', `${JSON.stringify(deepSpeedConfig(zeroStage, h.bf16), null, 2)}\n`);

  const common = { modelPath: options.modelPath, datasetName, template, outputDir: outputDirRel, numGpus };
  write('train.yaml', trainYaml(common, h));

  const env: Record<string, string> = launcher === 'llamafactory-cli' ? { FORCE_TORCHRUN: '1', NPROC_PER_NODE: String(numGpus) } : {};
  const command = launcher === 'llamafactory-cli' ? ['llamafactory-cli', 'train', 'train.yaml'] : deepspeedCommand(common, h);
  const runSh = write('run.sh', runScript(launcher, command, env, zeroStage, numGpus));
  fs.chmodSync(runSh, 0o755);

  write('README.md', jobReadme({
    modelPath: options.modelPath, datasetName, template, outputDirRel, zeroStage, numGpus, launcher,
    formatting: 'sharegpt', records: data.records.length, h,
  }));

  return {
    dir, files, command, env, launcher, tool: launcher === 'llamafactory-cli' ? 'llamafactory-cli' : 'deepspeed',
    datasetName, formatting: 'sharegpt', records: data.records.length, outputDir,
  };
}

// ---------------------------------------------------------------------------------------------
// Launch
// ---------------------------------------------------------------------------------------------

/** The part of a child process launchDeepSpeedJob listens to. */
export interface SpawnedProcess {
  on(event: 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

export interface SpawnRequest {
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdio: 'inherit';
}

export type SpawnFunction = (command: string, args: readonly string[], options: SpawnRequest) => SpawnedProcess;

export interface LaunchOptions {
  /** Starts the process (default: node:child_process spawn, output streamed to this terminal). */
  spawn?: SpawnFunction;
  /** Finds a program on PATH (default: findOnPath). */
  which?: (program: string) => string | null;
  /** Environment of the job (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

/** The full path of an executable named `program` on PATH (PATHEXT on Windows), or null. */
export function findOnPath(program: string, env: NodeJS.ProcessEnv = process.env): string | null {
  if (program.includes('/') || program.includes(path.sep)) return isExecutable(program) ? program : null;
  const dirs = (env['PATH'] ?? env['Path'] ?? '').split(path.delimiter).filter((d) => d !== '');
  const exts = process.platform === 'win32' ? ['', ...(env['PATHEXT'] ?? '.EXE;.CMD;.BAT;.COM').split(';')] : [''];
  for (const d of dirs) {
    for (const ext of exts) {
      const candidate = path.join(d, program + ext);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return null;
}

function isExecutable(file: string): boolean {
  try {
    if (!fs.statSync(file).isFile()) return false;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs a job's run.sh (from its folder, output streamed) and resolves with exit code 0. When the
 * launcher's program is not on PATH, throws an XverseError naming it: the folder is then meant to
 * be copied to a GPU machine that has it. A non-zero exit is an XverseError too.
 */
export async function launchDeepSpeedJob(job: Pick<DeepSpeedJob, 'dir' | 'tool' | 'launcher'>, options: LaunchOptions = {}): Promise<number> {
  const env = options.env ?? process.env;
  const which = options.which ?? ((program: string) => findOnPath(program, env));
  const runSh = path.join(job.dir, 'run.sh');
  if (!fs.existsSync(runSh)) throw new XverseError(`${runSh}: no such file (write the job with writeDeepSpeedJob first)`);
  if (which(job.tool) === null) {
    const install = job.tool === 'llamafactory-cli'
      ? 'install LLaMA-Factory with DeepSpeed (pip install -e ".[torch,metrics,deepspeed]")'
      : 'install DeepSpeed and set LLAMA_FACTORY_DIR to a LLaMA-Factory checkout';
    throw new XverseError(`${job.tool} is not on PATH, so the job cannot run here; the job folder ${job.dir} is ready: copy it to a GPU machine that has it (${install}) and run ./run.sh there`);
  }
  if (job.launcher === 'deepspeed') {
    const lf = env['LLAMA_FACTORY_DIR'];
    if (!lf || !fs.existsSync(path.join(lf, 'src', 'train_bash.py'))) {
      throw new XverseError(`LLAMA_FACTORY_DIR must name a LLaMA-Factory checkout with src/train_bash.py (got ${lf === undefined ? 'nothing' : JSON.stringify(lf)}); the job folder ${job.dir} is ready to copy to a GPU machine`);
    }
  }
  const spawn: SpawnFunction = options.spawn ?? ((command, args, request) => nodeSpawn(command, [...args], request));
  const child = spawn('bash', [runSh], { cwd: job.dir, env, stdio: 'inherit' });
  return new Promise<number>((resolve, reject) => {
    child.on('error', (err) => reject(new XverseError(`cannot start ${runSh}: ${err.message}`, { cause: err })));
    child.on('close', (code, signal) => {
      if (code === 0) resolve(0);
      else reject(new XverseError(`${runSh} ${signal ? `was killed by ${signal}` : `exited with code ${code}`}; see the training output above`));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------------------------

function hasWeights(dir: string): boolean {
  const isFile = (name: string) => {
    try {
      return fs.statSync(path.join(dir, name)).isFile();
    } catch {
      return false;
    }
  };
  if (!isFile('config.json')) return false;
  if ([SAFETENSORS_INDEX, SAFETENSORS_SINGLE, TORCH_INDEX, TORCH_SINGLE].some(isFile)) return true;
  return fs.readdirSync(dir).some((n) => n.endsWith('.safetensors') && isFile(n));
}

/**
 * Finds the final Hugging Face checkpoint of a training run: `outputDir` itself when it holds
 * config.json and weights (LLaMA-Factory saves the final model there), else its highest
 * `checkpoint-N` subfolder. Checks header-wise that it is a model xverse can load (config.json
 * parses; embedding, last layer, norm and head tensors are present with the shapes the config
 * implies) and returns its path, for `xverse … -m <path>`.
 */
export function importTrainedCheckpoint(outputDir: string): string {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(outputDir);
  } catch {
    throw new FormatError(`${outputDir}: no such folder (copy the training output back from the GPU machine first)`);
  }
  if (!stat.isDirectory()) throw new FormatError(`${outputDir}: not a folder`);
  let dir = outputDir;
  if (!hasWeights(outputDir)) {
    const checkpoints = fs.readdirSync(outputDir, { withFileTypes: true })
      .map((e) => ({ e, m: /^checkpoint-(\d+)$/.exec(e.name) }))
      .filter(({ e, m }) => m !== null && e.isDirectory())
      .map(({ e, m }) => ({ name: e.name, step: Number(m![1]) }))
      .sort((a, b) => b.step - a.step);
    if (checkpoints.length === 0) {
      throw new FormatError(`${outputDir}: no model found (neither config.json with weights nor a checkpoint-N folder)`);
    }
    dir = path.join(outputDir, checkpoints[0]!.name);
    if (!hasWeights(dir)) {
      const sharded = fs.readdirSync(dir).some((n) => n.startsWith('global_step') || n === 'zero_to_fp32.py');
      throw new FormatError(`${dir}: the newest checkpoint has no config.json with model weights${sharded
        ? ' (only DeepSpeed shards: run its zero_to_fp32.py, or train with stage3_gather_16bit_weights_on_model_save: true)' : ''}`);
    }
  }
  checkCheckpointHeaders(dir);
  return dir;
}

function checkCheckpointHeaders(dir: string): void {
  const configFile = path.join(dir, 'config.json');
  const config = parseModelConfig(readJsonFile(configFile), configFile);
  const source = openCheckpoint(dir);
  try {
    const { hiddenSize: D, intermediateSize: F, vocabSize: V, numLayers } = config;
    const last = `model.layers.${numLayers - 1}`;
    const expected: Array<[string, number[]]> = [
      ['model.embed_tokens.weight', [V, D]],
      [`${last}.input_layernorm.weight`, [D]],
      [`${last}.mlp.down_proj.weight`, [D, F]],
      ['model.norm.weight', [D]],
    ];
    if (!config.tieWordEmbeddings) expected.push(['lm_head.weight', [V, D]]);
    for (const [name, shape] of expected) {
      const entry = source.entry(name);
      if (!entry) throw new FormatError(`${source.description}: missing tensor "${name}"`);
      if (entry.shape.length !== shape.length || entry.shape.some((n, i) => n !== shape[i])) {
        throw new FormatError(`${entry.file}: tensor "${name}" has shape [${entry.shape.join(', ')}], config.json implies [${shape.join(', ')}]`);
      }
    }
  } finally {
    source.close();
  }
}
