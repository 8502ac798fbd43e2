#include "scenarios/loader/quantity.h"

#include <gtest/gtest.h>

namespace moesim::scenarios {
namespace {

TEST(Quantity, ParsesUnits) {
  EXPECT_DOUBLE_EQ(parse_bandwidth("400 Gb/s")->bytes_per_second(), 50e9);
  EXPECT_DOUBLE_EQ(parse_bandwidth("450GB/s")->bytes_per_second(), 450e9);
  EXPECT_DOUBLE_EQ(parse_bandwidth("3.35 TB/s")->bytes_per_second(), 3.35e12);
  EXPECT_DOUBLE_EQ(parse_bytes("80 GB")->count(), 80e9);
  EXPECT_DOUBLE_EQ(parse_bytes("2 GiB")->count(), 2.0 * 1024 * 1024 * 1024);
  EXPECT_EQ(*parse_duration("2 us"), Microseconds(2));
  EXPECT_EQ(*parse_duration("600 ns"), Nanoseconds(600));
  EXPECT_DOUBLE_EQ(parse_flop_rate("989.4 TFLOP/s")->per_second(), 989.4e12);
}

TEST(Quantity, RejectsMissingOrWrongUnits) {
  EXPECT_FALSE(parse_bandwidth("400").has_value());
  EXPECT_FALSE(parse_bandwidth("400 GB").has_value());
  EXPECT_FALSE(parse_bytes("fast").has_value());
  EXPECT_FALSE(parse_duration("2 weeks").has_value());
  EXPECT_FALSE(parse_flop_rate("nan TFLOP/s").has_value());
}

TEST(Quantity, FormatsRoundTrip) {
  for (double v : {450e9, 48.5e9, 1.0 / 3.0 * 1e9}) {
    EXPECT_EQ(parse_bandwidth(format_bandwidth(Bandwidth::BytesPerSecond(v)))->bytes_per_second(), v);
  }
  EXPECT_EQ(*parse_duration(format_duration(Picoseconds(1234567))), Picoseconds(1234567));
  EXPECT_EQ(format_bandwidth(GBps(450)), "450 GB/s");
}

}  // namespace
}  // namespace moesim::scenarios
