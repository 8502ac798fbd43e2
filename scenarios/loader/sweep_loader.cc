#include "scenarios/loader/sweep_loader.h"

#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <set>
#include <string_view>

#include "scenarios/loader/loader.h"
#include "scenarios/loader/suggest.h"
#include "scenarios/loader/yaml_reader.h"
#include "sim/base/parallel.h"

namespace moesim::scenarios {
namespace {

const std::vector<std::string> kSweepKeys = {"name", "base", "set", "grid", "zip", "output"};

// A value as override text: scalars as written, lists and mappings in YAML flow style.
std::string value_text(const YAML::Node& node) {
  if (node.IsScalar()) return node.Scalar();
  YAML::Emitter out;
  out.SetMapFormat(YAML::Flow);
  out.SetSeqFormat(YAML::Flow);
  out << node;
  return out.c_str();
}

struct Axis {
  SweepAxis axis;
  std::vector<std::string> origins;  // where each value is written
};

// `section` (grid or zip) as axes: a mapping of key paths to non-empty lists of values.
std::vector<Axis> read_axes(const YAML::Node& root, const char* section, const SourceMap& sources) {
  std::vector<Axis> out;
  const YAML::Node node = root[section];
  if (!node) return out;
  if (!node.IsMap())
    throw ScenarioError(sources.location(node.Mark()), section,
                        "expected a mapping of key paths to lists of values, got " + describe(node));
  for (const auto& entry : node) {
    const std::string key = entry.first.Scalar();
    const std::string path = std::string(section) + "." + key;
    const YAML::Node& values = entry.second;
    if (!values.IsSequence()) {
      throw ScenarioError(sources.location(values.Mark()), path, "expected a list of values to sweep, got " + describe(values));
    }
    if (values.size() == 0) throw ScenarioError(sources.location(values.Mark()), path, "expected at least one value, got an empty list");
    Axis a{{key, {}, std::string_view(section) == "zip"}, {}};
    for (const auto& v : values) {
      a.axis.values.push_back(value_text(v));
      a.origins.push_back(sources.location(v.Mark()));
    }
    out.push_back(std::move(a));
  }
  return out;
}

std::vector<Override> read_set(const YAML::Node& root, const SourceMap& sources) {
  std::vector<Override> out;
  const YAML::Node node = root["set"];
  if (!node) return out;
  if (!node.IsMap())
    throw ScenarioError(sources.location(node.Mark()), "set", "expected a mapping of key paths to values, got " + describe(node));
  for (const auto& entry : node) {
    out.push_back({entry.first.Scalar() + "=" + value_text(entry.second), sources.location(entry.second.Mark())});
  }
  return out;
}

std::string scalar(const YAML::Node& root, const char* key, const SourceMap& sources) {
  const YAML::Node node = root[key];
  if (!node.IsScalar()) throw ScenarioError(sources.location(node.Mark()), key, "expected a string, got " + describe(node));
  return node.Scalar();
}

}  // namespace

bool is_sweep_file(const std::string& path) {
  try {
    const YAML::Node root = YAML::Load(read_document(path, "scenario file"));
    return root.IsMap() && root["base"];
  } catch (const std::exception&) {
    return false;  // the scenario loader reports what is wrong with it
  }
}

namespace {

// The sweep file's YAML, with only a sweep's keys at its top level.
YAML::Node read_sweep_root(const std::string& path, SourceMap& sources) {
  YAML::Node root;
  const std::string text = read_document(path, "sweep file");
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw ScenarioError(sources.location(e.mark), "", "YAML syntax error: " + e.msg);
  }
  if (!root.IsMap())
    throw ScenarioError(sources.location(root.Mark()), "", "expected a mapping of keys at the top level, got " + describe(root));
  check_document(root, sources);
  reject_duplicate_keys(root, sources);
  for (const auto& entry : root) {
    const std::string key = entry.first.Scalar();
    if (std::find(kSweepKeys.begin(), kSweepKeys.end(), key) != kSweepKeys.end()) continue;
    const std::string guess = closest_match(key, kSweepKeys);
    throw ScenarioError(sources.location(entry.first.Mark()), key,
                        "unknown key in a sweep file" + (guess.empty() ? std::string() : "; did you mean `" + guess + "`?") +
                            " (a sweep has name, base, set, grid, zip and output)");
  }
  return root;
}

// output.dir of the sweep file, or results/runs/<name>.
std::string read_output_dir(const YAML::Node& root, const SourceMap& sources, const std::string& name) {
  std::string out_dir = "results/runs/" + name;
  if (const YAML::Node out = root["output"]) {
    if (!out.IsMap()) throw ScenarioError(sources.location(out.Mark()), "output", "expected a mapping with dir, got " + describe(out));
    for (const auto& entry : out) {
      if (entry.first.Scalar() != "dir")
        throw ScenarioError(sources.location(entry.first.Mark()), "output." + entry.first.Scalar(),
                            "unknown key; a sweep's output has only dir");
    }
    if (out["dir"]) out_dir = scalar(out, "dir", sources);
  }
  return out_dir;
}

// The grid axes, then the zip axes; each key swept once and never set as well.
std::vector<Axis> combined_axes(const std::vector<Axis>& grid, const std::vector<Axis>& zip, const std::vector<Override>& fixed,
                                const std::string& path) {
  if (grid.empty() && zip.empty()) throw ScenarioError(path, "grid", "a sweep needs at least one axis, under grid or zip");
  for (size_t i = 1; i < zip.size(); ++i) {
    if (zip[i].axis.values.size() != zip[0].axis.values.size()) {
      throw ScenarioError(zip[i].origins.front(), "zip." + zip[i].axis.key,
                          std::to_string(zip[i].axis.values.size()) + " values, but `zip." + zip[0].axis.key + "` has " +
                              std::to_string(zip[0].axis.values.size()) + ": zip axes advance together and need the same length");
    }
  }
  std::vector<Axis> axes = grid;
  axes.insert(axes.end(), zip.begin(), zip.end());
  std::set<std::string> seen;
  for (const auto& o : fixed) seen.insert(o.text.substr(0, o.text.find('=')));
  for (const auto& a : axes) {
    if (a.axis.key == "output.dir" || a.axis.key == "output") {
      throw ScenarioError(a.origins.front(), a.axis.key,
                          "the sweep gives every point its own output directory; set the sweep's output.dir instead");
    }
    if (!seen.insert(a.axis.key).second) throw ScenarioError(a.origins.front(), a.axis.key, "is swept or set twice");
  }
  return axes;
}

// Points: the grid's cartesian product times the zip axes' common positions, at most
// kMaxSweepPoints. Counted in double: 16 axes of 16 values overflow 64 bits.
size_t point_count(const std::vector<Axis>& grid, const std::vector<Axis>& zip, const std::string& path) {
  double points = zip.empty() ? 1 : static_cast<double>(zip[0].axis.values.size());
  std::string factors = zip.empty() ? "" : std::to_string(zip[0].axis.values.size()) + " zip positions";
  for (const auto& a : grid) {
    points *= static_cast<double>(a.axis.values.size());
    factors += (factors.empty() ? "" : " x ") + std::to_string(a.axis.values.size());
  }
  if (points > kMaxSweepPoints) {
    char n[32];
    std::snprintf(n, sizeof n, "%.4g", points);
    throw ScenarioError(path, "grid",
                        "has " + std::string(n) + " points (" + factors + "), more than the " + std::to_string(kMaxSweepPoints) +
                            " one sweep may hold; split it into several sweep files");
  }
  return static_cast<size_t>(points);
}

// Point `index`: grid axes in file order with the last varying fastest, the zip axes together.
SweepPoint make_point(const Sweep& sweep, size_t index, const std::vector<Axis>& grid, const std::vector<Axis>& zip,
                      const std::vector<Axis>& axes, const std::vector<Override>& fixed) {
  std::vector<size_t> at(axes.size());
  size_t rest = index;
  const size_t zip_at = zip.empty() ? 0 : rest % zip[0].axis.values.size();
  if (!zip.empty()) rest /= zip[0].axis.values.size();
  for (size_t g = grid.size(); g-- > 0;) {
    at[g] = rest % grid[g].axis.values.size();
    rest /= grid[g].axis.values.size();
  }
  for (size_t z = 0; z < zip.size(); ++z) at[grid.size() + z] = zip_at;

  SweepPoint point;
  point.index = static_cast<int>(index);
  std::vector<Override> point_overrides = fixed;
  for (size_t a = 0; a < axes.size(); ++a) {
    point.values.push_back(axes[a].axis.values[at[a]]);
    point_overrides.push_back(
        {axes[a].axis.key + "=" + axes[a].axis.values[at[a]], axes[a].origins[at[a]] + ", point " + std::to_string(index)});
  }
  char dir[32];
  std::snprintf(dir, sizeof dir, "%04zu", index);
  point_overrides.push_back(
      {"output.dir=" + (std::filesystem::path(sweep.output_dir) / "points" / dir).string(), "the sweep's output.dir"});
  point.scenario = load_scenario_file(sweep.base, point_overrides);
  point.resolved_yaml = resolved_yaml(point.scenario);
  return point;
}

}  // namespace

