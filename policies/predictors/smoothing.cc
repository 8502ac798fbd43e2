#include "policies/predictors/smoothing.h"

#include <algorithm>
#include <stdexcept>

#include "policies/predictors/registry.h"

namespace moesim::policies {

void normalize_layers(std::span<float> steps, const SeriesShape& shape) {
  const size_t series = static_cast<size_t>(shape.series());
  for (size_t first = 0; first + series <= steps.size(); first += series) {
    for (int l = 0; l < shape.layers; ++l) {
      float* p = steps.data() + first + static_cast<size_t>(l) * shape.experts;
      double sum = 0;
      for (int e = 0; e < shape.experts; ++e) sum += p[e] = std::max(p[e], 0.0f);
      for (int e = 0; e < shape.experts; ++e) p[e] = sum > 0 ? static_cast<float>(p[e] / sum) : 1.0f / static_cast<float>(shape.experts);
    }
  }
}

namespace {
void require_observed(bool observed, const char* name) {
  if (!observed) throw std::logic_error(std::string(name) + ": forecast before any observed step");
}
}  // namespace

LastValuePredictor::LastValuePredictor(const SeriesShape& shape) : shape_(shape) {}

void LastValuePredictor::observe(std::span<const float> p) { last_.assign(p.begin(), p.end()); }

void LastValuePredictor::forecast(int horizon, std::span<float> out) {
  require_observed(!last_.empty(), "last_value");
  for (int h = 0; h < horizon; ++h) std::copy(last_.begin(), last_.end(), out.begin() + static_cast<ptrdiff_t>(h) * shape_.series());
}

SlidingWindowPredictor::SlidingWindowPredictor(const SeriesShape& shape, int window) : shape_(shape), window_(window), ring_(window) {
  if (window < 1) throw std::invalid_argument("sw_avg: window must be positive");
}

void SlidingWindowPredictor::observe(std::span<const float> p) {
  ring_[next_].assign(p.begin(), p.end());
  next_ = (next_ + 1) % window_;
  seen_ = std::min(seen_ + 1, window_);
}

void SlidingWindowPredictor::forecast(int horizon, std::span<float> out) {
  require_observed(seen_ > 0, "sw_avg");
  const int n = seen_, series = shape_.series();
  const int oldest = seen_ < window_ ? 0 : next_;
  buffer_.resize(n);
  for (int s = 0; s < series; ++s) {
    // The window as a ring of its own: each prediction replaces the oldest value.
    double sum = 0;
    for (int i = 0; i < n; ++i) sum += buffer_[i] = ring_[(oldest + i) % window_][s];
    for (int h = 0, head = 0; h < horizon; ++h, head = (head + 1) % n) {
      const double prediction = sum / n;
      out[static_cast<size_t>(h) * series + s] = static_cast<float>(prediction);
      sum += prediction - buffer_[head];
      buffer_[head] = prediction;
    }
  }
}

EmaPredictor::EmaPredictor(const SeriesShape& shape, double alpha) : shape_(shape), alpha_(alpha) {
  if (!(alpha > 0 && alpha <= 1)) throw std::invalid_argument("ema: alpha must be in (0, 1]");
}

void EmaPredictor::observe(std::span<const float> p) {
  if (!started_) {
    level_.assign(p.begin(), p.end());
    started_ = true;
    return;
  }
  for (size_t s = 0; s < p.size(); ++s) level_[s] += alpha_ * (p[s] - level_[s]);
}

void EmaPredictor::forecast(int horizon, std::span<float> out) {
  require_observed(started_, "ema");
  for (int h = 0; h < horizon; ++h)
    for (size_t s = 0; s < level_.size(); ++s) out[static_cast<size_t>(h) * level_.size() + s] = static_cast<float>(level_[s]);
  normalize_layers(out.first(static_cast<size_t>(horizon) * level_.size()), shape_);
}

HoltPredictor::HoltPredictor(const SeriesShape& shape, double alpha, double beta) : shape_(shape), alpha_(alpha), beta_(beta) {
  if (!(alpha > 0 && alpha <= 1) || !(beta >= 0 && beta <= 1)) throw std::invalid_argument("holt: alpha in (0, 1], beta in [0, 1]");
}

void HoltPredictor::observe(std::span<const float> p) {
  if (seen_ == 0) {
    level_.assign(p.begin(), p.end());
    trend_.assign(p.size(), 0.0);
  } else if (seen_ == 1) {
    for (size_t s = 0; s < p.size(); ++s) {
      trend_[s] = p[s] - level_[s];
      level_[s] = p[s];
    }
  } else {
    for (size_t s = 0; s < p.size(); ++s) {
      const double previous = level_[s];
      level_[s] = alpha_ * p[s] + (1 - alpha_) * (previous + trend_[s]);
      trend_[s] = beta_ * (level_[s] - previous) + (1 - beta_) * trend_[s];
    }
  }
  ++seen_;
}

void HoltPredictor::forecast(int horizon, std::span<float> out) {
  require_observed(seen_ > 0, "holt");
  const size_t series = level_.size();
  for (int h = 1; h <= horizon; ++h)
    for (size_t s = 0; s < series; ++s) out[static_cast<size_t>(h - 1) * series + s] = static_cast<float>(level_[s] + h * trend_[s]);
  normalize_layers(out.first(static_cast<size_t>(horizon) * series), shape_);
}

namespace {

struct WindowParams {
  int window = 100;
  void describe(params::Visitor& v) { v.count("window", window, 1, 1'000'000, "steps averaged"); }
};

struct EmaParams {
  double alpha = 0.05;
  void describe(params::Visitor& v) { v.real("alpha", alpha, {0, 1, false}, "weight of the newest step"); }
};

struct HoltParams {
  double alpha = 0.05;
  double beta = 0.005;
  void describe(params::Visitor& v) {
    v.real("alpha", alpha, {0, 1, false}, "level: weight of the newest step");
    v.real("beta", beta, {0, 1}, "trend: weight of the newest change of level");
  }
};

}  // namespace

const PredictorEntry& predictor_entry_last_value() {
  static const PredictorEntry entry = predictor_entry<params::NoParams>(
      "last_value", "the last observed step, repeated",
      [](const params::NoParams&, const SeriesShape& shape, const PredictorInputs&) -> std::unique_ptr<Predictor> {
        return std::make_unique<LastValuePredictor>(shape);
      });
  return entry;
}

const PredictorEntry& predictor_entry_sw_avg() {
  static const PredictorEntry entry = predictor_entry<WindowParams>(
      "sw_avg", "the paper's sliding-window average of the last `window` steps",
      [](const WindowParams& p, const SeriesShape& shape, const PredictorInputs&) -> std::unique_ptr<Predictor> {
        return std::make_unique<SlidingWindowPredictor>(shape, p.window);
      });
  return entry;
}

const PredictorEntry& predictor_entry_ema() {
  static const PredictorEntry entry =
      predictor_entry<EmaParams>("ema", "exponential smoothing: a flat forecast of the smoothed level",
                                 [](const EmaParams& p, const SeriesShape& shape, const PredictorInputs&) -> std::unique_ptr<Predictor> {
                                   return std::make_unique<EmaPredictor>(shape, p.alpha);
                                 });
  return entry;
}

const PredictorEntry& predictor_entry_holt() {
  static const PredictorEntry entry =
      predictor_entry<HoltParams>("holt", "Holt's linear trend: level plus steps ahead times trend",
                                  [](const HoltParams& p, const SeriesShape& shape, const PredictorInputs&) -> std::unique_ptr<Predictor> {
                                    return std::make_unique<HoltPredictor>(shape, p.alpha, p.beta);
                                  });
  return entry;
}

}  // namespace moesim::policies
