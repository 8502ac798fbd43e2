// The median of the last `window` steps, forecast flat. Where a sliding-window average follows a
// burst (one busy step moves the mean of a 100-step window by 1 %), the median ignores bursts
// shorter than half the window, and still follows a lasting shift once it fills half of it.
#pragma once

#include <vector>

#include "policies/predictors/predictor.h"

namespace moesim::policies {

class MedianPredictor final : public Predictor {
 public:
  MedianPredictor(const SeriesShape& shape, int window);
  std::string name() const override { return "median"; }
  void observe(std::span<const float> proportions) override;
  // Each layer's medians are rescaled to sum to 1 (medians of proportions need not).
  void forecast(int horizon, std::span<float> out) override;

 private:
  SeriesShape shape_;
  int window_;
  std::vector<std::vector<float>> ring_;  // the last `window` steps, oldest at next_ once full
  int seen_ = 0, next_ = 0;
  std::vector<float> buffer_;  // one series' window while forecasting
};

}  // namespace moesim::policies
