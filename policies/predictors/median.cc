#include "policies/predictors/median.h"

#include <algorithm>
#include <stdexcept>

#include "policies/predictors/registry.h"

namespace moesim::policies {

MedianPredictor::MedianPredictor(const SeriesShape& shape, int window) : shape_(shape), window_(window) {
  if (window < 1) throw std::invalid_argument("median: window must be positive");
  ring_.resize(static_cast<size_t>(window));
}

void MedianPredictor::observe(std::span<const float> proportions) {
  ring_[static_cast<size_t>(next_)].assign(proportions.begin(), proportions.end());
  next_ = (next_ + 1) % window_;
  seen_ = std::min(seen_ + 1, window_);
}

void MedianPredictor::forecast(int horizon, std::span<float> out) {
  if (seen_ == 0) throw std::logic_error("median: forecast before any observed step");
  const size_t series = static_cast<size_t>(shape_.series()), n = static_cast<size_t>(seen_);
  buffer_.resize(n);
  const auto middle = buffer_.begin() + static_cast<ptrdiff_t>(n / 2);
  for (size_t s = 0; s < series; ++s) {
    for (size_t i = 0; i < n; ++i) buffer_[i] = ring_[i][s];
    std::nth_element(buffer_.begin(), middle, buffer_.end());
    float median = *middle;
    // An even window: the mean of the two middle values; the lower one is the largest below.
    if (n % 2 == 0) median = (median + *std::max_element(buffer_.begin(), middle)) / 2;
    out[s] = median;
  }
  normalize_layers(out.first(series), shape_);
  for (int h = 1; h < horizon; ++h) std::copy_n(out.begin(), series, out.begin() + static_cast<ptrdiff_t>(h * series));
}

namespace {

struct MedianParams {
  int window = 100;
  void describe(params::Visitor& v) { v.count("window", window, 1, 1'000'000, "steps whose median is forecast"); }
};

}  // namespace

const PredictorEntry& predictor_entry_median() {
  static const PredictorEntry entry = predictor_entry<MedianParams>(
      "median", "the median of the last `window` steps: blind to bursts shorter than half of it",
      [](const MedianParams& p, const SeriesShape& shape, const PredictorInputs&) -> std::unique_ptr<Predictor> {
        return std::make_unique<MedianPredictor>(shape, p.window);
      });
  return entry;
}

}  // namespace moesim::policies
