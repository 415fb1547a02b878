// Validation helpers for the ops layer (see ops_check.h).
#include "kernels/ops_check.h"

namespace vq::ops::detail {

void check_args(const char* op, std::initializer_list<const Tensor*> ts) {
  const Tensor* first = nullptr;
  for (const Tensor* t : ts) {
    check(t->defined(), op, ": undefined tensor argument");
    if (!first) first = t;
    check<DeviceError>(t->device() == first->device(), op, ": tensors on different devices: ",
                       first->str(), " and ", t->str());
  }
}

void check_f32(const char* op, const char* what, const Tensor& t) {
  check<DTypeError>(t.dtype() == DType::f32, op, ": ", what, " must be f32, got ", t.str());
}

void check_index(const char* op, const char* what, const Tensor& t) {
  check<DTypeError>(t.dtype() == DType::i64, op, ": ", what, " must be i64 indices, got ", t.str());
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
