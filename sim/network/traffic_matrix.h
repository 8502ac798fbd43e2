// Bytes each GPU sends to each GPU in one collective, over a subset of the cluster's GPUs.
#pragma once

#include <span>
#include <vector>

#include "sim/base/units.h"

namespace moesim::network {

class TrafficMatrix {
 public:
  TrafficMatrix() = default;
  // `gpus[i]` is the cluster GPU id of participant i.
  explicit TrafficMatrix(std::vector<int> gpus) : gpus_(std::move(gpus)), bytes_(gpus_.size() * gpus_.size(), 0.0) {}

  size_t size() const { return gpus_.size(); }
  const std::vector<int>& gpus() const { return gpus_; }
  double& at(size_t src, size_t dst) { return bytes_[src * gpus_.size() + dst]; }
  double at(size_t src, size_t dst) const { return bytes_[src * gpus_.size() + dst]; }
  // Every entry, source by source: at(src, dst) is bytes()[src * size() + dst].
  std::span<const double> bytes() const { return bytes_; }
  double* data() { return bytes_.data(); }
  void fill(double v) { std::fill(bytes_.begin(), bytes_.end(), v); }
  // Another set of participants, every entry zero, keeping the storage.
  void reset(std::span<const int> gpus) {
    gpus_.assign(gpus.begin(), gpus.end());
    bytes_.assign(gpus_.size() * gpus_.size(), 0.0);
  }

 private:
  std::vector<int> gpus_;
  std::vector<double> bytes_;
};

}  // namespace moesim::network
