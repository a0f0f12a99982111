import { Command } from 'commander';
import { resolveModelFlag } from './download.js';
import { createBackend, type BackendChoice } from '../backend/select.js';
import { openCheckpoint, type WeightSource } from '../formats/checkpoint.js';
import { isGgufPath } from '../formats/gguf-detect.js';
import { openGgufWeights } from '../model/gguf-weights.js';
import { readModelConfig } from '../model/load.js';
import { contextLength } from '../model/rope.js';
import { numel } from '../tensor/tensor.js';
import { backendOption, threadsOption } from './options.js';

interface InfoFlags {
  model?: string;
  backend?: BackendChoice;
  threads?: number;
  json?: boolean;
}

interface ModelSummary {
  path: string;
  modelType: string;
  layers: number;
  hiddenSize: number;
  intermediateSize: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocabSize: number;
  contextLength: number;
  ropeTheta: number;
  ropeScaling: string | null;
  tiedHead: boolean;
  tensors: number;
  parameters: number;
  /** Bytes of the tensors in the checkpoint, by dtype (as stored, i.e. as loaded with --dtype auto). */
  weightBytes: Record<string, number>;
}

/** The config and weight sizes of a model folder or GGUF file, read from config.json / metadata and the checkpoint headers only. */
function summarizeModel(dir: string): ModelSummary {
  const c = readModelConfig(dir);
  const gguf = isGgufPath(dir) ? openGgufWeights(dir) : null;
  const source: WeightSource = gguf ?? openCheckpoint(dir);
  try {
    const weightBytes: Record<string, number> = {};
    let parameters = 0;
    const names = source.names();
    // A GGUF tensor is counted in the type it is stored as, not the f32 some types are decoded to.
    const stored = gguf
      ? (name: string) => gguf.gguf.tensorInfo(gguf.ggufName(name)!)
      : (name: string) => ({ type: { name: source.entry(name)!.dtype }, byteLength: source.entry(name)!.byteLength });
    for (const name of names) {
      parameters += numel(source.entry(name)!.shape);
      const { type, byteLength } = stored(name);
      weightBytes[type.name] = (weightBytes[type.name] ?? 0) + byteLength;
    }
    return {
      path: dir, modelType: c.modelType, layers: c.numLayers, hiddenSize: c.hiddenSize, intermediateSize: c.intermediateSize,
      heads: c.numHeads, kvHeads: c.numKvHeads, headDim: c.headDim, vocabSize: c.vocabSize, contextLength: contextLength(c),
      ropeTheta: c.ropeTheta, ropeScaling: c.ropeScaling ? `${c.ropeScaling.type} ×${c.ropeScaling.factor}` : null,
      tiedHead: c.tieWordEmbeddings, tensors: names.length, parameters, weightBytes,
    };
  } finally {
    source.close();
  }
}

function formatBytes(b: number): string {
  if (b >= 1e9) return `${(b / 1e9).toFixed(2)} GB`;
  if (b >= 1e6) return `${(b / 1e6).toFixed(2)} MB`;
  return `${(b / 1e3).toFixed(1)} kB`;
}

export function infoCommand(): Command {
  return new Command('info')
    .description('print the compute backend (ISA, threads, build features) and, with --model, a model\'s configuration and weight sizes')
    .option('-m, --model <path>', 'also summarize this model folder or GGUF file (config.json or metadata + checkpoint headers; no weights are read)')
    .addOption(backendOption())
    .addOption(threadsOption())
    .option('--json', 'print one JSON object')
    .action(async (flags: InfoFlags) => {
      let warning: string | null = null;
      const backend = createBackend({
        ...(flags.backend ? { backend: flags.backend } : {}),
        ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
        onWarning: (m) => (warning = m),
      });
      const info = backend.info();
      const model = flags.model ? summarizeModel(await resolveModelFlag(flags.model)) : null;
      if (flags.json) {
        process.stdout.write(JSON.stringify({ backend: info, warning, ...(model ? { model } : {}) }) + '\n');
        return;
      }
      const lines = [
        `backend   ${info.name}${warning ? ` (${warning})` : ''}`,
        `isa       ${info.isa}`,
        `threads   ${info.threads}`,
        ...info.features.map((f, i) => `${i === 0 ? 'features  ' : '          '}${f}`),
      ];
      if (model) {
        const bytes = Object.entries(model.weightBytes).map(([d, b]) => `${formatBytes(b)} ${d}`).join(', ');
        lines.push(
          '',
          `model     ${model.path}`,
          `type      ${model.modelType}: ${model.layers} layers, hidden ${model.hiddenSize}, intermediate ${model.intermediateSize}`,
          `attention ${model.heads} heads (${model.kvHeads} KV heads) × ${model.headDim}, context ${model.contextLength}, rope θ ${model.ropeTheta}${model.ropeScaling ? `, scaling ${model.ropeScaling}` : ''}`,
          `vocab     ${model.vocabSize}${model.tiedHead ? ' (tied head)' : ''}`,
          `weights   ${model.tensors} tensors, ${model.parameters.toLocaleString('en-US')} parameters, ${bytes}`,
        );
      }
      process.stdout.write(lines.join('\n') + '\n');
    });
}
