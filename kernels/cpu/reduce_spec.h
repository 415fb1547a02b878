// ReduceSpec: what an additive (or max-abs) reduction computes, shared by the CPU
// kernels (kernels/cpu/reduce.h) and their CUDA twins (kernels/cuda/reduce.h). A plain
// struct with no Tensor and no CUDA types.
//
// For each output element the kernel folds f(x) over the reduced elements and
// finalizes:  acc = combine_r f(x_r);  out = root_p(acc * scale)
//   kind        f(x)                       combine
//   sum         x                          +
//   abs_sum     |x|                        +
//   sq_sum      x * x                      +
//   pow_sum     |x|^p                      +
//   sq_dev_sum  (x - center[out])^2        +      (second pass of var)
//   abs_max     |x|                        max    (NaN propagates)
// and root_p(v) = v when root == 1, sqrt(v) when root == 2, v^(1/root) otherwise.
// Sums accumulate in double in a fixed order that depends only on the shape, so
// results are bit-identical run to run and independent of the thread count.
#pragma once

namespace vq {

enum class ReduceKind : int { sum, abs_sum, sq_sum, pow_sum, sq_dev_sum, abs_max };

struct ReduceSpec {
  ReduceKind kind = ReduceKind::sum;
  double p = 1.0;                 // exponent of pow_sum
  double scale = 1.0;             // multiplies the folded value (1/n for mean)
  double root = 1.0;              // out = (acc * scale)^(1/root)
  const float* center = nullptr;  // sq_dev_sum: one value per output element
};

}  // namespace vq
