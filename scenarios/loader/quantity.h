// Physical quantities written with their unit in scenarios: "450 GB/s", "400 Gb/s", "80 GB",
// "2 us", "989.4 TFLOP/s". A bare number is rejected: units are never guessed.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "sim/base/params.h"
#include "sim/base/units.h"

namespace moesim::scenarios {

std::optional<Bandwidth> parse_bandwidth(std::string_view text);
std::optional<Bytes> parse_bytes(std::string_view text);
std::optional<Duration> parse_duration(std::string_view text);
std::optional<FlopRate> parse_flop_rate(std::string_view text);

// Shortest text that parses back to the same value.
std::string format_bandwidth(Bandwidth b);  // in GB/s
std::string format_bytes(Bytes b);          // in GB
std::string format_duration(Duration d);    // in ns
std::string format_flop_rate(FlopRate f);   // in TFLOP/s
using params::format_number;                // sim/base/params.h

}  // namespace moesim::scenarios
