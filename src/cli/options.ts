import { InvalidArgumentError, Option, type Command } from 'commander';
import { AutoModelForCausalLM, AutoTokenizer, type DTypeOption, type XverseForCausalLM } from '../api/pretrained.js';
import { parseChatFormat, type ChatFormat } from '../chat/format.js';
import type { KVCacheType } from '../backend/backend.js';
import type { BackendChoice } from '../backend/select.js';
import type { QuantizeMode } from '../model/quant-policy.js';
import type { GenerateOptions, GenerationStats } from '../generation/generate.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { resolveModelFlag } from './download.js';

/** Flags shared by the commands that load a model and generate. */
export interface ModelFlags {
  model?: string;
  tokenizer?: string;
  dtype?: DTypeOption;
  backend?: BackendChoice;
  threads?: number;
  kvCache?: KVCacheType;
  quantize?: QuantizeMode;
  adapter?: string;
}

export interface SamplingFlags {
  maxNewTokens?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  seed?: number;
  greedy?: boolean;
  stop?: string[];
  verbose?: boolean;
}

export function integerArg(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer ≥ ${min}, got "${value}"`);
    return n;
  };
}

export function numberArg(check: (n: number) => boolean, what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || !check(n)) throw new InvalidArgumentError(`expected ${what}, got "${value}"`);
    return n;
  };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function addModelFlags(cmd: Command): Command {
  return cmd
    .option('-m, --model <path>', 'model folder (config.json + safetensors), GGUF file, or Hugging Face repo id (org/name, downloaded to the cache); default: the embedded stories260K')
    .option('--tokenizer <path>', 'tokenizer.json, llama2.c tokenizer.bin, or a folder with one (default: the model folder)')
    .addOption(new Option('--dtype <dtype>', 'weight storage precision (math is f32)').choices(['auto', 'float32', 'float16', 'bfloat16']).default('auto'))
    .addOption(backendOption())
    .addOption(threadsOption())
    .addOption(new Option('--kv-cache <type>', 'KV cache element type (default: the backend\'s: f16 native, f32 TypeScript)').choices(['f32', 'f16', 'q8_0']))
    .addOption(quantizeOption())
    .option('--adapter <dir>', 'a LoRA adapter folder (PEFT layout, e.g. from xverse finetune) merged into the weights on load');
}

/** --quantize: quantize the matrices while loading (streamed, so a bf16 checkpoint larger than RAM fits). */
export function quantizeOption(): Option {
  return new Option('--quantize <type>', 'quantize the weight matrices while loading: q8_0 (8-bit) or q4_0 (4-bit; output head q8_0)').choices(['q8_0', 'q4_0']);
}

/** A one-line loading indicator on an interactive stderr (nothing when piped). */
export function loadProgress(): ((done: number, total: number, name: string) => void) | undefined {
  if (process.stderr.isTTY !== true) return undefined;
  return (done, total, name) => {
    process.stderr.write(done < total ? `\r\x1b[Kloading ${done}/${total} ${name}` : '\r\x1b[K');
  };
}

/** --backend: no default here, so XVERSE_BACKEND applies when the flag is absent. */
export function backendOption(): Option {
  return new Option('--backend <backend>', 'compute backend: auto = native if built, else TypeScript (default: $XVERSE_BACKEND or auto)')
    .choices(['auto', 'native', 'typescript']);
}

export function threadsOption(): Option {
  return new Option('--threads <n>', 'worker threads of the native backend (default: physical cores)').argParser(integerArg(1));
}

export function addSamplingFlags(cmd: Command): Command {
  return cmd
    .option('-n, --max-new-tokens <n>', 'most tokens to generate (default: generation_config.json)', integerArg(0))
    .option('-t, --temperature <t>', 'sampling temperature; 0 = greedy', numberArg((n) => n >= 0, 'a number ≥ 0'))
    .option('--top-k <k>', 'keep the k most likely tokens (0 = off)', integerArg(0))
    .option('--top-p <p>', 'nucleus sampling threshold in (0, 1]', numberArg((n) => n > 0 && n <= 1, 'a number in (0, 1]'))
    .option('--repetition-penalty <r>', 'HF repetition penalty over prompt and output (1 = off)', numberArg((n) => n > 0, 'a number > 0'))
    .option('-s, --seed <n>', 'random seed, for reproducible sampling (turns sampling on)', integerArg(0))
    .option('--greedy', 'always pick the most likely token (no sampling)')
    .option('--stop <text>', 'stop when this text appears (repeatable)', collect)
    .option('-v, --verbose', 'print speeds and token counts to stderr');
}

/** Maps CLI flags onto generate() options; any sampling flag (or a seed) turns sampling on unless --greedy. */
export function generateOptionsFromFlags(flags: SamplingFlags): GenerateOptions {
  const o: GenerateOptions = {};
  if (flags.maxNewTokens !== undefined) o.maxNewTokens = flags.maxNewTokens;
  if (flags.temperature !== undefined) o.temperature = flags.temperature;
  if (flags.topK !== undefined) o.topK = flags.topK;
  if (flags.topP !== undefined) o.topP = flags.topP;
  if (flags.repetitionPenalty !== undefined) o.repetitionPenalty = flags.repetitionPenalty;
  if (flags.seed !== undefined) o.seed = flags.seed;
  if (flags.stop !== undefined) o.stop = flags.stop;
  // A seed only matters when sampling, so asking for one asks for sampling too.
  if (flags.greedy) o.doSample = false;
  else if (flags.temperature !== undefined || flags.topK !== undefined || flags.topP !== undefined || flags.seed !== undefined) o.doSample = true;
  return o;
}

export function chatFormatArg(value: string): ChatFormat {
  try {
    return parseChatFormat(value);
  } catch {
    throw new InvalidArgumentError(`expected v1 or v2, got "${value}"`);
  }
}

/** Loads the model and its tokenizer as the flags say. */
export async function loadFromFlags(flags: ModelFlags & { chatFormat?: ChatFormat }): Promise<{ model: XverseForCausalLM; tokenizer: Tokenizer }> {
  // A Hub repo id (org/name) is downloaded first, with its own progress bars.
  const modelPath = flags.model === undefined ? undefined : await resolveModelFlag(flags.model);
  const tokenizerPath = flags.tokenizer === undefined ? undefined : await resolveModelFlag(flags.tokenizer);
  const progress = loadProgress();
  const model = await AutoModelForCausalLM.fromPretrained(modelPath, {
    ...(flags.dtype ? { dtype: flags.dtype } : {}),
    ...(flags.backend ? { backend: flags.backend } : {}),
    ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
    ...(flags.kvCache ? { kvCacheType: flags.kvCache } : {}),
    ...(flags.quantize ? { quantize: flags.quantize } : {}),
    ...(flags.adapter ? { adapter: flags.adapter } : {}),
    ...(progress ? { onProgress: progress } : {}),
    ...(flags.chatFormat ? { chatFormat: flags.chatFormat } : {}),
    onUnusedTensors: (names) => {
      const shown = names.slice(0, 5).join(', ') + (names.length > 5 ? `, … (${names.length - 5} more)` : '');
      process.stderr.write(`xverse: warning: ${names.length} tensor(s) in the checkpoint are not used by the model: ${shown}\n`);
    },
  });
  const tokenizer = await AutoTokenizer.fromPretrained(tokenizerPath ?? model.path);
  return { model, tokenizer };
}

/** One line of timing figures, as `--verbose` prints them. */
export function formatStats(s: GenerationStats): string {
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');
  return `prompt ${s.promptTokens} tokens (${s.cachedTokens} cached), prefill ${f(s.prefillMs)} ms = ${f(s.prefillTokensPerSecond)} tok/s; ` +
    `generated ${s.generatedTokens} tokens, decode ${f(s.decodeTokensPerSecond)} tok/s; ` +
    `time to first token ${s.timeToFirstTokenMs === null ? '–' : f(s.timeToFirstTokenMs)} ms; total ${f(s.totalMs)} ms`;
}
