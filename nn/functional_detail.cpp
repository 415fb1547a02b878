// Validation helpers shared by the nn/functional_*.cpp files (see functional_detail.h).
#include "nn/functional_detail.h"

namespace vq::nn::detail {

std::string describe(std::initializer_list<NamedArg> args) {
  std::string s;
  for (const auto& a : args) {
    if (!s.empty()) s += ", ";
    s += a.first;
    s += "=";
    s += a.second->defined() ? a.second->value().str() : std::string("none");
  }
  return s;
}

void check_args(const char* op, std::initializer_list<NamedArg> args) {
  const Variable* first = args.begin()->second;
  check(first->defined(), op, ": undefined input ", args.begin()->first);
  for (const auto& a : args) {
    if (!a.second->defined()) continue;
    VQ_CHECK(DTypeError, a.second->dtype() == DType::f32, op, ": ", a.first, " must be f32, got ",
                      describe(args));
    VQ_CHECK(DeviceError, a.second->device() == first->device(), op,
                       ": arguments on different devices: ", describe(args));
  }
}

void no_cuda(const char* op) {
  throw DeviceError(str_cat(op, ": CUDA tensors in a build without CUDA"));
}

}  // namespace vq::nn::detail
