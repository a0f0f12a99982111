import path from 'node:path';
import cliProgress from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import { defaultModelPath } from '../api/default-model.js';
import { AutoTokenizer } from '../api/pretrained.js';
import { detectChatFormat, type ChatFormat } from '../chat/format.js';
import { XverseError } from '../errors.js';
import { readJsonObjectFile } from '../formats/file-io.js';
import { parseModelConfig } from '../model/config.js';
import { LORA_MODULES, type LoraModule } from '../model/lora.js';
import type { QuantizeMode } from '../model/quant-policy.js';
import { buildSftDataset, loadSftRecords, splitEval } from '../train/data.js';
import { importTrainedCheckpoint, launchDeepSpeedJob, writeDeepSpeedJob } from '../train/deepspeed-job.js';
import type { LrScheduler } from '../train/optim.js';
import { loadBackendFullTrainable, loadBackendTrainable, type ComputeType } from '../train/backend-base.js';
import { loadTrainable, Trainer, type StepLog } from '../train/trainer.js';
import type { BackendChoice } from '../backend/select.js';
import { backendOption, chatFormatArg, integerArg, numberArg, threadsOption } from './options.js';
import { resolveModelFlag } from './download.js';

interface FinetuneFlags {
  model?: string;
  data: string;
  finetuningType: 'lora' | 'full';
  loraRank: number;
  loraAlpha?: number;
  loraDropout: number;
  loraTarget: LoraModule[];
  quantize?: QuantizeMode;
  backend?: BackendChoice;
  threads?: number;
  compute: 'f64' | ComputeType;
  lr: number;
  epochs: number;
  batchSize: number;
  gradAccum: number;
  maxGradNorm: number;
  lrScheduler: LrScheduler;
  warmupSteps: number;
  weightDecay: number;
  seed: number;
  maxLength: number;
  valSize: number;
  saveSteps: number;
  evalSteps: number;
  logSteps: number;
  chatFormat?: ChatFormat;
  output: string;
  resume?: boolean;
  stopAfter?: number;
  engine: 'local' | 'deepspeed';
  numGpus: number;
  zeroStage: '2' | '3';
  launch?: boolean;
  importFrom?: string;
}

function moduleList(value: string): LoraModule[] {
  const list = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const all = list.includes('all') ? [...LORA_MODULES] : list;
  for (const m of all) if (!(LORA_MODULES as readonly string[]).includes(m)) throw new InvalidArgumentError(`unknown module "${m}" (choose from ${LORA_MODULES.join(', ')}, or all)`);
  return all as LoraModule[];
}

/** A bar with loss, tokens/s and ETA on a terminal; a log line every logSteps steps otherwise. */
function progressReporter(total: number, logSteps: number): { step: (log: StepLog) => void; stop: () => void } {
  if (process.stderr.isTTY === true) {
    const bar = new cliProgress.SingleBar({
      stream: process.stderr, barsize: 30, hideCursor: true, clearOnComplete: true,
      format: '{bar} {value}/{total} steps | loss {loss} | {tps} tok/s | ETA {eta_formatted}',
    }, cliProgress.Presets.shades_classic);
    bar.start(total, 0, { loss: '–', tps: '–' });
    return {
      step: (log) => bar.update(log.step, { loss: log.loss.toFixed(4), tps: (log.tokensPerSecond ?? 0).toFixed(0) }),
      stop: () => bar.stop(),
    };
  }
  return {
    step: (log) => {
      if (log.step % logSteps !== 0 && log.step !== total) return;
      const evalPart = log.evalLoss !== undefined ? ` eval_loss ${log.evalLoss.toFixed(4)}` : '';
      process.stderr.write(`step ${log.step}/${total} loss ${log.loss.toFixed(4)}${evalPart} lr ${log.lr?.toExponential(2)} grad_norm ${log.gradNorm.toFixed(3)} ${(log.tokensPerSecond ?? 0).toFixed(0)} tok/s\n`);
    },
    stop: () => undefined,
  };
}

