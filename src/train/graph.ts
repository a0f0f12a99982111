/**
 * A float64 reference training graph of the XVERSE/Llama decoder: the same composition as
 * src/model/xverse.ts (pre-norm blocks with residuals, final RMSNorm, output head), with a full
 * backward pass. One sequence at a time, from position 0, no KV cache; slow and exact, meant as
 * the ground truth faster training paths are checked against.
 */
import type { ModelConfig } from '../model/config.js';
import { Rng } from '../generation/rng.js';
import { checkLoraConfig, loraScale, type LoraAdapter, type LoraConfig, type LoraModule } from '../model/lora.js';
import { ropeInvFreq } from '../model/rope.js';
import {
  attentionBackward, attentionForward, crossEntropy, embeddingBackward, embeddingForward, linearBackward, linearForward,
  rmsNormBackward, rmsNormForward, ropeBackward, ropeForward, swigluBackward, swigluForward, type AttentionShape,
} from './ops.js';

/** One decoder layer's parameters (matrices [out, in], PyTorch layout). */
export interface LayerParams {
  readonly inputNorm: Float64Array;
  readonly q: Float64Array;
  readonly k: Float64Array;
  readonly v: Float64Array;
  readonly o: Float64Array;
  readonly postAttentionNorm: Float64Array;
  readonly gate: Float64Array;
  readonly up: Float64Array;
  readonly down: Float64Array;
}

/** Every parameter of the model. With tied embeddings `lmHead` is the same array as `embed`. */
export interface LlamaParams {
  readonly embed: Float64Array;
  readonly layers: readonly LayerParams[];
  readonly norm: Float64Array;
  readonly lmHead: Float64Array;
}

export const LAYER_PARAM_KEYS = ['inputNorm', 'q', 'k', 'v', 'o', 'postAttentionNorm', 'gate', 'up', 'down'] as const;
export type LayerParamKey = (typeof LAYER_PARAM_KEYS)[number];

/** Checkpoint (HF) names of the layer parameters, after `model.layers.N.`. */
export const LAYER_PARAM_NAMES: Readonly<Record<LayerParamKey, string>> = {
  inputNorm: 'input_layernorm.weight', q: 'self_attn.q_proj.weight', k: 'self_attn.k_proj.weight',
  v: 'self_attn.v_proj.weight', o: 'self_attn.o_proj.weight', postAttentionNorm: 'post_attention_layernorm.weight',
  gate: 'mlp.gate_proj.weight', up: 'mlp.up_proj.weight', down: 'mlp.down_proj.weight',
};

/** [rows, cols] of each parameter (vectors as [len]). */
export function paramShapes(c: ModelConfig): { embed: number[]; layer: Record<LayerParamKey, number[]>; norm: number[]; lmHead: number[] } {
  const D = c.hiddenSize;
  const F = c.intermediateSize;
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  return {
    embed: [c.vocabSize, D],
    layer: { inputNorm: [D], q: [qDim, D], k: [kvDim, D], v: [kvDim, D], o: [D, qDim], postAttentionNorm: [D], gate: [F, D], up: [F, D], down: [D, F] },
    norm: [D],
    lmHead: [c.vocabSize, D],
  };
}

/** Every distinct parameter array with its checkpoint name, in checkpoint order (a tied head once). */
export function namedParams(p: LlamaParams): Array<[string, Float64Array]> {
  const out: Array<[string, Float64Array]> = [['model.embed_tokens.weight', p.embed]];
  p.layers.forEach((layer, l) => {
    for (const key of LAYER_PARAM_KEYS) out.push([`model.layers.${l}.${LAYER_PARAM_NAMES[key]}`, layer[key]]);
  });
  out.push(['model.norm.weight', p.norm]);
  if (p.lmHead !== p.embed) out.push(['lm_head.weight', p.lmHead]);
  return out;
}

/** Zeroed arrays of the same shapes (keeping a tied head tied). */
export function zerosLike(p: LlamaParams): LlamaParams {
  const z = (a: Float64Array) => new Float64Array(a.length);
  const embed = z(p.embed);
  return {
    embed,
    layers: p.layers.map((l) => {
      const out = {} as Record<LayerParamKey, Float64Array>;
      for (const key of LAYER_PARAM_KEYS) out[key] = z(l[key]);
      return out;
    }),
    norm: z(p.norm),
    lmHead: p.lmHead === p.embed ? embed : z(p.lmHead),
  };
}

