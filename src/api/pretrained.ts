import fs from 'node:fs';
import path from 'node:path';
import type { Backend, KVCacheType } from '../backend/backend.js';
import type { BackendChoice } from '../backend/select.js';
import { chat, chatStream, prepareChat, type ChatOptions } from '../chat/chat.js';
import { detectChatFormat, type ChatFormat } from '../chat/format.js';
import type { ChatMessage } from '../chat/messages.js';
import { FormatError } from '../errors.js';
import { readJsonFile } from '../formats/file-io.js';
import { isGgufPath } from '../formats/gguf-detect.js';
import { resolveModelReference, type SnapshotOptions } from '../hub/index.js';
import { parseGenerationConfig, resolveGenerationConfig, type GenerationConfig } from '../generation/config.js';
import { generate, generateText, type GenerateOptions, type GeneratedChunk, type GenerationResult } from '../generation/generate.js';
import type { ModelConfig } from '../model/config.js';
import type { KVCache } from '../model/kv-cache.js';
import { loadPeftAdapter } from '../model/lora.js';
import { loadModel, readModelConfig } from '../model/load.js';
import { quantizeModeForBits, type QuantizeMode } from '../model/quant-policy.js';
import type { XverseModel } from '../model/xverse.js';
import { saveModelFolder } from './save-pretrained.js';
import { parseDType, type DType } from '../tensor/dtype.js';
import { loadTokenizer } from '../tokenizer/load.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { defaultModelPath } from './default-model.js';

/** Storage precision of the weights: as in the files ('auto'), or converted on load. */
export type DTypeOption = 'auto' | DType | 'float32' | 'float16' | 'bfloat16';

export interface FromPretrainedOptions {
  /** Weight storage dtype (math is f32 either way). Default 'auto': keep the checkpoint's dtype. */
  dtype?: DTypeOption;
  /**
   * Compute backend: an instance, or 'auto' (default; XVERSE_BACKEND sets it too) = the native
   * backend when its addon loads, else the TypeScript one with one warning; 'native'; 'typescript'.
   */
  backend?: Backend | BackendChoice;
  /** Worker threads of the native backend (default: the physical cores). */
  threads?: number;
  /** KV cache element type (default: the backend's — f16 native, f32 TypeScript). */
  kvCacheType?: KVCacheType;
  /** Receives the warning of an 'auto' backend that fell back to TypeScript (default: stderr, once). */
  onWarning?: (message: string) => void;
  /**
   * Quantize the weight matrices while loading, streaming the checkpoint a few MB at a time so
   * memory stays near the quantized size: 'q8_0' (or 8) or 'q4_0' (or 4); see quantTypeFor.
   */
  quantize?: QuantizeMode | 8 | 4;
  /** Override the chat prompt format detected from the folder. */
  chatFormat?: ChatFormat;
  /** A LoRA adapter folder (PEFT layout) or Hub repo id, merged into the weights after loading (then quantized if asked). */
  adapter?: string;
  /** Called per tensor while loading (done, total, tensor name). */
  onProgress?: (done: number, total: number, name: string) => void;
  /** Called with checkpoint tensors the model does not use (default: ignored). */
  onUnusedTensors?: (names: string[]) => void;
  /** When the path is a Hugging Face repo id (`org/name`): revision, cacheDir, include, onProgress … of its download. */
  hub?: SnapshotOptions;
}

/** Options of `AutoTokenizer.fromPretrained`. */
export interface TokenizerFromPretrainedOptions {
  /** When the path is a Hugging Face repo id (`org/name`): revision, cacheDir, onProgress … of its download. */
  hub?: SnapshotOptions;
}

/** A local path as it is; an `org/name` that is not one is a Hub repo id, resolved to its cached snapshot. */
async function resolvePretrained(ref: string | undefined, hub: SnapshotOptions | undefined): Promise<string> {
  return resolveModelPath(ref === undefined ? undefined : await resolveModelReference(ref, hub));
}

/** A prompt: text (encoded with the tokenizer's own special-token rule) or token ids. */
export type PromptInput = string | readonly number[];

/**
 * A loaded XVERSE (or Llama) causal LM, with XVERSE's Python conveniences: `generationConfig`
 * from generation_config.json, `generate`, and `chat(tokenizer, messages)`.
 */
