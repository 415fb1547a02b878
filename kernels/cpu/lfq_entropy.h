// LFQ entropy terms on the CPU, without materializing tokens x codes.
//
// Math. For one token and one codebook with transformed input u (c values) the
// reference's code distribution is P(k) = softmax_k(2 * beta * u . C_k) with
// C_k,i = +-m (m = codebook_scale, or scale/sqrt(c) when spherical). Since
// u . C_k = sum_i m u_i s_i(k) with signs s_i(k) = +-1, the softmax factorizes into
// independent bits: P(k) = prod_i p_i^{b_i(k)} (1 - p_i)^{1 - b_i(k)},
// p_i = sigmoid(a_i), a_i = 4 beta m u_i.
//  - Per-sample entropy. Unclamped, it is the sum of binary entropies
//    sum_i h(a_i), h(a) = log(1 + e^-|a|) + |a| sigmoid(-|a|), dh/da = -a p (1 - p): O(c)
//    per token ("unclamped" mode). The reference clamps each P(k) at 1e-5 inside the
//    log, which adds sum_{P(k) < 1e-5} P(k) (log(1/P(k)) - log(1e5)) >= 0; the default
//    ("factorized") mode reproduces the clamped value exactly from the codes with
//    P(k) >= 1e-5 only (at most 1e5 of them, usually a handful at inv_temperature 100):
//    lfq_heavy_entropy in lfq_math.h.
//  - Batch entropy: avg(k) = mean_t P_t(k) does not factor over bits, but splitting the
//    c bits into the c1 leading and c2 trailing ones, P_t(k_hi, k_lo) = A_t(k_hi)
//    B_t(k_lo), so avg = A^T B / T: one (2^c1 x T)(T x 2^c2) GEMM (BLAS), with A and
//    B of only 2^(c/2) columns built per token by Kronecker doubling, streamed over
//    token tiles. The clamp at 1e-5 is applied to avg exactly as the reference does.
//    Backward: dA = B G^T / T and dB = A G / T (two GEMMs), then back through the
//    doubling tree to the p_i.
//  - Exact mode enumerates all 2^c codes per token with the reference's formula
//    (logits, softmax, clamped log) for parity; avg is summed in fixed token blocks.
// Tokens are rows of u [N, H*c] picked by `rows` (T int64 row numbers) or all N rows.
// Deterministic: fixed token tiles/blocks, sums in a fixed order.
#pragma once
#include <cstdint>

namespace vq::cpu {

// factorized: clamped per-sample entropy from the heavy codes + split-bit GEMM batch
// term; exact: every code enumerated (the reference's formula, for parity checks);
// unclamped: per-sample entropy as the sum of binary entropies (no clamp) + GEMM.
enum class LfqEntropyMode : int32_t { factorized = 0, exact = 1, unclamped = 2 };

struct LfqEntropyParams {
  int32_t c = 1;                // bits per codebook (<= 30)
  int64_t H = 1;                // codebooks
  float inv_temperature = 100.f;
  float code_mag = 1.f;         // m: |C_k,i| (scale, or the spherical code value)
  LfqEntropyMode mode = LfqEntropyMode::factorized;
};

// avg [H, 2^c] = mean over tokens of each token's code distribution; *per_sample = mean
// over (tokens, codebooks) of the per-token entropy (clamped, except in unclamped mode). T = 0 gives avg = 0 and per_sample = 0.
void lfq_entropy_forward(float* avg, double* per_sample, const float* u, const int64_t* rows,
                         int64_t T, const LfqEntropyParams& p);

// Mean over codebooks of -sum_k avg log(max(avg, 1e-5)), in double.
double lfq_batch_entropy(const float* avg, int64_t H, int32_t c);

// G [H, 2^c] = coef * d(batch entropy)/d avg = -coef (log max(avg, 1e-5) + [avg >= 1e-5]) / H.
void lfq_batch_entropy_grad(float* G, const float* avg, int64_t H, int32_t c, float coef);

// du [N, H*c] += coef_ps * d(per_sample)/du + d(sum_hk G avg)/du on the selected rows
// (other rows untouched). G may be nullptr (no batch term).
void lfq_entropy_backward(float* du, const float* u, const int64_t* rows, int64_t T,
                          const float* G, float coef_ps, const LfqEntropyParams& p);

}  // namespace vq::cpu
