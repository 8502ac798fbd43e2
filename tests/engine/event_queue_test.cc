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
      // Mostly near the present, with many ties; now and then far ahead.
      const uint64_t ahead = rng.uniform() < 0.05 ? rng.below(uint64_t{1} << 40) : rng.below(50);
      const int64_t t = now.since_start().picoseconds() + static_cast<int64_t>(ahead);
      q.push(SimTime::Zero() + Picoseconds(t), seq);
      reference.emplace_back(t, seq++);
    } else {
      auto it = std::min_element(reference.begin(), reference.end());
      if (rng.uniform() < 0.5) {  // a look ahead, which must not stop an earlier event being pushed
        EXPECT_EQ(q.next_time(), SimTime::Zero() + Picoseconds(it->first));
        continue;
      }
      const auto e = q.pop();
      ASSERT_TRUE(e.has_value());
      EXPECT_EQ(e->time.since_start().picoseconds(), it->first);
      EXPECT_EQ(e->payload, it->second);
      now = e->time;
      reference.erase(it);
    }
  }
}

TEST(EventQueue, KeepsTimesAcrossTheWholeClock) {
  EventQueue<int> q;
  const int64_t far = int64_t{1} << 62;
  q.push(SimTime::Zero() + Picoseconds(far + 1), 3);
  q.push(SimTime::Zero() + Picoseconds(far), 2);
  q.push(SimTime::Zero() + Picoseconds(1), 1);
  EXPECT_EQ(q.pop()->payload, 1);
  q.push(SimTime::Zero() + Picoseconds(far), 4);  // ties with 2, pushed after it
  EXPECT_EQ(q.next_time(), SimTime::Zero() + Picoseconds(far));
  EXPECT_EQ(q.pop()->payload, 2);
  EXPECT_EQ(q.pop()->payload, 4);
  EXPECT_EQ(q.pop()->payload, 3);
  EXPECT_TRUE(q.empty());
}

TEST(EventQueue, TakesAnEventBeforeTheOneLookedAt) {
  EventQueue<int> q;
  q.push(at(10), 1);
  q.push(at(20), 2);
  EXPECT_EQ(q.pop()->payload, 1);
  EXPECT_EQ(q.next_time(), at(20));
  q.push(at(15), 3);
  EXPECT_EQ(q.next_time(), at(15));
  EXPECT_EQ(q.pop()->payload, 3);
  EXPECT_EQ(q.pop()->payload, 2);
}

TEST(EventQueue, RefusesAnEventInThePast) {
  EventQueue<int> q;
  q.push(at(10), 1);
  q.push(at(20), 2);
  EXPECT_EQ(q.pop()->payload, 1);
  EXPECT_THROW(q.push(at(9), 3), std::logic_error);
  q.push(at(10), 3);  // the time popped last is not the past
  EXPECT_EQ(q.pop()->payload, 3);
  EXPECT_EQ(q.size(), 1u);
}

}  // namespace
}  // namespace moesim::engine
