#include "models/gating/load_statistics.h"

#include <algorithm>

namespace moesim::gating {

double windowed_variance(const std::vector<std::vector<double>>& proportions, int from, int to, int window) {
  if (window <= 0 || proportions.empty()) return 0;
  const size_t experts = proportions[0].size();
  double sum = 0;
  int count = 0;
  const int stride = std::max(1, window / 4);
  for (int start = from; start + window <= to; start += stride) {
    for (size_t e = 0; e < experts; ++e) {
      double mean = 0, squares = 0;
      for (int s = start; s < start + window; ++s) mean += proportions[s][e];
      mean /= window;
      for (int s = start; s < start + window; ++s) squares += (proportions[s][e] - mean) * (proportions[s][e] - mean);
      sum += squares / window;
      ++count;
    }
  }
  return count > 0 ? sum / count : 0;
}

}  // namespace moesim::gating
