#include "scenarios/loader/yaml_reader.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <boost/locale/utf.hpp>

#include "scenarios/loader/quantity.h"
#include "scenarios/loader/suggest.h"

namespace moesim::scenarios {

const std::string* SourceMap::override_of(const std::string& path) const {
  // An override of this key or of any enclosing key.
  for (std::string p = path;;) {
    if (auto it = overrides_.find(p); it != overrides_.end()) return &it->second;
    const auto dot = p.rfind('.');
    if (dot == std::string::npos) break;
    p.resize(dot);
  }
  // An override of a key inside a mapping that the file does not have, which the override created
  // (`--set a.b.c=1` makes `a`). Where the file has the mapping, its place says more than one of
  // the keys set inside it.
  if (auto it = marks_.find(path); it != marks_.end() && !it->second.is_null()) return nullptr;
  if (auto it = overrides_.lower_bound(path + "."); it != overrides_.end() && it->first.rfind(path + ".", 0) == 0) return &it->second;
  return nullptr;
}

std::string SourceMap::location(const std::string& path) const {
  if (const std::string* where = override_of(path)) return *where;
  if (auto it = marks_.find(path); it != marks_.end()) return location(it->second);
  return file_;
}

std::string SourceMap::location(const YAML::Mark& mark) const {
  if (mark.is_null()) return file_;
  return file_ + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

std::string read_document(const std::string& path, const std::string& what) {
  constexpr size_t kLimit = size_t{16} << 20;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw ScenarioError(path, "", "is a directory, expected a " + what);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ScenarioError(path, "", "cannot open the " + what + (errno ? std::string(": ") + std::strerror(errno) : ""));
  std::string text;
  char chunk[1 << 16];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    text.append(chunk, static_cast<size_t>(in.gcount()));
    if (text.size() > kLimit) throw ScenarioError(path, "", "is larger than 16 MiB: not a " + what);
  }
  if (in.bad()) throw ScenarioError(path, "", "cannot read the " + what);
  return text;
}

std::optional<size_t> invalid_utf8_at(std::string_view text) {
  using Utf8 = boost::locale::utf::utf_traits<char>;
  for (auto p = text.begin(); p != text.end();) {
    const auto start = p;
    const boost::locale::utf::code_point c = Utf8::decode(p, text.end());
    if (c == boost::locale::utf::illegal || c == boost::locale::utf::incomplete) return static_cast<size_t>(start - text.begin());
  }
  return std::nullopt;
}

std::string not_utf8_message(std::string_view text, size_t at, const std::string& what) {
  char byte[8];
  std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(text[at]));
  return std::string("expected UTF-8 text, found the byte ") + byte + " at byte " + std::to_string(at + 1) + " of " + what;
}

namespace {

void require_utf8(const YAML::Node& scalar, const SourceMap& sources, const std::string& path, const std::string& what) {
  if (const auto at = invalid_utf8_at(scalar.Scalar()))
    throw ScenarioError(sources.location(scalar.Mark()), path, not_utf8_message(scalar.Scalar(), *at, what));
}

}  // namespace

void check_document(const YAML::Node& root, const SourceMap& sources, const std::string& root_path) {
  struct Pending {
    YAML::Node node;
    std::string path;
  };
  std::vector<Pending> stack = {{root, root_path}};
  int64_t values = 0;
  const auto join = [](const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; };
  while (!stack.empty()) {
    const Pending p = std::move(stack.back());
    stack.pop_back();
    if (++values > kMaxDocumentValues) {
      throw ScenarioError(sources.location(p.node.Mark()), p.path,
                          "the document holds more than " + std::to_string(kMaxDocumentValues) +
                              " values once its aliases are expanded (a scenario holds a few hundred); refusing to read it");
    }
    if (p.node.IsScalar()) {
      require_utf8(p.node, sources, p.path, "the value");
    } else if (p.node.IsSequence()) {
      for (size_t i = 0; i < p.node.size(); ++i) stack.push_back({p.node[i], join(p.path, std::to_string(i))});
    } else if (p.node.IsMap()) {
      for (const auto& kv : p.node) {
        if (!kv.first.IsScalar()) {
          throw ScenarioError(sources.location(kv.first.Mark()), p.path,
                              "expected a plain key (a name), got " + describe(kv.first) + " as a key");
        }
        require_utf8(kv.first, sources, p.path, "a key");
        stack.push_back({kv.second, join(p.path, kv.first.Scalar())});
      }
    }
  }
}

void reject_duplicate_keys(const YAML::Node& node, const SourceMap& sources, const std::string& path) {
  if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) reject_duplicate_keys(node[i], sources, path + (path.empty() ? "" : ".") + std::to_string(i));
    return;
  }
  if (!node.IsMap()) return;
  std::set<std::string> seen;
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    const std::string key_path = path.empty() ? key : path + "." + key;
    if (!seen.insert(key).second) throw ScenarioError(sources.location(kv.first.Mark()), key_path, "written twice in the same mapping");
    reject_duplicate_keys(kv.second, sources, key_path);
  }
}