export interface RandomInitOptions {
  /** Seed of the deterministic generator (default 1). */
  seed?: number;
  /** Matrices are uniform in ±std·√3 (standard deviation `std`; default 0.02, HF's initializer_range). */
  std?: number;
  /** Norm weights are 1 + uniform(±normJitter) (default 0: all ones, as HF initializes them). */
  normJitter?: number;
}

/** The layer parameter each LoRA module adapts. */
const KEY_OF_MODULE: Readonly<Record<LoraModule, LayerParamKey>> = {
  q_proj: 'q', k_proj: 'k', v_proj: 'v', o_proj: 'o', gate_proj: 'gate', up_proj: 'up', down_proj: 'down',
};

/** What a LoRA branch saves for the backward: its (dropped-out) input, A·x, and the dropout mask. */
interface LoraTape {
  xd: Float64Array;
  h: Float64Array;
  /** 0 or 1/(1−p) per input value; null without dropout. */
  mask: Float64Array | null;
}

/** Activations of one layer saved by the forward pass for the backward. */
interface LayerTape {
  x0: Float64Array; xn1: Float64Array; qr: Float64Array; kr: Float64Array; v: Float64Array; probs: Float64Array; att: Float64Array;
  x1: Float64Array; xn2: Float64Array; gate: Float64Array; up: Float64Array; act: Float64Array;
  lora: Partial<Record<LoraModule, LoraTape>>;
}

/** Gradients of one step: of the base parameters (full fine-tuning) or of the LoRA matrices. */
export interface Gradients {
  loss: number;
  /** Null when LoRA adapters are attached (the base is frozen then). */
  grads: LlamaParams | null;
  /** The adapters' gradients (same layout as `lora`), null without adapters. */
  loraGrads: LoraAdapter | null;
}

interface Tape {
  ids: readonly number[];
  layers: LayerTape[];
  xLast: Float64Array;
  xn: Float64Array;
  logits: Float64Array;
}

/**
 * Where the large matrices' products are computed when not by the float64 loops of ops.ts: e.g. a
 * compute backend's kernels. Forward x·Wᵀ, backward dX = dY·W and — when the base is trained —
 * dW += dYᵀ·X. A frozen base (`trainsBase` false) may hold matrices that are never float64 at all
 * (LoRA over a quantized base); the norm weights always stay in `params`.
 */
export interface MatrixProducts {
  readonly trainsBase: boolean;
  embed(ids: readonly number[]): Float64Array;
  linear(layer: number, key: LayerParamKey, x: Float64Array, n: number): Float64Array;
  linearBack(layer: number, key: LayerParamKey, dy: Float64Array, x: Float64Array, n: number, dw: Float64Array | null): Float64Array;
  head(x: Float64Array, n: number): Float64Array;
  headBack(dy: Float64Array, x: Float64Array, n: number, dw: Float64Array | null): Float64Array;
  /** Called after the trained parameters changed (an optimizer step). */
  refresh?(): void;
}

/** The XVERSE/Llama decoder over float64 parameters, with forward and backward passes. */
export class TrainableLlama {
  /** LoRA adapters over the (then frozen) base; null for full fine-tuning. */
  lora: LoraAdapter | null = null;

  /**
   * `products`: the matrices' products come from there instead of ops.ts's loops. Over a frozen
   * base (`trainsBase` false) the matrices in `params` may be empty and only LoRA can train.
   */
  constructor(readonly config: ModelConfig, readonly params: LlamaParams, readonly products: MatrixProducts | null = null) {
    const frozen = products !== null && !products.trainsBase;
    const s = paramShapes(config);
    const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
    const check = (name: string, a: Float64Array, shape: number[]) => {
      if (a.length !== size(shape)) throw new RangeError(`${name} has ${a.length} values, the config implies [${shape.join(', ')}]`);
    };
    if (config.numHeads % config.numKvHeads !== 0) throw new RangeError('numHeads must be a multiple of numKvHeads');
    if (params.layers.length !== config.numLayers) throw new RangeError(`${params.layers.length} layers, the config has ${config.numLayers}`);
    const matrices = frozen ? [] : ['embed', 'lmHead'];
    if (matrices.includes('embed')) check('embed', params.embed, s.embed);
    params.layers.forEach((l, i) => {
      for (const key of LAYER_PARAM_KEYS) if (!frozen || s.layer[key].length === 1) check(`layers[${i}].${key}`, l[key], s.layer[key]);
    });
    check('norm', params.norm, s.norm);
    if (matrices.includes('lmHead')) check('lmHead', params.lmHead, s.lmHead);
  }

