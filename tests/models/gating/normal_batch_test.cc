#include "models/gating/normal_batch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <numbers>
#include <span>
#include <tuple>
#include <utility>
#include <vector>

namespace moesim::gating {
namespace {

// The eight lanes' xoshiro128++ states, seeded from 16 draws of `rng` as the batch seeds them.
using LaneStates = std::array<std::array<uint32_t, 4>, 8>;
LaneStates seeded_lanes(Rng& rng) {
  uint32_t seeds[32];
  for (size_t k = 0; k < 16; ++k) {
    const uint64_t draw = rng.next();
    seeds[2 * k] = static_cast<uint32_t>(draw);
    seeds[2 * k + 1] = static_cast<uint32_t>(draw >> 32);
  }
  LaneStates state;
  for (size_t lane = 0; lane < 8; ++lane)
    for (size_t word = 0; word < 4; ++word) state[lane][word] = seeds[word * 8 + lane];
  return state;
}

// One lane's next word.
uint32_t next_word(std::array<uint32_t, 4>& s) {
  const auto rotl = [](uint32_t x, int k) { return (x << k) | (x >> (32 - k)); };
  const uint32_t result = rotl(s[0] + s[3], 7) + s[0], t = s[1] << 9;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 11);
  return result;
}

// The batch's algorithm one normal at a time: each lane's pair from two of its words, `polar`
// giving the radius from the first and the angle's cosine and sine from the second, moved to the
// octant the second's three low bits name; a pass gives the lanes' first normals, then their
// second ones.
template <class T, class Polar>
std::vector<T> one_by_one(Rng& rng, size_t n, Polar polar) {
  LaneStates state = seeded_lanes(rng);
  std::vector<T> out;
  while (out.size() < n) {
    T pass[16];
    for (size_t lane = 0; lane < 8; ++lane) {
      const uint32_t radius_bits = next_word(state[lane]), angle_bits = next_word(state[lane]);
      auto [radius, x, y] = polar(radius_bits, angle_bits);
      if (angle_bits & 1) std::swap(x, y);
      if (angle_bits & 2) x = -x;
      if (angle_bits & 4) y = -y;
      pass[lane] = radius * x;
      pass[8 + lane] = radius * y;
    }
    out.insert(out.end(), pass, pass + 16);
  }
  out.resize(n);
  return out;
}

// With the C library's functions in double.
std::vector<double> one_by_one(Rng& rng, size_t n) {
  return one_by_one<double>(rng, n, [](uint32_t radius_bits, uint32_t angle_bits) {
    const double u = ((radius_bits >> 9) + 0.5) * 0x1p-23, t = ((angle_bits >> 9) + 0.5) * 0x1p-23;
    const double phi = t * std::numbers::pi / 4;
    return std::tuple{std::sqrt(-2 * std::log(u)), std::cos(phi), std::sin(phi)};
  });
}

// With the batch's own arithmetic, in floats and in the same order: the logarithm, sine and
// cosine by the series normal_batch.cc uses, not the C library's. Every clone of the batch
// (x86-64-v4, AVX2, the baseline) must give these bits.
std::vector<float> one_by_one_in_floats(Rng& rng, size_t n) {
  const auto open_unit = [](uint32_t x) { return (static_cast<float>(static_cast<int32_t>(x >> 9)) + 0.5f) * 0x1p-23f; };
  const auto log_unit = [](float u) {
    const int32_t bits = std::bit_cast<int32_t>(u);
    int32_t exponent = (bits >> 23) - 127;
    float m = std::bit_cast<float>((bits & 0x007FFFFF) | 0x3F800000);
    if (m > 1.41421356f) {
      m = m * 0.5f;
      exponent += 1;
    }
    const float s = (m - 1.0f) / (m + 1.0f), z = s * s;
    const float series = 1.0f + z * (1.0f / 3 + z * (1.0f / 5 + z * (1.0f / 7 + z * (1.0f / 9))));
    return static_cast<float>(exponent) * 0.693147181f + (s + s) * series;
  };
  return one_by_one<float>(rng, n, [&](uint32_t radius_bits, uint32_t angle_bits) {
    const float phi = open_unit(angle_bits) * 0.785398163f, q = phi * phi;
    const float sine = phi * (1.0f + q * (-1.0f / 6 + q * (1.0f / 120 + q * (-1.0f / 5040 + q * (1.0f / 362880)))));
    const float cosine = 1.0f + q * (-0.5f + q * (1.0f / 24 + q * (-1.0f / 720 + q * (1.0f / 40320 + q * (-1.0f / 3628800)))));
    return std::tuple{std::sqrt(-2.0f * log_unit(open_unit(radius_bits))), cosine, sine};
  });
}

TEST(NormalBatch, GivesTheBitsOfItsArithmeticOneByOne) {
  Rng batched(11, "test"), single(11, "test");
  NormalBatch batch;
  for (size_t n : {1, 16, 17, 256, 4096}) {
    const std::span<const float> normals = batch.draw(batched, n);
    const std::vector<float> expected = one_by_one_in_floats(single, n);
    for (size_t j = 0; j < n; ++j)
      ASSERT_EQ(std::bit_cast<uint32_t>(normals[j]), std::bit_cast<uint32_t>(expected[j])) << "batch of " << n << ", normal " << j;
  }
}

// Every normal of batches of many sizes is the one-by-one algorithm's within float's precision
// (the series' errors are below 1e-9, float rounding a few 1e-7 of the radius), and each batch
// takes 16 draws of the stream.
TEST(NormalBatch, IsTheAlgorithmWrittenOneByOne) {
  Rng batched(3, "test"), single(3, "test");
  NormalBatch batch;
  for (size_t n : {0, 1, 7, 15, 16, 17, 100, 255, 256, 257, 1000, 4096}) {
    const std::span<const float> normals = batch.draw(batched, n);
    ASSERT_EQ(normals.size(), n);
    const std::vector<double> expected = one_by_one(single, n);
    for (size_t j = 0; j < n; ++j)
      ASSERT_NEAR(normals[j], expected[j], 2e-6 * std::max(1.0, std::abs(expected[j]))) << "batch of " << n << ", normal " << j;
    ASSERT_EQ(batched.next(), single.next()) << "the stream after a batch of " << n;
  }
}

TEST(NormalBatch, AShorterBatchIsTheStartOfALongerOne) {
  NormalBatch batch;
  Rng rng(5, "prefix");
  Rng again = rng;
  const std::span<const float> longer = batch.draw(rng, 300);
  const std::vector<float> kept(longer.begin(), longer.end());
  for (size_t n : {1, 16, 37, 299}) {
    Rng start = again;
    const std::span<const float> shorter = batch.draw(start, n);
    EXPECT_TRUE(std::equal(shorter.begin(), shorter.end(), kept.begin())) << n;
  }
}

// 4 M normals in batches of a DeepSeek-V3 rank's row (256): the standard normal's moments, its
// distribution function within the Kolmogorov-Smirnov bound at 1 %, its tails, and no draw beyond
// the 23-bit radius's reach. Each bound is five standard errors (the KS one aside).
TEST(NormalBatch, IsTheStandardNormal) {
  NormalBatch batch;
  Rng rng(7, "moments");
  std::vector<double> all;
  all.reserve(size_t{1} << 22);
  while (all.size() < all.capacity()) {
    const std::span<const float> normals = batch.draw(rng, 256);
    all.insert(all.end(), normals.begin(), normals.end());
  }
  const double n = static_cast<double>(all.size());
  double sum = 0, squares = 0, cubes = 0, fourths = 0, beyond_3 = 0, beyond_4 = 0, largest = 0;
  for (double z : all) {
    sum += z;
    squares += z * z;
    cubes += z * z * z;
    fourths += z * z * z * z;
    beyond_3 += std::abs(z) > 3;
    beyond_4 += std::abs(z) > 4;
    largest = std::max(largest, std::abs(z));
  }
  EXPECT_NEAR(sum / n, 0, 5 / std::sqrt(n));
  EXPECT_NEAR(squares / n, 1, 5 * std::sqrt(2 / n));
  EXPECT_NEAR(cubes / n, 0, 5 * std::sqrt(15 / n));
  EXPECT_NEAR(fourths / n, 3, 5 * std::sqrt(96 / n));
  const double p3 = std::erfc(3 / std::sqrt(2.0)), p4 = std::erfc(4 / std::sqrt(2.0));
  EXPECT_NEAR(beyond_3 / n, p3, 5 * std::sqrt(p3 / n));
  EXPECT_NEAR(beyond_4 / n, p4, 5 * std::sqrt(p4 / n));
  EXPECT_LT(largest, 5.78);
  EXPECT_GT(largest, 4.5);  // the tails are there: 4 M draws reach about 5.3
  std::sort(all.begin(), all.end());
  double ks = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    const double cdf = 0.5 * std::erfc(-all[i] / std::sqrt(2.0));
    const double below = static_cast<double>(i) / n, through = static_cast<double>(i + 1) / n;
    ks = std::max({ks, std::abs(cdf - below), std::abs(cdf - through)});
  }
  EXPECT_LT(ks, 1.63 / std::sqrt(n));
}

