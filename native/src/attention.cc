// KV cache writes and attention (see attention.h).
//
// A KV store is position-major: row p holds every KV head's values for position p, so one head's
// values in consecutive positions are kv_dim values apart — for XVERSE-13B 10 KiB, more than a
// page. Reading one head down the positions is therefore a pattern that neither the prefetchers
// nor the TLB serve well (measured: 6–8 GB/s). Both paths below avoid it:
//
// - Decode (n ≤ DECODE_MAX_N queries): the visible positions are split into chunks, one task per
//   chunk. A task reads its chunk's rows (contiguous memory, all heads; f32 and f16 in place, q8_0
//   widened into f32 scratch), scores every head with the matmul tile kernel, and keeps a partial
//   softmax (max, sum, weighted sum of values) per head; the partials of the chunks are then
//   merged exactly (log-sum-exp rescaling). This also parallelizes a single query.
// - Prefill: one task per block of QUERY_BLOCK queries and KV head. Every key and value row that
//   the task reads serves all queries of the block (and the group's query heads), so the strided
//   reads are amortized and the score products run as matmul tiles of many tokens.
//
// Scores, softmax and the weighted sums are f32 (the softmax denominator in double). Scratch grows
// with the context (doubling), so a decode step allocates nothing once the cache is at its length.
#include "attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "dispatch.h"
#include "half.h"
#include "thread_pool.h"