std::string describe(const YAML::Node& node) {
  if (!node || node.IsNull()) return "nothing";
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  return "'" + node.Scalar() + "'";
}

MapReader::MapReader(SourceMap& sources, YAML::Node node, std::string path)
    : sources_(sources), node_(std::move(node)), path_(std::move(path)) {
  if (node_ && !node_.IsNull() && !node_.IsMap()) {
    throw ScenarioError(sources_.location(path_), path_, "expected a mapping of keys, got " + describe(node_));
  }
  if (node_ && node_.IsMap()) {
    for (const auto& kv : node_) {
      sources_.remember(key_path(kv.first.as<std::string>()), kv.second.Mark().is_null() ? kv.first.Mark() : kv.second.Mark());
    }
  }
}

void MapReader::fail(const std::string& key, const std::string& message) const {
  const std::string path = key_path(key);
  throw ScenarioError(sources_.location(path), path, message);
}

std::optional<std::string> MapReader::scalar(const std::string& key, const std::string& expected) {
  used_.insert(key);
  const YAML::Node v = node_ ? node_[key] : YAML::Node();
  if (!v || v.IsNull()) return std::nullopt;
  if (!v.IsScalar()) fail(key, "expected " + expected + ", got " + describe(v));
  return v.Scalar();
}

std::string MapReader::get_string(const std::string& key, std::optional<std::string> fallback) {
  auto s = scalar(key, "a string");
  if (s) return *s;
  if (!fallback) fail(key, "is required (expected a string), got nothing");
  return *fallback;
}

std::string MapReader::get_choice(const std::string& key, const std::vector<std::string>& choices, std::optional<std::string> fallback) {
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : " | ") + c;
  auto s = scalar(key, "one of " + list);
  if (!s) {
    if (!fallback) fail(key, "is required (expected one of " + list + "), got nothing");
    return *fallback;
  }
  for (const auto& c : choices) {
    if (*s == c) return c;
  }
  std::string msg = "expected one of " + list + ", got '" + *s + "'";
  if (auto near = closest_match(*s, choices); !near.empty()) msg += " (did you mean '" + near + "'?)";
  fail(key, msg);
}

std::vector<std::string> MapReader::get_choices(const std::string& key, const std::vector<std::string>& choices,
                                                std::vector<std::string> fallback) {
  used_.insert(key);
  const YAML::Node v = node_ ? node_[key] : YAML::Node();
  if (!v || v.IsNull()) return fallback;
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : " | ") + c;
  if (!v.IsScalar() && !v.IsSequence()) fail(key, "expected a list of " + list + ", got " + describe(v));
  std::vector<std::string> out;
  for (size_t i = 0; i < (v.IsScalar() ? 1 : v.size()); ++i) {
    const YAML::Node item = v.IsScalar() ? v : v[i];
    const std::string path = v.IsScalar() ? key_path(key) : key_path(key) + "." + std::to_string(i);
    if (!v.IsScalar()) sources_.remember(path, item.Mark());
    auto reject = [&](const std::string& message) { throw ScenarioError(sources_.location(path), path, message); };
    if (!item.IsScalar()) reject("expected one of " + list + ", got " + describe(item));
    const std::string& s = item.Scalar();
    if (std::find(choices.begin(), choices.end(), s) == choices.end()) {
      std::string msg = "expected one of " + list + ", got '" + s + "'";
      if (auto near = closest_match(s, choices); !near.empty()) msg += " (did you mean '" + near + "'?)";
      reject(msg);
    }
    if (std::find(out.begin(), out.end(), s) != out.end()) reject("'" + s + "' is listed twice");
    out.push_back(s);
  }
  return out;
}

int64_t MapReader::get_int(const std::string& key, int64_t fallback, int64_t min, int64_t max) {
  const std::string at_most = max == INT64_MAX ? "" : " (at most " + std::to_string(max) + ")";
  const std::string expected = min == 1   ? "a positive integer" + at_most
                               : min == 0 ? "a non-negative integer" + at_most
                                          : "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  auto s = scalar(key, expected);
  if (!s) return fallback;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  if (ec != std::errc() || end != s->data() + s->size() || v < min || v > max) {
    fail(key, "expected " + expected + ", got '" + *s + "'");
  }
  return v;
}

double MapReader::get_double(const std::string& key, double fallback, double min, double max, bool min_inclusive) {
  const std::string expected =
      "a number in " + std::string(min_inclusive ? "[" : "(") + format_number(min) + ", " + format_number(max) + "]";
  auto s = scalar(key, expected);
  if (!s) return fallback;
  double v = 0;
  auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  const bool in_range = min_inclusive ? v >= min : v > min;
  if (ec != std::errc() || end != s->data() + s->size() || !std::isfinite(v) || !in_range || v > max) {
    fail(key, "expected " + expected + ", got '" + *s + "'");
  }
  return v;
}

