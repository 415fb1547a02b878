// Everything of nn/ in one include: Module, the layers, Sequential / MLP, the
// differentiable layer functions and the initializations.
#pragma once
#include "nn/activation.h"
#include "nn/conv.h"
#include "nn/functional.h"
#include "nn/init.h"
#include "nn/layer.h"
#include "nn/linear.h"
#include "nn/module.h"
#include "nn/norm.h"
#include "nn/pool.h"
#include "nn/sequential.h"