namespace xts {
namespace {

constexpr int64_t DECODE_MAX_N = 3;
constexpr int64_t QUERY_BLOCK = 16;
constexpr int64_t CHUNK_BYTES = 256 * 1024;  // f32 scratch per widened chunk (fits L2)
constexpr int64_t MIN_PARALLEL_WORK = 1 << 14;

struct Scratch {
  std::vector<float> scores;  // decode: [heads][chunk]; prefill: [group][queries][positions]
  std::vector<float> acc;     // prefill: [group][queries][head_dim]
  std::vector<float> keys;    // widened rows (decode: whole rows; prefill: one head's segments)
  std::vector<float> values;
  std::vector<float> inv;     // prefill: [group][queries] 1 / softmax denominators
};

std::vector<Scratch>& scratch() {
  static std::vector<Scratch> s;
  return s;
}

// Partial softmax results of the decode path: per (task, head) max, sum, weighted values.
std::vector<float>& partials() {
  static std::vector<float> p;
  return p;
}

void reserve(std::vector<float>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(std::max<int64_t>(n, 2 * static_cast<int64_t>(v.size()))));
}

struct Shape {
  WeightType t;
  int64_t kv_dim, head_dim, heads, kv_heads, group, q_dim, row_bytes;
  float scale;
};

// Rows p0 … p0+count−1 (all heads) as f32: the store itself for f32, else widened into buf.
// Returns row p0; rows are kv_dim floats apart.
const float* whole_rows(const KernelSet& ks, const Shape& s, const void* store, int64_t p0, int64_t count, float* buf) {
  const auto* base = static_cast<const uint8_t*>(store) + p0 * s.row_bytes;
  if (s.t == W_F32) return reinterpret_cast<const float*>(base);
  ks.to_f32[s.t](base, buf, count * s.kv_dim);  // rows are contiguous, and whole blocks for q8_0
  return buf;
}

// Rows p0 … p0+count−1 of KV head g as f32, *stride floats apart: in place for f32, else the head's
// segments widened into buf (whole rows when q8_0 blocks straddle heads). Returns row p0.
const float* head_rows(const KernelSet& ks, const Shape& s, const void* store, int64_t g, int64_t p0, int64_t count,
                       float* buf, int64_t* stride) {
  const auto* base = static_cast<const uint8_t*>(store) + p0 * s.row_bytes;
  if (s.t == W_F32) {
    *stride = s.kv_dim;
    return reinterpret_cast<const float*>(base) + g * s.head_dim;
  }
  const ToF32Fn widen = ks.to_f32[s.t];
  if (s.t == W_F16 || s.head_dim % QK == 0) {
    const int64_t off = s.t == W_F16 ? g * s.head_dim * 2 : row_bytes(s.t, g * s.head_dim);
    for (int64_t p = 0; p < count; p++) widen(base + p * s.row_bytes + off, buf + p * s.head_dim, s.head_dim);
    *stride = s.head_dim;
    return buf;
  }
  widen(base, buf, count * s.kv_dim);
  *stride = s.kv_dim;
  return buf + g * s.head_dim;
}

// Positions per decode chunk: a widened chunk fits CHUNK_BYTES, and there are enough chunks to
// share among the threads.
int64_t decode_chunk(const Shape& s, int64_t positions, int threads) {
  const int64_t by_cache = std::max<int64_t>(8, CHUNK_BYTES / (s.kv_dim * 4));
  const int64_t by_threads = (positions + threads * 4 - 1) / (threads * 4);
  return std::max<int64_t>(8, std::min(by_cache, by_threads));
}

void attention_decode(const KernelSet& ks, const FloatOps& ops, const Shape& s, float* out, const float* q, const void* keys,
                      const void* values, int64_t n, int64_t start_pos) {
  const int threads = pool().size();
  const int64_t chunk = decode_chunk(s, start_pos + n, threads);
  std::vector<int64_t> first_task(static_cast<size_t>(n + 1), 0);  // n ≤ DECODE_MAX_N: a few bytes
  for (int64_t i = 0; i < n; i++) first_task[i + 1] = first_task[i] + (start_pos + i + 1 + chunk - 1) / chunk;
  const int64_t tasks = first_task[n];
  const int64_t part = s.head_dim + 2;  // max, sum, weighted values

  auto& all = scratch();
  if (static_cast<int>(all.size()) < threads) all.resize(static_cast<size_t>(threads));
  for (auto& sc : all) {
    reserve(sc.scores, s.heads * chunk);
    if (s.t == W_Q8_0) {
      reserve(sc.keys, chunk * s.kv_dim);
      reserve(sc.values, chunk * s.kv_dim);
    }
  }
  auto& parts = partials();
  reserve(parts, tasks * s.heads * part);

  auto body = [&](int64_t task, int thread) {
    Scratch& sc = all[static_cast<size_t>(thread)];
    int64_t i = 0;
    while (task >= first_task[i + 1]) i++;
    const int64_t p0 = (task - first_task[i]) * chunk;
    const int64_t count = std::min(chunk, start_pos + i + 1 - p0);
    const float* qi = q + i * s.q_dim;
    float* scores = sc.scores.data();

    // f32 and f16 keys are read in place (the f16 tile widens as it goes); q8_0 rows are widened.
    const uint8_t* kb = static_cast<const uint8_t*>(keys) + p0 * s.row_bytes;
    const bool in_place = s.t != W_Q8_0;
    const float* kr = in_place ? nullptr : whole_rows(ks, s, keys, p0, count, sc.keys.data());
    const int64_t es = s.t == W_F32 ? 4 : 2;
    for (int64_t g = 0; g < s.kv_heads; g++) {
      const float* qg = qi + g * s.group * s.head_dim;
      float* sg = scores + g * s.group * count;
      if (in_place) ks.tile[s.t](s.head_dim, kb + g * s.head_dim * es, s.row_bytes, qg, s.head_dim * 4, sg, count, count, s.group);
      else ks.tile[W_F32](s.head_dim, kr + g * s.head_dim, s.kv_dim * 4, qg, s.head_dim * 4, sg, count, count, s.group);
    }
    float* pt = parts.data() + task * s.heads * part;
    for (int64_t h = 0; h < s.heads; h++) {
      float* row = scores + h * count;
      float max = -INFINITY;
      for (int64_t p = 0; p < count; p++) max = std::max(max, row[p] *= s.scale);
      double sum = 0;
      for (int64_t p = 0; p < count; p++) sum += (row[p] = std::exp(row[p] - max));
      pt[h * part] = max;
      pt[h * part + 1] = static_cast<float>(sum);
      std::fill(pt + h * part + 2, pt + (h + 1) * part, 0.0f);
    }
    if (s.t == W_F16) {
      const auto* vb = reinterpret_cast<const uint16_t*>(static_cast<const uint8_t*>(values) + p0 * s.row_bytes);
      for (int64_t p = 0; p < count; p++)
        for (int64_t h = 0; h < s.heads; h++)
          ops.axpy_f16(scores[h * count + p], vb + p * s.kv_dim + (h / s.group) * s.head_dim, pt + h * part + 2, s.head_dim);
    } else {
      const float* vr = whole_rows(ks, s, values, p0, count, sc.values.data());
      for (int64_t p = 0; p < count; p++)
        for (int64_t h = 0; h < s.heads; h++)
          ops.axpy(scores[h * count + p], vr + p * s.kv_dim + (h / s.group) * s.head_dim, pt + h * part + 2, s.head_dim);
    }
  };
  if (threads == 1 || tasks == 1 || (start_pos + n) * s.kv_dim < MIN_PARALLEL_WORK) {
    for (int64_t task = 0; task < tasks; task++) body(task, 0);
  } else {
    pool().run(tasks, body);
  }

  // Merge: out = Σ_c e^(m_c − M)·acc_c / Σ_c e^(m_c − M)·sum_c, M the largest chunk maximum.
  for (int64_t i = 0; i < n; i++) {
    for (int64_t h = 0; h < s.heads; h++) {
      float max = -INFINITY;
      for (int64_t task = first_task[i]; task < first_task[i + 1]; task++) max = std::max(max, parts[(task * s.heads + h) * part]);
      float* o = out + i * s.q_dim + h * s.head_dim;
      std::fill(o, o + s.head_dim, 0.0f);
      double sum = 0;
      for (int64_t task = first_task[i]; task < first_task[i + 1]; task++) {
        const float* pt = parts.data() + (task * s.heads + h) * part;
        const float w = std::exp(pt[0] - max);
        sum += static_cast<double>(w) * pt[1];
        ops.axpy(w, pt + 2, o, s.head_dim);
      }
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t j = 0; j < s.head_dim; j++) o[j] *= inv;
    }
  }
}

