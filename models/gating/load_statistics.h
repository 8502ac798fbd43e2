// Statistics of expert-load proportions over training, as the expert-load prediction paper
// reads them (arXiv 2404.16914): per expert, the variance of its load proportion over sliding
// windows (of 10, 100 or 200 iterations).
#pragma once

#include <vector>

namespace moesim::gating {

// proportions[step][expert] of one MoE layer. The mean over experts and over windows of
// `window` steps starting every window/4 steps inside [from, to). 0 when no window fits.
double windowed_variance(const std::vector<std::vector<double>>& proportions, int from, int to, int window);

}  // namespace moesim::gating
