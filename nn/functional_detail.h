// Internal helpers of the nn/functional_*.cpp files: argument validation with messages
// that name the function and every argument, and the no-CUDA error. Not part of the
// public API.
#pragma once
#include <initializer_list>
#include <string>
#include <utility>

#include "autograd/variable.h"

namespace vq::nn::detail {

using NamedArg = std::pair<const char*, const Variable*>;

// "x=f32[2, 3, 4, 4] cpu, weight=f32[8, 3, 3, 3] cpu, bias=none"
std::string describe(std::initializer_list<NamedArg> args);

// Every defined argument must be f32 (DTypeError) and on the first argument's device
// (DeviceError); the first argument must be defined (Error). Messages start with `op`
// and list all arguments.
void check_args(const char* op, std::initializer_list<NamedArg> args);

// Throws DeviceError: a CUDA tensor reached `op` in a build without CUDA.
[[noreturn]] void no_cuda(const char* op);

}  // namespace vq::nn::detail
