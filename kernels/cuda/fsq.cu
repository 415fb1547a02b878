// CUDA FSQ kernels (see fsq.h): one thread per (row, codebook) group of c elements for
// the forward (the index needs the whole group), one thread per element for the
// backward, the decode maps and the soft clamp. The element math is the CPU's
// (kernels/cpu/fsq_math.h, explicitly rounded intrinsics on the device), so outputs are
// bitwise equal to the CPU kernels'. The per-dimension tables travel by value as
// kernel parameters (about 3.5 KB).
#include "kernels/cuda/fsq.h"

#include "core/cuda/context.h"
#include "core/error.h"

namespace vq::cuda {
namespace {

using cpu::FsqNoise;
using cpu::FsqTables;

constexpr int kBlock = 256;

struct SoftValues {
  int32_t n;
  float v[cpu::kFsqMaxDim];
};

template <bool S, bool Hc, bool X>
__global__ void fsq_forward_kernel(float* __restrict__ codes, int64_t* __restrict__ indices,
                                   const float* __restrict__ z, int64_t groups, FsqTables t,
                                   FsqNoise nz) {
  const int c = t.c;
  for (int64_t g = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; g < groups;
       g += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t idx = 0;
    for (int j = 0; j < c; ++j) {
      const int64_t e = g * c + j;
      float level;
      float code = cpu::fsq_code<S, Hc, X>(z[e], cpu::fsq_elem_const(t, j), &level);
      idx += static_cast<int64_t>(level) * t.basis[j];
      if (nz.prob > 0.f) {
        bool pass;
        code = cpu::fsq_apply_noise(code, nz, static_cast<uint64_t>(e), &pass);
      }
      codes[e] = cpu::mul_rn(code, t.post_mul[j]);
    }
    if (indices) indices[g] = idx;
  }
}

template <bool S, bool Hc, bool X>
__global__ void fsq_backward_kernel(float* __restrict__ dz, const float* __restrict__ g,
                                    const float* __restrict__ z, int64_t n, FsqTables t,
                                    FsqNoise nz) {
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int j = static_cast<int>(e % t.c);
    const cpu::FsqElemConst k = cpu::fsq_elem_const(t, j);
    float d = cpu::fsq_grad<S, Hc, X>(g[e], z[e], k);
    if (nz.prob > 0.f) {
      float level;
      bool pass;
      const float code = cpu::fsq_code<S, Hc, X>(z[e], k, &level);
      cpu::fsq_apply_noise(code, nz, static_cast<uint64_t>(e), &pass);
      if (!pass) d = 0.f;
    }
    dz[e] = d;
  }
}

__global__ void fsq_indices_to_codes_kernel(float* __restrict__ codes,
                                            const int64_t* __restrict__ indices, int64_t n,
                                            FsqTables t) {
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int j = static_cast<int>(e % t.c);
    const int64_t idx = indices[e / t.c];
    float v = 0.f;
    if (idx >= 0) {
      const float level = static_cast<float>((idx / t.basis[j]) % t.levels[j]);
      v = cpu::mul_rn(cpu::fsq_level_to_code(level, cpu::fsq_elem_const(t, j), t.symmetric),
                      t.post_mul[j]);
    }
    codes[e] = v;
  }
}

__global__ void fsq_codes_to_indices_kernel(int64_t* __restrict__ indices,
                                            const float* __restrict__ codes, int64_t M,
                                            FsqTables t) {
  for (int64_t m = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; m < M;
       m += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t idx = 0;
    for (int j = 0; j < t.c; ++j) {
      const float code = cpu::div_rn(codes[m * t.c + j], t.post_mul[j]);
      const float level =
          t.symmetric ? cpu::div_rn(cpu::add_rn(code, 1.f), t.sym_scale[j])
                      : cpu::add_rn(cpu::mul_rn(code, t.half_width[j]), t.half_width[j]);
      idx += static_cast<int64_t>(cpu::round_even(level)) * t.basis[j];
    }
    indices[m] = idx;
  }
}

__global__ void fsq_indices_to_levels_kernel(int64_t* __restrict__ levels,
                                             const int64_t* __restrict__ indices, int64_t n,
                                             FsqTables t) {
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int j = static_cast<int>(e % t.c);
    const int64_t idx = indices[e / t.c];
    int64_t q = idx / t.basis[j];
    if (idx % t.basis[j] != 0 && idx < 0) --q;
    int64_t r = q % t.levels[j];
    if (r < 0) r += t.levels[j];
    levels[e] = r;
  }
}

__global__ void soft_clamp_kernel(float* __restrict__ y, const float* __restrict__ x, int64_t n,
                                  int64_t D, SoftValues sv, bool exact) {
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float v = sv.v[sv.n == 1 ? 0 : e % D];
    const float a = cpu::div_rn(x[e], v);
    y[e] = cpu::mul_rn(exact ? cpu::exact_tanh(a) : cpu::fast_tanh(a), v);
  }
}