  /** Random parameters for `config` (see RandomInitOptions); a tied config shares embed and lmHead. */
  static random(config: ModelConfig, options: RandomInitOptions = {}): TrainableLlama {
    const rng = new Rng(options.seed ?? 1);
    const rand = () => rng.nextFloat();
    const amp = (options.std ?? 0.02) * Math.sqrt(3);
    const jitter = options.normJitter ?? 0;
    const s = paramShapes(config);
    const make = (shape: number[]) => {
      const a = new Float64Array(shape.reduce((x, y) => x * y, 1));
      const vector = shape.length === 1;
      for (let i = 0; i < a.length; i++) a[i] = vector ? 1 + (rand() * 2 - 1) * jitter : (rand() * 2 - 1) * amp;
      return a;
    };
    const embed = make(s.embed);
    const layers: LayerParams[] = [];
    for (let l = 0; l < config.numLayers; l++) {
      const layer = {} as Record<LayerParamKey, Float64Array>;
      for (const key of LAYER_PARAM_KEYS) layer[key] = make(s.layer[key]);
      layers.push(layer);
    }
    const norm = make(s.norm);
    const lmHead = config.tieWordEmbeddings ? embed : make(s.lmHead);
    return new TrainableLlama(config, { embed, layers, norm, lmHead });
  }

  /** Logits [n, vocab] of every position of `ids` (a full causal pass from position 0). */
  forwardLogits(ids: readonly number[]): Float64Array {
    return this.forward(ids).logits;
  }

  /**
   * Mean cross-entropy of predicting `targets[i]` at position i (negative = ignored, e.g. −100),
   * and the gradient of that loss with respect to every parameter (fresh arrays, same shapes).
   */
  lossAndGrads(ids: readonly number[], targets: readonly number[], dropout?: Rng): Gradients {
    if (this.products && !this.products.trainsBase && !this.lora) throw new RangeError('a model over a frozen base trains LoRA adapters only: addLora first');
    const tape = this.forward(ids, dropout);
    const { loss, dLogits } = crossEntropy(tape.logits, targets, ids.length, this.config.vocabSize);
    const grads = this.lora ? null : zerosLike(this.params);
    const loraGrads = this.lora ? zerosLikeLora(this.lora) : null;
    this.backward(tape, dLogits, grads, loraGrads);
    return { loss, grads, loraGrads };
  }

  /**
   * Attaches LoRA adapters (PEFT's initialization: A Kaiming-uniform, bound 1/√in; B zero, so the
   * model starts unchanged) to the target modules of every layer; the base is frozen from then on.
   */
  addLora(config: LoraConfig, seed = 1): LoraAdapter {
    checkLoraConfig(config);
    const rng = new Rng(seed);
    const shapes = paramShapes(this.config).layer;
    this.lora = {
      config,
      layers: this.params.layers.map(() => Object.fromEntries(config.targetModules.map((m) => {
        const [outDim, inDim] = shapes[KEY_OF_MODULE[m]] as [number, number];
        const bound = 1 / Math.sqrt(inDim);
        const A = new Float64Array(config.r * inDim);
        for (let i = 0; i < A.length; i++) A[i] = (rng.nextFloat() * 2 - 1) * bound;
        return [m, { A, B: new Float64Array(outDim * config.r), inDim, outDim }];
      }))),
    };
    return this.lora;
  }

  /** The loss only (for finite differences). */
  loss(ids: readonly number[], targets: readonly number[]): number {
    return crossEntropy(this.forward(ids).logits, targets, ids.length, this.config.vocabSize).loss;
  }

  /** Sizes and RoPE frequencies of a pass over n tokens (shared by forward and backward). */
  private dims(n: number): { D: number; F: number; qDim: number; kvDim: number; invFreq: Float32Array; shape: AttentionShape } {
    const c = this.config;
    return {
      D: c.hiddenSize, F: c.intermediateSize, qDim: c.numHeads * c.headDim, kvDim: c.numKvHeads * c.headDim,
      invFreq: ropeInvFreq(c, n), shape: { n, nHeads: c.numHeads, nKvHeads: c.numKvHeads, headDim: c.headDim },
    };
  }

