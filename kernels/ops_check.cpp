// Validation helpers for the ops layer (see ops_check.h). Messages are only built
// when a check fails: these run on every op call.
#include "kernels/ops_check.h"

namespace vq::ops::detail {

void check_args(const char* op, std::initializer_list<const Tensor*> ts) {
  const Tensor* first = nullptr;
  for (const Tensor* t : ts) {
    if (!t->defined()) throw Error(str_cat(op, ": undefined tensor argument"));
    if (!first) first = t;
    if (t->device() != first->device())
      throw DeviceError(str_cat(op, ": tensors on different devices: ", first->str(), " and ", t->str()));
  }
}

void check_f32(const char* op, const char* what, const Tensor& t) {
  if (t.dtype() != DType::f32) throw DTypeError(str_cat(op, ": ", what, " must be f32, got ", t.str()));
}

void check_index(const char* op, const char* what, const Tensor& t) {
  if (t.dtype() != DType::i64) throw DTypeError(str_cat(op, ": ", what, " must be i64 indices, got ", t.str()));
}

std::string describe(std::initializer_list<std::pair<const char*, const Tensor*>> ts) {
  std::string s;
  for (const auto& kv : ts) {
    if (!s.empty()) s += ", ";
    s += std::string(kv.first) + "=" + kv.second->str();
  }
  return s;
}

}  // namespace vq::ops::detail
