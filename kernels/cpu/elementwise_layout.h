// Broadcast layout of an elementwise op: given the output's shape and strides and
// each input's shape and strides, builds the EwLayout the CPU and CUDA loops walk
// (broadcast dims get stride 0, size-1 dims are dropped, adjacent dims that are
// dense for every operand are merged, so a contiguous op becomes one flat dim).
#pragma once
#include <vector>

#include "core/shape.h"
#include "kernels/cpu/elementwise_defs.h"

namespace vq::cpu {

struct EwOperand {
  const Shape* shape;
  const Strides* strides;
};

// operands[0] is the output (its shape is the iteration space); the others must
// broadcast to it (numpy rules; the caller has checked). At most kEwMaxOperands.
// Throws ShapeError naming `op` when more than kEwMaxDims dims remain after merging.
EwLayout make_layout(const char* op, const std::vector<EwOperand>& operands);

}  // namespace vq::cpu
