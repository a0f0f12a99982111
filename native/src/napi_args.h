// Argument checking for the N-API functions: every binding reads its arguments through Args, which
// throws a JsError (a one-line TypeError or RangeError naming the function and argument) instead of
// letting a wrong type or a short array reach a kernel. TypedArrays are read in place (no copy).
#pragma once
#include <node_api.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace xts {

struct JsError : std::runtime_error {
  enum Kind { Type, Range } kind;
  JsError(Kind k, const std::string& msg) : std::runtime_error(msg), kind(k) {}
};

struct Bytes {  // a TypedArray's memory
  void* data;
  int64_t bytes;
  napi_typedarray_type type;
};

class Args {
 public:
  static constexpr size_t MAX = 16;

  Args(napi_env env, napi_callback_info info, size_t expected, const char* fn) : env_(env), fn_(fn) {
    size_t argc = MAX;
    if (napi_get_cb_info(env, info, &argc, argv_, nullptr, nullptr) != napi_ok) fail(JsError::Type, "cannot read the arguments");
    if (argc < expected) fail(JsError::Type, "expects " + std::to_string(expected) + " arguments, got " + std::to_string(argc));
  }

  // Any TypedArray, as raw bytes.
  Bytes bytes(size_t i, const char* name) const {
    bool is = false;
    napi_is_typedarray(env_, argv_[i], &is);
    if (!is) fail(JsError::Type, std::string(name) + " must be a TypedArray");
    Bytes b{};
    size_t length = 0;
    napi_get_typedarray_info(env_, argv_[i], &b.type, &length, &b.data, nullptr, nullptr);
    b.bytes = static_cast<int64_t>(length) * element_size(b.type);
    return b;
  }

  // A typed array of a given kind with at least `min` elements.
  template <class T>
  T* array(size_t i, const char* name, napi_typedarray_type want, int64_t min) const {
    const Bytes b = bytes(i, name);
    if (b.type != want) fail(JsError::Type, std::string(name) + " must be a " + type_name(want));
    const int64_t n = b.bytes / static_cast<int64_t>(sizeof(T));
    if (n < min) fail(JsError::Range, std::string(name) + " holds " + std::to_string(n) + " values, needs " + std::to_string(min));
    return static_cast<T*>(b.data);
  }
  float* f32(size_t i, const char* name, int64_t min) const { return array<float>(i, name, napi_float32_array, min); }
  int32_t* i32(size_t i, const char* name, int64_t min) const { return array<int32_t>(i, name, napi_int32_array, min); }

  double number(size_t i, const char* name) const {
    double v = 0;
    if (napi_get_value_double(env_, argv_[i], &v) != napi_ok) fail(JsError::Type, std::string(name) + " must be a number");
    return v;
  }

  int64_t integer(size_t i, const char* name, int64_t min, int64_t max) const {
    const double v = number(i, name);
    if (!(v >= static_cast<double>(min) && v <= static_cast<double>(max)) || v != static_cast<double>(static_cast<int64_t>(v))) {
      fail(JsError::Range, std::string(name) + " must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " + format(v));
    }
    return static_cast<int64_t>(v);
  }

  std::string string(size_t i, const char* name) const {
    char buf[256];
    size_t len = 0;
    if (napi_get_value_string_utf8(env_, argv_[i], buf, sizeof buf, &len) != napi_ok) fail(JsError::Type, std::string(name) + " must be a string");
    return std::string(buf, len);
  }

  [[noreturn]] void fail(JsError::Kind kind, const std::string& msg) const { throw JsError(kind, std::string(fn_) + ": " + msg); }

 private:
  static int64_t element_size(napi_typedarray_type t) {
    switch (t) {
      case napi_int8_array: case napi_uint8_array: case napi_uint8_clamped_array: return 1;
      case napi_int16_array: case napi_uint16_array: return 2;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: return 4;
      default: return 8;
    }
  }
  static const char* type_name(napi_typedarray_type t) {
    switch (t) {
      case napi_float32_array: return "Float32Array";
      case napi_int32_array: return "Int32Array";
      default: return "TypedArray";
    }
  }
  static std::string format(double v) {
    std::string s = std::to_string(v);
    return s.find('.') != std::string::npos ? s.substr(0, s.find_last_not_of('0') + 1) : s;
  }

  napi_env env_;
  const char* fn_;
  napi_value argv_[MAX];
};

}  // namespace xts