export class XverseForCausalLM {
  /** Defaults for generate/chat: HF defaults overridden by the folder's generation_config.json. */
  generationConfig: GenerationConfig;
  /** The chat prompt format used by `chat` (see `chatFormatReason`). */
  chatFormat: ChatFormat;
  readonly chatFormatReason: string;

  constructor(readonly path: string, readonly model: XverseModel, fileGenerationConfig: Partial<GenerationConfig>, chatFormat?: ChatFormat) {
    this.generationConfig = resolveGenerationConfig(
      { eosTokenIds: [...model.config.eosTokenIds], bosTokenId: model.config.bosTokenId, padTokenId: model.config.padTokenId },
      fileGenerationConfig,
    );
    const choice = detectChatFormat(model.config, chatFormat);
    this.chatFormat = choice.format;
    this.chatFormatReason = choice.reason;
  }

  get config(): ModelConfig {
    return this.model.config;
  }

  /** A KV cache to pass as `options.cache` so consecutive calls reuse a shared prompt prefix. */
  createCache(): KVCache {
    return this.model.createCache();
  }

  /** Generates a continuation and returns the whole result (text, ids, finish reason, timings). */
  generate(tokenizer: Tokenizer, prompt: PromptInput, options: GenerateOptions = {}): Promise<GenerationResult> {
    return generateText(this.model, tokenizer, this.promptIds(tokenizer, prompt), this.withDefaults(options));
  }

  /** Streams a continuation chunk by chunk; the iterator's return value is the GenerationResult. */
  generateStream(tokenizer: Tokenizer, prompt: PromptInput, options: GenerateOptions = {}): AsyncGenerator<GeneratedChunk, GenerationResult, void> {
    return generate(this.model, tokenizer, this.promptIds(tokenizer, prompt), this.withDefaults(options));
  }

  /**
   * XVERSE's `model.chat(tokenizer, messages)`: the reply to a history of
   * `{role: 'system'|'user'|'assistant'|'exec', content}` messages, built with the model's chat
   * format. With `{ stream: true }` it returns an async iterator of text deltas instead.
   */
  chat(tokenizer: Tokenizer, messages: readonly ChatMessage[], options?: ChatOptions & { stream?: false }): Promise<string>;
  chat(tokenizer: Tokenizer, messages: readonly ChatMessage[], options: ChatOptions & { stream: true }): AsyncGenerator<string, GenerationResult, void>;
  chat(tokenizer: Tokenizer, messages: readonly ChatMessage[], options: ChatOptions & { stream?: boolean } = {}): Promise<string> | AsyncGenerator<string, GenerationResult, void> {
    const { stream, ...rest } = options;
    const opts = { format: this.chatFormat, ...this.withDefaults(rest) };
    return stream ? chatStream(this.model, tokenizer, messages, opts) : chat(this.model, tokenizer, messages, opts);
  }

  /**
   * XVERSE's `model.quantize(bits)`: 8 → q8_0, 4 → q4_0 (GGUF-compatible blocks of 32 weights with
   * one f16 scale), in memory, matrix by matrix. Norms stay f32; with 4 bits the output head is
   * q8_0. Returns the model, as in Python (`model.quantize(8)`); start new caches afterwards.
   */
  quantize(bits: QuantizeMode | 8 | 4): this {
    this.model.quantize(resolveQuantize(bits));
    return this;
  }

  /**
   * Saves the model as it is held (quantized or not) to a folder that `fromPretrained` loads again
   * without re-quantizing: safetensors weights (see saveWeights), config.json with a
   * `quantization_config` entry when quantized, and the source folder's other files (tokenizer,
   * generation_config.json, …). Returns the files written.
   */
  savePretrained(dir: string, options: { maxShardBytes?: number } = {}): string[] {
    if (isGgufPath(this.path)) throw new FormatError(`${this.path}: saving a model loaded from a GGUF file is not supported (there is no config.json or tokenizer folder to save with it)`);
    return saveModelFolder(this, dir, options);
  }

