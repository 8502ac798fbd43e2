#include "models/gating/normal_batch.h"

#include <bit>
#include <cmath>
#include <limits>

#include <boost/random/normal_distribution.hpp>

namespace moesim::gating {

namespace {

// The batch's draws, then the live stream: Boost redoes a failed first try from here.
struct BufferedEngine {
  using result_type = uint64_t;
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }
  result_type operator()() { return position < bits.size() ? bits[position++] : (++position, rng.next()); }
  std::span<const uint64_t> bits;
  size_t position;
  Rng& rng;
};

// Each draw's first try, as Boost 1.74's ziggurat makes it from a 64-bit engine
// (detail::generate_int_float_pair<double, 8> and unit_normal_distribution): the low 8 bits pick
// the sign and one of 128 layers, bits 8 to 63 (less bit 11, which Boost clears) a fraction r in
// [0, 1); x = r * table_x[layer] is accepted if below table_x[layer + 1]. Accepted, the normal is
// ±x, plus the normal_distribution's mean of 0 (which makes -0 into +0); otherwise NaN.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
void first_tries(const uint64_t* __restrict bits, double* __restrict out, size_t n) {
  constexpr uint64_t kTwoTo52 = std::bit_cast<uint64_t>(0x1p52);
  constexpr uint64_t kNaN = std::bit_cast<uint64_t>(std::numeric_limits<double>::quiet_NaN());
  const double* table_x = boost::random::detail::normal_table<double>::table_x;
  for (size_t k = 0; k < n; ++k) {
    const uint64_t u = bits[k];
    const uint64_t fraction = (u & ~(uint64_t{1} << 11)) >> 8;  // 56 bits
    // The fraction as a double, rounded once as a 64-bit conversion rounds it: two halves of 28
    // bits, each made exact by placing it in the mantissa of 2^52 and subtracting 2^52 (so that
    // every lane stays 64 bits wide and vectorizes), and one rounding addition.
    const double high = std::bit_cast<double>(kTwoTo52 | (fraction >> 28)) - 0x1p52;
    const double low = std::bit_cast<double>(kTwoTo52 | (fraction & 0xFFFFFFF)) - 0x1p52;
    const double r = (high * 0x1p28 + low) * 0x1p-56;
    const uint64_t layer = (u & 0xFF) >> 1;
    const double x = r * table_x[layer];
    // Branch-free (the sign is a coin toss): the sign bit set for an even draw, and the rejected
    // replaced by NaN through a mask.
    const double signed_x = std::bit_cast<double>(std::bit_cast<uint64_t>(x) ^ ((~u & 1) << 63)) + 0.0;
    const uint64_t accepted = uint64_t{0} - static_cast<uint64_t>(x < table_x[layer + 1]);
    out[k] = std::bit_cast<double>((std::bit_cast<uint64_t>(signed_x) & accepted) | (kNaN & ~accepted));
  }
}

}  // namespace

void NormalBatch::draw(Rng& rng, std::span<double> out) {
  const size_t n = out.size();
  bits_.resize(n);
  first_try_.resize(n);
  // Every normal takes at least one draw, so all n are used; the stream is held in a local so
  // that the loop keeps its state in registers.
  Rng local = rng;
  uint64_t* bits = bits_.data();
  for (size_t k = 0; k < n; ++k) bits[k] = local.next();
  first_tries(bits, first_try_.data(), n);
  boost::random::normal_distribution<double> normal;
  // In locals: through the members, each store to `out` might move the batch's arrays.
  const double* first_try = first_try_.data();
  double* normals = out.data();
  size_t k = 0;  // the next draw
  for (size_t j = 0; j < n; ++j) {
    if (k < n && !std::isnan(first_try[k])) {
      normals[j] = first_try[k++];
      continue;
    }
    BufferedEngine engine{bits_, k, local};
    normals[j] = normal(engine);
    k = engine.position;
  }
  rng = local;
}

}  // namespace moesim::gating
