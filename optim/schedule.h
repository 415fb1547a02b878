// Learning-rate schedules as pure functions of the step (closed forms of torch's
// LinearLR, CosineAnnealingLR and their warm-up + cosine combination). A schedule
// does not own the optimizer: call apply(opt, step) before opt.step(), with
// step = 0 for the first update.
#pragma once
#include <cstdint>

#include "optim/optimizer.h"

namespace vq::optim {

class LRSchedule {
 public:
  virtual ~LRSchedule() = default;
  // The learning rate for update number `step` (>= 0; ConfigError when negative).
  virtual double lr_at(int64_t step) const = 0;
  // opt.set_lr(lr_at(step)).
  void apply(Optimizer& opt, int64_t step) const;
};

// torch.optim.lr_scheduler.LinearLR: base_lr * factor(step), the factor going linearly
// from start_factor at step 0 to end_factor at step total_iters and staying there.
// ConfigError unless 0 < start_factor <= 1, 0 <= end_factor <= 1, total_iters >= 1.
class LinearWarmup : public LRSchedule {
 public:
  LinearWarmup(double base_lr, int64_t total_iters, double start_factor = 1.0 / 3.0,
               double end_factor = 1.0);
  double lr_at(int64_t step) const override;

 private:
  double base_, start_, end_;
  int64_t total_;
};

// torch.optim.lr_scheduler.CosineAnnealingLR (closed form):
// eta_min + (base_lr - eta_min) (1 + cos(pi step / T_max)) / 2, held at eta_min after
// T_max. ConfigError unless T_max >= 1.
class CosineAnnealing : public LRSchedule {
 public:
  CosineAnnealing(double base_lr, int64_t T_max, double eta_min = 0.0);
  double lr_at(int64_t step) const override;

 private:
  double base_, eta_min_;
  int64_t T_max_;
};

// Linear warm-up from base_lr * start_factor (step 0) to base_lr at step
// warmup_steps, then cosine annealing to min_lr at total_steps (held afterwards).
// With warmup_steps = 0 it is plain cosine. ConfigError unless
// 0 <= warmup_steps < total_steps and 0 <= start_factor <= 1.
class WarmupCosine : public LRSchedule {
 public:
  WarmupCosine(double base_lr, int64_t warmup_steps, int64_t total_steps, double min_lr = 0.0,
               double start_factor = 0.0);
  double lr_at(int64_t step) const override;

 private:
  double base_, min_, start_;
  int64_t warmup_, total_;
};

}  // namespace vq::optim
