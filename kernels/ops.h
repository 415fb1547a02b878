// Tensor-level numeric operations (no autograd). Each op validates its inputs
// (same device, dtypes, shapes; errors name the op and every shape), allocates its
// output on the inputs' device and dispatches to kernels/cpu or kernels/cuda.
// Unless stated otherwise: float ops take f32 and return f32; inputs may be
// non-contiguous (ops call contiguous() or use strides); outputs are contiguous.
#pragma once
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace vq::ops {

// ---------------- elementwise, broadcasting (numpy rules) ----------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double s);
Tensor sub(const Tensor& a, double s);  // a - s
Tensor rsub(const Tensor& a, double s);  // s - a
Tensor mul(const Tensor& a, double s);
Tensor div(const Tensor& a, double s);
Tensor pow(const Tensor& a, double exponent);

Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor gelu(const Tensor& x, bool tanh_approx = false);
// grad * d gelu(x) / dx of the erf form (the backward of gelu); broadcasts, f32.
Tensor gelu_backward(const Tensor& grad, const Tensor& x);
Tensor silu(const Tensor& x);
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);
Tensor round(const Tensor& x);  // half to even, like torch.round
Tensor floor(const Tensor& x);
Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi);
// lerp(a, b, w) = a + w * (b - a)
Tensor lerp(const Tensor& a, const Tensor& b, double w);
Tensor lerp(const Tensor& a, const Tensor& b, const Tensor& w);
// cond: bool/u8; a, b: f32 (or both the same dtype). Broadcasts all three.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// Comparisons: broadcast, any numeric dtype (same for both), return DType::boolean.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, double s);
Tensor ne(const Tensor& a, double s);
Tensor lt(const Tensor& a, double s);
Tensor le(const Tensor& a, double s);
Tensor gt(const Tensor& a, double s);
Tensor ge(const Tensor& a, double s);
Tensor logical_not(const Tensor& x);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);

// In-place (bump the version counter). dst must be contiguous f32; src broadcasts.
void add_(Tensor& dst, const Tensor& src, double alpha = 1.0);  // dst += alpha * src
void mul_(Tensor& dst, double s);
void mul_(Tensor& dst, const Tensor& src);
void lerp_(Tensor& dst, const Tensor& src, double w);  // dst += w * (src - dst)
void clamp_(Tensor& dst, std::optional<double> lo, std::optional<double> hi);

// ---------------- reductions ----------------
// dims empty = all dims. keepdim keeps reduced dims as size 1.
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// unbiased: divide by (n - 1) instead of n.
Tensor var(const Tensor& x, const std::vector<int64_t>& dims = {}, bool unbiased = true,
           bool keepdim = false);
// p-norm (p = 2 default, p = 1 supported) over dims.
Tensor norm(const Tensor& x, const std::vector<int64_t>& dims = {}, double p = 2.0,
            bool keepdim = false);
// Values and i64 indices of the max/min along dim (first occurrence on ties).
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim = false);
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor amax(const Tensor& x);  // scalar max over all
Tensor amin(const Tensor& x);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor logsumexp(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);
// Sum of a bool/u8/i64 tensor as i64 scalar; any() / all() of a bool tensor.
Tensor count_nonzero(const Tensor& x);
bool any(const Tensor& x);
bool all(const Tensor& x);

// ---------------- linear algebra ----------------
// a: [M, K] or [B, M, K]; b: [K, N] or [B, K, N] (batch dims broadcast); f32.
Tensor matmul(const Tensor& a, const Tensor& b);
// C = alpha * op(A) op(B) + beta * C for 2-D f32 tensors; C is written in place
// (contiguous), op = transpose when the flag is set. BLAS on CPU, cuBLAS on CUDA.
void gemm(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c,
          float alpha = 1.f, float beta = 0.f);
// Batched: a [B, M, K], b [B, K, N] -> [B, M, N] (with optional transposes).
Tensor bmm(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

// ---------------- indexing ----------------
// out[i][j] = x[i][index[i][j]] along dim (torch.gather); index i64.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
// Returns a copy of base with src scattered-added along dim at index (torch.scatter_add).
// Deterministic (fixed order) on every device.
Tensor scatter_add(const Tensor& base, int64_t dim, const Tensor& index, const Tensor& src);
// out = x; out.index_select(dim, index) += alpha * src, deterministic.
Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src,
                 double alpha = 1.0);
// In-place form of index_add on a contiguous f32 dst.
void index_add_(Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src,
                double alpha = 1.0);
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);
// index: i64 any shape -> [..., num_classes] of dtype (default i64, like torch).
Tensor one_hot(const Tensor& index, int64_t num_classes, DType dtype = DType::i64);
// index: 1-D i64 >= 0. Returns i64 counts, or f32 sums of weights when given.
Tensor bincount(const Tensor& index, int64_t minlength = 0,
                const std::optional<Tensor>& weights = std::nullopt);
Tensor cumsum(const Tensor& x, int64_t dim);  // f32 or i64
// Largest (or smallest) k along dim; values and i64 indices; sorted descending when largest.
std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true);
// Stable sort along dim; returns values and i64 indices.
std::pair<Tensor, Tensor> sort(const Tensor& x, int64_t dim = -1, bool descending = false);
struct UniqueResult { Tensor values, inverse, counts; };
// Sorted unique values of a flattened i64/f32 tensor, inverse indices (shape of x), counts.
UniqueResult unique(const Tensor& x);
Tensor randperm(int64_t n, Generator& gen, Device device = cpu_device());  // i64
// probs: [K] or [R, K] non-negative weights -> i64 [num_samples] or [R, num_samples].
Tensor multinomial(const Tensor& probs, int64_t num_samples, bool replacement, Generator& gen);

// ---------------- shape ops ----------------
Tensor cat(const std::vector<Tensor>& xs, int64_t dim);
Tensor stack(const std::vector<Tensor>& xs, int64_t dim);
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim);  // views
std::vector<Tensor> split_sizes(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim);
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim);
// pads: pairs (before, after) starting from the LAST dim, like torch.nn.functional.pad.
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, double value = 0.0);

}  // namespace vq::ops
