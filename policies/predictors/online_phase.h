// The windowed variance of load proportions, kept step by step, and the phase detector run online
// on it, for policies that must decide as training goes: a layer is stable once the variance has
// stayed below `threshold` of its peak so far for a whole window. It also gives each series'
// spread over the window, the headroom a transient layer needs. detect_phases (phase.h) reads the
// same variance over a whole trace.
#pragma once

#include <span>
#include <vector>

#include "policies/predictors/predictor.h"

namespace moesim::policies {

class OnlinePhases {
 public:
  OnlinePhases(const SeriesShape& shape, int window, double threshold);
  void observe(std::span<const float> proportions);
  bool stable(int layer) const { return calm_run_[layer] >= window_; }
  // Mean over the layer's experts of each one's variance over the last `window` steps (0 until a
  // window has been seen).
  double variance(int layer) const { return variance_[layer]; }
  // Per series: the mean over the window plus `k` standard deviations.
  std::vector<double> headroom(double k) const;

 private:
  SeriesShape shape_;
  int window_;
  double threshold_;
  std::vector<std::vector<float>> ring_;  // the last `window` steps
  int seen_ = 0, next_ = 0;
  std::vector<double> sum_, squares_;    // per series, over the ring
  std::vector<double> variance_, peak_;  // per layer
  std::vector<int> calm_run_;            // per layer: windows in a row below the threshold
};

}  // namespace moesim::policies