// Neighbours in a batch, the two normals of a lane's pair (8 apart; Box-Muller's pair is
// independent, so neither they nor their squares correlate), and the same place in consecutive
// batches (consecutive rows of a layer): correlations within five standard errors of zero.
TEST(NormalBatch, NormalsDoNotCorrelate) {
  NormalBatch batch;
  Rng rng(11, "correlation");
  constexpr size_t kRows = 20000, kRow = 256;
  std::vector<float> rows;
  for (size_t r = 0; r < kRows; ++r) {
    const std::span<const float> normals = batch.draw(rng, kRow);
    rows.insert(rows.end(), normals.begin(), normals.end());
  }
  const auto correlation = [&](size_t apart, bool squared) {
    double xy = 0, x = 0, y = 0, xx = 0, yy = 0, count = 0;
    for (size_t i = 0; i + apart < rows.size(); ++i) {
      if (apart == 8 && (i / 8) % 2 == 1) continue;  // pairs: the first eight of 16 with the next eight
      double a = rows[i], b = rows[i + apart];
      if (squared) a *= a, b *= b;
      xy += a * b, x += a, y += b, xx += a * a, yy += b * b, ++count;
    }
    const double cov = xy / count - (x / count) * (y / count);
    return std::pair{cov / std::sqrt((xx / count - (x / count) * (x / count)) * (yy / count - (y / count) * (y / count))), count};
  };
  for (auto [apart, squared] : {std::pair<size_t, bool>{1, false}, {8, false}, {8, true}, {16, false}, {kRow, false}, {kRow, true}}) {
    const auto [r, count] = correlation(apart, squared);
    EXPECT_LT(std::abs(r), 5 / std::sqrt(count)) << apart << (squared ? " apart, squared" : " apart");
  }
}

}  // namespace
}  // namespace moesim::gating
