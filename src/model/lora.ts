import fs from 'node:fs';
import path from 'node:path';
import type { Backend } from '../backend/backend.js';
import { FormatError } from '../errors.js';
import { openCheckpoint } from '../formats/checkpoint.js';
import { readJsonObjectFile, writeFileAtomic } from '../formats/file-io.js';
import { tensorSources, writeSafetensors } from '../formats/safetensors.js';
import { convertTensor, tensorToF32 } from '../tensor/convert.js';
import { isQuantType } from '../tensor/dtype.js';
import { mapMatrices, type ModelWeights } from './weights.js';

/**
 * LoRA adapters (Hu et al.) in PEFT's file layout, so adapters move between xverse-ts and Python:
 * `adapter_config.json` (peft_type LORA, r, lora_alpha, lora_dropout, target_modules) and
 * `adapter_model.safetensors` with `base_model.model.model.layers.N.<module>.lora_A.weight` [r, in]
 * and `….lora_B.weight` [out, r]. A targeted projection computes W·x + (alpha/r)·B·A·x.
 */

/** PEFT's module names of the projections LoRA can target. */
export const LORA_MODULES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LoraModule = (typeof LORA_MODULES)[number];

/** Where each module sits in a decoder layer (its checkpoint path after `model.layers.N.`). */
export const LORA_MODULE_PATHS: Readonly<Record<LoraModule, string>> = {
  q_proj: 'self_attn.q_proj', k_proj: 'self_attn.k_proj', v_proj: 'self_attn.v_proj', o_proj: 'self_attn.o_proj',
  gate_proj: 'mlp.gate_proj', up_proj: 'mlp.up_proj', down_proj: 'mlp.down_proj',
};

export interface LoraConfig {
  r: number;
  alpha: number;
  dropout: number;
  targetModules: LoraModule[];
}

/** One adapted matrix: A [r, in] and B [out, r], row-major. */
export interface LoraPair {
  A: Float64Array | Float32Array;
  B: Float64Array | Float32Array;
  inDim: number;
  outDim: number;
}

export interface LoraAdapter {
  config: LoraConfig;
  /** Per layer, per targeted module. */
  layers: Array<Partial<Record<LoraModule, LoraPair>>>;
}

export function loraScale(config: LoraConfig): number {
  return config.alpha / config.r;
}

export function checkLoraConfig(config: LoraConfig, where = 'LoRA config'): LoraConfig {
  if (!Number.isSafeInteger(config.r) || config.r < 1) throw new FormatError(`${where}: r must be an integer ≥ 1, got ${config.r}`);
  if (!Number.isFinite(config.alpha) || config.alpha <= 0) throw new FormatError(`${where}: lora_alpha must be > 0, got ${config.alpha}`);
  if (!(config.dropout >= 0 && config.dropout < 1)) throw new FormatError(`${where}: lora_dropout must be in [0, 1), got ${config.dropout}`);
  if (config.targetModules.length === 0) throw new FormatError(`${where}: target_modules is empty`);
  for (const m of config.targetModules) {
    if (!(LORA_MODULES as readonly string[]).includes(m)) throw new FormatError(`${where}: unknown target module "${m}" (known: ${LORA_MODULES.join(', ')})`);
  }
  return config;
}

function tensorName(layer: number, module: LoraModule, part: 'A' | 'B'): string {
  return `base_model.model.model.layers.${layer}.${LORA_MODULE_PATHS[module]}.lora_${part}.weight`;
}

/** Writes the adapter in PEFT's layout (f32 tensors); returns the files written. */
export function savePeftAdapter(dir: string, adapter: LoraAdapter, baseModel: string): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const c = adapter.config;
  const config = {
    peft_type: 'LORA', task_type: 'CAUSAL_LM', base_model_name_or_path: baseModel, inference_mode: true,
    r: c.r, lora_alpha: c.alpha, lora_dropout: c.dropout, target_modules: c.targetModules,
    bias: 'none', fan_in_fan_out: false, modules_to_save: null, init_lora_weights: true,
  };
  const tensors: Array<[string, { dtype: 'f32'; shape: number[]; data: Float32Array }]> = [];
  adapter.layers.forEach((layer, l) => {
    for (const m of c.targetModules) {
      const pair = layer[m];
      if (!pair) continue;
      tensors.push([tensorName(l, m, 'A'), { dtype: 'f32', shape: [c.r, pair.inDim], data: Float32Array.from(pair.A) }]);
      tensors.push([tensorName(l, m, 'B'), { dtype: 'f32', shape: [pair.outDim, c.r], data: Float32Array.from(pair.B) }]);
    }
  });
  const configFile = path.join(dir, 'adapter_config.json');
  const weightsFile = path.join(dir, 'adapter_model.safetensors');
  writeFileAtomic(configFile, JSON.stringify(config, null, 2) + '\n');
  writeSafetensors(weightsFile, tensorSources(tensors));
  return [configFile, weightsFile];
}

