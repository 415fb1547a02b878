// sum_to / unreduce / reduced_count (see grad_utils.h).
#include "autograd/grad_utils.h"

#include "kernels/ops.h"

namespace vq::autograd {

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  const Shape& gs = grad.shape();
  int64_t nd = static_cast<int64_t>(gs.size());
  int64_t lead = nd - static_cast<int64_t>(shape.size());
  VQ_CHECK(ShapeError, lead >= 0, "sum_to: cannot reduce gradient of shape ", shape_str(gs),
                    " to shape ", shape_str(shape));
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < nd; ++i) {
    if (i < lead) {
      dims.push_back(i);
      continue;
    }
    int64_t want = shape[i - lead];
    VQ_CHECK(ShapeError, want == gs[i] || want == 1, "sum_to: cannot reduce gradient of shape ",
                      shape_str(gs), " to shape ", shape_str(shape));
    if (want == 1 && gs[i] != 1) dims.push_back(i);
  }
  Tensor r = dims.empty() ? grad : ops::sum(grad, dims, /*keepdim=*/true);
  return r.reshape(shape);
}

Tensor unreduce(const Tensor& grad, const Shape& in_shape, const std::vector<int64_t>& dims,
                bool keepdim) {
  int64_t nd = static_cast<int64_t>(in_shape.size());
  if (!keepdim) {
    std::vector<bool> reduced(nd, dims.empty());
    for (int64_t d : dims) reduced[wrap_dim(d, nd, "unreduce")] = true;
    Shape ks = in_shape;
    for (int64_t i = 0; i < nd; ++i)
      if (reduced[i]) ks[i] = 1;
    return grad.reshape(ks).expand(in_shape);
  }
  return grad.expand(in_shape);
}

int64_t reduced_count(const Shape& shape, const std::vector<int64_t>& dims) {
  if (dims.empty()) return shape_numel(shape);
  int64_t nd = static_cast<int64_t>(shape.size());
  std::vector<bool> reduced(nd, false);
  int64_t n = 1;
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, nd, "reduction");
    if (!reduced[w]) n *= shape[w];
    reduced[w] = true;
  }
  return n;
}

}  // namespace vq::autograd