  /** y = x·Wᵀ for one projection, plus the LoRA branch (alpha/r)·B·A·dropout(x) when adapted. */
  private project(l: number, module: LoraModule, x: Float64Array, n: number, inDim: number, outDim: number, tape: LayerTape['lora'], dropout?: Rng): Float64Array {
    const key = KEY_OF_MODULE[module];
    const y = this.products ? this.products.linear(l, key, x, n) : linearForward(x, this.params.layers[l]![key], n, inDim, outDim);
    const pair = this.lora?.layers[l]?.[module];
    if (!pair) return y;
    const p = this.lora!.config.dropout;
    let xd = x;
    let mask: Float64Array | null = null;
    if (dropout && p > 0) {
      mask = new Float64Array(x.length);
      xd = new Float64Array(x.length);
      for (let i = 0; i < x.length; i++) {
        mask[i] = dropout.nextFloat() < p ? 0 : 1 / (1 - p);
        xd[i] = x[i]! * mask[i]!;
      }
    }
    const r = this.lora!.config.r;
    const h = linearForward(xd, pair.A as Float64Array, n, inDim, r);
    const branch = linearForward(h, pair.B as Float64Array, n, r, outDim);
    const scale = loraScale(this.lora!.config);
    for (let i = 0; i < y.length; i++) y[i] += scale * branch[i]!;
    tape[module] = { xd, h, mask };
    return y;
  }

  /** The backward of project(): dX, and dW (full fine-tuning) or dA, dB (LoRA). */
  private projectBack(
    l: number, module: LoraModule, dy: Float64Array, x: Float64Array, n: number, inDim: number, outDim: number,
    tape: LayerTape['lora'], g: LlamaParams | null, lg: LoraAdapter | null,
  ): Float64Array {
    const key = KEY_OF_MODULE[module];
    const dw = g ? g.layers[l]![key] : null;
    const dx = this.products ? this.products.linearBack(l, key, dy, x, n, dw) : linearBackward(dy, x, this.params.layers[l]![key], n, inDim, outDim, dw);
    const pair = this.lora?.layers[l]?.[module];
    const saved = tape[module];
    if (!pair || !saved || !lg) return dx;
    const grad = lg.layers[l]![module]!;
    const r = this.lora!.config.r;
    const scale = loraScale(this.lora!.config);
    const dBranch = dy.map((v) => v * scale);
    const dh = linearBackward(dBranch, saved.h, pair.B as Float64Array, n, r, outDim, grad.B as Float64Array);
    const dxd = linearBackward(dh, saved.xd, pair.A as Float64Array, n, inDim, r, grad.A as Float64Array);
    for (let i = 0; i < dx.length; i++) dx[i] += saved.mask ? dxd[i]! * saved.mask[i]! : dxd[i]!;
    return dx;
  }

  private forward(ids: readonly number[], dropout?: Rng): Tape {
    const c = this.config;
    const p = this.params;
    const n = ids.length;
    if (n === 0) throw new RangeError('forward needs at least one token');
    const { D, F, qDim, kvDim, invFreq, shape } = this.dims(n);
    let x = this.products ? this.products.embed(ids) : embeddingForward(p.embed, ids, c.vocabSize, D);
    const layers: LayerTape[] = [];
    p.layers.forEach((w, l) => {
      const lora: LayerTape['lora'] = {};
      const proj = (m: LoraModule, input: Float64Array, inDim: number, outDim: number) => this.project(l, m, input, n, inDim, outDim, lora, dropout);
      const x0 = x;
      const xn1 = rmsNormForward(x0, w.inputNorm, n, D, c.rmsNormEps);
      const qr = ropeForward(proj('q_proj', xn1, D, qDim), n, c.numHeads, c.headDim, invFreq);
      const kr = ropeForward(proj('k_proj', xn1, D, kvDim), n, c.numKvHeads, c.headDim, invFreq);
      const v = proj('v_proj', xn1, D, kvDim);
      const { out: att, probs } = attentionForward(qr, kr, v, shape);
      const x1 = addArrays(x0, proj('o_proj', att, qDim, D));
      const xn2 = rmsNormForward(x1, w.postAttentionNorm, n, D, c.rmsNormEps);
      const gate = proj('gate_proj', xn2, D, F);
      const up = proj('up_proj', xn2, D, F);
      const act = swigluForward(gate, up);
      x = addArrays(x1, proj('down_proj', act, F, D));
      layers.push({ x0, xn1, qr, kr, v, probs, att, x1, xn2, gate, up, act, lora });
    });
    const xn = rmsNormForward(x, p.norm, n, D, c.rmsNormEps);
    const logits = this.products ? this.products.head(xn, n) : linearForward(xn, p.lmHead, n, D, c.vocabSize);
    return { ids, layers, xLast: x, xn, logits };
  }

