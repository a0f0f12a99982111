import type { Backend, Matrix } from '../backend/backend.js';
import type { ModelConfig } from '../model/config.js';
import { loadModel } from '../model/load.js';
import type { QuantizeMode } from '../model/quant-policy.js';
import type { ModelWeights } from '../model/weights.js';
import type { BackendChoice } from '../backend/select.js';
import { LAYER_PARAM_KEYS, TrainableLlama, type FrozenBase, type LayerParamKey, type LayerParams } from './graph.js';

/** A matrix for forward products and its transposed f32 copy for backward ones (dY·W = dY·(Wᵀ)ᵀ). */
interface FrozenMatrix {
  w: Matrix;
  wt: Matrix;
}

/**
 * The frozen base of LoRA training kept in a compute backend, in its storage type (q4_0, q8_0,
 * bf16, …): forward products run the backend's kernels on the stored weights (what inference
 * computes); backward products dX = dY·W run on a transposed f32 copy of the same values,
 * dequantized exactly (by the backend's embedding lookup), made once at construction. Memory: the stored weights plus 4 bytes per
 * weight of every matrix LoRA's gradient flows through (all projections and the head; the
 * embedding needs no backward).
 */
export class BackendBase implements FrozenBase {
  private readonly layers: Array<Record<LayerParamKey, FrozenMatrix | null>>;
  private readonly lmHead: FrozenMatrix;

  constructor(readonly backend: Backend, readonly config: ModelConfig, readonly weights: ModelWeights) {
    const pair = (m: Matrix): FrozenMatrix => ({ w: m, wt: this.transposed(m) });
    this.layers = weights.layers.map((layer) => {
      const out = {} as Record<LayerParamKey, FrozenMatrix | null>;
      for (const key of LAYER_PARAM_KEYS) {
        const value = layer[key];
        out[key] = value instanceof Float32Array ? null : pair(value);
      }
      return out;
    });
    this.lmHead = pair(weights.lmHead);
  }

  /**
   * Wᵀ as an f32 matrix. The backend's embedding lookup dequantizes 64 rows at a time (exactly, in
   * its own kernels); each block is then written column by column, so the writes are contiguous
   * runs of 64 values and the block being read stays in cache.
   */
  private transposed(m: Matrix): Matrix {
    const t = new Float32Array(m.rows * m.cols);
    const B = 64;
    const block = new Float32Array(B * m.cols);
    const ids = new Array<number>(B);
    for (let r0 = 0; r0 < m.rows; r0 += B) {
      const count = Math.min(B, m.rows - r0);
      for (let i = 0; i < count; i++) ids[i] = r0 + i;
      this.backend.embed(block, m, count === B ? ids : ids.slice(0, count));
      for (let c = 0; c < m.cols; c++) {
        const out = c * m.rows + r0;
        for (let r = 0; r < count; r++) t[out + r] = block[r * m.cols + c]!;
      }
    }
    return this.backend.uploadMatrix({ dtype: 'f32', shape: [m.cols, m.rows], data: t });
  }

  private product(m: Matrix, x: Float64Array, n: number): Float64Array {
    const out = new Float32Array(n * m.rows);
    this.backend.matmul(out, Float32Array.from(x), m, n);
    return Float64Array.from(out);
  }

  embed(ids: readonly number[]): Float64Array {
    const out = new Float32Array(ids.length * this.config.hiddenSize);
    this.backend.embed(out, this.weights.embed, ids);
    return Float64Array.from(out);
  }

  linear(layer: number, key: LayerParamKey, x: Float64Array, n: number): Float64Array {
    return this.product(this.layers[layer]![key]!.w, x, n);
  }

  linearBack(layer: number, key: LayerParamKey, dy: Float64Array, n: number): Float64Array {
    return this.product(this.layers[layer]![key]!.wt, dy, n);
  }

  head(x: Float64Array, n: number): Float64Array {
    return this.product(this.lmHead.w, x, n);
  }

  headBack(dy: Float64Array, n: number): Float64Array {
    return this.product(this.lmHead.wt, dy, n);
  }
}

/**
 * A LoRA-trainable model over a checkpoint loaded into a backend (optionally quantized while
 * loading, streamed as inference loads it): the QLoRA-style path for large bases.
 */
export function loadBackendTrainable(dir: string, options: { quantize?: QuantizeMode; backend?: BackendChoice; threads?: number } = {}): TrainableLlama {
  const model = loadModel(dir, {
    ...(options.quantize ? { quantize: options.quantize } : {}),
    ...(options.backend ? { backend: options.backend } : {}),
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
  });
  const w = model.weights;
  const empty = new Float64Array(0);
  const layers = w.layers.map((layer) => {
    const out = {} as Record<LayerParamKey, Float64Array>;
    for (const key of LAYER_PARAM_KEYS) {
      const value = layer[key];
      out[key] = value instanceof Float32Array ? Float64Array.from(value) : empty;
    }
    return out as LayerParams;
  });
  const base = new BackendBase(model.backend, model.config, w);
  return new TrainableLlama(model.config, { embed: empty, layers, norm: Float64Array.from(w.norm), lmHead: empty }, base);
}
