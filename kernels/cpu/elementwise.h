// CPU elementwise kernels over a broadcast layout (kernels/cpu/elementwise_layout.h):
// pointers are already offset to each tensor's first element, strides and shape come
// from the layout (operand 0 = out, then the inputs in argument order). The op
// formulas live in kernels/cpu/elementwise_defs.h and are shared with CUDA.
// The ops layer validates dtypes; an unsupported dtype here throws DTypeError.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "kernels/cpu/elementwise_defs.h"

namespace vq::cpu {

// out = op(x). dtype f32 for every op; i64 for neg, abs, add_scalar, rsub_scalar,
// mul_scalar (parameters are cast to the element type).
void unary_forward(void* out, const void* x, const EwLayout& l, DType dtype, UnaryOp op,
                   const EwParams& p = {});
// out = op(a, b). dtype f32 for every op; i64 for add, sub, mul, maximum, minimum,
// add_scaled.
void binary_forward(void* out, const void* a, const void* b, const EwLayout& l, DType dtype,
                    BinaryOp op, const EwParams& p = {});
// out = lerp(a, b, w), all f32 (w a tensor).
void lerp_forward(float* out, const float* a, const float* b, const float* w, const EwLayout& l);
// out (u8 0/1) = a op b; dtype f32, f64, i64, i32, u8 or boolean (same for a and b).
void compare_forward(uint8_t* out, const void* a, const void* b, const EwLayout& l, DType dtype,
                     CmpOp op);
// out (u8 0/1) = a op s; compared in float for f32, in double for other dtypes.
void compare_scalar_forward(uint8_t* out, const void* a, double s, const EwLayout& l,
                            DType dtype, CmpOp op);
// out (u8 0/1) = (a != 0) op (b != 0); dtypes as compare_forward.
void logical_forward(uint8_t* out, const void* a, const void* b, const EwLayout& l, DType dtype,
                     LogicOp op);
// out (u8 0/1) = (x == 0).
void logical_not_forward(uint8_t* out, const void* x, const EwLayout& l, DType dtype);
// out = cond ? a : b, elements of elem_size bytes (1, 4 or 8); cond u8/bool.
void where_forward(void* out, const uint8_t* cond, const void* a, const void* b,
                   const EwLayout& l, size_t elem_size);

}  // namespace vq::cpu
