#include "scenarios/loader/quantity.h"

#include <charconv>
#include <cmath>
#include <utility>

namespace moesim::scenarios {
namespace {

struct Unit {
  std::string_view name;
  double scale;
};

// Splits "12.5 GB/s" into 12.5 and the scale of its unit.
std::optional<double> parse_scaled(std::string_view text, std::initializer_list<Unit> units) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  if (!std::isfinite(value)) return std::nullopt;
  for (const Unit& u : units) {
    if (unit == u.name) return value * u.scale;
  }
  return std::nullopt;
}

}  // namespace

std::optional<Bandwidth> parse_bandwidth(std::string_view text) {
  auto v = parse_scaled(
      text,
      {{"B/s", 1}, {"KB/s", 1e3}, {"MB/s", 1e6}, {"GB/s", 1e9}, {"TB/s", 1e12}, {"Mb/s", 1e6 / 8}, {"Gb/s", 1e9 / 8}, {"Tb/s", 1e12 / 8}});
  if (!v) return std::nullopt;
  return Bandwidth::BytesPerSecond(*v);
}

std::optional<Bytes> parse_bytes(std::string_view text) {
  auto v = parse_scaled(text, {{"B", 1},
                               {"KB", 1e3},
                               {"MB", 1e6},
                               {"GB", 1e9},
                               {"TB", 1e12},
                               {"KiB", 1024.0},
                               {"MiB", 1048576.0},
                               {"GiB", 1073741824.0},
                               {"TiB", 1099511627776.0}});
  if (!v) return std::nullopt;
  return Bytes(*v);
}

std::optional<Duration> parse_duration(std::string_view text) {
  auto v = parse_scaled(text, {{"ps", 1e-12}, {"ns", 1e-9}, {"us", 1e-6}, {"ms", 1e-3}, {"s", 1}});
  if (!v || !(std::abs(*v) < 9e6)) return std::nullopt;  // beyond the clock: not a duration it can hold
  return Duration::FromSeconds(*v);
}

std::optional<FlopRate> parse_flop_rate(std::string_view text) {
  auto v = parse_scaled(text, {{"GFLOP/s", 1e9}, {"TFLOP/s", 1e12}, {"PFLOP/s", 1e15}});
  if (!v) return std::nullopt;
  return FlopRate::PerSecond(*v);
}

std::string format_bandwidth(Bandwidth b) { return format_number(b.bytes_per_second() / 1e9) + " GB/s"; }
std::string format_bytes(Bytes b) { return format_number(b.count() / 1e9) + " GB"; }
std::string format_duration(Duration d) { return format_number(static_cast<double>(d.picoseconds()) / 1e3) + " ns"; }
std::string format_flop_rate(FlopRate f) { return format_number(f.per_second() / 1e12) + " TFLOP/s"; }

}  // namespace moesim::scenarios
