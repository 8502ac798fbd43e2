#include "models/gating/expert_choice.h"
#include "models/gating/routing/locmoe.h"

#include <gtest/gtest.h>

#include <boost/math/special_functions/erf.hpp>
#include <cmath>
#include <vector>

namespace moesim::gating {
namespace {

TEST(C2RChoose, FirstIsFreeTheRestAreTheBestCollaborators) {
  const std::vector<int32_t> candidates = {5, 2, 7, 9, 1};
  const std::vector<int32_t> collaborators = {1, 9, 3};  // of expert 5
  std::vector<int32_t> chosen(3);
  c2r_choose(candidates, collaborators, chosen);
  // 2 and 7 score higher but do not collaborate with 5; 9 beats 1 on score.
  EXPECT_EQ(chosen, (std::vector<int32_t>{5, 9, 1}));
}

TEST(C2RChoose, FillsFromCollaborationOrderWhenCandidatesRunOut) {
  const std::vector<int32_t> candidates = {4, 0, 6};
  const std::vector<int32_t> collaborators = {3, 6, 2};  // of expert 4
  std::vector<int32_t> chosen(3);
  c2r_choose(candidates, collaborators, chosen);
  EXPECT_EQ(chosen, (std::vector<int32_t>{4, 6, 3}));
}

TEST(C2RChoose, RejectsTooFewCollaborators) {
  const std::vector<int32_t> candidates = {0, 1};
  const std::vector<int32_t> collaborators = {1};
  std::vector<int32_t> chosen(3);
  EXPECT_THROW(c2r_choose(candidates, collaborators, chosen), std::invalid_argument);
}

TEST(BestLocal, FirstLocalCandidateOrNone) {
  const std::vector<uint8_t> local = {0, 1, 0, 1};
  EXPECT_EQ(best_local(std::vector<int32_t>{2, 3, 1}, local), 3);
  EXPECT_EQ(best_local(std::vector<int32_t>{0, 2}, local), -1);
}

TEST(BlockCollaborators, RestOfTheBlock) {
  const auto c = block_collaborators(6, 3);
  EXPECT_EQ(c[0], (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(c[4], (std::vector<int32_t>{3, 5}));
}

TEST(CoactivationCounter, MostFrequentPartnersFirst) {
  CoactivationCounter counter(4);
  counter.add(std::vector<int32_t>{0, 2}, 3.0);
  counter.add(std::vector<int32_t>{0, 1}, 1.0);
  counter.add(std::vector<int32_t>{0, 3, 1}, 0.5);
  const auto c = counter.collaborators(2);
  EXPECT_EQ(c[0], (std::vector<int32_t>{2, 1}));  // 3.0 vs 1.5 vs 0.5
  EXPECT_EQ(c[3], (std::vector<int32_t>{0, 1}));  // ties at 0.5: lower index first
  EXPECT_EQ(c[2], (std::vector<int32_t>{0, 1}));  // 3.0, then 0 for 1 and 3: lower index
}

TEST(LocMoeMinCapacity, ThreeDimensionsHaveUniformCosines) {
  // On the 2-sphere the cosine with a fixed direction is uniform on [-1, 1]: P(|cos| >= delta) = 1 - delta.
  EXPECT_NEAR(locmoe_min_capacity(3, 16, 0.3), 1.0 / (16 * 0.7), 1e-12);
}

TEST(LocMoeMinCapacity, MatchesThePapersLargeDimensionForm) {
  // For large d the paper gives ec_min ~ 1 / (n * erfc(sqrt(delta^2 d / (2 - delta^2)))).
  const int d = 4096, n = 16;
  const double delta = 0.03;
  const double asymptotic = 1.0 / (n * boost::math::erfc(std::sqrt(delta * delta * d / (2 - delta * delta))));
  EXPECT_NEAR(locmoe_min_capacity(d, n, delta), asymptotic, 0.01 * asymptotic);
  // A larger deviation demands more capacity.
  EXPECT_GT(locmoe_min_capacity(d, n, 0.06), locmoe_min_capacity(d, n, 0.03));
}

}  // namespace
}  // namespace moesim::gating
