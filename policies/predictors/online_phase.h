// The phase detector (phase.h) run online, for policies that must decide as training goes: a
// layer is stable once the windowed variance of its proportions has stayed below `threshold` of
// its peak so far for a whole window. It also gives each series' spread over the window, the
// headroom a transient layer needs.
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
  // Per series: the mean over the window plus `k` standard deviations.
  std::vector<double> headroom(double k) const;

 private:
  SeriesShape shape_;
  int window_;
  double threshold_;
  std::vector<std::vector<float>> ring_;  // the last `window` steps
  int seen_ = 0, next_ = 0;
  std::vector<double> sum_, squares_;     // per series, over the ring
  std::vector<double> peak_;              // per layer
  std::vector<int> calm_run_;             // per layer: windows in a row below the threshold
};

}  // namespace moesim::policies
