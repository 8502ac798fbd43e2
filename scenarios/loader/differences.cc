#include <yaml-cpp/yaml.h>

#include <map>

#include "scenarios/loader/loader.h"

namespace moesim::scenarios {
namespace {

// Every scalar of a YAML tree under its key path; list entries by index, a flow-style list of
// mappings (policies) entry by entry.
void flatten(const YAML::Node& node, const std::string& path, std::map<std::string, std::string>& out) {
  if (node.IsMap()) {
    for (const auto& kv : node) flatten(kv.second, path.empty() ? kv.first.Scalar() : path + "." + kv.first.Scalar(), out);
  } else if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) flatten(node[i], path + "." + std::to_string(i), out);
  } else {
    out[path] = node.IsNull() ? "" : node.Scalar();
  }
}

}  // namespace

std::vector<std::string> differences(const Scenario& a, const Scenario& b) {
  std::map<std::string, std::string> left, right;
  flatten(YAML::Load(resolved_yaml(a)), "", left);
  flatten(YAML::Load(resolved_yaml(b)), "", right);
  std::vector<std::string> out;
  const auto shown = [](const std::string& key) { return key != "name" && key != "output.dir" && key != "seed"; };
  for (const auto& [key, value] : left) {
    const auto it = right.find(key);
    if (!shown(key)) continue;
    if (it == right.end())
      out.push_back(key + ": " + value + " -> (none)");
    else if (it->second != value)
      out.push_back(key + ": " + value + " -> " + it->second);
  }
  for (const auto& [key, value] : right) {
    if (shown(key) && !left.count(key)) out.push_back(key + ": (none) -> " + value);
  }
  return out;
}

}  // namespace moesim::scenarios
