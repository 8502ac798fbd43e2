// Named model presets; every field can be overridden in a scenario.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include <string>
#include "models/moe_model.h"

namespace moesim::models {

struct PresetInfo {
  std::string name;
  std::string description;
};

std::optional<MoeModel> model_preset(std::string_view name);
std::vector<PresetInfo> model_presets();

}  // namespace moesim::models
