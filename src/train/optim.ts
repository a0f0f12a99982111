/**
 * Optimizer pieces with PyTorch / Hugging Face semantics, over flat Float64Array parameter lists
 * (see namedParams): AdamW (decoupled weight decay, bias-corrected moments), clipping by global
 * L2 norm (torch.nn.utils.clip_grad_norm_), and HF's learning-rate schedules with warm-up.
 */

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/** torch.optim.AdamW: p ← p − lr·wd·p, then p ← p − lr·m̂/(√v̂ + eps). */
export class AdamW {
  private readonly m: Float64Array[];
  private readonly v: Float64Array[];
  /** Steps taken (bias correction uses it; saved with a checkpoint). */
  step = 0;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;

  constructor(readonly params: readonly Float64Array[], options: Omit<AdamWOptions, 'lr'> = {}) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    this.m = params.map((p) => new Float64Array(p.length));
    this.v = params.map((p) => new Float64Array(p.length));
  }

  /** The moment estimates (first, then second, per parameter), for a checkpoint. */
  moments(): Float64Array[] {
    return [...this.m, ...this.v];
  }

  /** Restores a checkpoint's step and moments (as moments() listed them). */
  restore(step: number, moments: readonly Float64Array[]): void {
    if (moments.length !== 2 * this.params.length) throw new RangeError(`AdamW: ${moments.length} moment arrays for ${this.params.length} parameters`);
    moments.forEach((a, i) => {
      const into = i < this.m.length ? this.m[i]! : this.v[i - this.m.length]!;
      if (a.length !== into.length) throw new RangeError(`AdamW: moment ${i} has ${a.length} values, expected ${into.length}`);
      into.set(a);
    });
    this.step = step;
  }

  /** One update with learning rate `lr`; `grads[i]` belongs to `params[i]`. */
  update(grads: readonly Float64Array[], lr: number): void {
    if (grads.length !== this.params.length) throw new RangeError(`AdamW: ${grads.length} gradients for ${this.params.length} parameters`);
    this.step++;
    const c1 = 1 - this.beta1 ** this.step;
    const c2 = 1 - this.beta2 ** this.step;
    this.params.forEach((p, i) => {
      const g = grads[i]!;
      const m = this.m[i]!;
      const v = this.v[i]!;
      if (g.length !== p.length) throw new RangeError(`AdamW: gradient ${i} has ${g.length} values, its parameter ${p.length}`);
      for (let j = 0; j < p.length; j++) {
        p[j]! -= lr * this.weightDecay * p[j]!;
        m[j] = this.beta1 * m[j]! + (1 - this.beta1) * g[j]!;
        v[j] = this.beta2 * v[j]! + (1 - this.beta2) * g[j]! * g[j]!;
        p[j]! -= (lr * (m[j]! / c1)) / (Math.sqrt(v[j]! / c2) + this.eps);
      }
    });
  }
}

/** Scales the gradients in place so their global L2 norm is at most maxNorm; returns the norm before. */
export function clipGradNorm(grads: readonly Float64Array[], maxNorm: number): number {
  let sum = 0;
  for (const g of grads) for (let j = 0; j < g.length; j++) sum += g[j]! * g[j]!;
  const norm = Math.sqrt(sum);
  // clip_grad_norm_'s coefficient, with its 1e-6 guard, applied only when it shrinks.
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) for (const g of grads) for (let j = 0; j < g.length; j++) g[j]! *= coef;
  return norm;
}

export type LrScheduler = 'cosine' | 'linear' | 'constant';

/**
 * The multiplier of the peak learning rate at optimizer step `step` (0-based), as transformers'
 * get_{cosine,linear,constant}_schedule_with_warmup: linear warm-up over `warmup` steps, then
 * cosine (half a cycle) or linear decay to 0 at `total` steps, or constant.
 */
export function lrMultiplier(kind: LrScheduler, step: number, warmup: number, total: number): number {
  if (step < warmup) return step / Math.max(1, warmup);
  if (kind === 'constant') return 1;
  const progress = (step - warmup) / Math.max(1, total - warmup);
  if (kind === 'linear') return Math.max(0, 1 - progress);
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}
