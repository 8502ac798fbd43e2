#include "models/gating/rank_sampling.h"

#include <algorithm>
#include <cmath>

namespace moesim::gating {

void cap_shares(std::vector<double>& shares, int top_k) {
  const double cap = 1.0 / top_k;
  // Water-filling: at most one pass per expert that hits the cap.
  for (size_t pass = 0; pass < shares.size(); ++pass) {
    double excess = 0, free_mass = 0;
    for (double s : shares) {
      if (s > cap)
        excess += s - cap;
      else if (s < cap)
        free_mass += s;
    }
    if (excess <= 1e-15 || free_mass <= 0) break;
    for (double& s : shares) {
      if (s > cap)
        s = cap;
      else if (s < cap)
        s += excess * s / free_mass;
    }
  }
}

void RankSampler::sample(std::span<const double> shares, int64_t tokens, int top_k, Rng& rng, std::span<int32_t> row) {
  const size_t experts = shares.size();
  const double assignments = static_cast<double>(tokens) * top_k;
  draws_.resize(experts);
  double total = 0;
  for (size_t e = 0; e < experts; ++e) {
    const double mean = assignments * shares[e];
    const double sd = std::sqrt(mean * std::max(0.0, 1.0 - shares[e]));
    draws_[e] = std::clamp(mean + sd * rng.normal(), 0.0, static_cast<double>(tokens));
    total += draws_[e];
  }
  int64_t given = 0;
  remainders_.clear();
  for (size_t e = 0; e < experts; ++e) {
    const double v = total > 0 ? draws_[e] * assignments / total : assignments / static_cast<double>(experts);
    const double whole = std::min(std::floor(v), static_cast<double>(tokens));
    row[e] = static_cast<int32_t>(whole);
    given += row[e];
    remainders_.emplace_back(v - whole, static_cast<int>(e));
  }
  int64_t missing = static_cast<int64_t>(assignments) - given;
  if (missing <= 0) return;
  // Largest remainders first, ties to the lower expert, passing over experts already at `tokens`.
  // Where enough experts are below it, the first pass hands out every missing token, one each, so
  // which experts get one does not depend on their order: selecting them is enough (O(experts)).
  const auto larger = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  const auto open = std::partition(remainders_.begin(), remainders_.end(), [&](const auto& r) { return row[r.second] < tokens; });
  if (missing <= open - remainders_.begin()) {
    const auto chosen = remainders_.begin() + missing;
    std::nth_element(remainders_.begin(), chosen, open, larger);
    for (auto it = remainders_.begin(); it != chosen; ++it) ++row[it->second];
    return;
  }
  // Otherwise in order, passing over experts at `tokens`, round again until none is missing.
  std::sort(remainders_.begin(), remainders_.end(), larger);
  for (size_t i = 0; missing > 0; i = (i + 1) % remainders_.size()) {
    const int e = remainders_[i].second;
    if (row[e] < tokens) {
      ++row[e];
      --missing;
    }
  }
}

}  // namespace moesim::gating
