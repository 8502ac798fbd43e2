#include "models/gating/normal_batch.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include <boost/random/normal_distribution.hpp>

namespace moesim::gating {
namespace {

struct Engine {
  using result_type = uint64_t;
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }
  result_type operator()() { return ++calls, rng.next(); }
  Rng& rng;
  int64_t calls = 0;
};

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Batches of every size up to 300 and a long one, back to back on one stream: every normal
// (sign of zero included) and the stream after each batch are what Boost's ziggurat gives one by
// one. About 1 draw in 70 fails its first try, so the batches pass through Boost's second tries
// and its tail many times, and a batch's last normals come from beyond its first draws.
TEST(NormalBatch, DrawsWhatBoostDrawsOneByOne) {
  Rng batched(3, "test"), single(3, "test");
  Engine engine{single};
  boost::random::normal_distribution<double> normal;
  NormalBatch batch;
  std::vector<size_t> sizes;
  for (size_t n = 0; n <= 300; ++n) sizes.push_back(n);
  sizes.push_back(100000);
  int64_t normals = 0;
  for (size_t n : sizes) {
    std::vector<double> out(n);
    batch.draw(batched, out);
    for (size_t j = 0; j < n; ++j) {
      const double expected = normal(engine);
      ASSERT_TRUE(same_bits(out[j], expected)) << "batch of " << n << ", normal " << j << ": " << out[j] << " against " << expected;
    }
    ASSERT_EQ(batched.next(), single.next()) << "the stream after a batch of " << n;
    normals += static_cast<int64_t>(n);
  }
  // Second tries were among them: more draws than normals (about 1.5 % more).
  EXPECT_GT(engine.calls, normals + normals / 100);
}

}  // namespace
}  // namespace moesim::gating
