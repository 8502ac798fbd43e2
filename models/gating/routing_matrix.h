// Tokens each source rank sends to each expert, per MoE layer, for one training step.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "sim/base/large_buffer.h"

namespace moesim::gating {

// The sum of token counts (a row, a layer's rows), in 64 bits.
int64_t count_total(std::span<const int32_t> counts);

class RoutingMatrix {
 public:
  RoutingMatrix() = default;
  RoutingMatrix(int layers, int ranks, int experts) { resize(layers, ranks, experts); }

  void resize(int layers, int ranks, int experts) {
    layers_ = layers;
    ranks_ = ranks;
    experts_ = experts;
    tokens_.assign(static_cast<size_t>(layers) * ranks * experts, 0);
    no_drops_.assign(experts, 0);
    dropped_.clear();
    sends_ep_ = 0;
    sends_.clear();
    node_sends_.clear();
    pair_shares_.clear();
    known_loads_.clear();
  }

  // Tokens each rank sends to each peer of its expert-parallel group, counting a token once per
  // destination however many of its experts live there (what a deduplicating all-to-all moves).
  // Only sources that see single tokens know it (the learned gate, given a placement); it is
  // absent otherwise.
  bool has_sends() const { return sends_ep_ > 0; }
  int sends_ep() const { return sends_ep_; }
  void resize_sends(int ep) {
    sends_ep_ = ep;
    sends_.assign(static_cast<size_t>(layers_) * ranks_ * ep, 0);
    node_sends_.assign(sends_.size(), 0);
  }
  void clear_sends() {
    sends_ep_ = 0;
    sends_.clear();
    node_sends_.clear();
  }
  std::span<int32_t> sends_row(int layer, int rank) {
    return {sends_.data() + (static_cast<size_t>(layer) * ranks_ + rank) * sends_ep_, static_cast<size_t>(sends_ep_)};
  }
  std::span<const int32_t> sends_row(int layer, int rank) const {
    return {sends_.data() + (static_cast<size_t>(layer) * ranks_ + rank) * sends_ep_, static_cast<size_t>(sends_ep_)};
  }
  // Likewise once per destination node: entry j counts the tokens of `rank` that visit the node of
  // EP rank j at least once (the same for every j on one node). Present with sends_row.
  std::span<int32_t> node_sends_row(int layer, int rank) {
    return {node_sends_.data() + (static_cast<size_t>(layer) * ranks_ + rank) * sends_ep_, static_cast<size_t>(sends_ep_)};
  }
  std::span<const int32_t> node_sends_row(int layer, int rank) const {
    return {node_sends_.data() + (static_cast<size_t>(layer) * ranks_ + rank) * sends_ep_, static_cast<size_t>(sends_ep_)};
  }

  // The share of each layer's tokens that chose both of two experts,
  // [(layer * experts + e) * experts + f] (symmetric, zero diagonal): what co-activation-aware
  // placement reads. Kept only once asked for (enable_coactivation), and filled only by sources
  // that see single tokens (the learned gate); zero otherwise.
  bool has_coactivation() const { return !pair_shares_.empty(); }
  void enable_coactivation() { pair_shares_.assign(static_cast<size_t>(layers_) * experts_ * experts_, 0.0); }
  void clear_coactivation() { pair_shares_.clear(); }
  std::span<double> coactivation() { return pair_shares_; }
  std::span<const double> coactivation() const { return pair_shares_; }

  int layers() const { return layers_; }
  int ranks() const { return ranks_; }
  int experts() const { return experts_; }

  // Token assignments from `rank` to each expert of MoE layer `layer` (after drops). Writing access
  // forgets loads set by set_expert_loads().
  std::span<int32_t> row(int layer, int rank) {
    known_loads_.clear();
    return {tokens_.data() + offset(layer, rank), static_cast<size_t>(experts_)};
  }
  std::span<const int32_t> row(int layer, int rank) const { return {tokens_.data() + offset(layer, rank), static_cast<size_t>(experts_)}; }
  // All of a layer's rows, rank after rank (ranks() * experts()), for a writer; forgets loads set
  // as row() does.
  std::span<int32_t> layer_rows(int layer) {
    known_loads_.clear();
    return {tokens_.data() + offset(layer, 0), static_cast<size_t>(ranks_) * experts_};
  }
  // Assignments from `rank` to each expert that were over capacity and dropped. Kept only once a
  // row is written (dropless runs never do): until then every row reads zero.
  std::span<int32_t> dropped_row(int layer, int rank) {
    known_loads_.clear();
    if (dropped_.empty()) dropped_.assign(tokens_.size(), 0);
    return {dropped_.data() + offset(layer, rank), static_cast<size_t>(experts_)};
  }
  std::span<const int32_t> dropped_row(int layer, int rank) const {
    if (dropped_.empty()) return no_drops_;
    return {dropped_.data() + offset(layer, rank), static_cast<size_t>(experts_)};
  }
  // Every dropped count back to zero.
  void clear_drops() { dropped_.clear(); }

  // All of a layer's dropped counts, rank after rank (ranks() * experts()); empty where no row of
  // drops was written (all of them zero).
  std::span<const int32_t> layer_dropped_rows(int layer) const {
    if (dropped_.empty()) return {};
    return {dropped_.data() + offset(layer, 0), static_cast<size_t>(ranks_) * experts_};
  }

  // Tokens each expert of `layer` receives from all ranks: summed from its rows, or as a writer set
  // them.
  std::vector<int64_t> expert_loads(int layer) const;
  // For a writer that sums each expert's tokens as it writes the rows, while they are in cache (a
  // step's rows are far more than the caches hold, and a pass over them costs as much as writing
  // them): every layer's loads, [layer * experts + expert], given after the last write. A writing
  // access to a row or dropped row after this forgets them, so a row written through a span taken
  // before this call must not change after it.
  void set_expert_loads(std::span<const int64_t> loads);

 private:
  size_t offset(int layer, int rank) const { return (static_cast<size_t>(layer) * ranks_ + rank) * experts_; }
  int layers_ = 0, ranks_ = 0, experts_ = 0, sends_ep_ = 0;
  LargeVector<int32_t> tokens_;
  LargeVector<int32_t> node_sends_;
  LargeVector<int32_t> dropped_;   // empty: none dropped
  std::vector<int32_t> no_drops_;  // a row of zeros
  LargeVector<int32_t> sends_;     // [layer][rank][ep peer]
  LargeVector<double> pair_shares_;
  std::vector<int64_t> known_loads_;  // set_expert_loads(); empty: sum the rows
};

}  // namespace moesim::gating
