// ARIMA(p, d, q) per series, fitted by the Hannan-Rissanen method: a long autoregression gives
// estimates of the innovations, then one least-squares regression on p lags of the differenced
// series and q lags of those innovations gives the AR and MA coefficients. Linear, so every
// series of a 12 x 128 expert model refits in milliseconds. Refitted every `refit_every` steps on
// the last `fit_window`; forecasts recursively with future innovations at zero, then integrates.
#pragma once

#include <deque>
#include <span>
#include <vector>

#include "policies/predictors/predictor.h"

namespace moesim::policies {

struct ArimaOrder {
  int p = 5, d = 1, q = 5;  // the paper's ARIMA(5,1,5)
};

struct ArmaFit {
  double constant = 0;
  std::vector<double> phi;    // AR coefficients, lag 1 first
  std::vector<double> theta;  // MA coefficients, lag 1 first
};

// Fits ARMA(p, q) to `y` (already differenced) by Hannan-Rissanen. Too short a series (under
// about 10 points per coefficient) gives the mean only. Coefficient sets whose absolute values sum
// to 1 or more are scaled to 0.99, which keeps the model stationary and invertible.
ArmaFit fit_arma(std::span<const double> y, int p, int q);

// The innovations of `fit` over `y` (zero before enough lags exist).
std::vector<double> arma_residuals(const ArmaFit& fit, std::span<const double> y);

class ArimaPredictor final : public Predictor {
 public:
  ArimaPredictor(const SeriesShape& shape, ArimaOrder order, int fit_window, int refit_every);
  std::string name() const override { return "arima"; }
  void observe(std::span<const float> proportions) override;
  void forecast(int horizon, std::span<float> out) override;

 private:
  void refit();
  SeriesShape shape_;
  ArimaOrder order_;
  int fit_window_, refit_every_;
  std::deque<std::vector<float>> history_;  // the last fit_window steps
  int seen_ = 0, fitted_at_ = -1;
  std::vector<ArmaFit> fits_;  // [series]
};

}  // namespace moesim::policies
