#include "sim/engine/event_queue.h"

#include <gtest/gtest.h>

#include "sim/base/random.h"

namespace moesim::engine {
namespace {

SimTime at(int64_t ns) { return SimTime::Zero() + Nanoseconds(ns); }

TEST(EventQueue, PopsInTimeOrder) {
  EventQueue<int> q;
  q.push(at(30), 3);
  q.push(at(10), 1);
  q.push(at(20), 2);
  EXPECT_EQ(q.pop()->payload, 1);
  EXPECT_EQ(q.pop()->payload, 2);
  EXPECT_EQ(q.pop()->payload, 3);
  EXPECT_FALSE(q.pop().has_value());
  EXPECT_FALSE(q.next_time().has_value());
}

TEST(EventQueue, TiesPopInInsertionOrder) {
  EventQueue<int> q;
  for (int i = 0; i < 100; ++i) q.push(at(i % 3 == 0 ? 5 : 7), i);
  int last_at_5 = -1, last_at_7 = -1;
  while (auto e = q.pop()) {
    int& last = e->time == at(5) ? last_at_5 : last_at_7;
    EXPECT_GT(e->payload, last);
    if (e->time == at(7)) {
      EXPECT_EQ(last_at_5, 99);  // every t=5 event came first
    }
    last = e->payload;
  }
}

TEST(EventQueue, MatchesASortedReferenceOnRandomInterleavings) {
  Rng rng(42, "test");
  EventQueue<uint64_t> q;
  std::vector<std::pair<int64_t, uint64_t>> reference;  // (time, sequence)
  uint64_t seq = 0;
  SimTime now = SimTime::Zero();
  for (int round = 0; round < 20000; ++round) {
    if (rng.uniform() < 0.6 || q.empty()) {
      const int64_t t = now.since_start().picoseconds() + static_cast<int64_t>(rng.below(50));
      q.push(SimTime::Zero() + Picoseconds(t), seq);
      reference.emplace_back(t, seq++);
    } else {
      auto it = std::min_element(reference.begin(), reference.end());
      const auto e = q.pop();
      ASSERT_TRUE(e.has_value());
      EXPECT_EQ(e->time.since_start().picoseconds(), it->first);
      EXPECT_EQ(e->payload, it->second);
      now = e->time;
      reference.erase(it);
    }
  }
}

}  // namespace
}  // namespace moesim::engine
