#include "policies/placement/packing.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace moesim::policies {

double max_rank_load(std::span<const double> loads, std::span<const int> rank_of, int ranks) {
  std::vector<double> total(ranks, 0.0);
  for (size_t e = 0; e < loads.size(); ++e) total[rank_of[e]] += loads[e];
  return *std::max_element(total.begin(), total.end());
}

namespace {

std::vector<int> longest_first(std::span<const double> loads, int ranks, int slots) {
  std::vector<int> order(loads.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return loads[a] > loads[b]; });
  std::vector<double> total(ranks, 0.0);
  std::vector<int> used(ranks, 0), rank_of(loads.size());
  for (int e : order) {
    int best = -1;
    for (int r = 0; r < ranks; ++r) {
      if (used[r] < slots && (best < 0 || total[r] < total[best])) best = r;
    }
    rank_of[e] = best;
    total[best] += loads[e];
    ++used[best];
  }
  return rank_of;
}

// Swaps an expert of the heaviest rank with a lighter expert elsewhere while that lowers the
// pair's maximum, which never raises the overall one.
void refine(std::span<const double> loads, int ranks, std::vector<int>& rank_of) {
  std::vector<double> total(ranks, 0.0);
  for (size_t e = 0; e < loads.size(); ++e) total[rank_of[e]] += loads[e];
  const int experts = static_cast<int>(loads.size());
  for (int round = 0; round < 4 * experts; ++round) {
    const int heavy = static_cast<int>(std::max_element(total.begin(), total.end()) - total.begin());
    double best_max = total[heavy];
    int best_a = -1, best_b = -1;
    for (int a = 0; a < experts; ++a) {
      if (rank_of[a] != heavy) continue;
      for (int b = 0; b < experts; ++b) {
        const int other = rank_of[b];
        if (other == heavy || loads[b] >= loads[a]) continue;
        const double moved = loads[a] - loads[b];
        const double pair_max = std::max(total[heavy] - moved, total[other] + moved);
        if (pair_max < best_max - 1e-12 * total[heavy]) {
          best_max = pair_max;
          best_a = a;
          best_b = b;
        }
      }
    }
    if (best_a < 0) return;
    const int other = rank_of[best_b];
    const double moved = loads[best_a] - loads[best_b];
    total[heavy] -= moved;
    total[other] += moved;
    std::swap(rank_of[best_a], rank_of[best_b]);
  }
}

}  // namespace

std::vector<int> pack_experts(std::span<const double> loads, int ranks, int slots, std::span<const int> current) {
  if (ranks < 1 || slots < 1 || loads.size() != static_cast<size_t>(ranks) * slots) {
    throw std::invalid_argument("pack_experts: needs exactly ranks * slots experts");
  }
  std::vector<int> rank_of = longest_first(loads, ranks, slots);
  refine(loads, ranks, rank_of);
  if (!current.empty()) relabel_parts(rank_of, current, ranks);
  return rank_of;
}

void relabel_parts(std::vector<int>& part_of, std::span<const int> current, int parts) {
  std::vector<std::vector<int>> overlap(parts, std::vector<int>(parts, 0));
  for (size_t e = 0; e < part_of.size(); ++e) {
    if (current[e] >= 0 && current[e] < parts) ++overlap[part_of[e]][current[e]];
  }
  struct Pair {
    int count, fresh, old;
  };
  std::vector<Pair> pairs;
  for (int n = 0; n < parts; ++n) {
    for (int o = 0; o < parts; ++o) pairs.push_back({overlap[n][o], n, o});
  }
  std::stable_sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) { return a.count > b.count; });
  std::vector<int> name(parts, -1);
  std::vector<bool> taken(parts, false);
  for (const Pair& p : pairs) {
    if (name[p.fresh] >= 0 || taken[p.old]) continue;
    name[p.fresh] = p.old;
    taken[p.old] = true;
  }
  for (int& p : part_of) p = name[p];
}

}  // namespace moesim::policies
