// What a change of placement moves: every replica the new placement has on a rank that the old
// one did not, copied from a rank that held the expert before (its largest replica). Dropping a
// replica costs nothing. A policy that moves nothing produces an empty plan.
#pragma once

#include <vector>

#include "policies/placement/placement.h"

namespace moesim::policies {

struct ExpertMove {
  int layer = 0, expert = 0;
  int from_rank = 0, to_rank = 0;  // EP ranks; every EP group makes the same move
};

std::vector<ExpertMove> plan_migration(const Placement& from, const Placement& to);

}  // namespace moesim::policies
