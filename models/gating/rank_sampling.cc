#include "models/gating/rank_sampling.h"

#include <algorithm>
#include <cmath>

#include <boost/random/normal_distribution.hpp>

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

namespace {

// Rng as a Boost.Random engine: Boost's ziggurat draws a normal about four times as cheaply as
// Rng::normal's Box-Muller, and a row takes one per expert.
struct Engine {
  using result_type = uint64_t;
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }
  result_type operator()() { return rng.next(); }
  Rng& rng;
};

}  // namespace

void RankSampler::prepare(std::span<const double> shares, int64_t tokens, int top_k) {
  tokens_ = tokens;
  assignments_ = tokens * top_k;
  mean_.resize(shares.size());
  sd_.resize(shares.size());
  for (size_t e = 0; e < shares.size(); ++e) {
    mean_[e] = static_cast<double>(assignments_) * shares[e];
    sd_[e] = std::sqrt(mean_[e]);
  }
}

void RankSampler::sample(Rng& rng, std::span<int32_t> row) {
  const size_t experts = mean_.size();
  const double cap = static_cast<double>(tokens_);
  Engine engine{rng};
  boost::random::normal_distribution<double> normal;
  // Independent Poisson-sized draws (variance = mean), then scaled to the row's total: a Poisson
  // vector conditioned on its sum is multinomial, so each count keeps n·p·(1 − p) (with the
  // multinomial's own variance here, scaling would shrink it, by a quarter at p = 0.3).
  draws_.resize(experts);
  for (size_t e = 0; e < experts; ++e) draws_[e] = std::clamp(mean_[e] + sd_[e] * normal(engine), 0.0, cap);
  scale_to_assignments();
  // Rounded systematically: one uniform offset, each expert's count the integers its stretch of
  // the running sum crosses. Each count is its value rounded down or up, up with the probability
  // of its fraction, and the row sums exactly.
  double running = rng.uniform();
  int64_t given = 0;
  bool over = false;
  for (size_t e = 0; e + 1 < experts; ++e) {
    running += draws_[e];
    const auto reached = static_cast<int64_t>(running);
    row[e] = static_cast<int32_t>(reached - given);
    over |= row[e] > tokens_;
    given = reached;
  }
  const int64_t last = assignments_ - given;
  row[experts - 1] = static_cast<int32_t>(last);
  if (over || last < 0 || last > tokens_) round_by_remainders(row);
}

void RankSampler::scale_to_assignments() {
  const double cap = static_cast<double>(tokens_);
  // Water-filling: those scaled past the cap stay there and the others scale again.
  for (size_t pass = 0; pass < draws_.size(); ++pass) {
    double pinned = 0, free = 0;
    for (double d : draws_) (d >= cap ? pinned : free) += d;
    if (!(free > 0)) {
      if (pinned == 0) std::fill(draws_.begin(), draws_.end(), static_cast<double>(assignments_) / static_cast<double>(draws_.size()));
      return;
    }
    const double scale = (static_cast<double>(assignments_) - pinned) / free;
    bool capped = false;
    for (double& d : draws_) {
      if (d < cap) {
        d *= scale;
        if (d >= cap) {
          d = cap;
          capped = true;
        }
      }
    }
    if (!capped) return;
  }
}

void RankSampler::round_by_remainders(std::span<int32_t> row) {
  const size_t experts = draws_.size();
  int64_t given = 0;
  remainders_.clear();
  for (size_t e = 0; e < experts; ++e) {
    const double whole = std::min(std::floor(draws_[e]), static_cast<double>(tokens_));
    row[e] = static_cast<int32_t>(whole);
    given += row[e];
    remainders_.emplace_back(draws_[e] - whole, static_cast<int>(e));
  }
  int64_t missing = assignments_ - given;
  if (missing <= 0) return;
  // Largest remainders first, ties to the lower expert, passing over experts already at `tokens`,
  // round again until none is missing.
  const auto larger = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  std::sort(remainders_.begin(), remainders_.end(), larger);
  for (size_t i = 0; missing > 0; i = (i + 1) % remainders_.size()) {
    const int e = remainders_[i].second;
    if (row[e] < tokens_) {
      ++row[e];
      --missing;
    }
  }
}

}  // namespace moesim::gating