void attention_prefill(const KernelSet& ks, const FloatOps& ops, const Shape& s, float* out, const float* q, const void* keys,
                       const void* values, int64_t n, int64_t start_pos) {
  const int threads = pool().size();
  const int64_t blocks = (n + QUERY_BLOCK - 1) / QUERY_BLOCK;
  const int64_t positions = start_pos + n;
  const int64_t chunk = std::max<int64_t>(8, CHUNK_BYTES / (s.kv_dim * 4));  // for widening head segments
  auto& all = scratch();
  if (static_cast<int>(all.size()) < threads) all.resize(static_cast<size_t>(threads));
  for (auto& sc : all) {
    reserve(sc.scores, s.group * QUERY_BLOCK * positions);
    reserve(sc.acc, s.group * QUERY_BLOCK * s.head_dim);
    reserve(sc.inv, s.group * QUERY_BLOCK);
    if (s.t == W_Q8_0) {
      reserve(sc.keys, chunk * s.kv_dim);
      reserve(sc.values, chunk * s.kv_dim);
    }
  }

  auto body = [&](int64_t task, int thread) {
    Scratch& sc = all[static_cast<size_t>(thread)];
    const int64_t i0 = task / s.kv_heads * QUERY_BLOCK;
    const int64_t g = task % s.kv_heads;
    const int64_t nq = std::min(QUERY_BLOCK, n - i0);
    const int64_t len = start_pos + i0 + nq;  // positions visible to the block's last query
    float* scores = sc.scores.data();         // [h][t][p], row stride len
    const int64_t q_stride = s.q_dim * 4;

    // Scores of every (query head of the group, query of the block) against the head's keys.
    for (int64_t p0 = 0; p0 < len; p0 += chunk) {
      const int64_t count = std::min(chunk, len - p0);
      const float* kr;
      int64_t stride;
      if (s.t == W_F16) {  // f16 rows go straight into the tile kernel, which widens them
        for (int64_t h = 0; h < s.group; h++) {
          ks.tile[W_F16](s.head_dim, static_cast<const uint8_t*>(keys) + p0 * s.row_bytes + g * s.head_dim * 2, s.row_bytes,
                         q + i0 * s.q_dim + (g * s.group + h) * s.head_dim, q_stride, scores + h * nq * len + p0, len, count, nq);
        }
        continue;
      }
      kr = head_rows(ks, s, keys, g, p0, count, sc.keys.data(), &stride);
      for (int64_t h = 0; h < s.group; h++) {
        ks.tile[W_F32](s.head_dim, kr, stride * 4, q + i0 * s.q_dim + (g * s.group + h) * s.head_dim, q_stride,
                       scores + h * nq * len + p0, len, count, nq);
      }
    }

    // Causal softmax per (head, query): query i0+t sees positions 0 … start_pos+i0+t.
    float* inv_sum = sc.inv.data();
    for (int64_t h = 0; h < s.group; h++) {
      for (int64_t t = 0; t < nq; t++) {
        float* row = scores + (h * nq + t) * len;
        const int64_t visible = start_pos + i0 + t + 1;
        float max = -INFINITY;
        for (int64_t p = 0; p < visible; p++) max = std::max(max, row[p] *= s.scale);
        double sum = 0;
        for (int64_t p = 0; p < visible; p++) sum += (row[p] = std::exp(row[p] - max));
        for (int64_t p = visible; p < len; p++) row[p] = 0.0f;
        inv_sum[h * nq + t] = static_cast<float>(1.0 / sum);
      }
    }

    // Weighted sums of the value rows, each widened once for the whole block.
    float* acc = sc.acc.data();
    std::fill(acc, acc + s.group * nq * s.head_dim, 0.0f);
    for (int64_t p0 = 0; p0 < len; p0 += chunk) {
      const int64_t count = std::min(chunk, len - p0);
      int64_t stride = 0;
      const float* vr = s.t == W_F16 ? nullptr : head_rows(ks, s, values, g, p0, count, sc.values.data(), &stride);
      for (int64_t p = 0; p < count; p++) {
        const int64_t first_t = std::max<int64_t>(0, p0 + p - start_pos - i0);  // earliest query that sees p
        const auto* v16 = reinterpret_cast<const uint16_t*>(static_cast<const uint8_t*>(values) + (p0 + p) * s.row_bytes) + g * s.head_dim;
        for (int64_t h = 0; h < s.group; h++) {
          for (int64_t t = first_t; t < nq; t++) {
            const float e = scores[(h * nq + t) * len + p0 + p];
            float* a = acc + (h * nq + t) * s.head_dim;
            if (vr) ops.axpy(e, vr + p * stride, a, s.head_dim);
            else ops.axpy_f16(e, v16, a, s.head_dim);
          }
        }
      }
    }
    for (int64_t h = 0; h < s.group; h++) {
      for (int64_t t = 0; t < nq; t++) {
        float* o = out + (i0 + t) * s.q_dim + (g * s.group + h) * s.head_dim;
        const float* a = acc + (h * nq + t) * s.head_dim;
        for (int64_t j = 0; j < s.head_dim; j++) o[j] = a[j] * inv_sum[h * nq + t];
      }
    }
  };
  const int64_t tasks = blocks * s.kv_heads;
  if (threads == 1 || positions * s.kv_dim * n < MIN_PARALLEL_WORK) {
    for (int64_t task = 0; task < tasks; task++) body(task, 0);
  } else {
    pool().run(tasks, body);
  }
}

}  // namespace

