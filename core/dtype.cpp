// Public f32 <-> bf16 / f16 conversions (round to nearest even); the bit-level work
// lives once in core/elem_convert.h, shared with the CUDA kernels.
#include "core/dtype.h"

#include "core/elem_convert.h"

namespace vq {

uint16_t f32_to_bf16(float f) { return detail::ec_f32_to_bf16(f); }
float bf16_to_f32(uint16_t h) { return detail::ec_bf16_to_f32(h); }
uint16_t f32_to_f16(float f) { return detail::ec_f32_to_f16(f); }
float f16_to_f32(uint16_t h) { return detail::ec_f16_to_f32(h); }

}  // namespace vq
