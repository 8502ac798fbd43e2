// Named cluster presets built from published datasheet figures (see presets.cc for sources).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hardware/specs.h"

namespace moesim::hardware {

struct PresetInfo {
  std::string name;
  std::string description;
};

// One node of the named preset (nodes = 1); empty for an unknown name.
std::optional<ClusterSpec> cluster_preset(std::string_view name);
std::vector<PresetInfo> cluster_presets();

}  // namespace moesim::hardware
