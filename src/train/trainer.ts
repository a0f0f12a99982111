import fs from 'node:fs';
import path from 'node:path';
import { XverseError } from '../errors.js';
import { openCheckpoint, writeCheckpoint } from '../formats/checkpoint.js';
import { readJsonObjectFile, writeFileAtomic } from '../formats/file-io.js';
import { tensorSources } from '../formats/safetensors.js';
import { copySideFiles, prepareOutputFolder, writeConfigJson } from '../convert/model-folder.js';
import { Rng } from '../generation/rng.js';
import { parseModelConfig } from '../model/config.js';
import { savePeftAdapter, type LoraConfig } from '../model/lora.js';
import { tensorToF32 } from '../tensor/convert.js';
import { LAYER_PARAM_KEYS, LAYER_PARAM_NAMES, loraArrays, namedParams, paramShapes, TrainableLlama, type LayerParams } from './graph.js';
import { AdamW, clipGradNorm, lrMultiplier, type LrScheduler } from './optim.js';
import { writeLossFiles, type LossPoint } from './plot.js';

/** A tokenized training sequence: label[i] is ids[i] where the token is trained, −100 elsewhere. */
export interface TrainSequence {
  ids: number[];
  labels: number[];
}

export interface TrainOptions {
  finetuningType: 'full' | 'lora';
  lora?: LoraConfig;
  learningRate: number;
  epochs: number;
  /** Sequences per micro-batch. */
  batchSize: number;
  /** Micro-batches per optimizer step. */
  gradAccum: number;
  /** Clip the global gradient norm to this (0 = no clipping). XVERSE's README uses 0.5. */
  maxGradNorm: number;
  scheduler: LrScheduler;
  /** Warm-up steps (transformers' warmup_steps). */
  warmupSteps: number;
  weightDecay: number;
  seed: number;
  /** Where checkpoints, the final model or adapter and the loss files go. */
  outputDir: string;
  /** Save a checkpoint every this many steps (0 = only at the end). */
  saveSteps: number;
  /** Compute the evaluation loss every this many steps (0 = only at the end). */
  evalSteps: number;
  /** Stop after this many optimizer steps as if interrupted (continue with resume). */
  stopAfterSteps?: number;
}

export interface StepLog extends LossPoint {
  epoch: number;
  gradNorm: number;
  tokens: number;
  seconds: number;
}

/** What a checkpoint's trainer_state.json holds (with params.bin: trainable values, then AdamW moments). */
interface TrainerState {
  format: 'xverse-ts-trainer';
  version: 1;
  step: number;
  totalSteps: number;
  history: StepLog[];
  arrays: number[];
  settings: Record<string, unknown>;
}

/** The settings that must match for a resume to continue the same run. */
function runSettings(o: TrainOptions, sequences: number): Record<string, unknown> {
  return {
    finetuningType: o.finetuningType, lora: o.lora ?? null, learningRate: o.learningRate, epochs: o.epochs, batchSize: o.batchSize,
    gradAccum: o.gradAccum, maxGradNorm: o.maxGradNorm, scheduler: o.scheduler, warmupSteps: o.warmupSteps,
    weightDecay: o.weightDecay, seed: o.seed, sequences,
  };
}

/** Loads a Hugging Face model folder into the float64 training graph. */
export function loadTrainable(dir: string): TrainableLlama {
  const config = parseModelConfig(readJsonObjectFile(path.join(dir, 'config.json')), path.join(dir, 'config.json'));
  const source = openCheckpoint(dir);
  try {
    const read = (name: string) => Float64Array.from(tensorToF32(source.read(name)));
    const embed = read('model.embed_tokens.weight');
    const layers = Array.from({ length: config.numLayers }, (_, l) => {
      const layer = {} as Record<(typeof LAYER_PARAM_KEYS)[number], Float64Array>;
      for (const key of LAYER_PARAM_KEYS) layer[key] = read(`model.layers.${l}.${LAYER_PARAM_NAMES[key]}`);
      return layer as LayerParams;
    });
    const tied = config.tieWordEmbeddings || !source.names().includes('lm_head.weight');
    return new TrainableLlama(config, { embed, layers, norm: read('model.norm.weight'), lmHead: tied ? embed : read('lm_head.weight') });
  } finally {
    source.close();
  }
}

