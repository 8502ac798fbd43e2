#include "sim/base/units.h"

#include <gtest/gtest.h>

namespace moesim {
namespace {

TEST(Units, BytesOverBandwidthIsADuration) {
  const Duration t = GB(1) / GBps(50);
  EXPECT_EQ(t, Milliseconds(20));
  EXPECT_DOUBLE_EQ(t / Milliseconds(1), 20.0);
}

TEST(Units, BitsAndBytesPerSecond) { EXPECT_DOUBLE_EQ(Gbps(400).bytes_per_second(), GBps(50).bytes_per_second()); }

TEST(Units, FlopsOverRateIsADuration) { EXPECT_EQ(Flops(989.4e12) / TFLOPS(989.4), Seconds(1)); }

TEST(Units, TimePointsAndSpans) {
  const SimTime a = SimTime::Zero() + Microseconds(3);
  const SimTime b = a + Nanoseconds(500);
  EXPECT_EQ(b - a, Nanoseconds(500));
  EXPECT_LT(a, b);
}

// Beyond the clock's range is an error, never a wrap or a silent saturation.
TEST(Units, DurationsBeyondTheClockAreErrors) {
  EXPECT_THROW(Seconds(1e30), ClockOverflow);
  EXPECT_THROW(Seconds(std::nan("")), ClockOverflow);
  EXPECT_THROW(Bytes(1e15) / Bandwidth::BytesPerSecond(1), ClockOverflow);
  const Duration big = Seconds(9e6);
  EXPECT_THROW(big + big, ClockOverflow);
  EXPECT_THROW(Duration() - big - big, ClockOverflow);
  EXPECT_THROW(big * 2, ClockOverflow);
  EXPECT_THROW(SimTime::Zero() + big + big, ClockOverflow);
  EXPECT_EQ((big + Seconds(1)).seconds(), 9e6 + 1);
}

}  // namespace
}  // namespace moesim