bool is_kv_type(WeightType t) { return t == W_F32 || t == W_F16 || t == W_Q8_0; }

void kv_write(void* keys, void* values, WeightType t, int64_t kv_dim, int64_t pos, const float* k, const float* v, int64_t n) {
  const KernelSet& ks = dispatch().ks;
  if (t == W_Q8_0 && !ks.quantize_q8_0) throw std::runtime_error("this build has no q8_0 quantization kernel");
  const int64_t rb = row_bytes(t, kv_dim);
  auto write_row = [&](int64_t r, int) {
    for (int which = 0; which < 2; which++) {
      const float* src = (which ? v : k) + r * kv_dim;
      uint8_t* dst = static_cast<uint8_t*>(which ? values : keys) + (pos + r) * rb;
      if (t == W_F32) {
        std::memcpy(dst, src, static_cast<size_t>(rb));
      } else if (t == W_F16) {
        auto* h = reinterpret_cast<uint16_t*>(dst);
        for (int64_t j = 0; j < kv_dim; j++) h[j] = f32_to_f16(src[j]);
      } else {
        ks.quantize_q8_0(src, dst, kv_dim);
      }
    }
  };
  if (n * kv_dim < MIN_PARALLEL_WORK) {
    for (int64_t r = 0; r < n; r++) write_row(r, 0);
  } else {
    pool().run(n, write_row);
  }
}

void attention(float* out, const float* q, const void* keys, const void* values, WeightType t, int64_t kv_dim,
               int64_t n, int64_t start_pos, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim, float scale) {
  const Dispatch& d = dispatch();
  if (t != W_F32 && !d.ks.to_f32[t]) throw std::runtime_error("this build cannot read a q8_0 KV cache (no q8_0 kernels)");
  if (n <= 0) return;
  const int64_t group = n_heads / n_kv_heads;
  const Shape s{t, kv_dim, head_dim, n_heads, n_kv_heads, group, n_heads * head_dim, row_bytes(t, kv_dim), scale};
  if (n <= DECODE_MAX_N) attention_decode(d.ks, d.ops, s, out, q, keys, values, n, start_pos);
  else attention_prefill(d.ks, d.ops, s, out, q, keys, values, n, start_pos);
}

}  // namespace xts
