#include "policies/placement/graph_partition.h"

#include <limits>
#include <stdexcept>

namespace moesim::policies {

CoactivationGraph coactivation_graph(std::span<const double> pair_shares, int experts) {
  if (pair_shares.size() != static_cast<size_t>(experts) * experts)
    throw std::invalid_argument("coactivation_graph: needs experts^2 shares");
  CoactivationGraph graph(experts);
  for (int e = 0; e < experts; ++e) {
    for (int f = e + 1; f < experts; ++f) {
      const double w = pair_shares[static_cast<size_t>(e) * experts + f];
      if (w > 0) boost::add_edge(e, f, w, graph);
    }
  }
  return graph;
}

double total_coactivation(const CoactivationGraph& graph) {
  double total = 0;
  const auto weight = boost::get(boost::edge_weight, graph);
  for (auto [it, end] = boost::edges(graph); it != end; ++it) total += weight[*it];
  return total;
}

double kept_coactivation(const CoactivationGraph& graph, std::span<const int> part_of) {
  double kept = 0;
  const auto weight = boost::get(boost::edge_weight, graph);
  for (auto [it, end] = boost::edges(graph); it != end; ++it) {
    if (part_of[boost::source(*it, graph)] == part_of[boost::target(*it, graph)]) kept += weight[*it];
  }
  return kept;
}

namespace {

// The working state of a refinement: the subgraph's weights, each vertex's connection to every
// part, and the parts' loads.
class Refinement {
 public:
  Refinement(const CoactivationGraph& graph, std::span<const int> vertices, std::span<const double> loads, int parts,
             std::vector<int>& part)
      : n_(static_cast<int>(vertices.size())),
        parts_(parts),
        loads_(loads),
        part_(part),
        weight_(static_cast<size_t>(n_) * n_, 0.0),
        connection_(static_cast<size_t>(n_) * parts, 0.0),
        part_load_(parts, 0.0) {
    // A dense copy of the subgraph: the passes look up every pair many times.
    const auto weight = boost::get(boost::edge_weight, graph);
    for (int i = 0; i < n_; ++i) {
      for (int j = i + 1; j < n_; ++j) {
        const auto [edge, exists] = boost::edge(vertices[i], vertices[j], graph);
        if (exists) weight_[static_cast<size_t>(i) * n_ + j] = weight_[static_cast<size_t>(j) * n_ + i] = weight[edge];
      }
    }
    for (int i = 0; i < n_; ++i) {
      part_load_[part_[i]] += loads_[i];
      for (int j = 0; j < n_; ++j) connection_[static_cast<size_t>(j) * parts_ + part_[i]] += w(i, j);
    }
  }

  int size() const { return n_; }
  int part(int i) const { return part_[i]; }
  double part_load(int p) const { return part_load_[p]; }
  double w(int i, int j) const { return weight_[static_cast<size_t>(i) * n_ + j]; }
  double connection(int i, int p) const { return connection_[static_cast<size_t>(i) * parts_ + p]; }

  // The kept weight that swapping the parts of a and b adds (negative: loses).
  double swap_gain(int a, int b) const {
    const int pa = part_[a], pb = part_[b];
    return connection(a, pb) - connection(a, pa) + connection(b, pa) - connection(b, pb) - 2 * w(a, b);
  }

  void swap(int a, int b) {
    const int pa = part_[a], pb = part_[b];
    for (int j = 0; j < n_; ++j) {
      double* row = connection_.data() + static_cast<size_t>(j) * parts_;
      row[pa] += w(j, b) - w(j, a);
      row[pb] += w(j, a) - w(j, b);
    }
    part_load_[pa] += loads_[b] - loads_[a];
    part_load_[pb] += loads_[a] - loads_[b];
    std::swap(part_[a], part_[b]);
  }

 private:
  int n_, parts_;
  std::span<const double> loads_;
  std::vector<int>& part_;
  std::vector<double> weight_;      // [i * n + j]
  std::vector<double> connection_;  // [i * parts + p]: weight between i and the members of p
  std::vector<double> part_load_;
};

}  // namespace

double kernighan_lin(const CoactivationGraph& graph, std::span<const int> vertices, std::span<const double> loads, int parts,
                     double max_part_load, std::vector<int>& part) {
  if (loads.size() != vertices.size() || part.size() != vertices.size()) throw std::invalid_argument("kernighan_lin: sizes differ");
  Refinement state(graph, vertices, loads, parts, part);
  const int n = state.size();
  double total = 0;
  for (int i = 0; i < n; ++i) {
    for (int j = i + 1; j < n; ++j) total += state.w(i, j);
  }
  const double tolerance = 1e-12 * total;
  constexpr int kMaxPasses = 16;
  double gained = 0;
  std::vector<char> locked(n);
  std::vector<std::pair<int, int>> swaps;
  for (int pass = 0; pass < kMaxPasses; ++pass) {
    std::fill(locked.begin(), locked.end(), 0);
    swaps.clear();
    double sum = 0, best_sum = 0;
    size_t best_length = 0;
    for (int round = 0; round < n / 2; ++round) {
      double best = -std::numeric_limits<double>::infinity();
      int best_a = -1, best_b = -1;
      for (int a = 0; a < n; ++a) {
        if (locked[a]) continue;
        const int pa = state.part(a);
        for (int b = a + 1; b < n; ++b) {
          const int pb = state.part(b);
          if (locked[b] || pb == pa) continue;
          const double moved = loads[a] - loads[b];
          if (state.part_load(pa) - moved > max_part_load || state.part_load(pb) + moved > max_part_load) continue;
          const double gain = state.swap_gain(a, b);
          if (gain > best) {
            best = gain;
            best_a = a;
            best_b = b;
          }
        }
      }
      if (best_a < 0) break;
      state.swap(best_a, best_b);
      locked[best_a] = locked[best_b] = 1;
      swaps.emplace_back(best_a, best_b);
      sum += best;
      if (sum > best_sum + tolerance) {
        best_sum = sum;
        best_length = swaps.size();
      }
    }
    // Undo the tail of the pass that did not pay off.
    for (size_t k = swaps.size(); k > best_length; --k) state.swap(swaps[k - 1].first, swaps[k - 1].second);
    if (best_length == 0) break;
    gained += best_sum;
  }
  return gained;
}

}  // namespace moesim::policies
