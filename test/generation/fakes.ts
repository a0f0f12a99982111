// Test doubles for the generation layer: a model whose logits follow a script, and a tokenizer
// whose decode is plain concatenation of fixed pieces (so expected text is obvious by eye).
import type { Backend, KVStore } from '../../src/backend/backend.js';
import type { CausalLM } from '../../src/model/causal-lm.js';
import type { ModelConfig } from '../../src/model/config.js';
import { KVCache } from '../../src/model/kv-cache.js';
import type { Tokenizer } from '../../src/tokenizer/tokenizer.js';

/** id → piece; ids 0–3 and 14 are special, 3 is EOS. */
export const PIECES = [
  '<unk>', '<pad>', '<s>', '</s>', 'a', 'b', 'c', 'Hello', '\nHu', 'man:', 'more', '\nH', 'i', ' ', '<|sep|>', 'x',
] as const;
export const EOS = 3;
export const SPECIAL = new Set([0, 1, 2, 3, 14]);
export const VOCAB = PIECES.length;

export const fakeTokenizer: Tokenizer = {
  vocabSize: VOCAB,
  bosTokenId: 2,
  eosTokenId: EOS,
  padTokenId: 1,
  unkTokenId: 0,
  eosToken: '</s>',
  kind: 'tokenizer.json',
  encode(text: string): number[] {
    // Greedy longest match over the non-special pieces; enough for tests.
    const out: number[] = [];
    let i = 0;
    while (i < text.length) {
      let best = -1;
      PIECES.forEach((p, id) => {
        if (!SPECIAL.has(id) && text.startsWith(p, i) && (best === -1 || p.length > PIECES[best]!.length)) best = id;
      });
      if (best === -1) throw new Error(`cannot encode ${JSON.stringify(text.slice(i))}`);
      out.push(best);
      i += PIECES[best]!.length;
    }
    return out;
  },
  decode(ids: ArrayLike<number>, options?: { skipSpecialTokens?: boolean }): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (options?.skipSpecialTokens && SPECIAL.has(id)) continue;
      s += PIECES[id] ?? '';
    }
    return s;
  },
  idToToken: (id) => PIECES[id],
  tokenToId: (token) => {
    const id = PIECES.indexOf(token as (typeof PIECES)[number]);
    return id === -1 ? undefined : id;
  },
  isSpecial: (id) => SPECIAL.has(id),
};

function stubStore(capacity: number, kvDim: number): KVStore {
  return { capacity, kvDim, type: 'f32', bytes: 0, write() {}, grow: (c: number) => stubStore(c, kvDim) };
}

/** Only createKVStore is ever called (by KVCache); the model here does no real compute. */
const stubBackend = { name: 'stub', defaultKVCacheType: 'f32', createKVStore: stubStore } as unknown as Backend;

export function modelConfig(overrides: Partial<ModelConfig> = {}): ModelConfig {
  return {
    modelType: 'xverse', vocabSize: VOCAB, hiddenSize: 8, intermediateSize: 16, numLayers: 1, numHeads: 2,
    numKvHeads: 2, headDim: 4, maxPositionEmbeddings: 64, rmsNormEps: 1e-6, ropeTheta: 10000, ropeScaling: null,
    tieWordEmbeddings: false, bosTokenId: 2, eosTokenIds: [EOS], padTokenId: 1, maxTokenizerTruncation: null,
    chatFormat: null, ...overrides,
  };
}

/** What the scripted model returns for its n-th forward call (0 = prefill), given the cache tokens after it. */
export type Script = (call: number, tokens: readonly number[]) => ArrayLike<number>;

/** A CausalLM whose logits come from a script; records the ids of every forward call. */
export class ScriptedModel implements CausalLM {
  readonly calls: number[][] = [];

  /** `delayMs`: busy-waits that long in every forward call, so timings are measurably non-zero. */
  constructor(readonly script: Script, readonly config: ModelConfig = modelConfig(), readonly delayMs = 0) {}

  createCache(): KVCache {
    return new KVCache(stubBackend, { numLayers: this.config.numLayers, kvDim: this.config.numKvHeads * this.config.headDim, maxLength: this.config.maxPositionEmbeddings });
  }

  forward(ids: ArrayLike<number>, cache: KVCache): Float32Array {
    const list = Array.from(ids);
    this.calls.push(list);
    const until = performance.now() + this.delayMs;
    while (performance.now() < until) {
      // spin: forward is synchronous CPU work in the real model too
    }
    cache.reserve(list.length);
    cache.commit(list);
    const row = this.script(this.calls.length - 1, cache.tokens);
    if (row.length !== this.config.vocabSize) throw new Error(`script gave ${row.length} logits`);
    return Float32Array.from(row);
  }
}

/** Logits that make `id` the clear argmax (10 vs 0 elsewhere). */
export function oneHot(id: number, vocab = VOCAB): Float32Array {
  const row = new Float32Array(vocab);
  row[id] = 10;
  return row;
}

/** A script whose n-th forward call makes ids[n] the argmax (then EOS forever). */
export function sequence(ids: readonly number[]): Script {
  return (call) => oneHot(ids[call] ?? EOS);
}
