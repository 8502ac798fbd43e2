#include "models/gating/topic_guide.h"

#include <gtest/gtest.h>

#include <vector>

#include "cuda/token_embedding.h"
#include "sim/base/random.h"

namespace moesim::gating {
namespace {

// Every 24-bit uniform a token can draw near each topic's edge and each slice's edge, and many
// at random: the guide picks what the binary search picks.
void expect_same_topics(const std::vector<float>& cdf) {
  TopicGuide guide;
  guide.build(cdf);
  const int topics = static_cast<int>(cdf.size());
  std::vector<float> us = {0.0f, 1.0f - 1.0f / 16777216.0f};
  for (float c : cdf) {
    for (int step = -2; step <= 2; ++step) {
      const float u = c + static_cast<float>(step) / 16777216.0f;
      if (u >= 0 && u < 1) us.push_back(u);
    }
  }
  for (int g = 0; g <= 4096; ++g) us.push_back(static_cast<float>(g) / 4096.0f * (1.0f - 1.0f / 16777216.0f));
  Rng rng(3, "topic-guide-test");
  for (int i = 0; i < 20000; ++i) us.push_back(static_cast<float>(rng.next() >> 40) / 16777216.0f);
  for (float u : us) ASSERT_EQ(guide.topic(u), router::topic_of(u, cdf.data(), topics)) << "u " << u << ", " << topics << " topics";
}

TEST(TopicGuide, PicksTheBinarySearchsTopic) {
  expect_same_topics({1.0f});
  expect_same_topics({0.25f, 0.5f, 0.75f, 1.0f});  // edges on slice edges
  std::vector<float> skewed;
  double acc = 0;
  for (int t = 0; t < 256; ++t) skewed.push_back(static_cast<float>(acc += 1.0 / ((t + 1) * 6.1243)));
  expect_same_topics(skewed);  // Zipf-like, not summing to 1: the last topic takes the rest
}

TEST(TopicGuide, SkipsTopicsOfNoWeight) {
  expect_same_topics({0.0f, 0.0f, 0.3f, 0.3f, 0.3f, 0.9f, 0.9f, 1.0f});
  expect_same_topics({0.5f, 0.5f, 0.5f, 1.0f, 1.0f});
}

}  // namespace
}  // namespace moesim::gating
