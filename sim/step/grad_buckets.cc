#include "sim/step/grad_buckets.h"

#include <iterator>

namespace moesim {

std::vector<double> grad_buckets(const std::vector<std::vector<int>>& chunks, const std::vector<double>& layer_params,
                                 double bucket_params) {
  std::vector<double> closing(layer_params.size(), 0.0);
  for (size_t v = 0; v < chunks.size(); ++v) {
    const std::vector<int>& layers = chunks[v];
    double held = 0;
    for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
      held += layer_params[*it];
      const bool last = std::next(it) == layers.rend();
      if (last || (v == 0 && held >= bucket_params)) {
        closing[*it] = held;
        held = 0;
      }
    }
  }
  return closing;
}

}  // namespace moesim
