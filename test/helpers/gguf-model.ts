/**
 * Builds an XverseModel straight from one of the xverse-tiny GGUF files (test only), keeping every
 * tensor in the file's type — q8_0/q4_0 blocks go to the backend as they are — or converting the
 * matrices to another type first (`convertTo`, e.g. 'f32' for the dequantize-then-multiply method).
 */
import type { Backend, KVCacheType } from '../../src/backend/backend.js';
import { readModelConfig } from '../../src/model/load.js';
import type { LayerWeights } from '../../src/model/weights.js';
import { XverseModel } from '../../src/model/xverse.js';
import { convertTensor } from '../../src/tensor/convert.js';
import type { TensorType } from '../../src/tensor/dtype.js';
import { tensorFromBytes, type Tensor } from '../../src/tensor/tensor.js';
import { fixture } from './fixtures.js';
import { ggufTensorMap, type GgufTensor } from './gguf-tensors.js';

/**
 * llama.cpp's converter permutes the rows of attn_q/attn_k per head — HF row h·hd + j·hd/2 + i
 * (rotate_half pairs i, i + hd/2) goes to GGUF row h·hd + 2i + j (adjacent pairs) — so that it can
 * use "normal" RoPE. This puts them back, moving whole rows (block rows included) untouched.
 */
export function unpermuteRows(t: GgufTensor, heads: number): Uint8Array {
  const rows = t.shape[0]!;
  const rowBytes = t.bytes.length / rows;
  const hd = rows / heads;
  const half = hd / 2;
  const out = new Uint8Array(t.bytes.length);
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < 2; j++) {
      for (let i = 0; i < half; i++) {
        const gguf = h * hd + 2 * i + j;
        out.set(t.bytes.subarray(gguf * rowBytes, (gguf + 1) * rowBytes), (h * hd + j * half + i) * rowBytes);
      }
    }
  }
  return out;
}

export function xverseTinyFromGguf(
  file: string, backend: Backend, options: { convertTo?: TensorType; kvCacheType?: KVCacheType } = {},
): XverseModel {
  const config = readModelConfig(fixture('xverse-tiny/safetensors'));
  const tensors = ggufTensorMap(fixture('xverse-tiny/gguf', file));
  const get = (name: string): GgufTensor => {
    const t = tensors.get(name);
    if (!t) throw new Error(`${file}: no tensor ${name}`);
    return t;
  };
  // Copies (slice) keep f32 data aligned; block data needs no alignment.
  const tensor = (t: GgufTensor, bytes = t.bytes): Tensor => tensorFromBytes(t.type, t.shape, bytes.slice());
  const matrix = (name: string, permuted = false) => {
    const t = get(name);
    let m = tensor(t, permuted ? unpermuteRows(t, config.numHeads) : t.bytes);
    if (options.convertTo) m = convertTensor(m, options.convertTo);
    return backend.uploadMatrix(m);
  };
  const vector = (name: string) => backend.uploadVector(tensor(get(name)));
  const layers: LayerWeights[] = [];
  for (let l = 0; l < config.numLayers; l++) {
    const p = `blk.${l}`;
    layers.push({
      inputNorm: vector(`${p}.attn_norm.weight`),
      q: matrix(`${p}.attn_q.weight`, true),
      k: matrix(`${p}.attn_k.weight`, true),
      v: matrix(`${p}.attn_v.weight`),
      o: matrix(`${p}.attn_output.weight`),
      postAttentionNorm: vector(`${p}.ffn_norm.weight`),
      gate: matrix(`${p}.ffn_gate.weight`),
      up: matrix(`${p}.ffn_up.weight`),
      down: matrix(`${p}.ffn_down.weight`),
    });
  }
  const weights = { embed: matrix('token_embd.weight'), layers, norm: vector('output_norm.weight'), lmHead: matrix('output.weight') };
  return new XverseModel(config, backend, weights, 512, options.kvCacheType);
}
