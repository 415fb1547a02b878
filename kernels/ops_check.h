// Validation helpers shared by the ops_*.cpp files: each throws a vq::Error subclass
// whose message names the op and every shape, dtype and device involved.
#pragma once
#include <initializer_list>

#include "core/tensor.h"

namespace vq::ops::detail {

// All tensors defined and on one device.
void check_args(const char* op, std::initializer_list<const Tensor*> ts);
// f32 input (the compute type); names the argument.
void check_f32(const char* op, const char* what, const Tensor& t);
// i64 index tensor.
void check_index(const char* op, const char* what, const Tensor& t);
// "op: x=f32[2, 3] cuda:0, y=..." style description for messages.
std::string describe(std::initializer_list<std::pair<const char*, const Tensor*>> ts);

}  // namespace vq::ops::detail