/** A parameter's shape by its checkpoint name. */
function shapeOf(shapes: ReturnType<typeof paramShapes>, name: string): number[] {
  if (name === 'model.embed_tokens.weight') return shapes.embed;
  if (name === 'lm_head.weight') return shapes.lmHead;
  if (name === 'model.norm.weight') return shapes.norm;
  const key = LAYER_PARAM_KEYS.find((k) => name.endsWith(`.${LAYER_PARAM_NAMES[k]}`));
  if (!key) throw new XverseError(`unknown parameter ${name}`);
  return shapes.layer[key];
}

/** Next-token targets of a sequence: position i predicts labels[i + 1]. */
function targetsOf(s: TrainSequence): number[] {
  return [...s.labels.slice(1), -100];
}

/** Mean loss over sequences (no gradients): the evaluation loss. */
export function evaluationLoss(model: TrainableLlama, sequences: readonly TrainSequence[]): number {
  if (sequences.length === 0) return NaN;
  return sequences.reduce((sum, s) => sum + model.loss(s.ids, targetsOf(s)), 0) / sequences.length;
}

function shuffled(n: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  const rng = new Rng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.nextFloat() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

function latestCheckpoint(outputDir: string): string | null {
  if (!fs.existsSync(outputDir)) return null;
  const steps = fs.readdirSync(outputDir).map((f) => /^checkpoint-(\d+)$/.exec(f)).filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1])).sort((a, b) => b - a);
  return steps.length > 0 ? path.join(outputDir, `checkpoint-${steps[0]}`) : null;
}

