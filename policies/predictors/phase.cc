#include "policies/predictors/phase.h"

#include <algorithm>
#include <stdexcept>

#include "policies/predictors/online_phase.h"

namespace moesim::policies {

std::vector<LayerPhase> detect_phases(const std::vector<std::vector<float>>& proportions, const SeriesShape& shape,
                                      const PhaseOptions& options) {
  if (options.window < 2) throw std::invalid_argument("phase window must be at least 2 steps");
  const int steps = static_cast<int>(proportions.size()), w = options.window;
  std::vector<LayerPhase> phases(shape.layers);
  for (auto& phase : phases) phase.variance.assign(steps, 0.0);
  OnlinePhases online(shape, w, options.threshold);
  for (int t = 0; t < steps; ++t) {
    online.observe(proportions[t]);
    if (t < w - 1) continue;
    for (int l = 0; l < shape.layers; ++l) phases[l].variance[t] = online.variance(l);
  }
  for (auto& phase : phases) {
    if (steps < w) continue;
    phase.peak = *std::max_element(phase.variance.begin() + (w - 1), phase.variance.end());
    // Walk back from the end through calm windows. One burst of loads lifts the windowed variance
    // for at most `window` consecutive windows, so an excursion above the calm level that spans
    // no more than that is a burst within the stable phase. Calm dips shorter than a window do
    // not end an excursion: intermittent fluctuation is still the transient.
    const double calm = options.threshold * phase.peak;
    int from = steps, excursion_end = -1, calm_run = 0;
    for (int t = steps - 1; t >= w - 1; --t) {
      if (phase.variance[t] <= calm) {
        ++calm_run;
        if (excursion_end < 0 || calm_run >= w) {
          excursion_end = -1;
          from = t;
        }
      } else {
        calm_run = 0;
        if (excursion_end < 0) excursion_end = t;
        if (excursion_end - t + 1 > w) break;
      }
    }
    phase.stable_from = from < steps && phase.peak > 0 ? from : (phase.peak == 0 ? w - 1 : -1);
  }
  return phases;
}

}  // namespace moesim::policies
