// Elementwise kernels, shared definitions: op codes, scalar parameters, the broadcast
// layout (shape + per-operand element strides, stride 0 = broadcast) and the scalar
// formula of every op. The formulas are the CPU reference; the CUDA kernels
// (kernels/cuda/elementwise_*.cu) include this header and evaluate the very same
// expressions, so both devices agree up to the accuracy of their libm.
// Plain C++ (host + device when compiled by nvcc); no Tensor.
#pragma once
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define VQ_EW_HD __host__ __device__ __forceinline__
#else
#define VQ_EW_HD inline
#endif

namespace vq::cpu {

// ---- op codes ----
// Unary ops out = f(x), same dtype in and out. Scalar parameters in EwParams (a, b).
enum class UnaryOp : uint8_t {
  neg, abs, sign, exp, log, sqrt, rsqrt, tanh, sigmoid, relu,
  gelu,       // x/2 (1 + erf(x/sqrt2))
  gelu_tanh,  // x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  silu,
  softplus,   // a = beta, b = threshold
  round,      // half to even
  floor,
  clamp,      // a = lo, b = hi (use -inf / +inf for a missing bound); NaN propagates
  add_scalar, // x + a
  rsub_scalar,// a - x
  mul_scalar, // x * a
  div_scalar, // x / a
  pow_scalar, // pow(x, a) (general exponent)
  square,     // x * x       (pow 2)
  cube,       // x * x * x   (pow 3)
  reciprocal, // 1 / x       (pow -1)
  inv_square, // 1 / (x * x) (pow -2)
};
// Binary ops out = f(a, b), same dtype in and out.
enum class BinaryOp : uint8_t {
  add, sub, mul, div, pow, maximum, minimum,
  add_scaled,  // a + p.a * b   (add_ with alpha)
  lerp,        // lerp(a, b, w = p.a)
  gelu_backward,  // a * gelu'(b), erf form: a = incoming gradient, b = gelu's input
};
// Comparisons: out (u8 0/1) = a op b.
enum class CmpOp : uint8_t { eq, ne, lt, le, gt, ge };
// Logical ops on truthiness (x != 0): out u8 0/1.
enum class LogicOp : uint8_t { logical_and, logical_or };

// Scalar parameters of an op (meaning per op code above). Cast to the element type
// before the loop.
struct EwParams {
  double a = 0.0;
  double b = 0.0;
};

// ---- broadcast layout ----
constexpr int kEwMaxDims = 12;
constexpr int kEwMaxOperands = 4;  // output + up to 3 inputs

// Iteration space of an elementwise op after broadcasting and coalescing: `ndim`
// dims (>= 1) of extents `shape`, and for each operand (0 = output, 1.. = inputs)
// its element strides (0 on broadcast dims). The output may be strided too (in-place
// ops on views), but never has a stride-0 dim of size > 1.
struct EwLayout {
  int ndim = 1;
  int noperands = 0;
  int64_t numel = 0;
  int64_t shape[kEwMaxDims] = {};
  int64_t strides[kEwMaxOperands][kEwMaxDims] = {};
  // True when every operand is dense row-major over the whole space (ndim == 1 and
  // unit strides): the flat fast path.
  bool contiguous() const {
    if (ndim != 1) return false;
    for (int k = 0; k < noperands; ++k)
      if (strides[k][0] != 1) return false;
    return true;
  }
};

// ---- scalar formulas (PyTorch semantics) ----
namespace ew {

template <typename T>
VQ_EW_HD T neg(T x) { return -x; }
template <typename T>
VQ_EW_HD T abs(T x) { return x < T(0) ? -x : x; }
VQ_EW_HD float abs(float x) { return std::fabs(x); }  // abs(-0) = +0
// sign(0) = 0, sign(NaN) = 0 (like torch.sign).
VQ_EW_HD float sign(float x) { return static_cast<float>((0.f < x) - (x < 0.f)); }
VQ_EW_HD float exp(float x) { return std::exp(x); }
VQ_EW_HD float log(float x) { return std::log(x); }
VQ_EW_HD float sqrt(float x) { return std::sqrt(x); }
// 1 / sqrt(x) with two correctly rounded operations (not the approximate rsqrt).
VQ_EW_HD float rsqrt(float x) { return 1.f / std::sqrt(x); }
VQ_EW_HD float tanh(float x) { return std::tanh(x); }
VQ_EW_HD float sigmoid(float x) { return 1.f / (1.f + std::exp(-x)); }
// relu(0) = 0, relu(-0) = -0, relu(NaN) = NaN (torch clamp_min(0)).
VQ_EW_HD float relu(float x) { return x < 0.f ? 0.f : x; }
VQ_EW_HD float gelu(float x) {
  constexpr float kInvSqrt2 = 0.70710678118654752440f;
  return x * 0.5f * (1.f + std::erf(x * kInvSqrt2));
}
// g * d gelu(x) / dx = g (Phi(x) + x phi(x)), Phi(x) = erfc(-x/sqrt2) / 2 (no cancellation
// for x < 0), phi(x) = exp(-x^2/2) / sqrt(2 pi); NaN at +-inf (inf * 0, like torch).
VQ_EW_HD float gelu_backward(float g, float x) {
  constexpr float kInvSqrt2 = 0.70710678118654752440f;
  constexpr float kInvSqrt2Pi = 0.39894228040143267794f;
  const float cdf = 0.5f * std::erfc(-x * kInvSqrt2);
  const float pdf = std::exp(-0.5f * x * x) * kInvSqrt2Pi;
  return g * (cdf + x * pdf);
}
VQ_EW_HD float gelu_tanh(float x) {
  constexpr float kBeta = 0.79788456080286535588f;  // sqrt(2 / pi)
  constexpr float kKappa = 0.044715f;
  float inner = kBeta * (x + kKappa * x * x * x);
  return 0.5f * x * (1.f + std::tanh(inner));
}
VQ_EW_HD float silu(float x) { return x / (1.f + std::exp(-x)); }
// x when x * beta > threshold (linear regime), else log(1 + exp(beta x)) / beta.
VQ_EW_HD float softplus(float x, float beta, float threshold) {
  float bx = x * beta;
  return bx > threshold ? x : std::log1p(std::exp(bx)) / beta;
}
// Round half to even under the default rounding mode (torch.round).
VQ_EW_HD float round(float x) { return std::nearbyint(x); }
VQ_EW_HD float floor(float x) { return std::floor(x); }
// NaN propagates; with lo > hi the result is hi (torch.clamp).
VQ_EW_HD float clamp(float x, float lo, float hi) {
  float y = x < lo ? lo : x;
  y = y > hi ? hi : y;
  return x != x ? x : y;
}
VQ_EW_HD float pow(float x, float e) { return std::pow(x, e); }
// NaN-propagating max / min; ties return a (torch.maximum / torch.minimum).
template <typename T>
VQ_EW_HD T maximum(T a, T b) {
  if (a != a) return a;
  if (b != b) return b;
  return a < b ? b : a;
}
template <typename T>
VQ_EW_HD T minimum(T a, T b) {
  if (a != a) return a;
  if (b != b) return b;
  return b < a ? b : a;
}
// torch.lerp: a + w (b - a) for |w| < 0.5, else b - (b - a)(1 - w) (exact at w = 1).
VQ_EW_HD float lerp(float a, float b, float w) {
  float d = b - a;
  return (w < 0.5f && w > -0.5f) ? a + w * d : b - d * (1.f - w);
}
}  // namespace ew

// ---- op functors: one per op code, shared by the CPU loops and the CUDA kernels ----
// in_type / out_type are the element types read and written (T, or uint8_t for bool
// results); a, b are the op's scalar parameters already cast to T.
template <UnaryOp op, typename T>
struct UnaryFn {
  using in_type = T;
  using out_type = T;
  T a{}, b{};
  VQ_EW_HD T operator()(T x) const {
    if constexpr (op == UnaryOp::neg) return -x;
    else if constexpr (op == UnaryOp::abs) return ew::abs(x);
    else if constexpr (op == UnaryOp::sign) return ew::sign(x);
    else if constexpr (op == UnaryOp::exp) return ew::exp(x);
    else if constexpr (op == UnaryOp::log) return ew::log(x);
    else if constexpr (op == UnaryOp::sqrt) return ew::sqrt(x);
    else if constexpr (op == UnaryOp::rsqrt) return ew::rsqrt(x);
    else if constexpr (op == UnaryOp::tanh) return ew::tanh(x);
    else if constexpr (op == UnaryOp::sigmoid) return ew::sigmoid(x);
    else if constexpr (op == UnaryOp::relu) return ew::relu(x);
    else if constexpr (op == UnaryOp::gelu) return ew::gelu(x);
    else if constexpr (op == UnaryOp::gelu_tanh) return ew::gelu_tanh(x);
    else if constexpr (op == UnaryOp::silu) return ew::silu(x);
    else if constexpr (op == UnaryOp::softplus) return ew::softplus(x, a, b);
    else if constexpr (op == UnaryOp::round) return ew::round(x);
    else if constexpr (op == UnaryOp::floor) return ew::floor(x);
    else if constexpr (op == UnaryOp::clamp) return ew::clamp(x, a, b);
    else if constexpr (op == UnaryOp::add_scalar) return x + a;
    else if constexpr (op == UnaryOp::rsub_scalar) return a - x;
    else if constexpr (op == UnaryOp::mul_scalar) return x * a;
    else if constexpr (op == UnaryOp::div_scalar) return x / a;
    else if constexpr (op == UnaryOp::pow_scalar) return ew::pow(x, a);
    else if constexpr (op == UnaryOp::square) return x * x;
    else if constexpr (op == UnaryOp::cube) return x * x * x;
    else if constexpr (op == UnaryOp::reciprocal) return T(1) / x;
    else if constexpr (op == UnaryOp::inv_square) return T(1) / (x * x);
    else return x;
  }
};

template <BinaryOp op, typename T>
struct BinaryFn {
  using in_type = T;
  using out_type = T;
  T a{};
  VQ_EW_HD T operator()(T x, T y) const {
    if constexpr (op == BinaryOp::add) return x + y;
    else if constexpr (op == BinaryOp::sub) return x - y;
    else if constexpr (op == BinaryOp::mul) return x * y;
    else if constexpr (op == BinaryOp::div) return x / y;
    else if constexpr (op == BinaryOp::pow) return ew::pow(x, y);
    else if constexpr (op == BinaryOp::maximum) return ew::maximum(x, y);
    else if constexpr (op == BinaryOp::minimum) return ew::minimum(x, y);
    else if constexpr (op == BinaryOp::add_scaled) return x + a * y;
    else if constexpr (op == BinaryOp::gelu_backward) return ew::gelu_backward(x, y);
    else return ew::lerp(x, y, a);
  }
};

// lerp with a tensor weight: out = lerp(x, y, w).
struct LerpFn {
  using in_type = float;
  using out_type = float;
  VQ_EW_HD float operator()(float x, float y, float w) const { return ew::lerp(x, y, w); }
};

template <CmpOp op, typename T>
struct CmpFn {
  using in_type = T;
  using out_type = uint8_t;
  VQ_EW_HD uint8_t operator()(T x, T y) const {
    if constexpr (op == CmpOp::eq) return x == y;
    else if constexpr (op == CmpOp::ne) return x != y;
    else if constexpr (op == CmpOp::lt) return x < y;
    else if constexpr (op == CmpOp::le) return x <= y;
    else if constexpr (op == CmpOp::gt) return x > y;
    else return x >= y;
  }
};

// Comparison with a scalar s held in the compare type C (float for f32, double for
// integer tensors so a non-integral scalar compares like PyTorch's promotion).
template <CmpOp op, typename T, typename C>
struct CmpScalarFn {
  using in_type = T;
  using out_type = uint8_t;
  C s{};
  VQ_EW_HD uint8_t operator()(T x) const { return CmpFn<op, C>{}(static_cast<C>(x), s); }
};

template <LogicOp op, typename T>
struct LogicFn {
  using in_type = T;
  using out_type = uint8_t;
  VQ_EW_HD uint8_t operator()(T x, T y) const {
    if constexpr (op == LogicOp::logical_and) return (x != T(0)) && (y != T(0));
    else return (x != T(0)) || (y != T(0));
  }
};

template <typename T>
struct LogicalNotFn {
  using in_type = T;
  using out_type = uint8_t;
  VQ_EW_HD uint8_t operator()(T x) const { return x == T(0); }
};

// where(c, x, y) on the raw bits of an element of the same size as T.
template <typename T>
struct WhereFn {
  using in_type = T;
  using out_type = T;
  VQ_EW_HD T operator()(uint8_t c, T x, T y) const { return c ? x : y; }
};

}  // namespace vq::cpu
