#include "models/gating/rank_sampling.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "sim/base/avx2_clones.h"

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

namespace {

// Four lanes of GCC's vector extensions: one AVX register in the clones for AVX2 and x86-64-v4,
// two SSE2 registers otherwise. Lane i of a sum over experts adds expert e's value for e % 4 == i,
// in order. The helpers are always inlined into the functions below, so no vector crosses a call,
// and GCC's note that such a call's ABI would depend on AVX (given at the end of the file, hence
// not popped) does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"
using Doubles = double __attribute__((vector_size(32)));
using Integers = int64_t __attribute__((vector_size(32)));
using Floats = float __attribute__((vector_size(16)));

[[gnu::always_inline]] inline Doubles load(const double* p) {
  Doubles v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
// Lane by lane rather than __builtin_convertvector, which GCC 12 widens half by half (four
// instructions where AVX has one).
[[gnu::always_inline]] inline Doubles load_widened(const float* p) {
  Floats v;
  std::memcpy(&v, p, sizeof v);
  return Doubles{v[0], v[1], v[2], v[3]};
}
[[gnu::always_inline]] inline void store(double* p, Doubles v) { std::memcpy(p, &v, sizeof v); }
[[gnu::always_inline]] inline void store(int64_t* p, Integers v) { std::memcpy(p, &v, sizeof v); }
[[gnu::always_inline]] inline Doubles all(double x) { return Doubles{x, x, x, x}; }
[[gnu::always_inline]] inline int64_t lane_sum(Integers v) { return (v[0] + v[1]) + (v[2] + v[3]); }

// std::clamp(draw, 0, cap), as selections that are always made.
template <class T>
[[gnu::always_inline]] inline T clamp_to_cap(T draw, T zero, T cap) {
  draw = draw < zero ? zero : draw;
  return cap < draw ? cap : draw;
}

// Poisson-sized draws from standard normals, each within [0, cap]: how many reach the cap, and
// the sum of the others in four running sums (one would wait on each addition), expert e's in sum
// e % 4.
MOESIM_AVX512_CLONES
int poisson_sized(const double* mean, const double* sd, const float* normals, double cap, double* draws, size_t experts, double* below) {
  const Doubles zeros = all(0.0), caps = all(cap);
  Doubles sum = zeros;
  Integers at_cap = {0, 0, 0, 0};
  size_t e = 0;
  for (; e + 4 <= experts; e += 4) {
    const Doubles draw = clamp_to_cap(load(mean + e) + load(sd + e) * load_widened(normals + e), zeros, caps);
    store(draws + e, draw);
    const auto capped = draw >= caps;  // a true comparison is -1
    at_cap -= capped;
    sum += capped ? zeros : draw;
  }
  for (size_t i = 0; i < 4; ++i) below[i] = sum[i];
  int capped = static_cast<int>(lane_sum(at_cap));
  for (size_t i = 0; e < experts; ++e, ++i) {
    const double draw = clamp_to_cap(mean[e] + sd[e] * static_cast<double>(normals[e]), 0.0, cap);
    draws[e] = draw;
    capped += draw >= cap;
    below[i] += draw < cap ? draw : 0.0;
  }
  return capped;
}

// One pass of RankSampler::scale_into_fixed: the draws below the cap scaled (none beyond it), all
// of them into fixed point (none above the cap), how many the scaling took to the cap, the sum of
// those still below it in four running sums (as poisson_sized()'s) and fixed's sum.
struct ScalePass {
  int capped;
  double below[4];
  int64_t fixed_sum;
};

MOESIM_AVX512_CLONES
ScalePass scale_pass(double scale, double cap, int64_t cap_fixed, double one, double* draws, int64_t* fixed, size_t experts) {
  const Doubles zeros = all(0.0), caps = all(cap), scales = all(scale), ones = all(one), halves = all(0.5), magics = all(0x1p52);
  constexpr int64_t kMagicBits = std::bit_cast<int64_t>(0x1p52);
  const Integers caps_fixed = {cap_fixed, cap_fixed, cap_fixed, cap_fixed}, magic_bits = {kMagicBits, kMagicBits, kMagicBits, kMagicBits};
  Doubles below = zeros;
  Integers capped = {0, 0, 0, 0}, sum = {0, 0, 0, 0};
  size_t e = 0;
  // The vector's truncation needs the fixed-point values below 2^51 (fewer than 2^27 tokens a
  // rank); past that, the scalar loop does all.
  const size_t vector_end = cap_fixed < (int64_t{1} << 51) ? experts : 0;
  for (; e + 4 <= vector_end; e += 4) {
    Doubles draw = load(draws + e);
    const auto was_below = draw < caps;
    Doubles scaled = draw * scales;
    scaled = caps < scaled ? caps : scaled;
    capped -= was_below & (scaled >= caps);
    draw = was_below ? scaled : draw;
    store(draws + e, draw);
    below += draw < caps ? draw : zeros;
    // Truncated to an integer as the scalar tail's cast truncates, but in the vector: adding 2^52
    // rounds the (non-negative, below 2^51) value to the nearest integer and leaves it in the
    // mantissa's bits; one less where that rounded up.
    const Doubles point_to_round = draw * ones + halves, rounded = point_to_round + magics;
    Integers point = __builtin_bit_cast(Integers, rounded) - magic_bits;
    point += (rounded - magics) > point_to_round;  // a true comparison is -1
    point = point < caps_fixed ? point : caps_fixed;
    store(fixed + e, point);
    sum += point;
  }
  ScalePass pass{static_cast<int>(lane_sum(capped)), {below[0], below[1], below[2], below[3]}, lane_sum(sum)};
  for (size_t i = 0; e < experts; ++e, ++i) {
    double draw = draws[e];
    if (draw < cap) {
      draw = std::min(draw * scale, cap);
      pass.capped += draw >= cap;
      draws[e] = draw;
    }
    pass.below[i] += draw < cap ? draw : 0.0;
    fixed[e] = std::min(cap_fixed, static_cast<int64_t>(draw * one + 0.5));
    pass.fixed_sum += fixed[e];
  }
  return pass;
}

// RankSampler::round_systematically()'s crossings from `running` on: row[e] is the whole tokens
// that expert e's stretch of the running sum crosses, added to loads[e] too. Eight experts a pass,
// four a vector: the stretches' ends and starts (a prefix sum within the vector, plus the running
// sum before it) in whole tokens by a shift (the sums are never negative), one less the other. The
// running sum goes from one vector to the next in a scalar, so a vector's work waits on nothing
// else of the one before; the two vectors' counts narrow to 32 bits together, in two shuffles
// where one vector's alone takes four or five.
MOESIM_AVX512_CLONES
void count_crossings(const int64_t* fixed, size_t experts, int64_t running, int fraction_bits, int32_t* row, int64_t* loads) {
  using Sums = uint64_t __attribute__((vector_size(32)));
  using Words = int32_t __attribute__((vector_size(32)));
  const Sums zeros = {0, 0, 0, 0};
  uint64_t before = static_cast<uint64_t>(running);
  // Four experts' counts from `before` on, added to their loads; `before` moves past them.
  const auto four = [&](size_t at) {
    Sums v;
    std::memcpy(&v, fixed + at, sizeof v);
    Sums ends = v + __builtin_shufflevector(zeros, v, 0, 4, 5, 6);
    ends += __builtin_shufflevector(zeros, ends, 0, 1, 4, 5);
    ends += Sums{before, before, before, before};
    before += static_cast<uint64_t>(fixed[at] + fixed[at + 1]) + static_cast<uint64_t>(fixed[at + 2] + fixed[at + 3]);
    const Sums counts = (ends >> fraction_bits) - ((ends - v) >> fraction_bits);
    Sums load;
    std::memcpy(&load, loads + at, sizeof load);
    load += counts;
    std::memcpy(loads + at, &load, sizeof load);
    return __builtin_bit_cast(Words, counts);
  };
  size_t e = 0;
  for (; e + 8 <= experts; e += 8) {
    const Words low = four(e), high = four(e + 4);
    // Each 128-bit half: the low words of low's two counts there, then high's; then the halves'
    // middle quarters swapped.
    const Words mixed = __builtin_shufflevector(low, high, 0, 2, 8, 10, 4, 6, 12, 14);
    const Words counts = __builtin_shufflevector(mixed, mixed, 0, 1, 4, 5, 2, 3, 6, 7);
    std::memcpy(row + e, &counts, sizeof counts);
  }
  int64_t at = static_cast<int64_t>(before);
  for (; e < experts; ++e) {
    const int64_t start = at >> fraction_bits;
    at += fixed[e];
    row[e] = static_cast<int32_t>((at >> fraction_bits) - start);
    loads[e] += (at >> fraction_bits) - start;
  }
}

}  // namespace

void RankSampler::sample(Rng& rng, std::span<int32_t> row, std::span<int64_t> loads) {
  const size_t experts = mean_.size();
  const double cap = static_cast<double>(tokens_);
  // Independent Poisson-sized draws (variance = mean), then scaled to the row's total: a Poisson
  // vector conditioned on its sum is multinomial, so each count keeps n·p·(1 − p) (with the
  // multinomial's own variance here, scaling would shrink it, by a quarter at p = 0.3).
  draws_.resize(experts);
  const std::span<const float> normals = normals_.draw(rng, experts);
  double below[4];
  const int at_cap = poisson_sized(mean_.data(), sd_.data(), normals.data(), cap, draws_.data(), experts, below);
  const double free = (below[0] + below[1]) + (below[2] + below[3]), pinned = at_cap * cap;
  if (free > 0 && pinned < static_cast<double>(assignments_)) {
    scale_into_fixed(pinned, free);
  } else {
    scale_alike(pinned + free);
    to_fixed();
  }
  round_systematically(rng.next(), row, loads);
}

void RankSampler::skip(Rng& rng, int64_t rows) {
  // The normals' seeds, then the offset of the rounding (sample()).
  for (int64_t draw = 0; draw < rows * (NormalBatch::kSeedDraws + 1); ++draw) rng.next();
}

void RankSampler::scale_into_fixed(double pinned, double free) {
  const double cap = static_cast<double>(tokens_), assignments = static_cast<double>(assignments_);
  const size_t experts = draws_.size();
  fixed_.resize(experts);
  // Each pass leaves fixed_ as to_fixed() would, and the sum below the cap for the next.
  for (size_t pass = 0; pass < experts && free > 0; ++pass) {
    const ScalePass done =
        scale_pass((assignments - pinned) / free, cap, tokens_ << kFractionBits, kOne, draws_.data(), fixed_.data(), experts);
    missing_ = (assignments_ << kFractionBits) - done.fixed_sum;
    if (done.capped == 0) return;
    pinned += done.capped * cap;
    free = (done.below[0] + done.below[1]) + (done.below[2] + done.below[3]);
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

void RankSampler::round_systematically(uint64_t random, std::span<int32_t> row, std::span<int64_t> loads) {
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
  count_crossings(fixed_.data(), experts, static_cast<int64_t>(random >> (64 - kFractionBits)), kFractionBits, row.data(), loads.data());
}

}  // namespace moesim::gating