/** Reads a PEFT LoRA adapter folder, checking it against the model's layer count. */
export function loadPeftAdapter(dir: string, numLayers: number): LoraAdapter {
  const configFile = path.join(dir, 'adapter_config.json');
  const json = readJsonObjectFile(configFile);
  if (json['peft_type'] !== 'LORA') throw new FormatError(`${configFile}: peft_type is ${JSON.stringify(json['peft_type'])}, only LORA adapters are supported`);
  const targets = json['target_modules'];
  if (!Array.isArray(targets) || !targets.every((t) => typeof t === 'string')) throw new FormatError(`${configFile}: target_modules must be a list of module names`);
  if (json['fan_in_fan_out'] === true) throw new FormatError(`${configFile}: fan_in_fan_out adapters (GPT-2 Conv1D layout) are not supported`);
  if (json['use_dora'] === true || json['use_rslora'] === true) throw new FormatError(`${configFile}: DoRA / rsLoRA adapters are not supported`);
  const config = checkLoraConfig({
    r: Number(json['r']), alpha: Number(json['lora_alpha'] ?? json['r']), dropout: Number(json['lora_dropout'] ?? 0),
    targetModules: targets as LoraModule[],
  }, configFile);
  const source = openCheckpoint(dir);
  try {
    const seen = new Set<string>();
    const layers: LoraAdapter['layers'] = Array.from({ length: numLayers }, () => ({}));
    for (const name of source.names()) {
      const m = /^base_model\.model\.model\.layers\.(\d+)\.(self_attn|mlp)\.(\w+)\.lora_([AB])(?:\.default)?\.weight$/.exec(name);
      if (!m) throw new FormatError(`${dir}: unexpected tensor "${name}" in the adapter (only LoRA A/B matrices of decoder projections are supported)`);
      const layer = Number(m[1]);
      const module = m[3] as LoraModule;
      if (layer >= numLayers) throw new FormatError(`${dir}: tensor "${name}" is for layer ${layer}, the model has ${numLayers}`);
      if (!config.targetModules.includes(module) || `${m[2]}.${module}` !== LORA_MODULE_PATHS[module]) {
        throw new FormatError(`${dir}: tensor "${name}" is for a module not in target_modules`);
      }
      const t = source.read(name);
      if (t.shape.length !== 2) throw new FormatError(`${dir}: tensor "${name}" is not a matrix`);
      const data = tensorToF32(t);
      const pair = (layers[layer]![module] ??= { A: new Float32Array(0), B: new Float32Array(0), inDim: 0, outDim: 0 });
      if (m[4] === 'A') {
        if (t.shape[0] !== config.r) throw new FormatError(`${dir}: "${name}" has ${t.shape[0]} rows, r is ${config.r}`);
        pair.A = data;
        pair.inDim = t.shape[1]!;
      } else {
        if (t.shape[1] !== config.r) throw new FormatError(`${dir}: "${name}" has ${t.shape[1]} columns, r is ${config.r}`);
        pair.B = data;
        pair.outDim = t.shape[0]!;
      }
      seen.add(name);
    }
    layers.forEach((layer, l) => {
      for (const [module, pair] of Object.entries(layer)) {
        if (pair.A.length === 0 || pair.B.length === 0) throw new FormatError(`${dir}: layer ${l} ${module} has only one of lora_A / lora_B`);
      }
    });
    if (seen.size === 0) throw new FormatError(`${dir}: the adapter holds no LoRA tensors`);
    return { config, layers };
  } finally {
    source.close();
  }
}

const MODULE_OF_WEIGHT = new Map(Object.entries(LORA_MODULE_PATHS).map(([m, p]) => [`${p}.weight`, m as LoraModule]));

/**
 * The weights with every adapted matrix replaced by W + (alpha/r)·B·A, kept in W's storage type
 * (a quantized W is dequantized, merged and quantized again to its type).
 */
export function mergeLora(weights: ModelWeights, backend: Backend, adapter: LoraAdapter): ModelWeights {
  const scale = loraScale(adapter.config);
  return mapMatrices(weights, (name, matrix) => {
    const m = /^model\.layers\.(\d+)\.(.+)$/.exec(name);
    const module = m ? MODULE_OF_WEIGHT.get(m[2]!) : undefined;
    const pair = module ? adapter.layers[Number(m![1])]?.[module] : undefined;
    if (!pair) return matrix;
    if (pair.outDim !== matrix.rows || pair.inDim !== matrix.cols) {
      throw new FormatError(`LoRA ${name}: adapter is [${pair.outDim}, ${pair.inDim}], the weight is [${matrix.rows}, ${matrix.cols}]`);
    }
    const t = backend.readMatrix(matrix);
    // A copy: the backend's f32 matrix may share memory with what readMatrix returns.
    const w = Float32Array.from(tensorToF32(t));
    const r = adapter.config.r;
    for (let o = 0; o < pair.outDim; o++) {
      for (let k = 0; k < r; k++) {
        const b = scale * pair.B[o * r + k]!;
        if (b === 0) continue;
        const aOff = k * pair.inDim;
        const wOff = o * pair.inDim;
        for (let i = 0; i < pair.inDim; i++) w[wOff + i] += b * pair.A[aOff + i]!;
      }
    }
    const merged = { dtype: 'f32' as const, shape: [matrix.rows, matrix.cols], data: w };
    if (isQuantType(t.dtype)) return backend.uploadMatrix(backend.quantize(merged, t.dtype));
    return backend.uploadMatrix(t.dtype === 'f32' ? merged : convertTensor(merged, t.dtype));
  });
}
