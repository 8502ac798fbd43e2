// prediction_errors.csv: the error of every forecast origin, for plots of error over training.
#pragma once

#include <string>
#include <vector>

#include "policies/predictors/evaluation.h"

namespace moesim::results {

struct PredictorEvaluation {
  std::string predictor;
  policies::Evaluation evaluation;
};

// Columns: predictor, horizon, origin, layer, phase (transient | stable), error_pp.
std::string prediction_errors_csv(const std::vector<PredictorEvaluation>& rows, const std::vector<policies::LayerPhase>& phases);

}  // namespace moesim::results
