// Everything of optim/ in one include: Optimizer, SGD, Adam, AdamW, clip_grad_norm_
// and the learning-rate schedules.
#pragma once
#include "optim/adam.h"
#include "optim/clip.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"
#include "optim/sgd.h"
