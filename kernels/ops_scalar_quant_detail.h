// Internal helpers shared by the ops_scalar_quant*.cpp files (argument checks, masks,
// scalars, the LFQ kernel parameters). Not part of the public API.
#pragma once
#include <cstdint>

#include "core/tensor.h"
#include "kernels/cpu/fsq.h"
#include "kernels/cpu/lfq_math.h"
#include "kernels/ops_check.h"
#include "kernels/ops_scalar_quant.h"

namespace vq::ops::sq_detail {


#ifndef VQ_WITH_CUDA
[[noreturn]] inline void no_cuda(const char* op) {
  throw DeviceError(str_cat(op, ": CUDA tensors need a build with VQ_WITH_CUDA"));
}
#endif

inline cpu::FsqTables fsq_tables(const FsqSpec& s, bool need_indices) {
  return cpu::fsq_make_tables(s.levels, s.preserve_symmetry, s.bound_hard_clamp, s.pre_div,
                              s.post_mul, need_indices);
}

inline cpu::LfqParams lfq_params(const char* op, const LfqSpec& s) {
  VQ_CHECK(ConfigError, s.codebook_dim >= 1 && s.codebook_dim <= cpu::kLfqMaxBits, op,
                     ": codebook_dim (log2 codebook_size) must be in [1, ", cpu::kLfqMaxBits,
                     "], got ", s.codebook_dim);
  VQ_CHECK(ConfigError, s.codebook_scale > 0.0, op, ": codebook_scale must be > 0, got ",
                     s.codebook_scale);
  VQ_CHECK(ConfigError, s.soft_clamp_input_value >= 0.0, op,
                     ": soft_clamp_input_value must be > 0 (or 0 for none), got ",
                     s.soft_clamp_input_value);
  cpu::LfqParams p;
  p.c = static_cast<int32_t>(s.codebook_dim);
  p.scale = static_cast<float>(s.codebook_scale);
  p.spherical = s.spherical;
  p.soft_clamp = static_cast<float>(s.soft_clamp_input_value);
  p.exact_tanh = s.exact_tanh;
  return p;
}

// Rows of an [..., W] tensor, checking the last dim.
inline int64_t rows_of(const char* op, const char* what, const Tensor& t, int64_t W, const char* expect) {
  VQ_CHECK(ShapeError, t.dim() >= 1 && t.size(-1) == W, op, ": ", what, " last dim must be ", expect,
                    " = ", W, ", got ", what, "=", t.str());
  return t.numel() / W;
}

// u8 row mask with `rows` entries (accepts bool or u8), contiguous; undefined stays so.
inline Tensor row_mask_u8(const char* op, const Tensor& mask, int64_t rows, Device dev) {
  if (!mask.defined()) return mask;
  VQ_CHECK(DTypeError, mask.dtype() == DType::boolean || mask.dtype() == DType::u8, op,
                    ": row_mask must be bool or u8, got ", mask.str());
  VQ_CHECK(ShapeError, mask.numel() == rows, op, ": row_mask must have one entry per row (", rows,
                    "), got row_mask=", mask.str());
  VQ_CHECK(DeviceError, mask.device() == dev, op, ": row_mask on ", mask.device().str(),
                     ", values on ", dev.str());
  return mask.contiguous();
}

inline const uint8_t* mask_ptr(const Tensor& m) {
  if (!m.defined()) return nullptr;
  return static_cast<const uint8_t*>(m.raw_data());
}

inline int64_t count_rows_cpu(const Tensor& m, int64_t rows) {
  if (!m.defined()) return rows;
  const uint8_t* p = mask_ptr(m);
  int64_t n = 0;
  for (int64_t r = 0; r < rows; ++r) n += p[r] != 0;
  return n;
}

// Scalar f32 gradient on `dev` (or undefined).
inline void check_scalar(const char* op, const char* what, const Tensor& g, Device dev) {
  if (!g.defined()) return;
  VQ_CHECK(ShapeError, g.numel() == 1, op, ": ", what, " must be a scalar, got ", g.str());
  detail::check_f32(op, what, g);
  VQ_CHECK(DeviceError, g.device() == dev, op, ": ", what, " on ", g.device().str(), ", values on ",
                     dev.str());
}

inline float cpu_scalar(const Tensor& g) { return g.defined() ? g.contiguous().data<float>()[0] : 0.f; }


}  // namespace vq::ops::sq_detail
