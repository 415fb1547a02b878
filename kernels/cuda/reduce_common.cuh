// Launch geometry shared by the CUDA reduction kernels (reduce.cu, reduce_softmax.cu);
// see kernels/cuda/reduce.h for the scheme. Every choice depends only on the shape, so
// the order of floating-point operations (and the result) is the same on every run.
#pragma once
#include <algorithm>
#include <cstdint>

namespace vq::cuda::reduce_detail {

struct Geometry {
  int tx, ty;         // block = tx columns x ty row-strided threads (tx * ty = 256)
  int64_t col_tiles;  // column tiles per slab
  int64_t blocks;     // outer * col_tiles
};

inline Geometry geometry(int64_t outer, int64_t inner) {
  Geometry g;
  if (inner == 1) {
    g.tx = 1;
    g.ty = 256;
  } else {
    g.tx = 32;
    g.ty = 8;
  }
  g.col_tiles = (inner + g.tx - 1) / g.tx;
  g.blocks = outer * g.col_tiles;
  return g;
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
