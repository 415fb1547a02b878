// All differentiable functions in one include: vq::ag::{binary, unary, reductions,
// linalg, indexing, shape} functions, the Variable operators, the engine and grad
// mode. Typical use:
//   Variable w(Tensor::randn({4, 3}, gen), /*requires_grad=*/true);
//   Variable loss = ag::mean(ag::pow(ag::matmul(x, w) - y, 2.0));
//   loss.backward();  // w.grad() is d loss / d w
#pragma once
#include "autograd/binary.h"
#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/indexing.h"
#include "autograd/linalg.h"
#include "autograd/node.h"
#include "autograd/reductions.h"
#include "autograd/shape_ops.h"
#include "autograd/unary.h"
#include "autograd/variable.h"