  /** Gradients into `g` (base parameters; null = frozen) and `lg` (LoRA matrices; null = none). */
  private backward(tape: Tape, dLogits: Float64Array, g: LlamaParams | null, lg: LoraAdapter | null): void {
    const c = this.config;
    const p = this.params;
    const n = tape.ids.length;
    const { D, F, qDim, kvDim, invFreq, shape } = this.dims(n);
    const dXn = this.products ? this.products.headBack(dLogits, tape.xn, n, g?.lmHead ?? null) : linearBackward(dLogits, tape.xn, p.lmHead, n, D, c.vocabSize, g?.lmHead ?? null);
    let dx = rmsNormBackward(dXn, tape.xLast, p.norm, n, D, c.rmsNormEps, g?.norm ?? null);
    for (let l = c.numLayers - 1; l >= 0; l--) {
      const w = p.layers[l]!;
      const gw = g?.layers[l] ?? null;
      const t = tape.layers[l]!;
      const back = (m: LoraModule, dy: Float64Array, input: Float64Array, inDim: number, outDim: number) =>
        this.projectBack(l, m, dy, input, n, inDim, outDim, t.lora, g, lg);
      // feed-forward block: x2 = x1 + down(swiglu(gate(xn2), up(xn2)))
      const dAct = back('down_proj', dx, t.act, F, D);
      const { dGate, dUp } = swigluBackward(dAct, t.gate, t.up);
      const dXn2 = addArrays(back('gate_proj', dGate, t.xn2, D, F), back('up_proj', dUp, t.xn2, D, F));
      const dx1 = addArrays(dx, rmsNormBackward(dXn2, t.x1, w.postAttentionNorm, n, D, c.rmsNormEps, gw?.postAttentionNorm ?? null));
      // attention block: x1 = x0 + o(attention(rope(q(xn1)), rope(k(xn1)), v(xn1)))
      const dAtt = back('o_proj', dx1, t.att, qDim, D);
      const { dq, dk, dv } = attentionBackward(dAtt, t.qr, t.kr, t.v, t.probs, shape);
      const dQ = ropeBackward(dq, n, c.numHeads, c.headDim, invFreq);
      const dK = ropeBackward(dk, n, c.numKvHeads, c.headDim, invFreq);
      const dXn1 = addArrays(addArrays(back('q_proj', dQ, t.xn1, D, qDim), back('k_proj', dK, t.xn1, D, kvDim)), back('v_proj', dv, t.xn1, D, kvDim));
      dx = addArrays(dx1, rmsNormBackward(dXn1, t.x0, w.inputNorm, n, D, c.rmsNormEps, gw?.inputNorm ?? null));
    }
    if (g) embeddingBackward(dx, tape.ids, D, g.embed);
  }
}

/** Zeroed LoRA matrices of the same shapes (the adapters' gradient buffers). */
export function zerosLikeLora(a: LoraAdapter): LoraAdapter {
  return {
    config: a.config,
    layers: a.layers.map((layer) => Object.fromEntries(Object.entries(layer).map(([m, pair]) => [m, {
      A: new Float64Array(pair.A.length), B: new Float64Array(pair.B.length), inDim: pair.inDim, outDim: pair.outDim,
    }]))),
  };
}

/** The LoRA matrices as a flat list (A then B per adapted module, layer by layer), for the optimizer. */
export function loraArrays(a: LoraAdapter): Float64Array[] {
  return a.layers.flatMap((layer) => Object.values(layer).flatMap((pair) => [pair.A as Float64Array, pair.B as Float64Array]));
}

function addArrays(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! + b[i]!;
  return out;
}
