#include "sim/base/params.h"

#include <charconv>
#include <stdexcept>
#include <system_error>

namespace moesim::params {
namespace {

std::string join(std::span<const std::string_view> names, std::string_view separator) {
  std::string out;
  for (const auto name : names) {
    if (!out.empty()) out += separator;
    out += name;
  }
  return out;
}

std::string interval(Range r) {
  return std::string(r.min_inclusive ? "[" : "(") + format_number(r.min) + ", " + format_number(r.max) + "]";
}

}  // namespace

std::string format_number(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}

void ValueWriter::count(std::string_view key, int& value, int64_t, int64_t, std::string_view) {
  values.push_back({std::string(key), std::to_string(value)});
}

void ValueWriter::real(std::string_view key, double& value, Range, std::string_view) {
  values.push_back({std::string(key), format_number(value)});
}

void ValueWriter::text(std::string_view key, std::string& value, std::string_view) { values.push_back({std::string(key), value}); }

void ValueWriter::choice(std::string_view key, std::string& value, std::span<const std::string_view>, std::string_view) {
  values.push_back({std::string(key), value});
}

void DocWriter::count(std::string_view key, int& value, int64_t min, int64_t max, std::string_view doc) {
  docs.push_back({std::string(key), std::to_string(min) + " .. " + std::to_string(max), std::to_string(value), std::string(doc)});
}

void DocWriter::real(std::string_view key, double& value, Range range, std::string_view doc) {
  docs.push_back({std::string(key), interval(range), format_number(value), std::string(doc)});
}

void DocWriter::text(std::string_view key, std::string& value, std::string_view doc) {
  docs.push_back({std::string(key), "text", value.empty() ? "(required)" : value, std::string(doc)});
}

void DocWriter::choice(std::string_view key, std::string& value, std::span<const std::string_view> choices, std::string_view doc) {
  docs.push_back({std::string(key), join(choices, " | "), value, std::string(doc)});
}

void Assigner::count(std::string_view key, int& value, int64_t min, int64_t max, std::string_view) {
  if (key != key_) return;
  found = true;
  int64_t parsed = 0;
  const auto [end, ec] = std::from_chars(text_.data(), text_.data() + text_.size(), parsed);
  if (ec != std::errc() || end != text_.data() + text_.size() || parsed < min || parsed > max) {
    throw std::invalid_argument("expected a whole number in " + std::to_string(min) + " .. " + std::to_string(max) + ", got '" +
                                std::string(text_) + "'");
  }
  value = static_cast<int>(parsed);
}

void Assigner::real(std::string_view key, double& value, Range range, std::string_view) {
  if (key != key_) return;
  found = true;
  double parsed = 0;
  const auto [end, ec] = std::from_chars(text_.data(), text_.data() + text_.size(), parsed);
  const bool above = range.min_inclusive ? parsed >= range.min : parsed > range.min;
  if (ec != std::errc() || end != text_.data() + text_.size() || !above || parsed > range.max) {
    throw std::invalid_argument("expected a number in " + interval(range) + ", got '" + std::string(text_) + "'");
  }
  value = parsed;
}

void Assigner::text(std::string_view key, std::string& value, std::string_view) {
  if (key != key_) return;
  found = true;
  value = std::string(text_);
}

void Assigner::choice(std::string_view key, std::string& value, std::span<const std::string_view> choices, std::string_view) {
  if (key != key_) return;
  found = true;
  for (const auto choice : choices) {
    if (choice == text_) {
      value = std::string(text_);
      return;
    }
  }
  throw std::invalid_argument("expected one of " + join(choices, ", ") + ", got '" + std::string(text_) + "'");
}

}  // namespace moesim::params
