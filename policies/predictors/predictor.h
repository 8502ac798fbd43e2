// Online forecasters of expert-load proportions (the expert-load prediction paper, arXiv
// 2404.16914): the load of an expert is the tokens it processes in a step; its proportion is that
// load over its MoE layer's total, so each layer's proportions sum to 1.
//
// Proportions are flat vectors over series, series = layer * experts + expert.
#pragma once

#include <span>
#include <string>

namespace moesim::policies {

struct SeriesShape {
  int layers = 1;
  int experts = 1;
  int series() const { return layers * experts; }
};

// Sees the loads of finished steps only, one step at a time; forecasts the steps after the last
// one it saw. The oracle (oracle.h) is the single, named exception. Not thread-safe.
class Predictor {
 public:
  virtual ~Predictor() = default;
  virtual std::string name() const = 0;
  // The proportions of the next step (steps in order 0, 1, 2, ...).
  virtual void observe(std::span<const float> proportions) = 0;
  // Proportions of the `horizon` steps after the last observed one: out[(h - 1) * series + s] for
  // h = 1..horizon. Each layer's forecast sums to 1. Requires at least one observed step.
  virtual void forecast(int horizon, std::span<float> out) = 0;
};

// Clips negatives to 0 and rescales each layer of each forecast step to sum to 1 (uniform when a
// layer is all zero).
void normalize_layers(std::span<float> steps, const SeriesShape& shape);

}  // namespace moesim::policies
