// The gating registries: every routing mode and source names itself, lists its keys and takes them
// back; the defaults a scenario gives them are used.
#include <gtest/gtest.h>

#include <algorithm>

#include "models/gating/routing/routing_rule.h"
#include "models/gating/source_registry.h"

namespace moesim::gating {
namespace {

template <typename Config>
void expect_keys_round_trip(Config& config, std::string_view entry) {
  const auto values = config.values();
  for (const auto& [key, value] : values) EXPECT_TRUE(params::assign(config, key, value)) << entry << "." << key;
  EXPECT_EQ(config.values(), values) << entry;
  EXPECT_EQ(params::docs_of(config).size(), values.size()) << entry;
  EXPECT_FALSE(params::assign(config, "no_such_key", "1")) << entry;
}

TEST(RoutingRegistry, EveryModeListsItsKeysAndMakesARule) {
  std::vector<std::string> seen;
  for (const RoutingEntry* entry : routing_entries()) {
    seen.emplace_back(entry->name);
    auto config = entry->defaults({2, 16, 8});
    EXPECT_EQ(config->name(), entry->name);
    expect_keys_round_trip(*config, entry->name);
    const int top_k = entry->name == "locmoe" ? 1 : 2;
    const auto rule = config->make({GatingShape{1, 8, 16, top_k, 1024}, 1.25});
    EXPECT_NE(rule->describe().find(std::string(entry->name)), std::string::npos) << rule->describe();
    EXPECT_GE(rule->candidates(), 1);
  }
  EXPECT_EQ(seen, routing_names());
  EXPECT_EQ(topk_routing()->name(), "topk");
}

TEST(RoutingRegistry, C2RGroupsDefaultToAnEpRanksExperts) {
  const auto c2r = find_routing("c2r")->defaults({2, 64, 8});
  const auto values = c2r->values();
  const auto size = std::find_if(values.begin(), values.end(), [](const auto& v) { return v.key == "group_size"; });
  ASSERT_NE(size, values.end());
  EXPECT_EQ(size->value, "8");
}

TEST(SourceRegistry, EverySourceListsItsKeys) {
  std::vector<std::string> seen;
  for (const SourceEntry* entry : source_entries()) {
    seen.emplace_back(entry->name);
    auto config = entry->defaults({500});
    EXPECT_EQ(config->name(), entry->name);
    expect_keys_round_trip(*config, entry->name);
  }
  EXPECT_EQ(seen, source_names());
  // The learned gate's learning rate decays over the run unless told otherwise.
  const auto learned = find_source("learned")->defaults({500})->values();
  EXPECT_NE(std::find(learned.begin(), learned.end(), params::KeyValue{"decay_steps", "500"}), learned.end());
}

}  // namespace
}  // namespace moesim::gating