export function finetuneCommand(): Command {
  const cmd = new Command('finetune')
    .description('supervised fine-tuning (LoRA or full) on alpaca / ShareGPT data in the XVERSE chat template; or write a DeepSpeed job for a GPU cluster')
    .option('-m, --model <path>', 'base model folder (HF layout) or Hub repo id (default: the embedded stories260K)')
    .requiredOption('--data <file>', 'training data: .json (array) or .jsonl records, alpaca (instruction/input/output) or ShareGPT (conversations of from/value)')
    .addOption(new Option('--finetuning-type <type>', 'lora (adapters over a frozen base) or full (every weight)').choices(['lora', 'full']).default('lora'))
    .option('--lora-rank <r>', 'LoRA rank', integerArg(1), 8)
    .option('--lora-alpha <a>', 'LoRA alpha (default: 2 × rank)', numberArg((n) => n > 0, 'a number > 0'))
    .option('--lora-dropout <p>', 'LoRA dropout', numberArg((n) => n >= 0 && n < 1, 'a number in [0, 1)'), 0.05)
    .option('--lora-target <modules>', `projections to adapt: comma-separated of ${LORA_MODULES.join(', ')}, or all`, moduleList, ['q_proj', 'v_proj'] as LoraModule[])
    .addOption(new Option('--quantize <type>', 'LoRA over a base quantized while loading (QLoRA-style): q8_0 or q4_0').choices(['q8_0', 'q4_0']))
    .addOption(backendOption())
    .addOption(threadsOption())
    .addOption(new Option('--compute <type>', 'full fine-tuning: products of the trained weights on the backend in f32 or bf16 (master weights float64), or f64 = the float64 reference graph').choices(['f32', 'bf16', 'f64']).default('f32'))
    .option('--lr <rate>', 'peak learning rate', numberArg((n) => n > 0, 'a number > 0'), 1e-4)
    .option('--epochs <n>', 'passes over the data', integerArg(1), 3)
    .option('--batch-size <n>', 'sequences per micro-batch', integerArg(1), 4)
    .option('--grad-accum <n>', 'micro-batches per optimizer step', integerArg(1), 1)
    .option('--max-grad-norm <x>', 'clip the global gradient norm (0 = off; XVERSE uses 0.5)', numberArg((n) => n >= 0, 'a number ≥ 0'), 1)
    .addOption(new Option('--lr-scheduler <kind>', 'learning-rate schedule after warm-up').choices(['cosine', 'linear', 'constant']).default('cosine'))
    .option('--warmup-steps <n>', 'linear warm-up steps', integerArg(0), 0)
    .option('--weight-decay <x>', 'AdamW weight decay', numberArg((n) => n >= 0, 'a number ≥ 0'), 0)
    .option('--seed <n>', 'seed of data order, LoRA init and dropout', integerArg(0), 42)
    .option('--max-length <n>', 'truncate rendered examples to this many tokens', integerArg(2), 1024)
    .option('--val-size <x>', 'held-out evaluation share (0 < x < 1) or count (≥ 1)', numberArg((n) => n >= 0, 'a number ≥ 0'), 0)
    .option('--save-steps <n>', 'checkpoint every n steps (0 = only at the end)', integerArg(0), 0)
    .option('--eval-steps <n>', 'evaluation loss every n steps (0 = only at the end)', integerArg(0), 0)
    .option('--log-steps <n>', 'log line every n steps when not on a terminal', integerArg(1), 10)
    .option('--chat-format <format>', 'chat template v1 or v2 (default: detected from the model)', chatFormatArg)
    .option('--output <dir>', 'where checkpoints, the result and loss.csv / loss.png go', 'finetune-output')
    .option('--resume', 'continue from the newest checkpoint in --output')
    .option('--stop-after <n>', 'stop after n steps with a checkpoint, as if interrupted', integerArg(1))
    .addOption(new Option('--engine <engine>', 'local (train here) or deepspeed (write a LLaMA-Factory + DeepSpeed job for a GPU cluster)').choices(['local', 'deepspeed']).default('local'))
    .option('--num-gpus <n>', 'deepspeed: GPUs per node', integerArg(1), 8)
    .addOption(new Option('--zero-stage <n>', 'deepspeed: ZeRO stage').choices(['2', '3']).default('2'))
    .option('--launch', 'deepspeed: run the job now (needs llamafactory-cli and GPUs), then import its checkpoint')
    .option('--import-from <dir>', 'deepspeed: import a finished job\'s output folder (prints the checkpoint to use with -m)');
  return cmd.action(async (flags: FinetuneFlags) => {
    if (flags.engine === 'deepspeed') return deepspeed(flags);
    const modelDir = flags.model === undefined ? defaultModelPath() : await resolveModelFlag(flags.model);
    const configFile = path.join(modelDir, 'config.json');
    const config = parseModelConfig(readJsonObjectFile(configFile), configFile);
    const format = detectChatFormat(config, flags.chatFormat).format;
    const tokenizer = await AutoTokenizer.fromPretrained(modelDir);
    const eos = config.eosTokenIds[0] ?? tokenizer.eosTokenId;
    if (eos === undefined || eos === null) throw new XverseError(`${configFile}: no eos_token_id, which the chat template ends every reply with`);
    const data = buildSftDataset(tokenizer, loadSftRecords(flags.data), { format, eosTokenId: eos, maxLength: flags.maxLength });
    if (data.dropped > 0) process.stderr.write(`xverse: warning: ${data.dropped} example(s) had no reply tokens left after truncation to ${flags.maxLength} and were dropped\n`);
    const { train, eval: evalSet } = flags.valSize > 0 ? splitEval(data.sequences, flags.valSize, flags.seed) : { train: data.sequences, eval: [] };
    if (flags.quantize && flags.finetuningType !== 'lora') throw new XverseError('--quantize applies to LoRA (a frozen quantized base); full fine-tuning trains float weights');
    // LoRA keeps the frozen base in the compute backend (stored or quantized weights); full
    // fine-tuning keeps float64 master weights and runs the products on the backend (or, with
    // --compute f64, everything on the float64 reference graph).
    const backendOptions = { ...(flags.backend ? { backend: flags.backend } : {}), ...(flags.threads !== undefined ? { threads: flags.threads } : {}) };
    const model = flags.finetuningType === 'lora'
      ? loadBackendTrainable(modelDir, { ...(flags.quantize ? { quantize: flags.quantize } : {}), ...backendOptions })
      : flags.compute === 'f64' ? loadTrainable(modelDir) : loadBackendFullTrainable(modelDir, { ...backendOptions, computeType: flags.compute });
    const trainer = new Trainer(model, train, evalSet, {
      finetuningType: flags.finetuningType, learningRate: flags.lr, epochs: flags.epochs, batchSize: flags.batchSize,
      gradAccum: flags.gradAccum, maxGradNorm: flags.maxGradNorm, scheduler: flags.lrScheduler, warmupSteps: flags.warmupSteps,
      weightDecay: flags.weightDecay, seed: flags.seed, outputDir: flags.output, saveSteps: flags.saveSteps, evalSteps: flags.evalSteps,
      ...(flags.finetuningType === 'lora' ? { lora: { r: flags.loraRank, alpha: flags.loraAlpha ?? 2 * flags.loraRank, dropout: flags.loraDropout, targetModules: flags.loraTarget } } : {}),
      ...(flags.stopAfter !== undefined ? { stopAfterSteps: flags.stopAfter } : {}),
    });
    if (flags.resume && !trainer.resume()) throw new XverseError(`--resume: no checkpoint-N folder in ${flags.output}`);
    process.stderr.write(`${flags.finetuningType} fine-tuning ${modelDir}: ${train.length} training / ${evalSet.length} eval sequences (${data.trainedTokens} trained of ${data.totalTokens} tokens), ${trainer.totalSteps} steps, chat format ${format}\n`);
    const progress = progressReporter(trainer.totalSteps, flags.logSteps);
    let result;
    try {
      result = trainer.run(progress.step, modelDir);
    } finally {
      progress.stop();
    }
    const last = trainer.history.at(-1);
    const summary = last ? `loss ${trainer.history[0]!.loss.toFixed(4)} → ${last.loss.toFixed(4)}${last.evalLoss !== undefined ? `, eval loss ${last.evalLoss.toFixed(4)}` : ''}` : '';
    if (!result.finished) {
      process.stderr.write(`stopped at step ${trainer.step} of ${trainer.totalSteps} (${summary}); continue with the same command plus --resume\n`);
      process.exitCode = 130;
      return;
    }
    process.stderr.write(`done: ${summary}\n`);
    process.stdout.write(result.saved.map((f) => `${f}\n`).join(''));
  });
}

