/**
 * A float64 reference training graph of the XVERSE/Llama decoder: the same composition as
 * src/model/xverse.ts (pre-norm blocks with residuals, final RMSNorm, output head), with a full
 * backward pass. One sequence at a time, from position 0, no KV cache; slow and exact, meant as
 * the ground truth faster training paths are checked against.
 */
import type { ModelConfig } from '../model/config.js';
import { Rng } from '../generation/rng.js';
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

/** Activations of one layer saved by the forward pass for the backward. */
interface LayerTape {
  x0: Float64Array; xn1: Float64Array; qr: Float64Array; kr: Float64Array; v: Float64Array; probs: Float64Array; att: Float64Array;
  x1: Float64Array; xn2: Float64Array; gate: Float64Array; up: Float64Array; act: Float64Array;
}

interface Tape {
  ids: readonly number[];
  layers: LayerTape[];
  xLast: Float64Array;
  xn: Float64Array;
  logits: Float64Array;
}

/** The XVERSE/Llama decoder over float64 parameters, with forward and backward passes. */
export class TrainableLlama {
  constructor(readonly config: ModelConfig, readonly params: LlamaParams) {
    const s = paramShapes(config);
    const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
    const check = (name: string, a: Float64Array, shape: number[]) => {
      if (a.length !== size(shape)) throw new RangeError(`${name} has ${a.length} values, the config implies [${shape.join(', ')}]`);
    };
    if (config.numHeads % config.numKvHeads !== 0) throw new RangeError('numHeads must be a multiple of numKvHeads');
    if (params.layers.length !== config.numLayers) throw new RangeError(`${params.layers.length} layers, the config has ${config.numLayers}`);
    check('embed', params.embed, s.embed);
    params.layers.forEach((l, i) => { for (const key of LAYER_PARAM_KEYS) check(`layers[${i}].${key}`, l[key], s.layer[key]); });
    check('norm', params.norm, s.norm);
    check('lmHead', params.lmHead, s.lmHead);
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
  lossAndGrads(ids: readonly number[], targets: readonly number[]): { loss: number; grads: LlamaParams } {
    const tape = this.forward(ids);
    const { loss, dLogits } = crossEntropy(tape.logits, targets, ids.length, this.config.vocabSize);
    const grads = zerosLike(this.params);
    this.backward(tape, dLogits, grads);
    return { loss, grads };
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

  private forward(ids: readonly number[]): Tape {
    const c = this.config;
    const p = this.params;
    const n = ids.length;
    if (n === 0) throw new RangeError('forward needs at least one token');
    const { D, F, qDim, kvDim, invFreq, shape } = this.dims(n);
    let x = embeddingForward(p.embed, ids, c.vocabSize, D);
    const layers: LayerTape[] = [];
    for (const w of p.layers) {
      const x0 = x;
      const xn1 = rmsNormForward(x0, w.inputNorm, n, D, c.rmsNormEps);
      const qr = ropeForward(linearForward(xn1, w.q, n, D, qDim), n, c.numHeads, c.headDim, invFreq);
      const kr = ropeForward(linearForward(xn1, w.k, n, D, kvDim), n, c.numKvHeads, c.headDim, invFreq);
      const v = linearForward(xn1, w.v, n, D, kvDim);
      const { out: att, probs } = attentionForward(qr, kr, v, shape);
      const x1 = addArrays(x0, linearForward(att, w.o, n, qDim, D));
      const xn2 = rmsNormForward(x1, w.postAttentionNorm, n, D, c.rmsNormEps);
      const gate = linearForward(xn2, w.gate, n, D, F);
      const up = linearForward(xn2, w.up, n, D, F);
      const act = swigluForward(gate, up);
      x = addArrays(x1, linearForward(act, w.down, n, F, D));
      layers.push({ x0, xn1, qr, kr, v, probs, att, x1, xn2, gate, up, act });
    }
    const xn = rmsNormForward(x, p.norm, n, D, c.rmsNormEps);
    const logits = linearForward(xn, p.lmHead, n, D, c.vocabSize);
    return { ids, layers, xLast: x, xn, logits };
  }

  private backward(tape: Tape, dLogits: Float64Array, g: LlamaParams): void {
    const c = this.config;
    const p = this.params;
    const n = tape.ids.length;
    const { D, F, qDim, kvDim, invFreq, shape } = this.dims(n);
    const dXn = linearBackward(dLogits, tape.xn, p.lmHead, n, D, c.vocabSize, g.lmHead);
    let dx = rmsNormBackward(dXn, tape.xLast, p.norm, n, D, c.rmsNormEps, g.norm);
    for (let l = c.numLayers - 1; l >= 0; l--) {
      const w = p.layers[l]!;
      const gw = g.layers[l]!;
      const t = tape.layers[l]!;
      // feed-forward block: x2 = x1 + down(swiglu(gate(xn2), up(xn2)))
      const dAct = linearBackward(dx, t.act, w.down, n, F, D, gw.down);
      const { dGate, dUp } = swigluBackward(dAct, t.gate, t.up);
      const dXn2 = addArrays(linearBackward(dGate, t.xn2, w.gate, n, D, F, gw.gate), linearBackward(dUp, t.xn2, w.up, n, D, F, gw.up));
      const dx1 = addArrays(dx, rmsNormBackward(dXn2, t.x1, w.postAttentionNorm, n, D, c.rmsNormEps, gw.postAttentionNorm));
      // attention block: x1 = x0 + o(attention(rope(q(xn1)), rope(k(xn1)), v(xn1)))
      const dAtt = linearBackward(dx1, t.att, w.o, n, qDim, D, gw.o);
      const { dq, dk, dv } = attentionBackward(dAtt, t.qr, t.kr, t.v, t.probs, shape);
      const dQ = ropeBackward(dq, n, c.numHeads, c.headDim, invFreq);
      const dK = ropeBackward(dk, n, c.numKvHeads, c.headDim, invFreq);
      const dXn1 = addArrays(
        addArrays(linearBackward(dQ, t.xn1, w.q, n, D, qDim, gw.q), linearBackward(dK, t.xn1, w.k, n, D, kvDim, gw.k)),
        linearBackward(dv, t.xn1, w.v, n, D, kvDim, gw.v),
      );
      dx = addArrays(dx1, rmsNormBackward(dXn1, t.x0, w.inputNorm, n, D, c.rmsNormEps, gw.inputNorm));
    }
    embeddingBackward(dx, tape.ids, D, g.embed);
  }
}

function addArrays(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! + b[i]!;
  return out;
}
