// Transient vs stable, per MoE layer, read off the sliding-window variance of load proportions
// (the expert-load prediction paper's statistic; the paper gives no formal detector).
#pragma once

#include <vector>

#include "policies/predictors/predictor.h"

namespace moesim::policies {

struct PhaseOptions {
  int window = 100;        // steps per variance window
  double threshold = 0.1;  // stable once the windowed variance stays below this share of its peak
};

struct LayerPhase {
  // First step from which every window ending there is calm, but for bursts: excursions above
  // the calm level spanning at most `window` windows (what one step's burst does to windowed
  // statistics) between calm stretches of at least `window`. -1: never.
  int stable_from = -1;
  std::vector<double> variance;  // [step]: mean over experts of the variance over the window ending there (0 before)
  double peak = 0;
};

// proportions: [step][series]. One entry per MoE layer.
std::vector<LayerPhase> detect_phases(const std::vector<std::vector<float>>& proportions, const SeriesShape& shape,
                                      const PhaseOptions& options);

}  // namespace moesim::policies
