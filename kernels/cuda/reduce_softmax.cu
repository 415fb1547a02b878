// CUDA logsumexp, softmax and log_softmax over the middle dim of [outer, R, inner]:
// the CUDA twins of kernels/cpu/reduce_softmax.cpp. Each block holds TX columns x TY
// lanes (reduce_common.cuh): a max pass, a fixed-tree double sum of exp(x - m) (m
// replaced by 0 when it is +-inf, as on the CPU), then the output pass.
#include <cuda_runtime.h>

#include <cmath>

#include "core/cuda/context.h"
#include "kernels/cuda/reduce.h"
#include "kernels/cuda/reduce_common.cuh"

namespace vq::cuda {

namespace {

using reduce_detail::Geometry;
using reduce_detail::geometry;

enum class Mode { lse, softmax, log_softmax };

template <Mode MODE>
__global__ void softmax_kernel(float* out, const float* x, Geometry g, int64_t R, int64_t inner) {
  extern __shared__ double sm[];
  float* smf = reinterpret_cast<float*>(sm);
  int tx, ty;
  reduce_detail::thread_role(g, &tx, &ty);
  const int TX = g.tx, TY = g.ty;
  const int me = ty * TX + tx;
  for (int64_t blk = blockIdx.x; blk < g.blocks; blk += gridDim.x) {
    const int64_t col = blk * TX + tx;
    const bool live = col < g.cols;
    const int64_t off = (col / inner) * R * inner + col % inner;  // element (o, 0, j)
    const float* xc = x + off;
    // Pass 1: column max.
    float m = -INFINITY;
    if (live) {
      for (int64_t r = ty; r < R; r += TY) m = fmaxf(m, xc[r * inner]);
    }
    smf[me] = m;
    __syncthreads();
    for (int s = TY / 2; s > 0; s >>= 1) {
      if (ty < s) smf[me] = fmaxf(smf[me], smf[(ty + s) * TX + tx]);
      __syncthreads();
    }
    m = smf[tx];
    const float ms = isinf(m) ? 0.f : m;
    __syncthreads();
    // Pass 2: sum of exp(x - ms) in double, fixed tree.
    double s_acc = 0.0;
    if (live) {
      for (int64_t r = ty; r < R; r += TY) s_acc += expf(xc[r * inner] - ms);
    }
    sm[me] = s_acc;
    __syncthreads();
    for (int s = TY / 2; s > 0; s >>= 1) {
      if (ty < s) sm[me] += sm[(ty + s) * TX + tx];
      __syncthreads();
    }
    const double total = sm[tx];
    __syncthreads();
    // Pass 3: outputs.
    if (live) {
      if (MODE == Mode::lse) {
        if (ty == 0) out[col] = static_cast<float>(double(ms) + log(total));
      } else if (MODE == Mode::softmax) {
        const float inv = static_cast<float>(1.0 / total);
        float* oc = out + off;
        for (int64_t r = ty; r < R; r += TY) oc[r * inner] = expf(xc[r * inner] - ms) * inv;
      } else {
        const float shift = static_cast<float>(double(ms) + log(total));
        float* oc = out + off;
        for (int64_t r = ty; r < R; r += TY) oc[r * inner] = xc[r * inner] - shift;
      }
    }
    __syncthreads();
  }
}

template <Mode MODE>
void launch(float* out, const float* x, int64_t outer, int64_t R, int64_t inner, int device) {
  cudaStream_t st = stream(device);
  const Geometry g = geometry(outer, R, inner);
  const size_t smem = sizeof(double) * reduce_detail::kBlock;
  softmax_kernel<MODE><<<reduce_detail::grid_x(g.blocks), reduce_detail::kBlock, smem, st>>>(
      out, x, g, R, inner);
  check_launch(MODE == Mode::lse ? "logsumexp_kernel" : "softmax_kernel");
}

}  // namespace

void logsumexp_forward(float* out, const float* x, int64_t outer, int64_t R, int64_t inner,
                       int device) {
  if (outer == 0 || inner == 0) return;
  launch<Mode::lse>(out, x, outer, R, inner, device);
}

void softmax_forward(float* out, const float* x, int64_t outer, int64_t R, int64_t inner,
                     bool log, int device) {
  if (outer == 0 || inner == 0 || R == 0) return;
  if (log) {
    launch<Mode::log_softmax>(out, x, outer, R, inner, device);
  } else {
    launch<Mode::softmax>(out, x, outer, R, inner, device);
  }
}

}  // namespace vq::cuda
