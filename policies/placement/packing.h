// Balanced packing of one MoE layer's experts onto EP ranks with a fixed number of slots each:
// longest-processing-time first (heaviest expert to the lightest rank with a free slot), then
// pairwise swaps between the heaviest rank and the others while a swap lowers the maximum. The
// ranks are interchangeable, so the result is relabelled to keep as many experts as possible where
// `current` has them: a new plan moves only what balance needs.
#pragma once

#include <span>
#include <vector>

namespace moesim::policies {

// loads[e]: the expected load of expert e; current[e]: its rank now (empty: no current placement).
// Requires loads.size() == ranks * slots. Returns the rank of every expert.
std::vector<int> pack_experts(std::span<const double> loads, int ranks, int slots, std::span<const int> current);

// Renames the parts of `part_of` (each in [0, parts)) so that each takes the part of `current` it
// shares the most items with, greedily, largest overlaps first. Items whose current part is
// outside [0, parts) do not count.
void relabel_parts(std::vector<int>& part_of, std::span<const int> current, int parts);

// The largest total load on one rank.
double max_rank_load(std::span<const double> loads, std::span<const int> rank_of, int ranks);

}  // namespace moesim::policies
