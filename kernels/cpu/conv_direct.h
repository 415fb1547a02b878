// Direct CPU convolution for small channel counts (stride 1, padding <= kernel - 1,
// e.g. 3x3 "same" convolutions and the 2x2 convolutions of the fused upsample + conv):
// no im2col and no GEMM library. The images of a chunk are laid out as zero-padded
// "flat planes" (row stride W + PW, image stride (H + PH) (W + PW)) in which every
// kernel tap is a constant shift of the flat index, so the forward, the input gradient
// (the same loop on dy with the flipped, transposed kernel) and the weight gradient are
// register-blocked loops over contiguous positions, vectorized with AVX-512, AVX2+FMA
// or plain C++ chosen at run time. kernels/cpu/conv.h's conv2d_forward / backward use
// this path whenever conv2d_direct_applies(); shapes as in conv.h (NCHW f32).
//
// Determinism: per ISA, results are bitwise reproducible and independent of the thread
// count (images are processed in fixed chunks; dW sums the chunks in order). The three
// ISAs agree to rounding, not bitwise.
#pragma once
#include <cstdint>

#include "kernels/cpu/conv.h"

namespace vq::cpu {

enum class ConvIsa { scalar = 0, avx2 = 1, avx512 = 2 };

// The instruction set the direct convolution uses: the best the CPU supports, capped
// by the environment variable VQ_CPU_SIMD ("base", "avx2"), or by conv_force_isa.
ConvIsa conv_isa();
// Whether this CPU can run `isa`.
bool conv_isa_supported(ConvIsa isa);
// isa lowered to the best level this CPU supports.
ConvIsa conv_isa_clamp(ConvIsa isa);
// Calls the variant of a kernel for conv_isa_clamp(isa).
template <class Args>
inline void conv_run_isa(ConvIsa isa, void (*avx512)(const Args&), void (*avx2)(const Args&),
                         void (*scalar)(const Args&), const Args& a) {
  switch (conv_isa_clamp(isa)) {
    case ConvIsa::avx512: return avx512(a);
    case ConvIsa::avx2: return avx2(a);
    default: return scalar(a);
  }
}
// Test hook: force a level (clamped to what the CPU supports); -1 restores automatic
// detection. Not thread-safe with concurrent convolutions.
void conv_force_isa(int level);

// Whether the direct path handles g: SH = SW = 1, 0 <= PH < KH, 0 <= PW < KW,
// C, O <= 64, KH KW <= 25, B, H, W >= 1.
bool conv2d_direct_applies(const Conv2dGeometry& g);

// Where the output y [B, O, Ho, Wo] lives. nchw: as it says. parity2x (the fused
// upsample + conv of apps/train/upsample_conv.h): O = 4 O', Ho = H + 1, Wo = W + 1, and
// output channel (2a + c) O' + o at (i + a, j + c) is stored at y[b, o, 2i + a, 2j + c]
// of y [B, O', 2H, 2W] for i < H, j < W, a, c in {0, 1}; the other outputs are dropped
// (and get zero gradient).
enum class ConvOut { nchw, parity2x };

// y = conv2d(x, w) + bias (bias may be null), as conv2d_forward, stored as `out` says.
// Requires conv2d_direct_applies(g) (and for parity2x: O % 4 == 0, Ho = H + 1,
// Wo = W + 1). OpenMP over image chunks unless called inside a parallel region.
void conv2d_direct_forward(float* y, const float* x, const float* w, const float* bias,
                           const Conv2dGeometry& g, ConvIsa isa, ConvOut out = ConvOut::nchw);

// dx [B, C, H, W], dw [O, C, KH, KW] and dbias [O] (any may be null; overwritten) from
// dy (laid out as `out` says), x (for dw) and w (for dx).
void conv2d_direct_backward(float* dx, float* dw, float* dbias, const float* dy, const float* x,
                            const float* w, const Conv2dGeometry& g, ConvIsa isa,
                            ConvOut out = ConvOut::nchw);

// sum of p[0 .. n) (n a multiple of 16) in a fixed order: 16 lane sums, then the lanes.
float conv_plane_sum(const float* p, int64_t n);

// The calling thread's scratch buffer `slot` (0 .. 7) of at least n floats, 64-byte
// aligned, contents unspecified. Kept (grow-only) for the thread's lifetime, so that
// repeated convolutions neither map / unmap nor page-fault their working buffers
// (which also serialized OpenMP threads on the address-space lock).
float* conv_scratch(int slot, int64_t n);

namespace conv_direct {

// Output positions per chunk are a multiple of this (every kernel's position block).
constexpr int64_t kFlatBlock = 96;

// out[o][q] = bias[o] + sum_{c, t} w[o, c, t] in[c][q + shift[t]], q in [0, n).
struct FwdArgs {
  const float* in = nullptr;  // input planes, in + c * in_cs at flat position 0
  int64_t in_cs = 0;
  int64_t C = 0;
  const int64_t* shift = nullptr;  // [T]
  int T = 0;
  const float* wpack = nullptr;  // [O4 / 4][C][T][4]
  const float* bias = nullptr;   // [O4] or null
  float* out = nullptr;          // [O4][out_cs], positions [0, n) written
  int64_t out_cs = 0;
  int64_t O4 = 0;  // output channels, a multiple of 4
  int64_t O = 0;   // if 1..3: only that many are computed (rows O .. O4 - 1 left alone)
  int64_t n = 0;   // a multiple of 16 (fastest: of kFlatBlock)
};

// dw[o][c][t] += sum_q dy[o][q] x[c][q + shift[t]], q in [0, n).
struct DwArgs {
  const float* dy = nullptr;
  int64_t dy_cs = 0;
  int64_t O = 0;
  const float* x = nullptr;
  int64_t x_cs = 0;
  int64_t C = 0;
  const int64_t* shift = nullptr;
  int T = 0;
  float* dw = nullptr;  // [O][C][T]
  int64_t n = 0;        // a multiple of 16
  // If set, [O][C][T][16] lane partial sums (the first V::kWidth lanes used, the rest
  // left alone): loaded before and stored after the sum over q, in place of dw.
  float* acc = nullptr;
  // dy + q and x + q + shift[t] are 64-byte aligned for every q multiple of 16 (a hint
  // that full-width AVX-512 loads are cheap).
  bool aligned = false;
};

// Per-ISA loops (conv_direct_{scalar,avx2,avx512}.cpp); single-threaded.
void fwd_scalar(const FwdArgs& a);
void dw_scalar(const DwArgs& a);
void fwd_avx2(const FwdArgs& a);
void dw_avx2(const DwArgs& a);
void fwd_avx512(const FwdArgs& a);
void dw_avx512(const DwArgs& a);

}  // namespace conv_direct

}  // namespace vq::cpu
