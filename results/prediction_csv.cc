#include "results/prediction_csv.h"

#include <cstdio>

namespace moesim::results {

std::string prediction_errors_csv(const std::vector<PredictorEvaluation>& rows, const std::vector<policies::LayerPhase>& phases) {
  std::string out = "predictor,horizon,origin,layer,phase,error_pp\n";
  char line[160];
  for (const auto& row : rows) {
    for (const auto& point : row.evaluation.curve) {
      for (size_t l = 0; l < point.per_layer.size(); ++l) {
        const bool stable = phases[l].stable_from >= 0 && point.origin >= phases[l].stable_from;
        std::snprintf(line, sizeof line, "%s,%d,%d,%zu,%s,%.6f\n", row.predictor.c_str(), point.horizon, point.origin, l,
                      stable ? "stable" : "transient", point.per_layer[l]);
        out += line;
      }
    }
  }
  return out;
}

}  // namespace moesim::results