function writeArrays(file: string, arrays: readonly Float64Array[]): number[] {
  const fd = fs.openSync(file, 'w');
  try {
    for (const a of arrays) fs.writeSync(fd, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  } finally {
    fs.closeSync(fd);
  }
  return arrays.map((a) => a.length);
}

function readArrays(file: string, lengths: readonly number[]): Float64Array[] {
  const bytes = fs.readFileSync(file);
  const total = lengths.reduce((a, b) => a + b, 0);
  if (bytes.length !== total * 8) throw new XverseError(`${file}: ${bytes.length} bytes, the checkpoint's state lists ${total * 8}`);
  let offset = 0;
  return lengths.map((n) => {
    const a = new Float64Array(n);
    new Uint8Array(a.buffer).set(bytes.subarray(offset, offset + n * 8));
    offset += n * 8;
    return a;
  });
}

/**
 * Supervised fine-tuning on the float64 reference graph: full (every parameter) or LoRA (adapters
 * over a frozen base). Each optimizer step averages the gradients of batchSize × gradAccum
 * sequences (each its own mean token loss, as transformers' Trainer averages micro-batch losses),
 * clips by global norm, and applies AdamW at the scheduled learning rate. The data order is a
 * seeded shuffle per epoch and LoRA dropout masks come from a generator seeded by the step, so a
 * run resumed from a checkpoint repeats an uninterrupted one step for step.
 */
export class Trainer {
  readonly history: StepLog[] = [];
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  private readonly params: Float64Array[];
  private readonly optimizer: AdamW;
  step = 0;

  constructor(
    readonly model: TrainableLlama,
    readonly train: readonly TrainSequence[],
    readonly evalSet: readonly TrainSequence[],
    readonly options: TrainOptions,
  ) {
    if (train.length === 0) throw new XverseError('no training sequences');
    if (options.finetuningType === 'lora') {
      if (!options.lora) throw new XverseError('LoRA fine-tuning needs a LoRA config');
      if (!model.lora) model.addLora(options.lora, options.seed);
      this.params = loraArrays(model.lora!);
    } else {
      if (model.lora) throw new XverseError('full fine-tuning of a model with LoRA adapters attached');
      this.params = namedParams(model.params).map(([, p]) => p);
    }
    this.optimizer = new AdamW(this.params, { weightDecay: options.weightDecay });
    this.stepsPerEpoch = Math.ceil(train.length / (options.batchSize * options.gradAccum));
    this.totalSteps = this.stepsPerEpoch * options.epochs;
  }

  /** The sequences of optimizer step `step` (0-based). */
  private stepSequences(step: number): TrainSequence[] {
    const epoch = Math.floor(step / this.stepsPerEpoch);
    const order = shuffled(this.train.length, this.options.seed * 1000 + epoch);
    const per = this.options.batchSize * this.options.gradAccum;
    const first = (step % this.stepsPerEpoch) * per;
    return order.slice(first, first + per).map((i) => this.train[i]!);
  }

  /** One optimizer step; returns its log entry. */
  trainStep(): StepLog {
    const started = performance.now();
    const sequences = this.stepSequences(this.step);
    const sums = this.params.map((p) => new Float64Array(p.length));
    let loss = 0;
    let tokens = 0;
    sequences.forEach((s, i) => {
      const dropout = new Rng(this.options.seed * 1_000_003 + this.step * 1009 + i);
      const g = this.model.lossAndGrads(s.ids, targetsOf(s), dropout);
      const grads = this.options.finetuningType === 'lora' ? loraArrays(g.loraGrads!) : namedParams(g.grads!).map(([, a]) => a);
      grads.forEach((a, k) => { const sum = sums[k]!; for (let j = 0; j < a.length; j++) sum[j] += a[j]!; });
      loss += g.loss;
      tokens += s.ids.length;
    });
    for (const sum of sums) for (let j = 0; j < sum.length; j++) sum[j]! /= sequences.length;
    // maxGradNorm 0 = no clipping (an infinite bound still reports the norm).
    const gradNorm = clipGradNorm(sums, this.options.maxGradNorm > 0 ? this.options.maxGradNorm : Infinity);
    const lr = this.options.learningRate * lrMultiplier(this.options.scheduler, this.step, this.options.warmupSteps, this.totalSteps);
    this.optimizer.update(sums, lr);
    // Backend copies of trained weights follow the new values.
    if (this.options.finetuningType === 'full') this.model.products?.refresh?.();
    this.step++;
    const seconds = (performance.now() - started) / 1000;
    const entry: StepLog = {
      step: this.step, epoch: this.step / this.stepsPerEpoch, loss: loss / sequences.length, lr, gradNorm, tokens, seconds,
      tokensPerSecond: tokens / seconds,
    };
    this.history.push(entry);
    return entry;
  }

  /**
   * Runs to the end (or to stopAfterSteps), evaluating and checkpointing as configured; writes the
   * final model (full: an HF folder; LoRA: a PEFT adapter) and loss.csv / loss.png to outputDir.
   */
  run(onStep?: (log: StepLog) => void, baseDir?: string): { finished: boolean; saved: string[] } {
    const o = this.options;
    let ranThisCall = 0;
    while (this.step < this.totalSteps) {
      if (o.stopAfterSteps !== undefined && ranThisCall >= o.stopAfterSteps) {
        this.saveCheckpoint();
        return { finished: false, saved: [] };
      }
      const log = this.trainStep();
      ranThisCall++;
      if (o.evalSteps > 0 && this.step % o.evalSteps === 0 && this.evalSet.length > 0) log.evalLoss = evaluationLoss(this.model, this.evalSet);
      onStep?.(log);
      if (o.saveSteps > 0 && this.step % o.saveSteps === 0 && this.step < this.totalSteps) this.saveCheckpoint();
    }
    const last = this.history.at(-1);
    if (last && last.evalLoss === undefined && this.evalSet.length > 0) last.evalLoss = evaluationLoss(this.model, this.evalSet);
    return { finished: true, saved: this.saveFinal(baseDir) };
  }

  /** `checkpoint-<step>/`: trainer_state.json and params.bin (trainable values, then AdamW moments). */
  saveCheckpoint(): string {
    const dir = path.join(this.options.outputDir, `checkpoint-${this.step}`);
    fs.mkdirSync(dir, { recursive: true });
    const arrays = writeArrays(path.join(dir, 'params.bin'), [...this.params, ...this.optimizer.moments()]);
    const state: TrainerState = {
      format: 'xverse-ts-trainer', version: 1, step: this.step, totalSteps: this.totalSteps, history: this.history, arrays,
      settings: runSettings(this.options, this.train.length),
    };
    writeFileAtomic(path.join(dir, 'trainer_state.json'), JSON.stringify(state, null, 1) + '\n');
    writeLossFiles(this.options.outputDir, this.history, `${this.options.finetuningType} fine-tuning`);
    return dir;
  }

  /** Continues from the newest checkpoint in outputDir; false when there is none. */
  resume(): boolean {
    const dir = latestCheckpoint(this.options.outputDir);
    if (!dir) return false;
    const file = path.join(dir, 'trainer_state.json');
    const state = readJsonObjectFile(file) as unknown as TrainerState;
    if (state.format !== 'xverse-ts-trainer' || state.version !== 1) throw new XverseError(`${file}: not an xverse-ts trainer state`);
    const settings = runSettings(this.options, this.train.length);
    for (const [key, value] of Object.entries(settings)) {
      if (JSON.stringify(state.settings[key]) !== JSON.stringify(value)) {
        throw new XverseError(`--resume: ${dir} was made with ${key} ${JSON.stringify(state.settings[key])}, this run has ${JSON.stringify(value)}`);
      }
    }
    const arrays = readArrays(path.join(dir, 'params.bin'), state.arrays);
    if (arrays.length !== 3 * this.params.length) throw new XverseError(`${dir}: the checkpoint holds ${arrays.length} arrays, this model trains ${this.params.length}`);
    this.params.forEach((p, i) => {
      if (arrays[i]!.length !== p.length) throw new XverseError(`${dir}: array ${i} has ${arrays[i]!.length} values, the model's has ${p.length}`);
      p.set(arrays[i]!);
    });
    this.optimizer.restore(state.step, arrays.slice(this.params.length));
    if (this.options.finetuningType === 'full') this.model.products?.refresh?.();
    this.step = state.step;
    this.history.splice(0, this.history.length, ...state.history);
    return true;
  }

  /** Full: an HF model folder (f32 safetensors + the base's config and tokenizer); LoRA: a PEFT adapter. */
  private saveFinal(baseDir?: string): string[] {
    const out = this.options.outputDir;
    const files = writeLossFiles(out, this.history, `${this.options.finetuningType} fine-tuning`);
    if (this.options.finetuningType === 'lora') {
      const written = savePeftAdapter(out, this.model.lora!, baseDir ?? '');
      if (baseDir) for (const f of copySideFiles(baseDir, out)) written.push(path.join(out, f));
      return [...written, files.csv, files.png];
    }
    prepareOutputFolder(out, baseDir ?? null);
    const shapes = paramShapes(this.model.config);
    const tensors = namedParams(this.model.params).map(([name, p]) => [name, { dtype: 'f32' as const, shape: shapeOf(shapes, name), data: Float32Array.from(p) }] as const);
    const written = writeCheckpoint(out, tensorSources(tensors)).map((f) => path.join(out, f));
    if (baseDir) {
      const config = readJsonObjectFile(path.join(baseDir, 'config.json'));
      written.push(path.join(out, writeConfigJson(out, { ...config, torch_dtype: 'float32' })));
      for (const f of copySideFiles(baseDir, out)) written.push(path.join(out, f));
    }
    return [...written, files.csv, files.png];
  }
}