async function deepspeed(flags: FinetuneFlags): Promise<void> {
  if (flags.importFrom) {
    process.stdout.write(importTrainedCheckpoint(flags.importFrom) + '\n');
    return;
  }
  if (flags.finetuningType !== 'full') throw new XverseError('--engine deepspeed writes a full fine-tuning job (XVERSE\'s README recipe); add --finetuning-type full');
  const job = writeDeepSpeedJob({
    modelPath: flags.model ?? 'xverse/XVERSE-13B', dataFile: flags.data, outDir: flags.output, numGpus: flags.numGpus,
    zeroStage: flags.zeroStage === '3' ? 3 : 2, learningRate: flags.lr, numTrainEpochs: flags.epochs,
    perDeviceTrainBatchSize: flags.batchSize, gradientAccumulationSteps: flags.gradAccum, maxGradNorm: flags.maxGradNorm,
    lrSchedulerType: flags.lrScheduler, ...(flags.valSize > 0 ? { valSize: flags.valSize } : {}), cutoffLen: flags.maxLength,
  });
  process.stderr.write(`wrote a LLaMA-Factory + DeepSpeed job to ${job.dir} (${job.records} records); run it on the cluster with: bash ${path.join(job.dir, 'run.sh')}\n`);
  process.stdout.write(job.files.map((f) => `${f}\n`).join(''));
  if (!flags.launch) return;
  const code = await launchDeepSpeedJob(job);
  if (code === 0) process.stdout.write(`trained checkpoint: ${importTrainedCheckpoint(job.outputDir)}\n`);
}
