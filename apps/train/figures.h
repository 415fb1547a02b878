// The pictures `vq train` leaves in its output folder, drawn on a png.h Canvas:
// test images above their reconstructions, the code-use histogram, the loss curve.
#pragma once
#include <string>
#include <vector>

#include "apps/train/png.h"
#include "apps/train/trainer.h"
#include "core/tensor.h"

namespace vq::app {

// images, reconstructions: f32 [S, 1, 28, 28] CPU in [-1, 1] (values outside are
// clipped). Rows of `cols` test images, each above a row of their reconstructions,
// 3x magnified, with a title line. ShapeError for other shapes or S < 1.
Canvas reconstructions_figure(const Tensor& images, const Tensor& reconstructions, int cols,
                              const std::string& title);

// One bar per code (codes binned when there are more than 800), in index order, with
// the count a uniform code use would give as a dashed line and unused codes marked in
// red under the axis. ConfigError when stats.counts is empty.
Canvas code_usage_figure(const CodeStats& stats, const std::string& title);

// Reconstruction loss per step (grey) and its centred 51-step running mean (blue).
// ConfigError when `curve` is empty.
Canvas loss_curve_figure(const std::vector<StepRecord>& curve, const std::string& title);

}  // namespace vq::app
