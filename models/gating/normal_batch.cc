#include "models/gating/normal_batch.h"

#include <cstdint>
#include <cstring>

#include "sim/base/avx2_clones.h"

namespace moesim::gating {

namespace {

// Eight lanes of GCC's vector extensions: one AVX register in the clones for AVX2 and x86-64-v4,
// two SSE2 registers otherwise, the same operations either way. Always inlined into box_muller(),
// so no vector crosses a call (GCC's note on the ABI of such calls, given at the end of the file,
// does not apply); for the same reason vectors are reinterpreted with __builtin_bit_cast, not
// std::bit_cast, a function that an unoptimized build calls from the AVX2 clone with the
// baseline's ABI (and gets garbage).
#pragma GCC diagnostic ignored "-Wpsabi"
using Floats = float __attribute__((vector_size(32)));
using Ints = int32_t __attribute__((vector_size(32)));
using Words = uint32_t __attribute__((vector_size(32)));

[[gnu::always_inline]] inline Floats all(float x) { return Floats{x, x, x, x, x, x, x, x}; }
[[gnu::always_inline]] inline Ints all_ints(int32_t x) { return Ints{x, x, x, x, x, x, x, x}; }
[[gnu::always_inline]] inline Words rotl(Words x, int k) { return (x << k) | (x >> (32 - k)); }

// A uniform in (0, 1) from a word's top 23 bits: the middle of one of 2^23 equal slices.
[[gnu::always_inline]] inline Floats open_unit(Words x) {
  return (__builtin_convertvector(__builtin_bit_cast(Ints, x >> 9), Floats) + all(0.5f)) * all(0x1p-23f);
}

// log(u) for u in (0, 1): u = 2^e * m with m in [sqrt(1/2), sqrt(2)), and log(m) = 2 atanh(s),
// s = (m - 1) / (m + 1), |s| < 0.172, by its series up to s^9 (the next term is below 1e-9).
[[gnu::always_inline]] inline Floats log_unit(Floats u) {
  const Ints bits = __builtin_bit_cast(Ints, u);
  Ints exponent = (bits >> 23) - all_ints(127);
  Floats m = __builtin_bit_cast(Floats, (bits & all_ints(0x007FFFFF)) | all_ints(0x3F800000));
  const Ints halve = m > all(1.41421356f);  // true is -1
  m = halve ? m * all(0.5f) : m;
  exponent -= halve;
  const Floats s = (m - all(1.0f)) / (m + all(1.0f)), z = s * s;
  const Floats series = all(1.0f) + z * (all(1.0f / 3) + z * (all(1.0f / 5) + z * (all(1.0f / 7) + z * all(1.0f / 9))));
  return __builtin_convertvector(exponent, Floats) * all(0.693147181f) + (s + s) * series;
}

// Eight lanes of xoshiro128++ (Blackman & Vigna), state word k of lane i in state[k][i].
struct Streams {
  Words s0, s1, s2, s3;
  [[gnu::always_inline]] Words next() {
    const Words result = rotl(s0 + s3, 7) + s0;
    const Words t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  }
};

// `passes` x 16 normals into `out`. Each lane's pair: radius sqrt(-2 log u) from one word; the
// angle uniform on the circle from another, as an angle phi uniform in [0, pi/4) (its sine and
// cosine by their series up to phi^9 and phi^10, the next terms below 1e-9) moved into one of the
// circle's eight octants by the symmetries of the square (swap the coordinates, negate either),
// chosen by the word's three low bits: each octant is the image of [0, pi/4) under exactly one.
MOESIM_AVX512_CLONES
void box_muller(Streams& streams, float* out, size_t passes) {
  Streams local = streams;  // in registers through the loop
  for (size_t p = 0; p < passes; ++p) {
    const Words radius_bits = local.next(), angle_bits = local.next();
    const Floats minus_two_log = all(-2.0f) * log_unit(open_unit(radius_bits));
    Floats radius;
    for (size_t i = 0; i < NormalBatch::kLanes; ++i) radius[i] = __builtin_sqrtf(minus_two_log[i]);
    const Floats phi = open_unit(angle_bits) * all(0.785398163f), q = phi * phi;
    const Floats sine = phi * (all(1.0f) + q * (all(-1.0f / 6) + q * (all(1.0f / 120) + q * (all(-1.0f / 5040) + q * all(1.0f / 362880)))));
    const Floats cosine =
        all(1.0f) + q * (all(-0.5f) + q * (all(1.0f / 24) + q * (all(-1.0f / 720) + q * (all(1.0f / 40320) + q * all(-1.0f / 3628800)))));
    const Ints swap = __builtin_bit_cast(Ints, (angle_bits & 1u) != 0u);
    const Words x = __builtin_bit_cast(Words, swap ? sine : cosine) ^ ((angle_bits & 2u) << 30);
    const Words y = __builtin_bit_cast(Words, swap ? cosine : sine) ^ ((angle_bits & 4u) << 29);
    const Floats first = radius * __builtin_bit_cast(Floats, x), second = radius * __builtin_bit_cast(Floats, y);
    std::memcpy(out + p * NormalBatch::kPerPass, &first, sizeof first);
    std::memcpy(out + p * NormalBatch::kPerPass + NormalBatch::kLanes, &second, sizeof second);
  }
  streams = local;
}

}  // namespace

std::span<const float> NormalBatch::draw(Rng& rng, size_t n) {
  static_assert(kSeedDraws == 2 * kLanes, "each lane's four words from two draws");
  uint32_t seeds[4 * kLanes];
  for (size_t k = 0; k < kSeedDraws; ++k) {
    const uint64_t draw = rng.next();
    seeds[2 * k] = static_cast<uint32_t>(draw);
    seeds[2 * k + 1] = static_cast<uint32_t>(draw >> 32);
  }
  Streams streams;
  std::memcpy(&streams, seeds, sizeof seeds);
  // An all-zero state would stay zero (a chance of 2^-128 a lane, but a seed must never break it).
  for (size_t i = 0; i < kLanes; ++i)
    if ((streams.s0[i] | streams.s1[i] | streams.s2[i] | streams.s3[i]) == 0) streams.s0[i] = 1;
  const size_t passes = (n + kPerPass - 1) / kPerPass;
  normals_.resize(passes * kPerPass);
  box_muller(streams, normals_.data(), passes);
  return {normals_.data(), n};
}

}  // namespace moesim::gating
