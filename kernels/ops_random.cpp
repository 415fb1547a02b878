// Tensor-level randperm and multinomial (declared in kernels/ops.h). Both draw from a
// vq::Generator's Philox counters (randperm reserves n counters, multinomial R * S with
// replacement or R * K without), so the same seed gives the same result on CPU and CUDA.
#include "kernels/cpu/sort.h"
#include "kernels/ops.h"
#include "kernels/ops_check.h"
#include "kernels/ops_index_util.h"
#ifdef VQ_WITH_CUDA
#include "kernels/cuda/sort.h"
#endif

namespace vq::ops {

Tensor randperm(int64_t n, Generator& gen, Device device) {
  VQ_CHECK(ShapeError, n >= 0, "randperm: n must be non-negative, got ", n);
  Tensor out = Tensor::empty({n}, DType::i64, device);
  const uint64_t base = gen.reserve(static_cast<uint64_t>(n));
  if (n == 0) return out;
  if (device.is_cpu()) {
    cpu::randperm(out.data<int64_t>(), n, gen.seed(), base);
  } else {
#ifdef VQ_WITH_CUDA
    cuda::randperm(out.data<int64_t>(), n, gen.seed(), base, device.index);
#else
    detail::no_cuda("randperm");
#endif
  }
  return out;
}

Tensor multinomial(const Tensor& probs, int64_t num_samples, bool replacement, Generator& gen) {
  const char* op = "multinomial";
  detail::check_args(op, {&probs});
  detail::check_f32(op, "probs", probs);
  VQ_CHECK(ShapeError, probs.dim() == 1 || probs.dim() == 2, op, ": probs must be [K] or [R, K], got ",
                    probs.str());
  const int64_t K = probs.size(-1);
  const int64_t R = probs.dim() == 2 ? probs.size(0) : 1;
  VQ_CHECK(ShapeError, K > 0, op, ": probs has no categories (probs=", shape_str(probs.shape()), ")");
  VQ_CHECK(ShapeError, num_samples > 0, op, ": num_samples must be positive, got ", num_samples);
  VQ_CHECK(ShapeError, replacement || num_samples <= K, op, ": cannot draw ", num_samples,
                    " samples without replacement from ", K,
                    " categories (probs=", shape_str(probs.shape()), ")");
  Tensor p = probs.contiguous();
  int64_t bad = 0, zero_rows = 0, min_nonzero = 0;
  if (p.device().is_cpu()) {
    cpu::ProbStats st = cpu::prob_stats(p.data<float>(), R, K);
    bad = st.bad;
    zero_rows = st.zero_rows;
    min_nonzero = st.min_nonzero;
  } else {
#ifdef VQ_WITH_CUDA
    cuda::prob_stats(&bad, &zero_rows, &min_nonzero, p.data<float>(), R, K, p.device().index);
#else
    detail::no_cuda(op);
#endif
  }
  VQ_CHECK(ShapeError, bad == 0, op, ": probs must be finite and non-negative, found ", bad,
                    " invalid entries (probs=", shape_str(probs.shape()), ")");
  VQ_CHECK(ShapeError, zero_rows == 0, op, ": every row of probs must have a positive sum, ",
                    zero_rows, " rows do not (probs=", shape_str(probs.shape()), ")");
  VQ_CHECK(ShapeError, replacement || min_nonzero >= num_samples, op, ": cannot draw ", num_samples,
                    " samples without replacement: a row has only ", min_nonzero,
                    " categories with non-zero probability (probs=", shape_str(probs.shape()), ")");
  Shape oshape = probs.dim() == 2 ? Shape{R, num_samples} : Shape{num_samples};
  Tensor out = Tensor::empty(oshape, DType::i64, probs.device());
  const uint64_t base = gen.reserve(static_cast<uint64_t>(replacement ? R * num_samples : R * K));
  if (R == 0) return out;
  if (p.device().is_cpu()) {
    cpu::multinomial(out.data<int64_t>(), p.data<float>(), R, K, num_samples, replacement,
                     gen.seed(), base);
  } else {
#ifdef VQ_WITH_CUDA
    cuda::multinomial(out.data<int64_t>(), p.data<float>(), R, K, num_samples, replacement,
                      gen.seed(), base, p.device().index);
#endif
  }
  return out;
}

}  // namespace vq::ops
