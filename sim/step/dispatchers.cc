#include "sim/base/registry.h"
#include "sim/step/dispatcher.h"

namespace moesim {

const DispatcherEntry& dispatcher_entry_alltoall() {
  static const DispatcherEntry entry{
      .name = "alltoall",
      .summary = "NCCL all-to-all after a token-count exchange (Megatron's alltoall dispatcher); dispatch.dedup applies",
  };
  return entry;
}

// Megatron-Core's MoEAllGatherTokenDispatcher gathers the hidden states, the routing map (bool)
// and the probabilities (float32) of every token of the group, each [tokens, experts].
const DispatcherEntry& dispatcher_entry_allgather() {
  static const DispatcherEntry entry{
      .name = "allgather",
      .summary =
          "every GPU gathers the group's tokens with their routing map, the combine reduce-scatters (Megatron's allgather dispatcher)",
      .dedup = Dedup::kNone,
      .gathers = true,
      .exchanges_counts = false,
      .metadata_per_expert = 1 + 4,
  };
  return entry;
}

// DeepEP's normal kernels (deepseek-ai/DeepEP, csrc/kernels/internode.cu and intranode.cu): each
// token travels with its top-k expert indices (int64) and weights (float32). What one SM of each
// kernel moves is the GPU's (hardware/specs.h). Within one node the intranode kernel's NVLink
// stores reach a share of what NCCL reaches over the same links, fitted on DeepEP's EP 8 dispatch on
// H800 (153 GB/s NVL with 24 SMs, where the link binds); on H20's twice wider NVLink the same share
// would give 344 GB/s against the 337 measured (DeepEP issue #16), where its 24 SMs bind instead
// (tests/sim/dispatcher_test.cc).
const DispatcherEntry& dispatcher_entry_deepep() {
  static const DispatcherEntry entry{
      .name = "deepep",
      .summary =
          "DeepEP normal kernels: once per destination node over RDMA, forwarded over NVLink there, after a notify; "
          "dispatch.comm_sms SMs cap each GPU's sends and receives",
      .dedup = Dedup::kNode,
      .sm_capped = true,
      .metadata_per_top_k = 8 + 4,
      .nvlink_share = 0.848,
  };
  return entry;
}

// DeepEP's low-latency kernels at commit 3b1045d (README "Low-latency kernels with pure RDMA": H800,
// CX7 400 Gb/s, 128 tokens, hidden 7,168, top-8, FP8 dispatch, BF16 combine): every message carries
// a 16-byte header besides its FP8 hidden state and scales. The fixed costs are fitted on the
// dispatch rows EP 8 (163 us) and EP 256 (194 us) over the H800 preset's NIC (48.5 GB/s, 3 us); the
// other 10 rows are held out (tests/sim/dispatcher_test.cc).
const DispatcherEntry& dispatcher_entry_deepep_ll() {
  static const DispatcherEntry entry{
      .name = "deepep_ll",
      .summary =
          "DeepEP low-latency kernels: a copy per selected expert, all through the NIC, no notify; "
          "a fixed cost per call and per peer (small batches)",
      .dedup = Dedup::kNone,
      .exchanges_counts = false,
      .through_nic = true,
      .metadata_per_copy = 16,
      .call_overhead = Nanoseconds(22900),
      .peer_overhead = Nanoseconds(48),
  };
  return entry;
}

const DispatcherEntry* find_dispatcher(std::string_view name) { return registry::find(dispatcher_entries(), name); }
std::vector<std::string> dispatcher_names() { return registry::names(dispatcher_entries()); }

}  // namespace moesim
