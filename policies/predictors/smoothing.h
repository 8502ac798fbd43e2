// The simple forecasters: last value, the paper's sliding-window average, exponential smoothing
// and Holt's linear trend.
#pragma once

#include <vector>

#include "policies/predictors/predictor.h"

namespace moesim::policies {

// Tomorrow is like today.
class LastValuePredictor final : public Predictor {
 public:
  explicit LastValuePredictor(const SeriesShape& shape);
  std::string name() const override { return "last_value"; }
  void observe(std::span<const float> proportions) override;
  void forecast(int horizon, std::span<float> out) override;

 private:
  SeriesShape shape_;
  std::vector<float> last_;
};

// SW_Avg: the mean of the last `window` steps; further steps ahead append each prediction to the
// window and slide it, as the paper forecasts k steps.
class SlidingWindowPredictor final : public Predictor {
 public:
  SlidingWindowPredictor(const SeriesShape& shape, int window);
  std::string name() const override { return "sw_avg"; }
  void observe(std::span<const float> proportions) override;
  void forecast(int horizon, std::span<float> out) override;

 private:
  SeriesShape shape_;
  int window_;
  std::vector<std::vector<float>> ring_;  // the last `window` steps, oldest at next_
  int seen_ = 0, next_ = 0;
  std::vector<double> buffer_;  // one series' window while forecasting
};

// Exponential smoothing: level += alpha * (x - level); the forecast is flat.
class EmaPredictor final : public Predictor {
 public:
  EmaPredictor(const SeriesShape& shape, double alpha);
  std::string name() const override { return "ema"; }
  void observe(std::span<const float> proportions) override;
  void forecast(int horizon, std::span<float> out) override;

 private:
  SeriesShape shape_;
  double alpha_;
  std::vector<double> level_;
  bool started_ = false;
};

// Holt's double exponential smoothing: a level and a trend, forecast level + h * trend.
class HoltPredictor final : public Predictor {
 public:
  HoltPredictor(const SeriesShape& shape, double alpha, double beta);
  std::string name() const override { return "holt"; }
  void observe(std::span<const float> proportions) override;
  void forecast(int horizon, std::span<float> out) override;

 private:
  SeriesShape shape_;
  double alpha_, beta_;
  std::vector<double> level_, trend_;
  int seen_ = 0;
};

}  // namespace moesim::policies
