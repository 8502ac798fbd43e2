#include "policies/predictors/oracle.h"

#include <algorithm>
#include <stdexcept>

#include "policies/predictors/registry.h"

namespace moesim::policies {

OraclePredictor::OraclePredictor(const SeriesShape& shape, const std::vector<std::vector<float>>& future)
    : shape_(shape), future_(future) {}

void OraclePredictor::forecast(int horizon, std::span<float> out) {
  if (seen_ == 0 || future_.empty()) throw std::logic_error("oracle: forecast before any observed step");
  const size_t series = static_cast<size_t>(shape_.series());
  for (int h = 0; h < horizon; ++h) {
    const auto& step = future_[std::min<size_t>(static_cast<size_t>(seen_ + h), future_.size() - 1)];
    std::copy(step.begin(), step.end(), out.begin() + static_cast<ptrdiff_t>(h * series));
  }
}

const PredictorEntry& predictor_entry_oracle() {
  static const PredictorEntry entry = predictor_entry<params::NoParams>(
      "oracle", "the true future: the upper bound, not a predictor",
      [](const params::NoParams&, const SeriesShape& shape, const PredictorInputs& inputs) -> std::unique_ptr<Predictor> {
        if (!inputs.future) throw std::invalid_argument("oracle: needs the loads of the steps to come");
        return std::make_unique<OraclePredictor>(shape, *inputs.future);
      },
      /*in_scenarios=*/false);
  return entry;
}

}  // namespace moesim::policies
