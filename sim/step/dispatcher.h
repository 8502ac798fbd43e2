// MoE token dispatchers: how a layer's routed tokens reach the GPUs of their experts and come back
// (dispatch, then combine), as Megatron-Core and DeepEP run them. Each is a registry entry
// (sim/CMakeLists.txt, moesim_registry) picked by the scenario's `dispatch.kernel`; the layer's
// traffic (traffic.h) asks its entry what crosses the network and what the transfer pays besides
// its bytes.
//
//   alltoall   NCCL all-to-all (Megatron's alltoall dispatcher): a copy per (token, expert), or
//              per (token, GPU) with dispatch.dedup gpu; the per-expert token counts are
//              exchanged first.
//   allgather  Megatron's allgather dispatcher: every GPU gathers all tokens of its EP group with
//              their routing map and probabilities, keeps its experts' rows, and the combine
//              reduce-scatters them back.
//   deepep     DeepEP's normal kernels: a token crosses the network once per destination node and
//              is forwarded over NVLink there; a notify kernel exchanges the layout first; the
//              kernel's SMs (dispatch.comm_sms) cap what a GPU sends and receives.
//   deepep_ll  DeepEP's low-latency kernels: a copy per selected expert, every copy through the
//              NIC (no NVLink, no notify), at a fixed cost per call and per peer.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sim/base/units.h"
#include "sim/step/step_config.h"

namespace moesim {

struct DispatcherEntry {
  std::string_view name;
  std::string_view summary;
  // What crosses the network per token when the kernel fixes it; unset: dispatch.dedup chooses.
  std::optional<Dedup> dedup{};
  bool gathers = false;          // all-gather / reduce-scatter of every token of the EP group
  bool exchanges_counts = true;  // a small count/layout exchange precedes the payload
  // dispatch.comm_sms x the GPU's comm_sm_bandwidth (comm_sm_bandwidth_intranode for an EP group
  // within one node) caps its sends and receives.
  bool sm_capped = false;
  bool through_nic = false;  // every copy goes through the NIC, the GPU's own node included
  // Bytes the dispatch sends with each token copy besides its hidden state: a fixed header, so
  // much per top-k slot of the token, so much per expert of the model.
  double metadata_per_copy = 0;
  double metadata_per_top_k = 0;
  double metadata_per_expert = 0;
  // Within one node, the share of NVLink's effective rate (the rate NCCL reaches) that the
  // kernel's own SM copies reach; 0: the network model's rate (deepep: fitted, dispatchers.cc).
  double nvlink_share = 0;
  // Fixed cost of one call, and per peer GPU (deepep_ll: measured, see dispatchers.cc).
  Duration call_overhead{};
  Duration peer_overhead{};
};

std::span<const DispatcherEntry* const> dispatcher_entries();
const DispatcherEntry* find_dispatcher(std::string_view name);
std::vector<std::string> dispatcher_names();

}  // namespace moesim
