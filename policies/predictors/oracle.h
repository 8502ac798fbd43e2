// The oracle: reads the true future. It is the upper bound on what any predictor can do, never
// a predictor a real system could run, and is labelled as such wherever it appears.
#pragma once

#include <vector>

#include "policies/predictors/predictor.h"

namespace moesim::policies {

class OraclePredictor final : public Predictor {
 public:
  // `future` holds every step's proportions, [step][series], including those not yet observed.
  OraclePredictor(const SeriesShape& shape, const std::vector<std::vector<float>>& future);
  std::string name() const override { return "oracle"; }
  void observe(std::span<const float>) override { ++seen_; }
  // Steps past the end of `future` repeat its last step.
  void forecast(int horizon, std::span<float> out) override;

 private:
  SeriesShape shape_;
  const std::vector<std::vector<float>>& future_;
  int seen_ = 0;
};

}  // namespace moesim::policies
