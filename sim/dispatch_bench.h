// One MoE layer's dispatch and combine as DeepEP's benchmarks report them (deepseek-ai/DeepEP,
// tests/test_intranode.py and test_internode.py), simulated on a scenario: its cluster, model,
// dispatch settings and gating, the first MoE layer under static contiguous placement, one
// micro-batch's tokens per rank.
//
// DeepEP's bandwidths are logical: NVL = tokens a GPU receives x hidden x bytes per element /
// time; RDMA = tokens x distinct destination nodes per token (its own included) x hidden x bytes
// per element / time; for its low-latency kernels, which send a copy per selected expert, RDMA =
// tokens x top-k x hidden x bytes per element / time. Bytes per element: 1 + 4/128 for FP8 with
// its scales, 2 for BF16. The time is the payload's: DeepEP times its notify (the count exchange)
// apart, and so does this.
#pragma once

#include <cstdint>

#include "scenarios/scenario.h"
#include "sim/base/units.h"

namespace moesim {

struct DispatchBench {
  int ep = 1, nodes = 1;                                                          // the EP group and the nodes it spans
  bool intranode = true;                                                          // DeepEP would run its intranode kernel
  double tokens = 0;                                                              // per rank, in one micro-batch
  double gpus_per_token = 0;                                                      // distinct destination GPUs of a token
  double nodes_per_token = 0;                                                     // distinct destination nodes of a token, its own included
  double received = 0;                                                            // tokens the first GPU receives
  double dispatch_bytes = 0, combine_bytes = 0;                                   // per element
  Duration dispatch, combine;                                                     // one EP group's payload, analytic time
  Duration count_exchange;                                                        // before the dispatch (the dispatcher's notify)
  bool copy_per_expert = false;                                                   // RDMA as DeepEP's low-latency kernels count it
  double nvl_dispatch = 0, rdma_dispatch = 0, nvl_combine = 0, rdma_combine = 0;  // GB/s, as DeepEP
};

DispatchBench bench_dispatch(const scenarios::Scenario& scenario);

}  // namespace moesim
