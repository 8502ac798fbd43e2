#include "scenarios/loader/policy_keys.h"

#include "policies/placement/registry.h"
#include "policies/predictors/registry.h"

namespace moesim::scenarios {
namespace {

constexpr std::string_view kLayouts[] = {"contiguous", "round_robin"};
constexpr std::string_view kMigrations[] = {"blocking", "overlapped"};

std::vector<std::string> scenario_predictors() {
  std::vector<std::string> names;
  for (const auto* entry : policies::predictor_entries()) {
    if (entry->in_scenarios) names.emplace_back(entry->name);
  }
  return names;
}

// `predictor: NAME` (its defaults) or `predictor: {name: NAME, KEY: VALUE ...}`. lstm needs a
// training trace and the oracle is a placement of its own, so neither is offered.
std::shared_ptr<const policies::PredictorConfig> read_predictor(MapReader& r) {
  const auto names = scenario_predictors();
  if (!r.is_map("predictor")) return policies::default_predictor(r.get_choice("predictor", names, "sw_avg"));
  MapReader m = r.child("predictor");
  auto config = policies::default_predictor(m.get_choice("name", names, std::nullopt));
  ParamsReader keys(m);
  config->describe(keys);
  m.finish();
  return config;
}

void emit_predictor(YAML::Emitter& out, const policies::PredictorConfig& predictor) {
  using YAML::Key, YAML::Value;
  const auto values = predictor.values();
  out << Key << "predictor" << Value;
  if (values == policies::default_predictor(predictor.name())->values()) {
    out << std::string(predictor.name());
    return;
  }
  out << YAML::Flow << YAML::BeginMap << Key << "name" << Value << std::string(predictor.name());
  for (const auto& [key, value] : values) out << Key << key << Value << value;
  out << YAML::EndMap;
}

}  // namespace

PolicySpec read_policy(MapReader r, int ep) {
  PolicySpec p;
  const policies::PlacementEntry& entry = *policies::find_placement(r.get_choice("placement", policies::placement_names(), std::nullopt));
  ParamsReader keys(r);
  params::enumeration(keys, "layout", p.layout, kLayouts, "");
  p.spare_slots = static_cast<int>(r.get_int("spare_slots", entry.default_spare_slots, 0, 4096));
  if (entry.forecasts) p.predictor = read_predictor(r);
  auto config = entry.defaults({ep, p.spare_slots});
  config->describe(keys);
  if (entry.moves) params::enumeration(keys, "migration", p.migration, kMigrations, "");
  p.label_given = r.has("label");
  p.label = r.get_string("label", entry.label(p.layout, p.predictor ? p.predictor->name() : "", p.spare_slots));
  p.placement = std::move(config);
  r.finish();
  return p;
}

PolicySpec default_policy() {
  PolicySpec p;
  const policies::PlacementEntry& entry = *policies::find_placement("static");
  p.placement = entry.defaults({});
  p.label = entry.label(p.layout, "", 0);
  return p;
}

void emit_policy(YAML::Emitter& out, const PolicySpec& p) {
  using YAML::Key, YAML::Value;
  const policies::PlacementEntry& entry = *policies::find_placement(p.placement_name());
  out << YAML::Flow << YAML::BeginMap << Key << "label" << Value << p.label << Key << "placement" << Value
      << std::string(p.placement_name()) << Key << "layout" << Value << std::string(kLayouts[static_cast<size_t>(p.layout)]);
  // Written where it is not the plain 0, or where the placement's own default is not 0 (replicated
  // holds one spare slot unless told otherwise).
  if (p.spare_slots != 0 || entry.default_spare_slots != 0) out << Key << "spare_slots" << Value << p.spare_slots;
  if (p.predictor) emit_predictor(out, *p.predictor);
  for (const auto& [key, value] : p.placement->values()) out << Key << key << Value << value;
  if (entry.moves) out << Key << "migration" << Value << std::string(kMigrations[static_cast<size_t>(p.migration)]);
  out << YAML::EndMap;
}

}  // namespace moesim::scenarios
