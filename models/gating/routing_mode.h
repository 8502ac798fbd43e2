// How a synthetic router turns gate scores into expert choices.
//
//   topk    GShard / Switch: the k best-scoring experts (top_k 1 is Switch).
//   hash    a hash of the token id picks the experts: balanced and blind to content (LocMoE's
//           baseline); the gate plays no part.
//   locmoe  LocMoE (arXiv 2401.13920), top-1: a share `locality` of the tokens whose best expert
//           is on another node go to their best-scoring expert on their own node instead, as far
//           as that expert's capacity allows. LocMoE trains this preference in with a locality
//           loss; here it is applied to the gate's scores directly.
//   c2r     collaboration-constrained routing (C2R, arXiv 2504.01337): the first expert is chosen
//           freely, the other k - 1 only among its collaborators: the group_size - 1 experts
//           co-activated with it most often over a warm-up window (`measured`), or the rest of its
//           block of group_size consecutive experts (`fixed`).
#pragma once

#include <string_view>

namespace moesim::gating {

enum class RoutingMode { kTopK, kHash, kLocMoe, kC2R };

struct LocMoeParams {
  double locality = 0.5;             // share of remote-first tokens moved to a local expert
  double angular_deviation = 0.03;   // delta of LocMoE's minimum-capacity theorem
};

enum class C2RGroups { kMeasured, kFixed };

struct C2RParams {
  C2RGroups groups = C2RGroups::kMeasured;
  int group_size = 0;      // an expert and its collaborators; 0: experts per EP rank, at least top_k
  int warmup_steps = 100;  // measured groups: co-activation is counted over these first steps
};

struct RoutingSpec {
  RoutingMode mode = RoutingMode::kTopK;
  LocMoeParams locmoe;
  C2RParams c2r;
};

const char* to_string(RoutingMode m);
const char* to_string(C2RGroups g);

// LocMoE's lower bound on expert capacity, in tokens per expert (Theorem 1 of arXiv 2401.13920):
// ec_min = 1 / (experts * (1 - I_{delta^2}(1/2, (d - 1)/2))), I the regularized incomplete beta
// function; 1 - I is the chance that a random direction in d dimensions has |cos| >= delta with a
// gate vector, delta being the maximal angular deviation between gate weights and their tokens.
double locmoe_min_capacity(int d_model, int experts, double delta);

}  // namespace moesim::gating
