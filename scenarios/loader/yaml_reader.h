// Reading typed values out of yaml-cpp nodes with key paths, source locations, range checks and
// unknown-key detection. Internal to the loader.
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "scenarios/errors.h"
#include "sim/base/params.h"
#include "sim/base/units.h"

namespace moesim::scenarios {

// The names of a list of presets (anything with a `name`), for a choice's expected values.
std::vector<std::string> names_of(const auto& presets) {
  std::vector<std::string> out;
  for (const auto& p : presets) out.push_back(p.name);
  return out;
}

// Where each key path came from: a file position, or the override (--set, sweep axis) that wrote it.
class SourceMap {
 public:
  explicit SourceMap(std::string file) : file_(std::move(file)) {}
  void add_override(const std::string& path, const std::string& location) { overrides_[path] = location; }
  void remember(const std::string& path, const YAML::Mark& mark) { marks_[path] = mark; }
  // An override of the key (or of a mapping holding it) wins over its file position.
  std::string location(const std::string& path) const;
  bool overridden(const std::string& path) const { return override_of(path) != nullptr; }
  std::string location(const YAML::Mark& mark) const;
  const std::string& file() const { return file_; }

 private:
  const std::string* override_of(const std::string& path) const;
  std::string file_;
  std::map<std::string, std::string> overrides_;
  std::map<std::string, YAML::Mark> marks_;
};

// A mapping being read. Every key read is recorded; finish() rejects the rest.
class MapReader {
 public:
  MapReader(SourceMap& sources, YAML::Node node, std::string path);

  bool has(const std::string& key) const { return static_cast<bool>(node_[key]); }
  bool is_map(const std::string& key) const { return node_[key] && node_[key].IsMap(); }
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;

  std::string get_string(const std::string& key, std::optional<std::string> fallback);
  std::string get_choice(const std::string& key, const std::vector<std::string>& choices, std::optional<std::string> fallback);
  // A list of distinct choices (a single choice is a list of one); `fallback` when absent.
  std::vector<std::string> get_choices(const std::string& key, const std::vector<std::string>& choices, std::vector<std::string> fallback);
  int64_t get_int(const std::string& key, int64_t fallback, int64_t min, int64_t max = INT64_MAX);
  double get_double(const std::string& key, double fallback, double min, double max, bool min_inclusive = true);
  bool get_bool(const std::string& key, bool fallback);
  Bandwidth get_bandwidth(const std::string& key, Bandwidth fallback);
  Bytes get_bytes(const std::string& key, Bytes fallback);
  Duration get_duration(const std::string& key, Duration fallback);
  FlopRate get_flop_rate(const std::string& key, FlopRate fallback, bool allow_zero = false);

  // A nested mapping (empty when the key is absent).
  MapReader child(const std::string& key);
  // A sequence of mappings.
  std::vector<MapReader> children(const std::string& key);

  // Throws for keys that were never read, with a "did you mean" suggestion.
  void finish() const;
  std::string key_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

 private:
  std::optional<std::string> scalar(const std::string& key, const std::string& expected);
  template <typename T>
  T get_quantity(const std::string& key, T fallback, std::optional<T> (*parse)(std::string_view), const std::string& expected, T min, T max,
                 bool allow_zero);

  SourceMap& sources_;
  YAML::Node node_;
  std::string path_;
  std::set<std::string> used_;
};

// Reads the keys a Params struct describes (sim/base/params.h) from a mapping; a key that is absent
// keeps its value.
class ParamsReader final : public params::Visitor {
 public:
  explicit ParamsReader(MapReader& reader) : reader_(reader) {}
  void count(std::string_view key, int& value, int64_t min, int64_t max, std::string_view doc) override;
  void real(std::string_view key, double& value, params::Range range, std::string_view doc) override;
  void text(std::string_view key, std::string& value, std::string_view doc) override;
  void choice(std::string_view key, std::string& value, std::span<const std::string_view> choices, std::string_view doc) override;

 private:
  MapReader& reader_;
};

// The text of a scenario or sweep file (`what` names it in errors), at most 16 MiB: a directory,
// an unreadable file or an endless one (/dev/zero) is a ScenarioError saying so.
std::string read_document(const std::string& path, const std::string& what);

// At most this many values (scalars, lists, mappings), counted with aliases expanded, in a
// scenario or sweep document: a real one holds a few hundred.
constexpr int64_t kMaxDocumentValues = 100000;

// The 0-based offset of the first byte of `text` that does not begin a whole, valid UTF-8
// sequence (Boost.Locale's decoder: no overlong forms, surrogates or code points past U+10FFFF).
std::optional<size_t> invalid_utf8_at(std::string_view text);

// "expected UTF-8 text, found the byte 0xF5 at byte 4 of `what`" for the offset invalid_utf8_at
// gave.
std::string not_utf8_message(std::string_view text, size_t at, const std::string& what);

// Throws, before anything walks `node`, for a document that expands beyond kMaxDocumentValues
// (an alias bomb: aliases share nodes, so a walk would visit each one once per reference), for
// a mapping key that is not a plain scalar, and for a key or value that is not UTF-8 text (YAML
// is Unicode, and what a scenario names reaches timeline.json, whose JSON must be UTF-8, while
// yaml-cpp passes any bytes through). `path` names the node in errors.
void check_document(const YAML::Node& node, const SourceMap& sources, const std::string& path = "");

// Throws for a key written twice in one mapping, anywhere in `node`: YAML forbids it, and
// yaml-cpp would silently keep one of the two.
void reject_duplicate_keys(const YAML::Node& node, const SourceMap& sources, const std::string& path = "");

// "a mapping", "a list", or the scalar in quotes: how a found value is described in errors.
std::string describe(const YAML::Node& node);

}  // namespace moesim::scenarios
