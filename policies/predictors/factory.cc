#include "policies/predictors/factory.h"

#include <stdexcept>

#include "policies/predictors/oracle.h"
#include "policies/predictors/smoothing.h"

namespace moesim::policies {

const std::vector<std::string>& predictor_names() {
  static const std::vector<std::string> names = {"last_value", "sw_avg", "ema", "holt", "arima", "lstm", "oracle"};
  return names;
}

std::unique_ptr<Predictor> make_predictor(const std::string& name, const SeriesShape& shape, const PredictorSettings& settings,
                                          const std::vector<std::vector<float>>& future) {
  if (name == "last_value") return std::make_unique<LastValuePredictor>(shape);
  if (name == "sw_avg") return std::make_unique<SlidingWindowPredictor>(shape, settings.window);
  if (name == "ema") return std::make_unique<EmaPredictor>(shape, settings.ema_alpha);
  if (name == "holt") return std::make_unique<HoltPredictor>(shape, settings.holt_alpha, settings.holt_beta);
  if (name == "arima") return std::make_unique<ArimaPredictor>(shape, settings.arima, settings.arima_fit_window, settings.arima_refit_every);
  if (name == "lstm") {
    if (!settings.lstm) throw std::invalid_argument("lstm needs a network trained on another run's trace");
    return std::make_unique<LstmPredictor>(shape, settings.lstm);
  }
  if (name == "oracle") return std::make_unique<OraclePredictor>(shape, future);
  std::string known;
  for (const auto& n : predictor_names()) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown predictor '" + name + "' (expected one of: " + known + ")");
}

}  // namespace moesim::policies
