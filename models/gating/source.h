// Where per-step routing comes from: the skewed synthetic source, the learned gate, trace replay.
#pragma once

#include <cstdint>
#include <string>

#include "models/gating/routing_matrix.h"
#include "models/gating/routing_view.h"

namespace moesim::gating {

// The shape of the routing a source produces: [moe_layers][ranks][experts] assignments, each
// rank routing tokens_per_rank tokens to top_k experts.
struct GatingShape {
  int moe_layers = 1;
  int ranks = 1;
  int experts = 1;
  int top_k = 1;
  int64_t tokens_per_rank = 1;
  // Group-limited routing (cuda/router.h): a token's experts come from its topk_groups best of
  // expert_groups groups of consecutive experts. 1 and 1: no limit.
  int expert_groups = 1;
  int topk_groups = 1;
  bool operator==(const GatingShape&) const = default;
};

// Produces the routing of successive training steps. Not thread-safe; one instance per run, called
// by one thread at a time (a run may route its next step on another thread, run_scenario()).
//
// Some routing modes depend on where experts live (LocMoE prefers experts on the sender's node),
// so routing is asked for per placement: route() may be called several times for one step, once
// per placement compared, and every call routes the same tokens. What a source learns from a
// step does not depend on the placement it was routed under.
class Source {
 public:
  virtual ~Source() = default;

  // Fills `out` (already sized [moe layers][ranks][experts]) with the routing of `step` under
  // `view`, before capacity clipping (`dropped` is left zero; the runner applies capacity).
  // Steps are asked for in order 0, 1, 2, ..., each one or more times.
  void route(int step, const RoutingView& view, RoutingMatrix& out) {
    if (step != current_step_) {
      current_step_ = step;
      advance(step);
    }
    fill(view, out);
  }
  // The routing of `step` without a placement (sources for which placement_aware() is false).
  void next(int step, RoutingMatrix& out) { route(step, RoutingView{}, out); }

  // Whether the routing depends on the view; if not, one route() per step serves every placement.
  virtual bool placement_aware() const { return false; }
  virtual std::string describe() const = 0;

 protected:
  // The step being routed (set before advance() is called).
  int current_step() const { return current_step_; }
  // Moves to `step`: everything that does not depend on placement.
  virtual void advance(int step) = 0;
  // The current step's routing under `view`.
  virtual void fill(const RoutingView& view, RoutingMatrix& out) = 0;

 private:
  int current_step_ = -1;
};

}  // namespace moesim::gating
