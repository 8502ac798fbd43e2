#include "models/gating/expert_choice.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace moesim::gating {

void c2r_choose(std::span<const int32_t> candidates, std::span<const int32_t> collaborators, std::span<int32_t> chosen) {
  const size_t k = chosen.size();
  if (k == 0 || candidates.empty()) throw std::invalid_argument("c2r_choose: no candidates or no choices");
  if (collaborators.size() + 1 < k) throw std::invalid_argument("c2r_choose: fewer collaborators than top_k - 1");
  chosen[0] = candidates[0];
  size_t found = 1;
  auto collaborates = [&](int32_t e) { return std::find(collaborators.begin(), collaborators.end(), e) != collaborators.end(); };
  auto taken = [&](int32_t e) {
    return std::find(chosen.begin(), chosen.begin() + static_cast<std::ptrdiff_t>(found), e) !=
           chosen.begin() + static_cast<std::ptrdiff_t>(found);
  };
  for (size_t i = 1; i < candidates.size() && found < k; ++i) {
    if (collaborates(candidates[i])) chosen[found++] = candidates[i];
  }
  for (size_t i = 0; i < collaborators.size() && found < k; ++i) {
    if (!taken(collaborators[i])) chosen[found++] = collaborators[i];
  }
}

int best_local(std::span<const int32_t> candidates, std::span<const uint8_t> local) {
  for (int32_t e : candidates) {
    if (local[e]) return e;
  }
  return -1;
}

std::vector<std::vector<int32_t>> block_collaborators(int experts, int group_size) {
  std::vector<std::vector<int32_t>> out(experts);
  for (int e = 0; e < experts; ++e) {
    const int first = e / group_size * group_size;
    for (int f = first; f < std::min(experts, first + group_size); ++f) {
      if (f != e) out[e].push_back(f);
    }
  }
  return out;
}

CoactivationCounter::CoactivationCounter(int experts) : experts_(experts), counts_(static_cast<size_t>(experts) * experts, 0.0) {}

void CoactivationCounter::add(std::span<const int32_t> experts, double weight) {
  for (int32_t a : experts) {
    for (int32_t b : experts) {
      if (a != b) counts_[static_cast<size_t>(a) * experts_ + b] += weight;
    }
  }
}

std::vector<std::vector<int32_t>> CoactivationCounter::collaborators(int count) const {
  std::vector<std::vector<int32_t>> out(experts_);
  std::vector<int32_t> order;
  for (int e = 0; e < experts_; ++e) {
    order.resize(experts_);
    std::iota(order.begin(), order.end(), 0);
    order.erase(order.begin() + e);
    const double* row = counts_.data() + static_cast<size_t>(e) * experts_;
    std::stable_sort(order.begin(), order.end(), [row](int32_t a, int32_t b) { return row[a] > row[b]; });
    out[e].assign(order.begin(), order.begin() + std::min<size_t>(count, order.size()));
  }
  return out;
}

}  // namespace moesim::gating
