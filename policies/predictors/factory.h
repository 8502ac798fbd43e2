// Predictors by name, with their settings.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "policies/predictors/arima.h"
#include "policies/predictors/lstm.h"
#include "policies/predictors/predictor.h"

namespace moesim::policies {

struct PredictorSettings {
  int window = 100;           // sw_avg
  double ema_alpha = 0.05;    // ema
  double holt_alpha = 0.05;   // holt: level
  double holt_beta = 0.005;   // holt: trend
  ArimaOrder arima;           // arima: (5, 1, 5)
  int arima_fit_window = 500;
  int arima_refit_every = 500;
  std::shared_ptr<const TrainedLstm> lstm;  // lstm: trained on another trace (train_lstm)
};

// The names make_predictor() knows, in the order tables show them.
const std::vector<std::string>& predictor_names();

// Throws std::invalid_argument for an unknown name, or for lstm without a trained network. `future` ([step][series]) is read only by the
// oracle; it must outlive the predictor.
std::unique_ptr<Predictor> make_predictor(const std::string& name, const SeriesShape& shape, const PredictorSettings& settings,
                                          const std::vector<std::vector<float>>& future);

}  // namespace moesim::policies
