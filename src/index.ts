/**
 * xverse-ts public API. Mirrors XVERSE's Python usage:
 *
 *   const tokenizer = await AutoTokenizer.fromPretrained(path);
 *   const model = await AutoModelForCausalLM.fromPretrained(path, { dtype: 'bfloat16' });
 *   const reply = await model.chat(tokenizer, [{ role: 'user', content: '…' }]);
 */
export { AutoModelForCausalLM, AutoTokenizer, XverseForCausalLM, type DTypeOption, type FromPretrainedOptions, type PromptInput } from './api/pretrained.js';
export { defaultModelPath } from './api/default-model.js';
export { snapshotDownload, type DownloadProgress, type SnapshotOptions } from './hub/index.js';
export type { ChatMessage, ChatRole } from './chat/messages.js';
export type { ChatFormat } from './chat/format.js';
export type { ChatOptions } from './chat/chat.js';
export * from './chat/tools/index.js';
export * from './eval/index.js';
export * from './train/index.js';
export type { GenerationConfig } from './generation/config.js';
export type { FinishReason, GenerateOptions, GeneratedChunk, GenerationResult, GenerationStats } from './generation/generate.js';
export type { TokenLogprob } from './generation/logprobs.js';
export type { ModelConfig, RopeScaling } from './model/config.js';
export type { KVCache } from './model/kv-cache.js';
export type { Tokenizer, EncodeOptions, DecodeOptions } from './tokenizer/tokenizer.js';
export { IncrementalDetokenizer } from './tokenizer/detokenizer.js';
export type { Backend } from './backend/backend.js';
export { TsBackend } from './backend/ts/ts-backend.js';
export { ChatError, ConfigError, DatasetError, FormatError, GenerationError, HubError, ResourceError, TokenizerError, XverseError } from './errors.js';