Sweep load_sweep_file(const std::string& path, const std::optional<std::string>& output_dir, const std::vector<std::string>& overrides,
                      int threads) {
  SourceMap sources(path);
  const YAML::Node root = read_sweep_root(path, sources);
  Sweep sweep;
  sweep.source_file = path;
  sweep.name = root["name"] ? scalar(root, "name", sources) : std::filesystem::path(path).stem().string();
  if (!root["base"]) throw ScenarioError(path, "base", "missing: the scenario file the sweep varies, relative to the sweep file");
  const std::filesystem::path base(scalar(root, "base", sources));
  sweep.base = (base.is_absolute() ? base : std::filesystem::path(path).parent_path() / base).lexically_normal().string();
  sweep.output_dir = output_dir.value_or(read_output_dir(root, sources, sweep.name));

  std::vector<Override> fixed = read_set(root, sources);
  for (const auto& o : overrides) fixed.push_back({o, ""});
  const std::vector<Axis> grid = read_axes(root, "grid", sources);
  const std::vector<Axis> zip = read_axes(root, "zip", sources);
  const std::vector<Axis> axes = combined_axes(grid, zip, fixed, path);
  for (const auto& a : axes) sweep.axes.push_back(a.axis);
  const size_t count = point_count(grid, zip, path);
  sweep.points.resize(count);
  std::vector<std::exception_ptr> errors(count);
  parallel_for(count, threads, [&](size_t index) {
    try {
      sweep.points[index] = make_point(sweep, index, grid, zip, axes, fixed);
    } catch (...) {
      errors[index] = std::current_exception();
    }
  });
  for (const std::exception_ptr& error : errors)
    if (error) std::rethrow_exception(error);
  return sweep;
}

}  // namespace moesim::scenarios
