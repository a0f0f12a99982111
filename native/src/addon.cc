// The N-API module: thin bindings from JavaScript onto the kernels. Written against the plain C
// N-API (node_api.h) rather than node-addon-api: the surface is a dozen functions taking TypedArrays
// and numbers, the C API needs no npm dependency (the addon builds offline with the headers that
// come with Node), and its ABI is stable across Node versions.
//
// Every function checks its arguments (types, integer ranges, that arrays are long enough) and
// throws a one-line TypeError / RangeError / Error; kernel code never sees an unchecked size.
// TypedArrays are used in place: no copies, and no JavaScript objects are created per call except
// the return value of the few functions that return one.
#include <node_api.h>

#include <algorithm>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "attention.h"
#include "bandwidth.h"
#include "cpu.h"
#include "dispatch.h"
#include "matmul.h"
#include "memory.h"
#include "napi_args.h"
#include "ops.h"
#include "quantize.h"
#include "thread_pool.h"

namespace xts {
namespace {

// Bumped whenever a function's signature changes; src/backend/native/load.ts refuses a stale build.
constexpr int32_t API_VERSION = 2;
constexpr int64_t MAX_DIM = int64_t{1} << 40;

// One call at a time: kernels share scratch buffers and the thread pool (Node worker_threads could
// otherwise call in concurrently).
std::mutex api_mutex;

using Binding = napi_value (*)(napi_env, napi_callback_info);

template <Binding F>
napi_value guarded(napi_env env, napi_callback_info info) {
  try {
    std::lock_guard<std::mutex> lock(api_mutex);
    return F(env, info);
  } catch (const JsError& e) {
    if (e.kind == JsError::Type) napi_throw_type_error(env, nullptr, e.what());
    else napi_throw_range_error(env, nullptr, e.what());
  } catch (const std::invalid_argument& e) {
    napi_throw_range_error(env, nullptr, e.what());
  } catch (const std::bad_alloc&) {
    napi_throw_error(env, nullptr, "the native backend ran out of memory");
  } catch (const std::exception& e) {
    napi_throw_error(env, nullptr, e.what());
  }
  return nullptr;
}

napi_value undefined(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

napi_value number(napi_env env, double x) {
  napi_value v;
  napi_create_double(env, x, &v);
  return v;
}

napi_value string(napi_env env, const std::string& s) {
  napi_value v;
  napi_create_string_utf8(env, s.c_str(), s.size(), &v);
  return v;
}

napi_value string_array(napi_env env, const std::vector<std::string>& items) {
  napi_value arr;
  napi_create_array_with_length(env, items.size(), &arr);
  for (size_t i = 0; i < items.size(); i++) napi_set_element(env, arr, static_cast<uint32_t>(i), string(env, items[i]));
  return arr;
}

WeightType weight_type(const Args& a, size_t i, const char* name) {
  return static_cast<WeightType>(a.integer(i, name, 0, W_TYPE_COUNT - 1));
}

void need_bytes(const Args& a, const Bytes& b, const char* name, int64_t needed) {
  if (b.bytes < needed) a.fail(JsError::Range, std::string(name) + " holds " + std::to_string(b.bytes) + " bytes, needs " + std::to_string(needed));
}

bool overlap(const void* a, int64_t a_bytes, const void* b, int64_t b_bytes) {
  const auto* pa = static_cast<const uint8_t*>(a);
  const auto* pb = static_cast<const uint8_t*>(b);
  return pa < pb + b_bytes && pb < pa + a_bytes;
}

std::string compiler() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("gcc ") + __VERSION__;
#elif defined(_MSC_VER)
  return "msvc " + std::to_string(_MSC_VER);
#else
  return "unknown compiler";
#endif
}

std::string arch() {
#if defined(__x86_64__) || defined(_M_X64)
  return "x86_64";
#elif defined(__aarch64__)
  return "aarch64";
#else
  return "other";
#endif
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

// info(): { isa, level, levels, threads, physicalCores, features }
napi_value info(napi_env env, napi_callback_info) {
  const Dispatch& d = dispatch();
  const CpuFeatures& cpu = cpu_features();
  std::vector<std::string> kernels;
  for (int t = 0; t < W_TYPE_COUNT; t++)
    if (d.ks.tile[t]) kernels.emplace_back(weight_type_name(static_cast<WeightType>(t)));
  std::vector<std::string> features{
      "compiler: " + compiler(),
      "build: " + arch() + ", N-API " + std::to_string(NAPI_VERSION),
      "cpu: " + (cpu.brand.empty() ? std::string("unknown") : cpu.brand),
      "cpu flags: " + (cpu.names().empty() ? std::string("none") : join(cpu.names(), " ")),
      "isa levels: " + join(d.levels, " ") + (d.note.empty() ? "" : " (" + d.note + ")"),
      "matmul kernels: " + join(kernels, " "),
      "physical cores: " + std::to_string(physical_cores()),
  };
  napi_value obj;
  napi_create_object(env, &obj);
  napi_set_named_property(env, obj, "isa", string(env, d.ks.isa));
  napi_set_named_property(env, obj, "level", string(env, d.level));
  napi_set_named_property(env, obj, "levels", string_array(env, d.levels));
  napi_set_named_property(env, obj, "threads", number(env, pool().size()));
  napi_set_named_property(env, obj, "physicalCores", number(env, physical_cores()));
  napi_set_named_property(env, obj, "features", string_array(env, features));
  return obj;
}

// setThreads(n) → threads now in use
napi_value set_threads(napi_env env, napi_callback_info cb) {
  Args a(env, cb, 1, "setThreads");
  pool().resize(static_cast<int>(a.integer(0, "threads", 1, 1024)));
  return number(env, pool().size());
}

// setIsa(level) → the isa name now in use ("" or "best" = the best available)
napi_value set_isa(napi_env env, napi_callback_info cb) {
  Args a(env, cb, 1, "setIsa");
  select_isa(a.string(0, "level"));
  return string(env, dispatch().ks.isa);
}

// matmul(out, x, w, wtype, rows, cols, n): out[n × rows] = x[n × cols] · Wᵀ
napi_value matmul_js(napi_env env, napi_callback_info cb) {
  Args a(env, cb, 7, "matmul");
  const WeightType wt = weight_type(a, 3, "wtype");
  const int64_t rows = a.integer(4, "rows", 0, MAX_DIM);
  const int64_t cols = a.integer(5, "cols", 1, MAX_DIM);
  const int64_t n = a.integer(6, "n", 0, MAX_DIM);
  if (uses_q8_activations(wt) && cols % QK != 0) a.fail(JsError::Range, std::string(weight_type_name(wt)) + " weights need a multiple of 32 columns, got " + std::to_string(cols));
  float* out = a.f32(0, "out", n * rows);
  const float* x = a.f32(1, "x", n * cols);
  const Bytes w = a.bytes(2, "w");
  need_bytes(a, w, "w", rows * row_bytes(wt, cols));
  if (overlap(out, n * rows * 4, x, n * cols * 4)) a.fail(JsError::Range, "out and x must not overlap");
  matmul(out, x, w.data, wt, rows, cols, n);
  return undefined(env);
}

// embed(out, table, wtype, rows, cols, ids, count) → index of the first id outside [0, rows), or -1
napi_value embed_js(napi_env env, napi_callback_info cb) {
  Args a(env, cb, 7, "embed");
  const WeightType wt = weight_type(a, 2, "wtype");
  const int64_t rows = a.integer(3, "rows", 0, MAX_DIM);
  const int64_t cols = a.integer(4, "cols", 1, MAX_DIM);
  const int64_t count = a.integer(6, "count", 0, MAX_DIM);
  if (uses_q8_activations(wt) && cols % QK != 0) a.fail(JsError::Range, std::string(weight_type_name(wt)) + " rows need a multiple of 32 values, got " + std::to_string(cols));
  float* out = a.f32(0, "out", count * cols);
  const Bytes table = a.bytes(1, "table");
  need_bytes(a, table, "table", rows * row_bytes(wt, cols));
  const int32_t* ids = a.i32(5, "ids", count);
  return number(env, static_cast<double>(embed(out, table.data, wt, rows, cols, ids, count)));
}

// toF32(src, stype, count, out): widen / dequantize count values
napi_value to_f32_js(napi_env env, napi_callback_info cb) {
  Args a(env, cb, 4, "toF32");
  const WeightType wt = weight_type(a, 1, "stype");
  const int64_t count = a.integer(2, "count", 0, MAX_DIM);
  if (uses_q8_activations(wt) && count % QK != 0) a.fail(JsError::Range, std::string(weight_type_name(wt)) + " holds multiples of 32 values, got " + std::to_string(count));
  const Bytes src = a.bytes(0, "src");
  need_bytes(a, src, "src", row_bytes(wt, count));
  to_f32(src.data, wt, a.f32(3, "out", count), count);
  return undefined(env);
}

// rmsNorm(out, x, weight, n, dim, eps)
napi_value rms_norm_js(napi_env env, napi_callback_info cb) {
  Args a(env, cb, 6, "rmsNorm");
  const int64_t n = a.integer(3, "n", 0, MAX_DIM);
  const int64_t dim = a.integer(4, "dim", 1, MAX_DIM);
  const double eps = a.number(5, "eps");
  rms_norm(a.f32(0, "out", n * dim), a.f32(1, "x", n * dim), a.f32(2, "weight", dim), n, dim, eps);
  return undefined(env);
}

// rope(x, n, nHeads, headDim, startPos, invFreq)
napi_value rope_js(napi_env env, napi_callback_info cb) {
  Args a(env, cb, 6, "rope");
  const int64_t n = a.integer(1, "n", 0, MAX_DIM);
  const int64_t heads = a.integer(2, "nHeads", 1, MAX_DIM);
  const int64_t head_dim = a.integer(3, "headDim", 2, MAX_DIM);
  const int64_t start = a.integer(4, "startPos", 0, MAX_DIM);
  if (head_dim % 2 != 0) a.fail(JsError::Range, "headDim must be even, got " + std::to_string(head_dim));
  rope(a.f32(0, "x", n * heads * head_dim), n, heads, head_dim, start, a.f32(5, "invFreq", head_dim / 2));
  return undefined(env);
}

// siluMul(x, y, len) and add(x, y, len)
napi_value silu_mul_js(napi_env env, napi_callback_info cb) {
  Args a(env, cb, 3, "siluMul");
  const int64_t len = a.integer(2, "len", 0, MAX_DIM);
  silu_mul(a.f32(0, "x", len), a.f32(1, "y", len), len);
  return undefined(env);
}

napi_value add_js(napi_env env, napi_callback_info cb) {
  Args a(env, cb, 3, "add");
  const int64_t len = a.integer(2, "len", 0, MAX_DIM);
  add(a.f32(0, "x", len), a.f32(1, "y", len), len);
  return undefined(env);
}

WeightType kv_type(const Args& a, size_t i, int64_t kv_dim) {
  const WeightType t = weight_type(a, i, "kvType");
  if (!is_kv_type(t)) a.fail(JsError::Range, std::string("a KV cache cannot hold ") + weight_type_name(t) + " values");
  if (t == W_Q8_0 && kv_dim % QK != 0) a.fail(JsError::Range, "a q8_0 KV cache needs kvDim to be a multiple of 32, got " + std::to_string(kv_dim));
  return t;
}

// kvWrite(keys, values, kvType, kvDim, pos, k, v, n)
napi_value kv_write_js(napi_env env, napi_callback_info cb) {
  Args a(env, cb, 8, "kvWrite");
  const int64_t kv_dim = a.integer(3, "kvDim", 1, MAX_DIM);
  const WeightType t = kv_type(a, 2, kv_dim);
  const int64_t pos = a.integer(4, "pos", 0, MAX_DIM);
  const int64_t n = a.integer(7, "n", 0, MAX_DIM);
  const Bytes keys = a.bytes(0, "keys"), values = a.bytes(1, "values");
  const int64_t needed = (pos + n) * row_bytes(t, kv_dim);
  need_bytes(a, keys, "keys", needed);
  need_bytes(a, values, "values", needed);
  kv_write(keys.data, values.data, t, kv_dim, pos, a.f32(5, "k", n * kv_dim), a.f32(6, "v", n * kv_dim), n);
  return undefined(env);
}

// attention(out, q, keys, values, kvType, kvDim, n, startPos, nHeads, nKvHeads, headDim, scale)
napi_value attention_js(napi_env env, napi_callback_info cb) {
  Args a(env, cb, 12, "attention");
  const int64_t kv_dim = a.integer(5, "kvDim", 1, MAX_DIM);
  const WeightType t = kv_type(a, 4, kv_dim);
  const int64_t n = a.integer(6, "n", 0, MAX_DIM);
  const int64_t start = a.integer(7, "startPos", 0, MAX_DIM);
  const int64_t heads = a.integer(8, "nHeads", 1, MAX_DIM);
  const int64_t kv_heads = a.integer(9, "nKvHeads", 1, heads);
  const int64_t head_dim = a.integer(10, "headDim", 1, MAX_DIM);
  const double scale = a.number(11, "scale");
  if (heads % kv_heads != 0) a.fail(JsError::Range, "nHeads (" + std::to_string(heads) + ") must be a multiple of nKvHeads (" + std::to_string(kv_heads) + ")");
  if (kv_heads * head_dim != kv_dim) a.fail(JsError::Range, "kvDim must equal nKvHeads × headDim");
  const Bytes keys = a.bytes(2, "keys"), values = a.bytes(3, "values");
  const int64_t needed = (start + n) * row_bytes(t, kv_dim);
  need_bytes(a, keys, "keys", needed);
  need_bytes(a, values, "values", needed);
  float* out = a.f32(0, "out", n * heads * head_dim);
  const float* q = a.f32(1, "q", n * heads * head_dim);
  if (overlap(out, n * heads * head_dim * 4, q, n * heads * head_dim * 4)) a.fail(JsError::Range, "out and q must not overlap");
  attention(out, q, keys.data, values.data, t, kv_dim, n, start, heads, kv_heads, head_dim, static_cast<float>(scale));
  return undefined(env);
}

// quantize(src, stype, rows, cols, dst, dtype)
napi_value quantize_js(napi_env env, napi_callback_info cb) {
  Args a(env, cb, 6, "quantize");
  const WeightType st = weight_type(a, 1, "stype");
  const int64_t rows = a.integer(2, "rows", 0, MAX_DIM);
  const int64_t cols = a.integer(3, "cols", 1, MAX_DIM);
  const WeightType dt = weight_type(a, 5, "dtype");
  if (!uses_q8_activations(dt)) a.fail(JsError::Range, std::string("cannot quantize to ") + weight_type_name(dt) + " (q8_0 or q4_0)");
  if (cols % QK != 0) a.fail(JsError::Range, std::string(weight_type_name(dt)) + " needs a multiple of 32 columns, got " + std::to_string(cols));
  const Bytes src = a.bytes(0, "src"), dst = a.bytes(4, "dst");
  need_bytes(a, src, "src", rows * row_bytes(st, cols));
  need_bytes(a, dst, "dst", rows * row_bytes(dt, cols));
  quantize_rows(src.data, st, rows, cols, dst.data, dt);
  return undefined(env);
}

// readBandwidth(bytes, threads) → GB/s
napi_value read_bandwidth_js(napi_env env, napi_callback_info cb) {
  Args a(env, cb, 2, "readBandwidth");
  const int64_t bytes = a.integer(0, "bytes", 1, int64_t{1} << 40);
  const int threads = static_cast<int>(a.integer(1, "threads", 1, 1024));
  return number(env, read_bandwidth(bytes, threads));
}

// Weight memory on huge pages (memory.h), so that loading a multi-GB model does not spend seconds
// in 4 KiB page faults.
void free_weights(napi_env env, void* data, void* hint) {
  const auto bytes = static_cast<int64_t>(reinterpret_cast<uintptr_t>(hint));
  free_huge(data);
  int64_t ignored;
  napi_adjust_external_memory(env, -bytes, &ignored);
}

// allocWeights(bytes) → ArrayBuffer (zero-filled lazily by the kernel, freed with its last reference)
napi_value alloc_weights_js(napi_env env, napi_callback_info cb) {
  Args a(env, cb, 1, "allocWeights");
  const int64_t bytes = a.integer(0, "bytes", 1, MAX_DIM);
  const size_t rounded = huge_rounded(static_cast<size_t>(bytes));
  void* p = alloc_huge(static_cast<size_t>(bytes));
  if (!p) a.fail(JsError::Range, "cannot allocate " + std::to_string(bytes) + " bytes for weights (out of memory)");
  napi_value buffer;
  if (napi_create_external_arraybuffer(env, p, static_cast<size_t>(bytes), free_weights,
                                       reinterpret_cast<void*>(static_cast<uintptr_t>(rounded)), &buffer) != napi_ok) {
    free_huge(p);
    a.fail(JsError::Range, "cannot wrap " + std::to_string(bytes) + " bytes of weights in an ArrayBuffer");
  }
  int64_t ignored;
  napi_adjust_external_memory(env, static_cast<int64_t>(rounded), &ignored);
  return buffer;
}

napi_value init(napi_env env, napi_value exports) {
  napi_value version;
  napi_create_int32(env, API_VERSION, &version);
  const napi_property_descriptor props[] = {
      {"version", nullptr, nullptr, nullptr, nullptr, version, napi_enumerable, nullptr},
      {"info", nullptr, guarded<info>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"setThreads", nullptr, guarded<set_threads>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"setIsa", nullptr, guarded<set_isa>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"matmul", nullptr, guarded<matmul_js>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"embed", nullptr, guarded<embed_js>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"toF32", nullptr, guarded<to_f32_js>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"rmsNorm", nullptr, guarded<rms_norm_js>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"rope", nullptr, guarded<rope_js>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"siluMul", nullptr, guarded<silu_mul_js>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"add", nullptr, guarded<add_js>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"kvWrite", nullptr, guarded<kv_write_js>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"attention", nullptr, guarded<attention_js>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"quantize", nullptr, guarded<quantize_js>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"readBandwidth", nullptr, guarded<read_bandwidth_js>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"allocWeights", nullptr, guarded<alloc_weights_js>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

}  // namespace
}  // namespace xts

NAPI_MODULE_INIT() { return xts::init(env, exports); }
