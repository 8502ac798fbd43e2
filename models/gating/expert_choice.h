// A token's expert choices under the constrained routing modes, from its candidates: experts in
// descending order of gate score (the router's top-K with K >= top_k).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace moesim::gating {

// C2R: the first candidate, then the best-scoring candidates among its collaborators; when the
// candidates run out first, its remaining collaborators in collaboration order. Fills `chosen`
// (top_k entries). Requires collaborators.size() >= top_k - 1.
void c2r_choose(std::span<const int32_t> candidates, std::span<const int32_t> collaborators, std::span<int32_t> chosen);

// LocMoE: the best-scoring candidate for which local[e] is set, or -1 when none of the
// candidates is local.
int best_local(std::span<const int32_t> candidates, std::span<const uint8_t> local);

// Each expert's collaborators when experts form fixed blocks of group_size consecutive experts:
// the rest of its block, in index order.
std::vector<std::vector<int32_t>> block_collaborators(int experts, int group_size);

// Counts how often experts are chosen together (C2R's collaboration matrix, diagonal excluded).
class CoactivationCounter {
 public:
  explicit CoactivationCounter(int experts);
  // One token that chose `experts` together, counted with `weight`.
  void add(std::span<const int32_t> experts, double weight);
  // Each expert's `count` most frequent partners, most frequent first (ties: lower index first).
  std::vector<std::vector<int32_t>> collaborators(int count) const;

 private:
  int experts_;
  std::vector<double> counts_;  // [experts][experts]
};

}  // namespace moesim::gating
