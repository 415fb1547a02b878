// CUDA elementwise kernels: launchers with the same arguments and semantics as the CPU
// twins in kernels/cpu/elementwise.h (same layout, op codes and formulas, see
// kernels/cpu/elementwise_defs.h), plus the device index; work is queued on
// vq::cuda::stream(device) and never synchronizes. Pointers are device pointers.
// Plain C++ header (no CUDA types): safe to include from .cpp files built without nvcc.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "kernels/cpu/elementwise_defs.h"

namespace vq::cuda {

using cpu::BinaryOp;
using cpu::CmpOp;
using cpu::EwLayout;
using cpu::EwParams;
using cpu::LogicOp;
using cpu::UnaryOp;

// out = op(x); dtypes as cpu::unary_forward. Throws DTypeError / CudaError.
void unary_forward(void* out, const void* x, const EwLayout& l, DType dtype, UnaryOp op,
                   const EwParams& p, int device);
// out = op(a, b); dtypes as cpu::binary_forward.
void binary_forward(void* out, const void* a, const void* b, const EwLayout& l, DType dtype,
                    BinaryOp op, const EwParams& p, int device);
// out = lerp(a, b, w), f32.
void lerp_forward(float* out, const float* a, const float* b, const float* w, const EwLayout& l,
                  int device);
// out (u8 0/1) = a op b; f32, f64, i64, i32, u8, boolean.
void compare_forward(uint8_t* out, const void* a, const void* b, const EwLayout& l, DType dtype,
                     CmpOp op, int device);
// out (u8 0/1) = a op s (float compare for f32, double for the other dtypes).
void compare_scalar_forward(uint8_t* out, const void* a, double s, const EwLayout& l,
                            DType dtype, CmpOp op, int device);
void logical_forward(uint8_t* out, const void* a, const void* b, const EwLayout& l, DType dtype,
                     LogicOp op, int device);
void logical_not_forward(uint8_t* out, const void* x, const EwLayout& l, DType dtype,
                         int device);
// out = cond ? a : b on elements of elem_size bytes (1, 2, 4 or 8).
void where_forward(void* out, const uint8_t* cond, const void* a, const void* b,
                   const EwLayout& l, size_t elem_size, int device);

}  // namespace vq::cuda
