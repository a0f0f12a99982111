import type { Backend, KVCacheType } from '../backend/backend.js';
import type { CausalLM, SequenceStep } from './causal-lm.js';
import type { ModelConfig } from './config.js';
import { KVCache } from './kv-cache.js';
import { mergeLora, type LoraAdapter } from './lora.js';
import { contextLength, ropeInvFreq } from './rope.js';
import type { QuantizeMode } from './quant-policy.js';
import { quantizeWeights } from './quantize.js';
import type { ModelWeights } from './weights.js';

/** Activation buffers for up to `rows` positions, reused across calls so decoding allocates nothing. */
class Scratch {
  constructor(
    readonly rows: number,
    readonly x: Float32Array, readonly xb: Float32Array, readonly q: Float32Array, readonly k: Float32Array,
    readonly v: Float32Array, readonly att: Float32Array, readonly gate: Float32Array, readonly up: Float32Array,
  ) {}

  static create(c: ModelConfig, rows: number): Scratch {
    const f = (width: number) => new Float32Array(rows * width);
    const kvDim = c.numKvHeads * c.headDim;
    const qDim = c.numHeads * c.headDim;
    return new Scratch(rows, f(c.hiddenSize), f(Math.max(c.hiddenSize, qDim)), f(qDim), f(kvDim), f(kvDim), f(qDim),
      f(c.intermediateSize), f(c.intermediateSize));
  }
}

/** Consecutive rows of a pass that belong to one sequence (and the cache it extends). */
interface Segment {
  offset: number;
  n: number;
  cache: KVCache;
}

/** A segment's rows of an activation buffer; a lone sequence uses the buffer whole (no allocation per decode step). */
function rowsOf(a: Float32Array, width: number, g: Segment, single: boolean): Float32Array {
  return single ? a : a.subarray(g.offset * width, (g.offset + g.n) * width);
}

/**
 * The XVERSE decoder (identical in shape to Llama): per layer
 *   h = x + o_proj(attention(rope(q), rope(k), v))   on RMSNorm(x)
 *   y = h + down_proj(silu(gate_proj(n)) · up_proj(n)), n = RMSNorm(h)
 * then a final RMSNorm and the (untied or tied) lm_head. One pass over all new tokens at once: a
 * whole prompt is a single batched prefill, a decode step is a pass over one token.
 */
export class XverseModel implements CausalLM {
  private scratch: Scratch | null = null;
  private lastLogits: Float32Array | null = null;
  private ropeCache: { key: number; invFreq: Float32Array } | null = null;
  private wholeSegment: [Segment] | null = null;
  private currentWeights: ModelWeights;
  readonly contextLength: number;

  constructor(
    readonly config: ModelConfig,
    readonly backend: Backend,
    weights: ModelWeights,
    /** Most positions processed in one pass; longer prompts are split (bounds activation memory). */
    readonly maxBatch = 512,
    /** KV cache element type; default the backend's (f32 for TypeScript, f16 for native). */
    readonly kvCacheType?: KVCacheType,
  ) {
    if (!Number.isSafeInteger(maxBatch) || maxBatch < 1) throw new RangeError(`maxBatch must be an integer ≥ 1, got ${maxBatch}`);
    this.contextLength = contextLength(config);
    this.currentWeights = weights;
  }

  get weights(): ModelWeights {
    return this.currentWeights;
  }

  /**
   * Quantizes the weight matrices in memory (see quantizeWeights for the policy). Caches filled
   * before keep keys and values computed with the old weights: start new ones.
   */
  quantize(mode: QuantizeMode): this {
    this.currentWeights = quantizeWeights(this.currentWeights, this.backend, mode);
    return this;
  }

  /**
   * Merges LoRA adapters into the weights (W + (alpha/r)·B·A, kept in each matrix's storage type).
   * Caches filled before keep keys and values of the old weights: start new ones.
   */
  applyLora(adapter: LoraAdapter): this {
    this.currentWeights = mergeLora(this.currentWeights, this.backend, adapter);
    return this;
  }