__global__ void soft_clamp_backward_kernel(float* __restrict__ dx, const float* __restrict__ g,
                                           const float* __restrict__ x, int64_t n, int64_t D,
                                           SoftValues sv, bool exact) {
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float v = sv.v[sv.n == 1 ? 0 : e % D];
    const float a = cpu::div_rn(x[e], v);
    const float t = exact ? cpu::exact_tanh(a) : cpu::fast_tanh(a);
    dx[e] = cpu::div_rn(cpu::mul_rn(cpu::mul_rn(g[e], v), cpu::sub_rn(1.f, cpu::mul_rn(t, t))), v);
  }
}

// Calls f(sym, hard, exact) with std::integral_constant<bool> arguments.
template <class F>
void with_variant(const FsqTables& t, bool exact, const F& f) {
  using T = std::true_type;
  using N = std::false_type;
  if (t.symmetric) {
    if (t.hard_clamp) return exact ? f(T{}, T{}, T{}) : f(T{}, T{}, N{});
    return exact ? f(T{}, N{}, T{}) : f(T{}, N{}, N{});
  }
  if (t.hard_clamp) return exact ? f(N{}, T{}, T{}) : f(N{}, T{}, N{});
  return exact ? f(N{}, N{}, T{}) : f(N{}, N{}, N{});
}

SoftValues soft_values(const std::vector<float>& values) {
  vq::check<ConfigError>(!values.empty() && values.size() <= static_cast<size_t>(cpu::kFsqMaxDim),
                     "soft_clamp: 1..", cpu::kFsqMaxDim, " values, got ", values.size());
  SoftValues sv{};
  sv.n = static_cast<int32_t>(values.size());
  for (size_t i = 0; i < values.size(); ++i) sv.v[i] = values[i];
  return sv;
}

}  // namespace

void fsq_forward(float* codes, int64_t* indices, const float* z, int64_t N, int64_t H,
                 const FsqTables& t, bool exact, const FsqNoise& noise, int device) {
  const int64_t groups = N * H;
  if (groups <= 0) return;
  cudaStream_t s = stream(device);
  with_variant(t, exact, [&](auto S, auto Hc, auto X) {
    fsq_forward_kernel<decltype(S)::value, decltype(Hc)::value, decltype(X)::value>
        <<<grid_for(groups, kBlock), kBlock, 0, s>>>(codes, indices, z, groups, t, noise);
  });
  check_launch("fsq_forward_kernel");
}

void fsq_backward(float* dz, const float* dcodes, const float* z, int64_t N, int64_t H,
                  const FsqTables& t, bool exact, const FsqNoise& noise, int device) {
  const int64_t n = N * H * t.c;
  if (n <= 0) return;
  cudaStream_t s = stream(device);
  with_variant(t, exact, [&](auto S, auto Hc, auto X) {
    fsq_backward_kernel<decltype(S)::value, decltype(Hc)::value, decltype(X)::value>
        <<<grid_for(n, kBlock), kBlock, 0, s>>>(dz, dcodes, z, n, t, noise);
  });
  check_launch("fsq_backward_kernel");
}

void fsq_indices_to_codes(float* codes, const int64_t* indices, int64_t M, const FsqTables& t,
                          int device) {
  const int64_t n = M * t.c;
  if (n <= 0) return;
  fsq_indices_to_codes_kernel<<<grid_for(n, kBlock), kBlock, 0, stream(device)>>>(codes, indices,
                                                                                 n, t);
  check_launch("fsq_indices_to_codes_kernel");
}

void fsq_codes_to_indices(int64_t* indices, const float* codes, int64_t M, const FsqTables& t,
                          int device) {
  if (M <= 0) return;
  fsq_codes_to_indices_kernel<<<grid_for(M, kBlock), kBlock, 0, stream(device)>>>(indices, codes,
                                                                                 M, t);
  check_launch("fsq_codes_to_indices_kernel");
}

void fsq_indices_to_levels(int64_t* levels, const int64_t* indices, int64_t M,
                           const FsqTables& t, int device) {
  const int64_t n = M * t.c;
  if (n <= 0) return;
  fsq_indices_to_levels_kernel<<<grid_for(n, kBlock), kBlock, 0, stream(device)>>>(levels,
                                                                                  indices, n, t);
  check_launch("fsq_indices_to_levels_kernel");
}

void fsq_soft_clamp(float* y, const float* x, int64_t N, int64_t D,
                    const std::vector<float>& values, bool exact, int device) {
  const int64_t n = N * D;
  const SoftValues sv = soft_values(values);
  if (n <= 0) return;
  soft_clamp_kernel<<<grid_for(n, kBlock), kBlock, 0, stream(device)>>>(y, x, n, D, sv, exact);
  check_launch("soft_clamp_kernel");
}

void fsq_soft_clamp_backward(float* dx, const float* g, const float* x, int64_t N, int64_t D,
                             const std::vector<float>& values, bool exact, int device) {
  const int64_t n = N * D;
  const SoftValues sv = soft_values(values);
  if (n <= 0) return;
  soft_clamp_backward_kernel<<<grid_for(n, kBlock), kBlock, 0, stream(device)>>>(dx, g, x, n, D,
                                                                                sv, exact);
  check_launch("soft_clamp_backward_kernel");
}

}  // namespace vq::cuda
