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
  // The stream and the arrays in locals: through `rng` and the members, every draw would store
  // the generator's state and reload the arrays' addresses, since a store to draws_ might alias them.
  Rng local = rng;
  Engine engine{local};
  boost::random::normal_distribution<double> normal;
  // Independent Poisson-sized draws (variance = mean), then scaled to the row's total: a Poisson
  // vector conditioned on its sum is multinomial, so each count keeps n·p·(1 − p) (with the
  // multinomial's own variance here, scaling would shrink it, by a quarter at p = 0.3).
  draws_.resize(experts);
  const double* mean = mean_.data();
  const double* sd = sd_.data();
  double* draws = draws_.data();
  int at_cap = 0;
  // The sum of the draws below the cap, in four running sums (one would wait on each addition).
  double below[4] = {0, 0, 0, 0};
  for (size_t e = 0; e < experts; ++e) {
    const double draw = std::clamp(mean[e] + sd[e] * normal(engine), 0.0, cap);
    draws[e] = draw;
    at_cap += draw >= cap;
    below[e % 4] += draw < cap ? draw : 0.0;
  }
  const double free = (below[0] + below[1]) + (below[2] + below[3]), pinned = at_cap * cap;
  if (free > 0 && pinned < static_cast<double>(assignments_)) {
    scale_into_fixed(pinned, free);
  } else {
    scale_alike(pinned + free);
    to_fixed();
  }
  round_systematically(local.next(), row);
  rng = local;
}

void RankSampler::scale_into_fixed(double pinned, double free) {
  const double cap = static_cast<double>(tokens_), assignments = static_cast<double>(assignments_);
  const int64_t cap_fixed = tokens_ << kFractionBits;
  const size_t experts = draws_.size();
  fixed_.resize(experts);
  // In locals: as members, each store to fixed_ might change missing_ and the arrays' addresses.
  double* draws = draws_.data();
  int64_t* fixed = fixed_.data();
  // Each pass leaves fixed_ as to_fixed() would, and the sum below the cap for the next.
  for (size_t pass = 0; pass < experts && free > 0; ++pass) {
    const double scale = (assignments - pinned) / free;
    int capped = 0;
    double below[4] = {0, 0, 0, 0};
    int64_t missing = assignments_ << kFractionBits;
    for (size_t e = 0; e < experts; ++e) {
      double d = draws[e];
      if (d < cap) {
        d = std::min(d * scale, cap);
        capped += d >= cap;
        draws[e] = d;
      }
      below[e % 4] += d < cap ? d : 0.0;
      fixed[e] = std::min(cap_fixed, static_cast<int64_t>(d * kOne + 0.5));
      missing -= fixed[e];
    }
    missing_ = missing;
    if (capped == 0) return;
    pinned += capped * cap;
    free = (below[0] + below[1]) + (below[2] + below[3]);
  }
}

void RankSampler::scale_alike(double total) {
  const double cap = static_cast<double>(tokens_), assignments = static_cast<double>(assignments_);
  if (total <= 0) {
    std::fill(draws_.begin(), draws_.end(), assignments / static_cast<double>(draws_.size()));
    return;
  }
  const double scale = assignments / total;
  for (double& d : draws_) d = std::min(d * scale, cap);
}

void RankSampler::to_fixed() {
  const int64_t cap = tokens_ << kFractionBits;
  fixed_.resize(draws_.size());
  missing_ = assignments_ << kFractionBits;
  for (size_t e = 0; e < draws_.size(); ++e) {
    fixed_[e] = std::min(cap, static_cast<int64_t>(draws_[e] * kOne + 0.5));
    missing_ -= fixed_[e];
  }
}

void RankSampler::round_systematically(uint64_t random, std::span<int32_t> row) {
  // In fixed point (kFractionBits below the token, to_fixed()), so the running sum is exact: one
  // uniform offset, and each expert's count is the number of whole tokens its stretch of the
  // running sum crosses. Each count is its value rounded down or up, up with the probability of its
  // fraction, none above the cap, and the row sums exactly.
  const size_t experts = fixed_.size();
  const int64_t cap = tokens_ << kFractionBits;
  // What the scaling's rounding left (a few units of 2^-24 tokens per expert) goes to the
  // first experts with room for it.
  for (size_t e = 0; missing_ != 0 && e < experts; ++e) {
    const int64_t take = missing_ > 0 ? std::min(missing_, cap - fixed_[e]) : std::max(missing_, -fixed_[e]);
    fixed_[e] += take;
    missing_ -= take;
  }
  int64_t running = static_cast<int64_t>(random >> (64 - kFractionBits)), crossed = 0;
  for (size_t e = 0; e < experts; ++e) {
    running += fixed_[e];
    const int64_t reached = running >> kFractionBits;
    row[e] = static_cast<int32_t>(reached - crossed);
    crossed = reached;
  }
}

}  // namespace moesim::gating