  createCache(): KVCache {
    const c = this.config;
    return new KVCache(this.backend, {
      numLayers: c.numLayers,
      kvDim: c.numKvHeads * c.headDim,
      maxLength: this.contextLength,
      ...(this.kvCacheType ? { type: this.kvCacheType } : {}),
      lengthIndependentUpTo: c.ropeScaling?.type === 'dynamic' ? c.maxPositionEmbeddings : Infinity,
    });
  }

  forward(ids: ArrayLike<number>, cache: KVCache, options: { allLogits?: boolean } = {}): Float32Array {
    const n = ids.length;
    if (n === 0) throw new RangeError('forward() needs at least one token');
    cache.reserve(n);
    // One set of RoPE frequencies for the whole call: under dynamic NTK scaling they depend on the
    // total length, and every micro-batch of one prefill must rotate as a single pass would.
    const total = cache.length + n;
    const invFreq = this.invFreqFor(total);
    if (total > cache.lengthIndependentUpTo) cache.markLengthDependent(cache.length);
    const V = this.config.vocabSize;
    // The last-position logits go to one reused buffer, so a decode step allocates nothing.
    const logits = options.allLogits ? new Float32Array(n * V) : (this.lastLogits ??= new Float32Array(V));
    // Long prompts go through in micro-batches (like llama.cpp's ubatch) so activation buffers stay
    // bounded; every token of a micro-batch is processed by each weight matrix in one pass.
    for (let first = 0; first < n; first += this.maxBatch) {
      const chunk = n <= this.maxBatch ? ids : Array.prototype.slice.call(ids, first, Math.min(n, first + this.maxBatch)) as number[];
      const last = first + chunk.length === n;
      if (options.allLogits) this.forwardBatch(chunk, cache, invFreq, logits.subarray(first * V), chunk.length);
      else this.forwardBatch(chunk, cache, invFreq, last ? logits : null, 1);
    }
    return logits;
  }

  /**
   * Several sequences, each on its own cache: consecutive ones whose new tokens fit one micro-batch
   * (maxBatch rows) go through together — each matmul sees all their rows, RoPE, the cache write and
   * attention use each sequence's own positions and cache. A sequence alone in its group (too long
   * to share, or last) and sequences long enough for dynamic NTK RoPE to depend on their length go
   * through forward(). Returns each sequence's last-position logits.
   */
  forwardMany(batch: readonly SequenceStep[]): Float32Array[] {
    const out: Float32Array[] = [];
    let group: SequenceStep[] = [];
    let rows = 0;
    const flush = () => {
      if (group.length === 1) out.push(this.forward(group[0]!.ids, group[0]!.cache).slice());
      else if (group.length > 1) out.push(...this.forwardGroup(group));
      group = [];
      rows = 0;
    };
    for (const s of batch) {
      if (s.ids.length === 0) throw new RangeError('forwardMany() needs at least one token per sequence');
      if (s.cache.length + s.ids.length > s.cache.lengthIndependentUpTo) {
        flush();
        out.push(this.forward(s.ids, s.cache).slice());
        continue;
      }
      if (rows + s.ids.length > this.maxBatch) flush();
      group.push(s);
      rows += s.ids.length;
    }
    flush();
    return out;
  }

  /** One pass over sequences whose rows fit one micro-batch; their last-position logits. */
  private forwardGroup(group: readonly SequenceStep[]): Float32Array[] {
    for (const s of group) s.cache.reserve(s.ids.length);
    const D = this.config.hiddenSize;
    const V = this.config.vocabSize;
    let offset = 0;
    const segments = group.map((s) => ({ offset: (offset += s.ids.length) - s.ids.length, n: s.ids.length, cache: s.cache }));
    const x = this.decoderPass(group.flatMap((s) => Array.from(s.ids)), segments, this.invFreqFor(0));
    // Each sequence's last row, gathered, goes through the final norm and the head together.
    const last = new Float32Array(group.length * D);
    segments.forEach((g, i) => last.set(x.subarray((g.offset + g.n - 1) * D, (g.offset + g.n) * D), i * D));
    const logits = new Float32Array(group.length * V);
    this.head(logits, last, group.length);
    return group.map((_, i) => logits.slice(i * V, (i + 1) * V));
  }