bool MapReader::get_bool(const std::string& key, bool fallback) {
  auto s = scalar(key, "true or false");
  if (!s) return fallback;
  if (*s == "true") return true;
  if (*s == "false") return false;
  fail(key, "expected true or false, got '" + *s + "'");
}

template <typename T>
T MapReader::get_quantity(const std::string& key, T fallback, std::optional<T> (*parse)(std::string_view), const std::string& expected,
                          T min, T max, bool allow_zero) {
  auto s = scalar(key, expected);
  if (!s) return fallback;
  auto v = parse(*s);
  const bool in_range = v && ((allow_zero && *v == T()) || (!(*v < min) && !(max < *v)));
  if (!in_range) fail(key, "expected " + expected + ", got '" + *s + "'");
  return *v;
}

// The ranges are what is physically meaningful for any hardware a cluster planner would model,
// with room on both sides; outside them the model's arithmetic (picosecond clock, doubles) breaks
// before the answer means anything.
Bandwidth MapReader::get_bandwidth(const std::string& key, Bandwidth fallback) {
  return get_quantity<Bandwidth>(key, fallback, parse_bandwidth, "a bandwidth from 1 MB/s to 1 PB/s like '450 GB/s' or '400 Gb/s'",
                                 Bandwidth::BytesPerSecond(1e6), Bandwidth::BytesPerSecond(1e15), false);
}
Bytes MapReader::get_bytes(const std::string& key, Bytes fallback) {
  return get_quantity<Bytes>(key, fallback, parse_bytes, "a size from 1 B to 1 PB like '80 GB' or '512 MiB'", Bytes(1), Bytes(1e15), false);
}
Duration MapReader::get_duration(const std::string& key, Duration fallback) {
  return get_quantity<Duration>(key, fallback, parse_duration, "a duration from 0 to 1 s like '2 us' or '600 ns'", Duration(),
                                Duration::FromSeconds(1), true);
}
FlopRate MapReader::get_flop_rate(const std::string& key, FlopRate fallback, bool allow_zero) {
  return get_quantity<FlopRate>(
      key, fallback, parse_flop_rate,
      std::string("a rate from 1 GFLOP/s to 1 EFLOP/s like '989.4 TFLOP/s'") + (allow_zero ? " (0 TFLOP/s: unsupported)" : ""),
      FlopRate::PerSecond(1e9), FlopRate::PerSecond(1e18), allow_zero);
}

MapReader MapReader::child(const std::string& key) {
  used_.insert(key);
  return MapReader(sources_, node_ ? node_[key] : YAML::Node(), key_path(key));
}

std::vector<MapReader> MapReader::children(const std::string& key) {
  used_.insert(key);
  std::vector<MapReader> out;
  const YAML::Node list = node_ ? node_[key] : YAML::Node();
  if (!list || list.IsNull()) return out;
  if (!list.IsSequence()) fail(key, "expected a list, got " + describe(list));
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string path = key_path(key) + "." + std::to_string(i);
    sources_.remember(path, list[i].Mark());
    out.emplace_back(sources_, list[i], path);
  }
  return out;
}

void MapReader::finish() const {
  if (!node_ || !node_.IsMap()) return;
  std::vector<std::string> known(used_.begin(), used_.end());
  for (const auto& kv : node_) {
    const std::string key = kv.first.as<std::string>();
    if (used_.count(key)) continue;
    std::string msg = "unknown key";
    if (auto near = closest_match(key, known); !near.empty())
      msg += " (did you mean '" + near + "'?)";
    else
      msg += " (expected one of: " + [&] {
        std::string l;
        for (auto& k : known) l += (l.empty() ? "" : ", ") + k;
        return l;
      }() + ")";
    const std::string path = key_path(key);
    throw ScenarioError(sources_.overridden(path) ? sources_.location(path) : sources_.location(kv.first.Mark()), path, msg);
  }
}

void ParamsReader::count(std::string_view key, int& value, int64_t min, int64_t max, std::string_view) {
  value = static_cast<int>(reader_.get_int(std::string(key), value, min, max));
}

void ParamsReader::real(std::string_view key, double& value, params::Range range, std::string_view) {
  value = reader_.get_double(std::string(key), value, range.min, range.max, range.min_inclusive);
}

void ParamsReader::text(std::string_view key, std::string& value, std::string_view) {
  value = reader_.get_string(std::string(key), value.empty() ? std::nullopt : std::optional<std::string>(value));
}

void ParamsReader::choice(std::string_view key, std::string& value, std::span<const std::string_view> choices, std::string_view) {
  value = reader_.get_choice(std::string(key), std::vector<std::string>(choices.begin(), choices.end()), value);
}

}  // namespace moesim::scenarios
