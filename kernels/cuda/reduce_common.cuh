// Launch geometry shared by the CUDA reduction kernels (reduce.cu, reduce_softmax.cu);
// see kernels/cuda/reduce.h for the scheme. Every choice depends only on the shape, so
// the order of floating-point operations (and the result) is the same on every run.
//
// A block has 256 threads in TX "columns" x TY "lanes". Columns enumerate the outputs
// (o, j) of the [outer, R, inner] problem flattened as c = o * inner + j; the TY lanes of
// a column fold r = lane, lane + TY, ... and then meet in a shared-memory tree.
//   inner == 1 (rows): TY = the power of two >= R clamped to [32, 256], TX = 256 / TY
//     rows per block; lanes are the fast thread index, so a warp reads 32 consecutive
//     floats of one row (short rows share a block instead of idling 250 threads).
//   inner > 1 (columns): TX = 32, TY = 8; columns are the fast index, so a warp reads 32
//     consecutive j of one r.
#pragma once
#include <algorithm>
#include <cstdint>

namespace vq::cuda::reduce_detail {

constexpr int kBlock = 256;

struct Geometry {
  int tx, ty;         // tx * ty = kBlock
  bool lanes_fast;    // thread index = lane + TY * column (rows) or column + TX * lane
  int64_t cols;       // outer * inner
  int64_t blocks;     // ceil(cols / tx)
};

inline Geometry geometry(int64_t outer, int64_t R, int64_t inner) {
  Geometry g;
  if (inner == 1) {
    int ty = 32;
    while (ty < R && ty < kBlock) ty *= 2;
    g.ty = ty;
    g.tx = kBlock / ty;
    g.lanes_fast = true;
  } else {
    g.tx = 32;
    g.ty = kBlock / 32;
    g.lanes_fast = false;
  }
  g.cols = outer * inner;
  g.blocks = (g.cols + g.tx - 1) / g.tx;
  return g;
}

// This thread's column slot tx in [0, TX) and lane ty in [0, TY).
__device__ __forceinline__ void thread_role(const Geometry& g, int* tx, int* ty) {
  const int tid = threadIdx.x;
  if (g.lanes_fast) {
    *ty = tid % g.ty;
    *tx = tid / g.ty;
  } else {
    *tx = tid % g.tx;
    *ty = tid / g.tx;
  }
}

// Chunks of R for the two-stage sum: only when few blocks would each walk a long R;
// aims at about 1024 blocks in all, chunks of at least 2048 rows, at most 1024 chunks.
inline int64_t chunk_count(int64_t blocks, int64_t R) {
  if (blocks >= 256 || R <= 8192) return 1;
  const int64_t want = (1024 + blocks - 1) / blocks;
  const int64_t most = (R + 2047) / 2048;
  const int64_t n = std::max<int64_t>(1, std::min<int64_t>({want, most, 1024}));
  const int64_t chunk = (R + n - 1) / n;
  return (R + chunk - 1) / chunk;  // no empty chunk
}

// gridDim.x for a block-stride loop over `blocks` work items.
inline unsigned grid_x(int64_t blocks) {
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(blocks, 1 << 20)));
}

}  // namespace vq::cuda::reduce_detail
