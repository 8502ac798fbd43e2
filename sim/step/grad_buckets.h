// Gradient buckets as Megatron's DistributedDataParallel forms them (megatron/core/distributed/
// distributed_data_parallel.py, param_and_grad_buffer.py): a model chunk's parameters are taken in
// backward order, a bucket closes once it holds at least `bucket_params`, and each bucket's
// reduction starts as soon as its last layer's gradients are done. Only the first pipeline stage's
// first chunk is split; every other chunk is one bucket (its reduction is off the critical path).
// Fewer, larger reductions pay a ring's per-step latency fewer times.
#pragma once

#include <vector>

namespace moesim {

// Per layer, the parameters of the bucket whose reduction starts after that layer's backward (its
// lowest layer), 0 where none does. `chunks`: each model chunk's layers in forward order, the
// first stage's first chunk first; `layer_params`: each layer's parameters in the buckets.
std::vector<double> grad_buckets(const std::vector<std::vector<int>>& chunks, const std::vector<double>& layer_params,
                                 double bucket_params);

}  // namespace moesim