  /**
   * Loads a LoRA adapter in PEFT's layout (`adapter_config.json` + `adapter_model.safetensors`, as
   * `xverse finetune` and Python's peft save it) and merges it into the weights. Returns the model.
   */
  loadAdapter(dir: string): this {
    this.model.applyLora(loadPeftAdapter(dir, this.model.config.numLayers));
    return this;
  }

  /** The prompt ids `chat` would feed the model for `messages` (for inspection and tests). */
  buildChatInput(tokenizer: Tokenizer, messages: readonly ChatMessage[], options: ChatOptions = {}): number[] {
    return prepareChat(this.model, tokenizer, messages, { format: this.chatFormat, ...this.withDefaults(options) }).promptIds;
  }

  private withDefaults<T extends GenerateOptions>(options: T): T {
    return { ...options, generationConfig: { ...this.generationConfig, ...options.generationConfig } };
  }

  private promptIds(tokenizer: Tokenizer, prompt: PromptInput): number[] {
    return typeof prompt === 'string' ? tokenizer.encode(prompt) : [...prompt];
  }
}

function resolveDType(option: DTypeOption | undefined): DType | 'auto' {
  if (option === undefined || option === 'auto') return 'auto';
  const dtype = parseDType(option);
  if (!dtype) throw new RangeError(`dtype must be auto, float32, float16 or bfloat16, got "${option}"`);
  return dtype;
}

function resolveQuantize(option: QuantizeMode | 8 | 4): QuantizeMode {
  if (option === 'q8_0' || option === 'q4_0') return option;
  if (typeof option === 'number') return quantizeModeForBits(option);
  throw new RangeError(`quantize must be 8, 4, "q8_0" or "q4_0", got ${JSON.stringify(option)}`);
}

function resolveModelPath(modelPath: string | undefined): string {
  const dir = modelPath ?? defaultModelPath();
  if (!fs.existsSync(dir)) throw new FormatError(`${dir}: no such model folder`);
  return dir;
}

/**
 * `AutoModelForCausalLM.fromPretrained(path)` as in transformers: a model folder or a GGUF file
 * (`xverse` / `llama` architecture); no path = the embedded default model.
 */
export class AutoModelForCausalLM {
  static async fromPretrained(modelPath?: string, options: FromPretrainedOptions = {}): Promise<XverseForCausalLM> {
    const dir = await resolvePretrained(modelPath, options.hub);
    // A GGUF file carries no generation config: Hugging Face's defaults apply.
    const genFile = path.join(dir, 'generation_config.json');
    const generationConfig = !isGgufPath(dir) && fs.existsSync(genFile) ? parseGenerationConfig(readJsonFile(genFile), genFile) : {};
    const { dtype, chatFormat, quantize, hub: _hub, adapter, ...loadOptions } = options;
    // With an adapter the weights are merged before quantizing (a quantized merge would round twice).
    const model = loadModel(dir, { ...loadOptions, dtype: resolveDType(dtype), ...(quantize !== undefined && !adapter ? { quantize: resolveQuantize(quantize) } : {}) });
    const lm = new XverseForCausalLM(dir, model, generationConfig, chatFormat);
    if (adapter) {
      lm.loadAdapter(await resolvePretrained(adapter, options.hub));
      if (quantize !== undefined) lm.quantize(quantize);
    }
    return lm;
  }
}

/** `AutoTokenizer.fromPretrained(path)`: tokenizer.json, llama2.c tokenizer.bin or a GGUF file's vocabulary; no path = the default model's. */
export class AutoTokenizer {
  static async fromPretrained(tokenizerPath?: string, options: TokenizerFromPretrainedOptions = {}): Promise<Tokenizer> {
    const target = await resolvePretrained(tokenizerPath, options.hub);
    // A GGUF file holds its tokenizer and its special ids in its own metadata.
    if (isGgufPath(target)) return loadTokenizer(target);
    // Special ids the tokenizer files leave open come from the model's config.json, when there is one.
    const configFile = path.join(fs.statSync(target).isDirectory() ? target : path.dirname(target), 'config.json');
    if (!fs.existsSync(configFile)) return loadTokenizer(target);
    const config = readModelConfig(path.dirname(configFile));
    return loadTokenizer(target, { bosTokenId: config.bosTokenId, eosTokenId: config.eosTokenIds[0] ?? null, padTokenId: config.padTokenId });
  }
}
