#include "policies/predictors/online_phase.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace moesim::policies {

OnlinePhases::OnlinePhases(const SeriesShape& shape, int window, double threshold)
    : shape_(shape),
      window_(window),
      threshold_(threshold),
      ring_(window),
      sum_(shape.series(), 0.0),
      squares_(shape.series(), 0.0),
      variance_(shape.layers, 0.0),
      peak_(shape.layers, 0.0),
      calm_run_(shape.layers, 0) {
  if (window < 2) throw std::invalid_argument("phase window must be at least 2 steps");
}

void OnlinePhases::observe(std::span<const float> p) {
  auto& slot = ring_[next_];
  const bool full = seen_ >= window_;
  for (int s = 0; s < shape_.series(); ++s) {
    const double x = p[s];
    sum_[s] += x;
    squares_[s] += x * x;
    if (full) {
      const double old = slot[s];
      sum_[s] -= old;
      squares_[s] -= old * old;
    }
  }
  slot.assign(p.begin(), p.end());
  next_ = (next_ + 1) % window_;
  seen_ = std::min(seen_ + 1, window_);
  if (seen_ < window_) return;
  for (int l = 0; l < shape_.layers; ++l) {
    double variance = 0;
    for (int e = 0; e < shape_.experts; ++e) {
      const int s = l * shape_.experts + e;
      const double mean = sum_[s] / window_;
      variance += std::max(0.0, squares_[s] / window_ - mean * mean);
    }
    variance_[l] = variance / shape_.experts;
    peak_[l] = std::max(peak_[l], variance_[l]);
    calm_run_[l] = variance_[l] <= threshold_ * peak_[l] ? calm_run_[l] + 1 : 0;
  }
}

std::vector<double> OnlinePhases::headroom(double k) const {
  std::vector<double> out(shape_.series(), 0.0);
  if (seen_ == 0) return out;
  for (int s = 0; s < shape_.series(); ++s) {
    const double mean = sum_[s] / seen_;
    out[s] = mean + k * std::sqrt(std::max(0.0, squares_[s] / seen_ - mean * mean));
  }
  return out;
}

}  // namespace moesim::policies
