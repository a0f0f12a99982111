import type { Backend, Matrix } from '../backend/backend.js';
import type { ModelConfig } from '../model/config.js';
import { loadModel } from '../model/load.js';
import type { QuantizeMode } from '../model/quant-policy.js';
import type { ModelWeights } from '../model/weights.js';
import type { BackendChoice } from '../backend/select.js';
import { createBackend } from '../backend/select.js';
import { convertTensor } from '../tensor/convert.js';
import type { Tensor } from '../tensor/tensor.js';
import { LAYER_PARAM_KEYS, paramShapes, TrainableLlama, type LayerParamKey, type LayerParams, type LlamaParams, type MatrixProducts } from './graph.js';
import { embeddingForward } from './ops.js';
import { loadTrainable } from './trainer.js';

/** Rows r0 … r0+count−1 of a [rows × cols] matrix (`block`, row-major) written into its transpose `t` [cols × rows]. */
function writeTransposed(t: Float32Array, block: Float32Array, r0: number, count: number, rows: number, cols: number): void {
  for (let c = 0; c < cols; c++) {
    const out = c * rows + r0;
    for (let r = 0; r < count; r++) t[out + r] = block[r * cols + c]!;
  }
}

/** The [rows × cols] float64 matrix `values` transposed to f32 [cols × rows], 64 rows at a time. */
function transposeToF32(values: Float64Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(rows * cols);
  for (let r0 = 0; r0 < rows; r0 += 64) {
    const count = Math.min(64, rows - r0);
    writeTransposed(t, Float32Array.from(values.subarray(r0 * cols, (r0 + count) * cols)), r0, count, rows, cols);
  }
  return t;
}

/** x·Wᵀ on the backend: float64 in and out, f32 (or W's type) inside. */
function product(backend: Backend, m: Matrix, x: Float64Array, n: number): Float64Array {
  const out = new Float32Array(n * m.rows);
  backend.matmul(out, Float32Array.from(x), m, n);
  return Float64Array.from(out);
}

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
export class BackendBase implements MatrixProducts {
  readonly trainsBase = false;
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
      writeTransposed(t, block, r0, count, m.rows, m.cols);
    }
    return this.backend.uploadMatrix({ dtype: 'f32', shape: [m.cols, m.rows], data: t });
  }

  private product(m: Matrix, x: Float64Array, n: number): Float64Array {
    return product(this.backend, m, x, n);
  }

  embed(ids: readonly number[]): Float64Array {
    const out = new Float32Array(ids.length * this.config.hiddenSize);
    this.backend.embed(out, this.weights.embed, ids);
    return Float64Array.from(out);
  }

  linear(layer: number, key: LayerParamKey, x: Float64Array, n: number): Float64Array {
    return this.product(this.layers[layer]![key]!.w, x, n);
  }

  linearBack(layer: number, key: LayerParamKey, dy: Float64Array, _x: Float64Array, n: number): Float64Array {
    return this.product(this.layers[layer]![key]!.wt, dy, n);
  }

  head(x: Float64Array, n: number): Float64Array {
    return this.product(this.lmHead.w, x, n);
  }

  headBack(dy: Float64Array, _x: Float64Array, n: number): Float64Array {
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

/** Element type the trained weights are computed in on the backend (the master copy stays float64). */
export type ComputeType = 'f32' | 'bf16';

/**
 * The products of full fine-tuning on a compute backend: the float64 master weights are uploaded
 * (as f32 or bf16, and transposed for dX = dY·W) after every optimizer step, forward and backward
 * products run the backend's kernels, and weight gradients dW += dYᵀ·X run there too (as a product
 * of the transposed activations). Embedding lookups and their scatter-add stay in float64.
 */
export class BackendProducts implements MatrixProducts {
  readonly trainsBase = true;
  private layers: Array<Record<LayerParamKey, FrozenMatrix | null>> = [];
  private lmHead: FrozenMatrix | null = null;

  constructor(readonly backend: Backend, readonly config: ModelConfig, readonly params: LlamaParams, readonly computeType: ComputeType = 'f32') {
    this.refresh();
  }

  private upload(values: Float64Array, rows: number, cols: number): FrozenMatrix {
    const f32: Tensor = { dtype: 'f32', shape: [rows, cols], data: Float32Array.from(values) };
    const transposed: Tensor = { dtype: 'f32', shape: [cols, rows], data: transposeToF32(values, rows, cols) };
    const typed = (t: Tensor) => (this.computeType === 'f32' ? t : convertTensor(t, this.computeType));
    return { w: this.backend.uploadMatrix(typed(f32)), wt: this.backend.uploadMatrix(typed(transposed)) };
  }

  refresh(): void {
    const shapes = paramShapes(this.config);
    this.layers = this.params.layers.map((layer) => {
      const out = {} as Record<LayerParamKey, FrozenMatrix | null>;
      for (const key of LAYER_PARAM_KEYS) {
        const shape = shapes.layer[key];
        out[key] = shape.length === 2 ? this.upload(layer[key], shape[0]!, shape[1]!) : null;
      }
      return out;
    });
    this.lmHead = this.upload(this.params.lmHead, this.config.vocabSize, this.config.hiddenSize);
  }

  /** dW[out × in] += dYᵀ·X, computed as (dYᵀ)·(Xᵀ)ᵀ on the backend. */
  private weightGradient(dw: Float64Array, dy: Float64Array, x: Float64Array, n: number, outDim: number, inDim: number): void {
    const dyT = transposeToF32(dy, n, outDim);
    const xT = this.backend.uploadMatrix({ dtype: 'f32', shape: [inDim, n], data: transposeToF32(x, n, inDim) });
    const out = new Float32Array(outDim * inDim);
    this.backend.matmul(out, dyT, xT, outDim);
    for (let i = 0; i < out.length; i++) dw[i] += out[i]!;
  }

  embed(ids: readonly number[]): Float64Array {
    return embeddingForward(this.params.embed, ids, this.config.vocabSize, this.config.hiddenSize);
  }

  linear(layer: number, key: LayerParamKey, x: Float64Array, n: number): Float64Array {
    return product(this.backend, this.layers[layer]![key]!.w, x, n);
  }

  linearBack(layer: number, key: LayerParamKey, dy: Float64Array, x: Float64Array, n: number, dw: Float64Array | null): Float64Array {
    const m = this.layers[layer]![key]!;
    if (dw) this.weightGradient(dw, dy, x, n, m.w.rows, m.w.cols);
    return product(this.backend, m.wt, dy, n);
  }

  head(x: Float64Array, n: number): Float64Array {
    return product(this.backend, this.lmHead!.w, x, n);
  }

  headBack(dy: Float64Array, x: Float64Array, n: number, dw: Float64Array | null): Float64Array {
    if (dw) this.weightGradient(dw, dy, x, n, this.config.vocabSize, this.config.hiddenSize);
    return product(this.backend, this.lmHead!.wt, dy, n);
  }
}

/** Full fine-tuning with its products on a backend (see BackendProducts), from an HF model folder. */
export function loadBackendFullTrainable(dir: string, options: { backend?: BackendChoice; threads?: number; computeType?: ComputeType } = {}): TrainableLlama {
  const dense = loadTrainable(dir);
  const backend = createBackend({ ...(options.backend ? { backend: options.backend } : {}), ...(options.threads !== undefined ? { threads: options.threads } : {}) });
  return new TrainableLlama(dense.config, dense.params, new BackendProducts(backend, dense.config, dense.params, options.computeType ?? 'f32'));
}
