#include "sim/engine/units.h"

#include <gtest/gtest.h>

namespace moesim {
namespace {

TEST(Units, BytesOverBandwidthIsADuration) {
  const Duration t = GB(1) / GBps(50);
  EXPECT_EQ(t, Milliseconds(20));
  EXPECT_DOUBLE_EQ(t / Milliseconds(1), 20.0);
}

TEST(Units, BitsAndBytesPerSecond) {
  EXPECT_DOUBLE_EQ(Gbps(400).bytes_per_second(), GBps(50).bytes_per_second());
}

TEST(Units, FlopsOverRateIsADuration) {
  EXPECT_EQ(Flops(989.4e12) / TFLOPS(989.4), Seconds(1));
}

TEST(Units, TimePointsAndSpans) {
  const SimTime a = SimTime::Zero() + Microseconds(3);
  const SimTime b = a + Nanoseconds(500);
  EXPECT_EQ(b - a, Nanoseconds(500));
  EXPECT_LT(a, b);
}

TEST(Units, DurationFromHugeSecondsSaturates) {
  EXPECT_EQ(Seconds(1e30).picoseconds(), std::numeric_limits<int64_t>::max());
}

}  // namespace
}  // namespace moesim
