// The keys of an extension's settings, described once. A registry entry (a predictor, a placement
// policy, a routing mode) owns a plain Params struct and one describe() that names each key with
// its range and a line of documentation:
//
//   struct Params {
//     int window = 100;
//     void describe(params::Visitor& v) { v.count("window", window, 1, 1'000'000, "steps averaged"); }
//   };
//
// The scenario loader reads the keys through it, the resolved-YAML writer writes them back,
// `moesim presets --keys` and the README's key table list them: a key cannot be read in one place
// and forgotten in another. Nothing here knows YAML.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace moesim::params {

struct Range {
  double min = 0;
  double max = 0;
  bool min_inclusive = true;
};

class Visitor {
 public:
  virtual ~Visitor() = default;
  // A whole number in [min, max].
  virtual void count(std::string_view key, int& value, int64_t min, int64_t max, std::string_view doc) = 0;
  // A real number in `range`.
  virtual void real(std::string_view key, double& value, Range range, std::string_view doc) = 0;
  // Free text; an empty default means the key is required.
  virtual void text(std::string_view key, std::string& value, std::string_view doc) = 0;
  // One of `choices`.
  virtual void choice(std::string_view key, std::string& value, std::span<const std::string_view> choices, std::string_view doc) = 0;
};

// The settings of an entry that has no keys.
struct NoParams {
  void describe(Visitor&) {}
};

// An enumeration read and written by its names: names[i] is the name of E(i).
template <typename E, size_t N>
void enumeration(Visitor& v, std::string_view key, E& value, const std::string_view (&names)[N], std::string_view doc) {
  std::string text(names[static_cast<size_t>(value)]);
  v.choice(key, text, std::span<const std::string_view>(names, N), doc);
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == text) value = static_cast<E>(i);
  }
}

struct KeyValue {
  std::string key;
  std::string value;
  bool operator==(const KeyValue&) const = default;
};

// The keys and values `describe` visits, in its order. Numbers are written as
// format_number writes them (the shortest text that reads back to the same double).
template <typename Describable>
std::vector<KeyValue> values_of(const Describable& params);

// What a listing shows of one key: its name, the values it takes, its default and what it does.
struct KeyDoc {
  std::string key;
  std::string accepts;  // "1 .. 1000000", "topk | hash", "(0, 1]"
  std::string default_value;
  std::string doc;
};

// (Visiting does not change `params`; describe() is not const because readers share it.)
template <typename Describable>
std::vector<KeyDoc> docs_of(Describable& params);

// Assigns `text` to `key` of `params`; false when `params` has no such key. Throws
// std::invalid_argument, saying what was expected, for a value out of the key's range.
template <typename Describable>
bool assign(Describable& params, std::string_view key, std::string_view text);

// The shortest decimal text that reads back as `v` ("0.1", "1e-05", "200").
std::string format_number(double v);

// ---- implementation: visitors over a copy, so const params can be listed ----

class ValueWriter final : public Visitor {
 public:
  void count(std::string_view key, int& value, int64_t, int64_t, std::string_view) override;
  void text(std::string_view key, std::string& value, std::string_view) override;
  void real(std::string_view key, double& value, Range, std::string_view) override;
  void choice(std::string_view key, std::string& value, std::span<const std::string_view>, std::string_view) override;
  std::vector<KeyValue> values;
};

class DocWriter final : public Visitor {
 public:
  void count(std::string_view key, int& value, int64_t min, int64_t max, std::string_view doc) override;
  void text(std::string_view key, std::string& value, std::string_view doc) override;
  void real(std::string_view key, double& value, Range range, std::string_view doc) override;
  void choice(std::string_view key, std::string& value, std::span<const std::string_view> choices, std::string_view doc) override;
  std::vector<KeyDoc> docs;
};

class Assigner final : public Visitor {
 public:
  Assigner(std::string_view key, std::string_view text) : key_(key), text_(text) {}
  void count(std::string_view key, int& value, int64_t min, int64_t max, std::string_view) override;
  void real(std::string_view key, double& value, Range range, std::string_view) override;
  void text(std::string_view key, std::string& value, std::string_view) override;
  void choice(std::string_view key, std::string& value, std::span<const std::string_view> choices, std::string_view) override;
  bool found = false;

 private:
  std::string_view key_, text_;
};

template <typename Describable>
std::vector<KeyValue> values_of(const Describable& params) {
  Describable copy = params;
  ValueWriter writer;
  copy.describe(writer);
  return std::move(writer.values);
}

template <typename Describable>
std::vector<KeyDoc> docs_of(Describable& params) {
  DocWriter writer;
  params.describe(writer);
  return std::move(writer.docs);
}

template <typename Describable>
bool assign(Describable& params, std::string_view key, std::string_view text) {
  Assigner assigner(key, text);
  params.describe(assigner);
  return assigner.found;
}

// What every registry entry's config shares: its name and its Params, visited by describe() and
// written by values(). `Interface` declares the three (and what the entry itself makes).
template <typename Interface, typename Params>
class Described : public Interface {
 public:
  Described(std::string_view name, Params params) : name_(name), params_(params) {}
  std::string_view name() const override { return name_; }
  void describe(Visitor& v) override { params_.describe(v); }
  std::vector<KeyValue> values() const override { return values_of(params_); }

 protected:
  const Params& params() const { return params_; }

 private:
  std::string_view name_;
  Params params_;
};

}  // namespace moesim::params
