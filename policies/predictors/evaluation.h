// The prediction paper's error: for a forecast made after step t, the mean over experts and over
// the H steps t+1..t+H of |predicted - actual| load proportion, per MoE layer, with the origin t
// sliding along training (every `stride` steps). Reported in percentage points of proportion.
#pragma once

#include <functional>
#include <vector>

#include "policies/predictors/phase.h"
#include "policies/predictors/predictor.h"

namespace moesim::policies {

struct EvaluationOptions {
  std::vector<int> horizons = {1, 100, 1000};
  int stride = 100;       // steps between forecast origins
  int first_origin = 99;  // the first origin (the predictor has seen steps 0..first_origin)
  // A series filled in between recorded steps (a trace logged every N steps): only every
  // scored_every-th step after an origin is scored, and the horizons are multiples of it.
  int scored_every = 1;
};

struct HorizonError {
  int horizon = 0;
  double transient = 0, stable = 0, overall = 0;  // percentage points; NaN when no origin falls in that phase
  int transient_samples = 0, stable_samples = 0;  // (origin, layer) pairs
  std::vector<double> per_layer;                  // over all origins
};

// One forecast origin's error per layer, for plots of error over training.
struct ErrorPoint {
  int origin = 0;
  int horizon = 0;
  std::vector<double> per_layer;
};

struct Evaluation {
  std::vector<HorizonError> horizons;
  std::vector<ErrorPoint> curve;
};

// Feeds `proportions` ([step][series]) to `predictor` step by step and scores its forecasts.
// `phases` (detect_phases) says which origins are transient per layer. `progress` gets
// (origins done, origins in total).
Evaluation evaluate(Predictor& predictor, const std::vector<std::vector<float>>& proportions, const SeriesShape& shape,
                    const std::vector<LayerPhase>& phases, const EvaluationOptions& options,
                    const std::function<void(int, int)>& progress = nullptr);

}  // namespace moesim::policies
