// locmoe: LocMoE (arXiv 2401.13920), top-1: a share `locality` of the tokens whose best expert is
// on another node go to their best-scoring expert on their own node instead, as far as that
// expert's capacity allows. LocMoE trains this preference in with a locality loss; here it is
// applied to the gate's scores directly. gating.locmoe.gate: grap takes LocMoE's own gate, fixed
// and orthogonal, under which every expert is a token's best equally often (the paper's Lemma 2):
// balanced as hash routing is, with the move to local experts in closed form.
#pragma once

namespace moesim::gating {

// LocMoE's lower bound on expert capacity, in tokens per expert (Theorem 1 of arXiv 2401.13920):
// ec_min = 1 / (experts * (1 - I_{delta^2}(1/2, (d - 1)/2))), I the regularized incomplete beta
// function; 1 - I is the chance that a random direction in d dimensions has |cos| >= delta with a
// gate vector, delta being the maximal angular deviation between gate weights and their tokens.
double locmoe_min_capacity(int d_model, int experts, double delta);

}  // namespace moesim::gating