  /** Runs one micro-batch through every layer; writes the logits of its last `logitRows` rows to `out`. */
  private forwardBatch(ids: ArrayLike<number>, cache: KVCache, invFreq: Float32Array, out: Float32Array | null, logitRows: number): void {
    const n = ids.length;
    const D = this.config.hiddenSize;
    // One reused segment record: a decode step allocates nothing.
    const whole = (this.wholeSegment ??= [{ offset: 0, n, cache }]);
    whole[0]!.n = n;
    whole[0]!.cache = cache;
    const x = this.decoderPass(ids, whole, invFreq);
    // Only the rows whose logits are wanted go through the final norm and the (large) head.
    if (out) this.head(out, x.subarray((n - logitRows) * D, n * D), logitRows);
  }

  /**
   * Embeds `ids` and runs them through every layer; returns the hidden states (scratch memory).
   * The rows are one or more sequences (`segments`, consecutive rows each): every weight matrix
   * sees all rows at once, RoPE and attention see each sequence at its own positions and cache.
   */
  private decoderPass(ids: ArrayLike<number>, segments: readonly Segment[], invFreq: Float32Array): Float32Array {
    const c = this.config;
    const be = this.backend;
    const n = ids.length;
    const s = this.scratchFor(n);
    const D = c.hiddenSize;
    const F = c.intermediateSize;
    const qDim = c.numHeads * c.headDim;
    const kvDim = c.numKvHeads * c.headDim;
    const scale = 1 / Math.sqrt(c.headDim);
    const single = segments.length === 1;

    be.embed(s.x, this.weights.embed, ids);
    for (let l = 0; l < c.numLayers; l++) {
      const w = this.weights.layers[l]!;
      // attention block
      be.rmsNorm(s.xb, s.x, w.inputNorm, n, D, c.rmsNormEps);
      be.matmul(s.q, s.xb, w.q, n);
      be.matmul(s.k, s.xb, w.k, n);
      be.matmul(s.v, s.xb, w.v, n);
      for (const g of segments) {
        const start = g.cache.length;
        const q = rowsOf(s.q, qDim, g, single);
        const k = rowsOf(s.k, kvDim, g, single);
        be.rope(q, g.n, c.numHeads, c.headDim, start, invFreq);
        be.rope(k, g.n, c.numKvHeads, c.headDim, start, invFreq);
        const store = g.cache.layer(l);
        store.write(start, k, rowsOf(s.v, kvDim, g, single), g.n);
        be.attention(rowsOf(s.att, qDim, g, single), q, store, g.n, start, c.numHeads, c.numKvHeads, c.headDim, scale);
      }
      be.matmul(s.xb, s.att, w.o, n);
      be.add(s.x, s.xb, n * D);
      // feed-forward block
      be.rmsNorm(s.xb, s.x, w.postAttentionNorm, n, D, c.rmsNormEps);
      be.matmul(s.gate, s.xb, w.gate, n);
      be.matmul(s.up, s.xb, w.up, n);
      be.siluMul(s.gate, s.up, n * F);
      be.matmul(s.xb, s.gate, w.down, n);
      be.add(s.x, s.xb, n * D);
    }
    if (single) segments[0]!.cache.commit(ids);
    else for (const g of segments) g.cache.commit(Array.prototype.slice.call(ids, g.offset, g.offset + g.n) as number[]);
    return s.x;
  }

  /** Final RMSNorm and the output head over `rows` hidden states. */
  private head(out: Float32Array, hidden: Float32Array, rows: number): void {
    const s = this.scratchFor(rows);
    this.backend.rmsNorm(s.xb, hidden, this.weights.norm, rows, this.config.hiddenSize, this.config.rmsNormEps);
    this.backend.matmul(out, s.xb, this.weights.lmHead, rows);
  }

  private scratchFor(n: number): Scratch {
    if (!this.scratch || this.scratch.rows < n) this.scratch = Scratch.create(this.config, n);
    return this.scratch;
  }

  /** inv_freq only changes with the sequence length under dynamic NTK scaling; cache it otherwise. */
  private invFreqFor(length: number): Float32Array {
    const grows = this.config.ropeScaling?.type === 'dynamic' && length > this.config.maxPositionEmbeddings;
    const key = grows ? length : 0;
    if (this.ropeCache?.key !== key) this.ropeCache = { key, invFreq: ropeInvFreq(this.config, length) };
    return this.ropeCache.invFreq;
  }
}
