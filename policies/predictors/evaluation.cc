#include "policies/predictors/evaluation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace moesim::policies {

Evaluation evaluate(Predictor& predictor, const std::vector<std::vector<float>>& proportions, const SeriesShape& shape,
                    const std::vector<LayerPhase>& phases, const EvaluationOptions& options,
                    const std::function<void(int, int)>& progress) {
  if (options.horizons.empty()) throw std::invalid_argument("no horizons to evaluate");
  if (options.stride < 1 || options.first_origin < 0) throw std::invalid_argument("stride must be positive, first origin non-negative");
  const int every = options.scored_every;
  if (every < 1 || options.stride % every || options.first_origin % every) throw std::invalid_argument("origins must fall on scored steps");
  for (int h : options.horizons)
    if (h % every) throw std::invalid_argument("horizons must be multiples of the scored steps' spacing");
  const int steps = static_cast<int>(proportions.size());
  const int longest = *std::max_element(options.horizons.begin(), options.horizons.end());
  const int series = shape.series(), layers = shape.layers;
  std::vector<int> origins;
  // Each origin is scored at the horizons for which the trace holds enough future.
  for (int t = options.first_origin; t + 1 < steps; t += options.stride) origins.push_back(t);

  Evaluation result;
  struct Sums {
    double transient = 0, stable = 0;
    int transient_n = 0, stable_n = 0;
    std::vector<double> layer;
    std::vector<int> layer_n;
  };
  std::vector<Sums> sums(options.horizons.size(), Sums{0, 0, 0, 0, std::vector<double>(layers, 0.0), std::vector<int>(layers, 0)});
  std::vector<float> forecast(static_cast<size_t>(longest) * series);
  std::vector<double> cumulative(layers);
  std::vector<size_t> order(options.horizons.size());  // horizons, shortest first
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return options.horizons[a] < options.horizons[b]; });
  int next_step = 0, done = 0;
  for (int origin : origins) {
    for (; next_step <= origin; ++next_step) predictor.observe(proportions[next_step]);
    const int reach = std::min(longest, steps - 1 - origin);  // steps of future the trace holds
    predictor.forecast(reach, forecast);
    // Running sums over the horizon of the per-layer mean absolute error.
    std::fill(cumulative.begin(), cumulative.end(), 0.0);
    size_t next_horizon = 0;
    for (int h = every; h <= reach && next_horizon < order.size(); h += every) {
      const auto& actual = proportions[origin + h];
      const float* predicted = forecast.data() + static_cast<size_t>(h - 1) * series;
      for (int l = 0; l < layers; ++l) {
        double err = 0;
        for (int e = 0; e < shape.experts; ++e) err += std::abs(predicted[l * shape.experts + e] - actual[l * shape.experts + e]);
        cumulative[l] += err / shape.experts;
      }
      while (next_horizon < order.size() && options.horizons[order[next_horizon]] == h) {
        const size_t i = order[next_horizon++];
        ErrorPoint point{origin, h, std::vector<double>(layers)};
        for (int l = 0; l < layers; ++l) {
          const double e = 100.0 * cumulative[l] / (h / every);
          point.per_layer[l] = e;
          auto& s = sums[i];
          s.layer[l] += e;
          ++s.layer_n[l];
          const bool stable = phases[l].stable_from >= 0 && origin >= phases[l].stable_from;
          (stable ? s.stable : s.transient) += e;
          ++(stable ? s.stable_n : s.transient_n);
        }
        result.curve.push_back(std::move(point));
      }
    }
    if (progress) progress(++done, static_cast<int>(origins.size()));
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (size_t i = 0; i < options.horizons.size(); ++i) {
    const auto& s = sums[i];
    HorizonError h;
    h.horizon = options.horizons[i];
    h.transient_samples = s.transient_n;
    h.stable_samples = s.stable_n;
    h.transient = s.transient_n ? s.transient / s.transient_n : nan;
    h.stable = s.stable_n ? s.stable / s.stable_n : nan;
    h.overall = s.transient_n + s.stable_n ? (s.transient + s.stable) / (s.transient_n + s.stable_n) : nan;
    for (int l = 0; l < layers; ++l) h.per_layer.push_back(s.layer_n[l] ? s.layer[l] / s.layer_n[l] : nan);
    result.horizons.push_back(std::move(h));
  }
  return result;
}

}  // namespace moesim::policies
