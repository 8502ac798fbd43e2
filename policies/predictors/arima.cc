#include "policies/predictors/arima.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "policies/predictors/registry.h"

namespace moesim::policies {
namespace {

// Least squares with a tiny ridge (so that constant or collinear regressors give zero weights
// instead of a singular system): solves (XᵀX + λI) b = Xᵀy by Cholesky. X is row-major n x k.
std::vector<double> least_squares(const std::vector<double>& x, const std::vector<double>& y, int k) {
  const size_t n = y.size();
  std::vector<double> a(static_cast<size_t>(k) * k, 0.0), b(k, 0.0);
  for (size_t r = 0; r < n; ++r) {
    const double* row = x.data() + r * k;
    for (int i = 0; i < k; ++i) {
      b[i] += row[i] * y[r];
      for (int j = 0; j <= i; ++j) a[static_cast<size_t>(i) * k + j] += row[i] * row[j];
    }
  }
  double scale = 0;
  for (int i = 0; i < k; ++i) scale = std::max(scale, a[static_cast<size_t>(i) * k + i]);
  const double ridge = 1e-9 * std::max(scale, 1e-30);
  for (int i = 0; i < k; ++i) a[static_cast<size_t>(i) * k + i] += ridge;
  // Cholesky in place (lower triangle).
  for (int j = 0; j < k; ++j) {
    double d = a[static_cast<size_t>(j) * k + j];
    for (int m = 0; m < j; ++m) d -= a[static_cast<size_t>(j) * k + m] * a[static_cast<size_t>(j) * k + m];
    d = std::sqrt(std::max(d, 1e-300));
    a[static_cast<size_t>(j) * k + j] = d;
    for (int i = j + 1; i < k; ++i) {
      double v = a[static_cast<size_t>(i) * k + j];
      for (int m = 0; m < j; ++m) v -= a[static_cast<size_t>(i) * k + m] * a[static_cast<size_t>(j) * k + m];
      a[static_cast<size_t>(i) * k + j] = v / d;
    }
  }
  for (int i = 0; i < k; ++i) {  // L z = b
    for (int m = 0; m < i; ++m) b[i] -= a[static_cast<size_t>(i) * k + m] * b[m];
    b[i] /= a[static_cast<size_t>(i) * k + i];
  }
  for (int i = k - 1; i >= 0; --i) {  // Lᵀ x = z
    for (int m = i + 1; m < k; ++m) b[i] -= a[static_cast<size_t>(m) * k + i] * b[m];
    b[i] /= a[static_cast<size_t>(i) * k + i];
  }
  return b;
}

// Regresses y[t] on a constant and the given lagged columns for t in [first, n).
std::vector<double> regress(std::span<const double> y, size_t first, int p, std::span<const double> e, int q) {
  const int k = 1 + p + q;
  std::vector<double> x, target;
  for (size_t t = first; t < y.size(); ++t) {
    x.push_back(1.0);
    for (int i = 1; i <= p; ++i) x.push_back(y[t - i]);
    for (int j = 1; j <= q; ++j) x.push_back(e[t - j]);
    target.push_back(y[t]);
  }
  return least_squares(x, target, k);
}

}  // namespace

ArmaFit fit_arma(std::span<const double> y, int p, int q) {
  ArmaFit fit;
  fit.phi.assign(p, 0.0);
  fit.theta.assign(q, 0.0);
  const int n = static_cast<int>(y.size());
  double mean = 0;
  for (double v : y) mean += v;
  fit.constant = n > 0 ? mean / n : 0.0;
  // Stage 1: a long autoregression, of order m, for the innovations.
  const int m = q > 0 ? std::max(p + q, std::min(20, n / 10)) : p;
  const int k = 1 + p + q;
  if (n < m + q + 10 * k) return fit;  // too few points for k coefficients: the mean only
  std::vector<double> innovations(n, 0.0);
  if (q > 0) {
    const auto ar = regress(y, m, m, {}, 0);
    for (int t = m; t < n; ++t) {
      double prediction = ar[0];
      for (int i = 1; i <= m; ++i) prediction += ar[i] * y[t - i];
      innovations[t] = y[t] - prediction;
    }
  }
  // Stage 2: y on its p lags and q lags of the innovations.
  const auto b = regress(y, static_cast<size_t>(m + q), p, innovations, q);
  fit.constant = b[0];
  for (int i = 0; i < p; ++i) fit.phi[i] = b[1 + i];
  for (int j = 0; j < q; ++j) fit.theta[j] = b[1 + p + j];
  // Stationarity and invertibility guard: a sum of absolute coefficients below 1 is sufficient
  // for both, so a fit beyond it (noise fitted on a short window) is shrunk back inside, and a
  // 2,000-step forecast cannot explode.
  auto shrink = [](std::vector<double>& c) {
    double sum = 0;
    for (double v : c) sum += std::abs(v);
    if (sum >= 0.99) {
      for (double& v : c) v *= 0.99 / sum;
    }
  };
  shrink(fit.phi);
  shrink(fit.theta);
  return fit;
}

std::vector<double> arma_residuals(const ArmaFit& fit, std::span<const double> y) {
  const int p = static_cast<int>(fit.phi.size()), q = static_cast<int>(fit.theta.size());
  std::vector<double> e(y.size(), 0.0);
  for (size_t t = static_cast<size_t>(p); t < y.size(); ++t) {
    double prediction = fit.constant;
    for (int i = 1; i <= p; ++i) prediction += fit.phi[i - 1] * y[t - i];
    for (int j = 1; j <= q && static_cast<size_t>(j) <= t; ++j) prediction += fit.theta[j - 1] * e[t - j];
    e[t] = y[t] - prediction;
  }
  return e;
}

ArimaPredictor::ArimaPredictor(const SeriesShape& shape, ArimaOrder order, int fit_window, int refit_every)
    : shape_(shape), order_(order), fit_window_(fit_window), refit_every_(refit_every) {
  if (order.p < 0 || order.q < 0 || order.d < 0 || order.d > 2) throw std::invalid_argument("arima: p, q >= 0 and d in 0..2");
  if (fit_window < 1 || refit_every < 1) throw std::invalid_argument("arima: fit window and refit interval must be positive");
}

void ArimaPredictor::observe(std::span<const float> p) {
  history_.emplace_back(p.begin(), p.end());
  if (static_cast<int>(history_.size()) > fit_window_) history_.pop_front();
  ++seen_;
}

namespace {
// The series' last n values, differenced d times.
std::vector<double> differenced(const std::deque<std::vector<float>>& history, int s, int d) {
  std::vector<double> y;
  for (const auto& step : history) y.push_back(step[s]);
  for (int i = 0; i < d && !y.empty(); ++i) {
    for (size_t t = y.size() - 1; t > 0; --t) y[t] -= y[t - 1];
    y.erase(y.begin());
  }
  return y;
}
}  // namespace

void ArimaPredictor::refit() {
  fits_.resize(shape_.series());
  for (int s = 0; s < shape_.series(); ++s) fits_[s] = fit_arma(differenced(history_, s, order_.d), order_.p, order_.q);
  fitted_at_ = seen_;
}

void ArimaPredictor::forecast(int horizon, std::span<float> out) {
  if (seen_ == 0) throw std::logic_error("arima: forecast before any observed step");
  if (fitted_at_ < 0 || seen_ - fitted_at_ >= refit_every_) refit();
  const int series = shape_.series(), p = order_.p, q = order_.q;
  std::vector<double> y, e, level(order_.d);
  for (int s = 0; s < series; ++s) {
    const ArmaFit& fit = fits_[s];
    y = differenced(history_, s, order_.d);
    e = arma_residuals(fit, y);
    // The last values of each integration level, to undo the differencing.
    std::vector<double> x;
    for (const auto& step : history_) x.push_back(step[s]);
    for (int i = 0; i < order_.d; ++i) {
      level[i] = x.empty() ? 0.0 : x.back();
      if (x.empty()) continue;
      for (size_t t = x.size() - 1; t > 0; --t) x[t] -= x[t - 1];
      x.erase(x.begin());
    }
    for (int h = 0; h < horizon; ++h) {
      const size_t t = y.size();
      double next = fit.constant;
      for (int i = 1; i <= p; ++i) next += fit.phi[i - 1] * (t >= static_cast<size_t>(i) ? y[t - i] : 0.0);
      for (int j = 1; j <= q; ++j) next += fit.theta[j - 1] * (t >= static_cast<size_t>(j) ? e[t - j] : 0.0);
      y.push_back(next);
      e.push_back(0.0);
      // Integrate: the deepest level first.
      double v = next;
      for (int i = order_.d - 1; i >= 0; --i) v = level[i] += v;
      out[static_cast<size_t>(h) * series + s] = static_cast<float>(v);
    }
  }
  normalize_layers(out.first(static_cast<size_t>(horizon) * series), shape_);
}

namespace {

struct ArimaParams {
  int p = 5, d = 1, q = 5;
  int fit_window = 500;
  int refit_every = 500;
  void describe(params::Visitor& v) {
    v.count("p", p, 0, 20, "autoregressive lags");
    v.count("d", d, 0, 2, "differences");
    v.count("q", q, 0, 20, "moving-average lags");
    v.count("fit_window", fit_window, 1, 1'000'000, "steps each fit uses");
    v.count("refit_every", refit_every, 1, 1'000'000, "steps between fits");
  }
};

}  // namespace

const PredictorEntry& predictor_entry_arima() {
  static const PredictorEntry entry = predictor_entry<ArimaParams>(
      "arima", "the paper's ARIMA(p, d, q), fitted by Hannan-Rissanen",
      [](const ArimaParams& a, const SeriesShape& shape, const PredictorInputs&) -> std::unique_ptr<Predictor> {
        return std::make_unique<ArimaPredictor>(shape, ArimaOrder{a.p, a.d, a.q}, a.fit_window, a.refit_every);
      });
  return entry;
}

}  // namespace moesim::policies
