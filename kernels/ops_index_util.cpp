// Index range checks and the [O, K, I] split (see kernels/ops_index_util.h).
#include "kernels/ops_index_util.h"

#include "kernels/cpu/index.h"
#ifdef VQ_WITH_CUDA
#include "kernels/cuda/index.h"
#endif

namespace vq::ops::detail {

void no_cuda(const char* op) { throw DeviceError(str_cat(op, ": this build has no CUDA support")); }

Dims3 dims3(const Shape& s, int64_t dim) {
  Dims3 d{1, 1, 1};
  for (int64_t k = 0; k < static_cast<int64_t>(s.size()); ++k) {
    if (k < dim)
      d.outer *= s[k];
    else if (k == dim)
      d.mid = s[k];
    else
      d.inner *= s[k];
  }
  return d;
}

std::pair<int64_t, int64_t> index_minmax(const Tensor& index) {
  const int64_t n = index.numel();
  if (index.device().is_cpu()) {
    int64_t mn = 0, mx = 0;
    cpu::index_minmax(index.data<int64_t>(), n, &mn, &mx);
    return {mn, mx};
  }
#ifdef VQ_WITH_CUDA
  Tensor mm = Tensor::empty({2}, DType::i64, index.device());
  cuda::index_minmax(mm.data<int64_t>(), index.data<int64_t>(), n, index.device().index);
  std::vector<int64_t> h = mm.to_vector<int64_t>();
  return {h[0], h[1]};
#else
  no_cuda("index_minmax");
#endif
}

std::pair<int64_t, int64_t> check_index_bounds(const char* op, const Tensor& index, int64_t dim,
                                               int64_t size, const std::string& context) {
  if (index.numel() == 0) return {0, -1};
  auto [mn, mx] = index_minmax(index);
  const int64_t bad = mn < 0 ? mn : mx;
  VQ_CHECK(ShapeError, mn >= 0 && mx < size, op, ": index ", bad, " is out of bounds for dim ", dim,
                    " with size ", size, " (", context, ")");
  return {mn, mx};
}

}  // namespace vq::ops::detail
