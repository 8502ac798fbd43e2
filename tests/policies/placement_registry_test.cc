// The placement registry: every entry names itself, lists its keys and takes them back, and makes
// a policy that places every expert.
#include <gtest/gtest.h>

#include <algorithm>

#include "policies/placement/registry.h"
#include "policies/predictors/registry.h"

namespace moesim::policies {
namespace {

TEST(PlacementRegistry, EveryEntryListsItsKeysAndMakesAPolicy) {
  const PlacementShape shape{2, 8, 4};
  const auto predictor = default_predictor("sw_avg");
  std::vector<std::string> seen;
  for (const PlacementEntry* entry : placement_entries()) {
    EXPECT_EQ(std::count(seen.begin(), seen.end(), std::string(entry->name)), 0) << entry->name << " is registered twice";
    seen.emplace_back(entry->name);
    auto config = entry->defaults({shape.ep, entry->default_spare_slots});
    EXPECT_EQ(config->name(), entry->name);
    const auto values = config->values();
    for (const auto& [key, value] : values) EXPECT_TRUE(params::assign(*config, key, value)) << entry->name << "." << key;
    EXPECT_EQ(config->values(), values) << entry->name;
    EXPECT_EQ(params::docs_of(*config).size(), values.size()) << entry->name;
    EXPECT_FALSE(entry->label(StaticLayout::kContiguous, "sw_avg", 0).empty());

    const PlacementContext context{shape, 2, StaticLayout::kContiguous, entry->default_spare_slots,
                                   entry->forecasts ? predictor.get() : nullptr};
    const auto policy = config->make(context);
    const Placement& placement = policy->placement_for(0);
    ASSERT_EQ(placement.layers.size(), 2u) << entry->name;
    for (const auto& layer : placement.layers) {
      ASSERT_EQ(layer.replicas.size(), 8u) << entry->name;
      for (const auto& replicas : layer.replicas) EXPECT_FALSE(replicas.empty()) << entry->name;
    }
  }
  EXPECT_EQ(seen, placement_names());
}

TEST(PlacementRegistry, AForecastingPolicyWithoutAPredictorIsAnError) {
  const PlacementShape shape{1, 8, 4};
  auto config = find_placement("predictive")->defaults({4, 0});
  EXPECT_THROW(config->make({shape, 4, StaticLayout::kContiguous, 0, nullptr}), std::invalid_argument);
}

TEST(PlacementRegistry, ReplicasBeyondTheSpareSlotsAreAProblemOfTheScenario) {
  auto config = find_placement("replicated")->defaults({4, 1});
  ASSERT_TRUE(params::assign(*config, "replicas", "5"));
  const auto problem = config->check({4, 4, 8, 1, 1, "none"});
  ASSERT_TRUE(problem.has_value());
  EXPECT_EQ(problem->key, "replicas");
  EXPECT_NE(problem->message.find("ep x spare_slots = 4 x 1 = 4"), std::string::npos) << problem->message;
}

}  // namespace
}  // namespace moesim::policies
