// Broadcast layout construction (see elementwise_layout.h).
#include "kernels/cpu/elementwise_layout.h"

#include "core/error.h"

namespace vq::cpu {

EwLayout make_layout(const char* op, const std::vector<EwOperand>& operands) {
  const int nops = static_cast<int>(operands.size());
  check(nops >= 1 && nops <= kEwMaxOperands, op, ": elementwise op with ", nops, " operands");
  const Shape& out = *operands[0].shape;
  const size_t n = out.size();
  // Expanded strides: align each input to the right of the output shape.
  std::vector<std::vector<int64_t>> st(nops, std::vector<int64_t>(n, 0));
  for (int k = 0; k < nops; ++k) {
    const Shape& s = *operands[k].shape;
    const Strides& t = *operands[k].strides;
    check(s.size() <= n && t.size() == s.size(), op, ": operand ", k, " of shape ",
          shape_str(s), " does not broadcast to ", shape_str(out));
    const size_t lead = n - s.size();
    for (size_t d = 0; d < s.size(); ++d) {
      check(s[d] == out[lead + d] || s[d] == 1, op, ": operand ", k, " of shape ",
            shape_str(s), " does not broadcast to ", shape_str(out));
      st[k][lead + d] = (s[d] == 1) ? 0 : t[d];
    }
  }
  EwLayout l;
  l.noperands = nops;
  l.numel = shape_numel(out);
  if (l.numel == 0) {
    l.ndim = 1;
    l.shape[0] = 0;
    return l;
  }
  // Drop size-1 dims, then merge dim d into the kept dim before it when every operand
  // steps through both as one dense run: stride[prev] == stride[d] * shape[d].
  std::vector<int64_t> shape;
  std::vector<std::vector<int64_t>> cs(nops);
  for (size_t d = 0; d < n; ++d) {
    if (out[d] == 1) continue;
    if (!shape.empty()) {
      bool merge = true;
      for (int k = 0; k < nops && merge; ++k) merge = cs[k].back() == st[k][d] * out[d];
      if (merge) {
        shape.back() *= out[d];
        for (int k = 0; k < nops; ++k) cs[k].back() = st[k][d];
        continue;
      }
    }
    shape.push_back(out[d]);
    for (int k = 0; k < nops; ++k) cs[k].push_back(st[k][d]);
  }
  if (shape.empty()) {  // every dim is 1: a single element
    shape.push_back(1);
    for (int k = 0; k < nops; ++k) cs[k].push_back(0);
  }
  VQ_CHECK(ShapeError, shape.size() <= static_cast<size_t>(kEwMaxDims), op, ": output ",
                    shape_str(out), " has more than ", kEwMaxDims,
                    " non-mergeable dims; make the inputs contiguous first");
  l.ndim = static_cast<int>(shape.size());
  for (int d = 0; d < l.ndim; ++d) {
    l.shape[d] = shape[d];
    for (int k = 0; k < nops; ++k) l.strides[k][d] = cs[k][d];
  }
  return l;
}

}  // namespace vq::cpu
