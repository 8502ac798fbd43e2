// Plain descriptions of GPUs, links and clusters. Values only; the cost models live in sim/.
#pragma once

#include <string>

#include "sim/base/units.h"

namespace moesim::hardware {

// One attention kernel's curve: its fraction of the BF16 peak on long sequences, and the sequence
// length at which it reaches half of that: efficiency * s / (s + half_seq), at head dimension 128.
// A smaller head dimension d reaches less, d / (d + half_head_dim) against 128's
// 128 / (128 + half_head_dim) (zero: the same at every head dimension); above 128, 128's. Zero
// efficiency: no curve.
struct AttentionCurve {
  double efficiency = 0;
  double half_seq = 0;
  double half_head_dim = 0;
};

// The attention core, one fused kernel in BF16, forward and backward, with the causal mask and
// without (context parallelism's blocks of another rank's keys, which every query sees whole).
// Without a causal curve it is priced as a GEMM over the micro-batch's rows; without an unmasked
// one, on the causal curve.
struct AttentionSpec {
  AttentionCurve forward, backward, unmasked_forward, unmasked_backward;
};

// One accelerator. Peak rates are dense (no sparsity).
struct GpuSpec {
  std::string name;
  FlopRate bf16_peak;
  FlopRate fp8_peak;  // zero where the GPU has no FP8 tensor cores
  Bytes hbm_capacity;
  Bandwidth hbm_bandwidth;
  // Achievable fraction of peak for large GEMMs; the token rows (M) at which a GEMM reaches half
  // of that; the output width (N) and reduction depth (K) at which each halves it again, 0 for
  // no width term: efficiency = gemm_efficiency * m / (m + gemm_half_rows)
  //                             * n / (n + gemm_half_width) * k / (k + gemm_half_width).
  double gemm_efficiency = 0.7;
  double gemm_half_rows = 256;
  double gemm_half_width = 0;
  AttentionSpec attention = {};
  // Achievable fraction of HBM bandwidth for streaming kernels.
  double memory_efficiency = 0.85;
  Duration kernel_launch = Microseconds(4);
  // Whether the host issues the next kernel while the GPU runs one, so that a kernel takes the
  // longer of kernel_launch and its own time (the launch shows only behind short kernels, and
  // the host never gets further ahead than one kernel: as after a synchronization); false: the
  // GPU waits on every launch, and the two add.
  bool launch_hidden = false;
  int sms = 132;  // streaming multiprocessors (or AI cores): what a communication kernel takes SMs of
  // What one SM moves, sent or received, in a communication kernel that copies with its SMs
  // (DeepEP's normal kernels): with dispatch.comm_sms of them, a cap on a GPU's dispatch rate.
  // DeepEP has two such kernels and their SMs move different amounts: the internode one (RDMA
  // sends, and NVLink forwarding of what arrives) and the intranode one (an EP group within one
  // node: NVLink stores, half its SMs sending and half receiving). Hopper's, from DeepEP's figures
  // (tests/sim/dispatcher_test.cc): internode fitted on the EP 32 dispatch (58 GB/s RDMA on H800
  // with 24 SMs); intranode the least rate that H20's 337 GB/s NVL with 24 SMs allows (DeepEP issue
  // #16; H800's 153 GB/s is bound by its narrower NVLink, sim/step/dispatchers.cc). GPUs without a
  // measurement keep them.
  Bandwidth comm_sm_bandwidth = GBps(6.14);
  Bandwidth comm_sm_bandwidth_intranode = GBps(12.46);
};

// A link or port: line rate per direction, achievable fraction after protocol overhead, and
// one-way latency (alpha).
struct LinkSpec {
  Bandwidth bandwidth;
  double efficiency = 1.0;
  Duration latency;
  Bandwidth effective() const { return bandwidth * efficiency; }
};

enum class IntraNodeFabric { kNvSwitch, kPcie, kHccs };

// GPUs of a node talk over the intra-node fabric. GPUs in the same group (all of them on
// NVSwitch; four per group on HCCS as in Ascend 910 servers) use `link`, GPUs in different
// groups of the same node use `cross_group_link` (PCIe between HCCS groups).
struct IntraNodeSpec {
  IntraNodeFabric fabric = IntraNodeFabric::kNvSwitch;
  int group_size = 8;
  LinkSpec link;
  LinkSpec cross_group_link;
  // NVLink SHARP (NCCL's NVLS): the switch reduces, so an all-reduce among GPUs of one node moves
  // the buffer once each way over each GPU's link instead of a ring's 2(n-1)/n, at this fraction of
  // the link's line rate. 0: the switch cannot (NVSwitch before its third generation, PCIe, HCCS).
  double nvls_efficiency = 0;
  bool nvls = false;  // NCCL may use it: it takes NVLS or the ring, whichever its cost model finds faster
};

// NICs of a node; GPU i uses NIC i * count / gpus_per_node (rail-optimized wiring).
struct NicSpec {
  int count = 8;
  LinkSpec link;
};

// How switches pick among equal-cost paths. ecmp: one path per (source, destination) pair by
// hashing, so pairs can collide on a link; adaptive: each pair's bytes spread evenly over all of
// them (adaptive routing / packet spraying, as InfiniBand AR and Spectrum-X do).
enum class FabricRouting { kEcmp, kAdaptive };

// Two-tier leaf/spine fabric. A leaf's uplinks carry 1/oversubscription of what its node-facing
// ports can; `switch_latency` is added per switch hop.
struct FabricSpec {
  // How nodes' NICs reach each other, by name: a registry entry of hardware/fabric.h
  // (rail_optimized, fat_tree, multi_plane).
  std::string kind = "rail_optimized";
  int leaf_ports = 64;            // node-facing ports per leaf switch
  double oversubscription = 1.0;  // leaf downlink : uplink bandwidth, at least 1
  int spines = 8;                 // per plane (multi_plane) or in all; 0 leaves leaves unjoined
  FabricRouting routing = FabricRouting::kEcmp;
  Duration switch_latency = Nanoseconds(600);
};

// How an all-to-all moves its bytes (sim/network/all_to_all.h).
enum class AllToAllAlgorithm { kFlat, kHierarchical, kPairwise };

struct NetworkSpec {
  // A network model by name: a registry entry of sim/network/network_model.h (analytic, flow).
  std::string model = "analytic";
  AllToAllAlgorithm all_to_all = AllToAllAlgorithm::kFlat;
  // What each further peer a GPU sends to in one all-to-all step adds (posting a send, its
  // handshake): the term that makes flat all-to-alls of many small messages slow. No published
  // figure calibrates it, so it is off unless a scenario sets it (README, Calibration).
  Duration message_overhead;
  // Whether collectives that run at once on a GPU share its NIC under the analytic model (its
  // all-to-all beside a data-parallel reduction: sim/network/nic_sharing.h). The flow model always
  // shares every link.
  bool share_nics = true;
};

struct ClusterSpec {
  std::string preset;
  int nodes = 1;
  int gpus_per_node = 8;
  int64_t gpus = 0;  // the GPU count a scenario asked for, if it gave one; gpu_count() is the truth
  GpuSpec gpu;
  IntraNodeSpec intra_node;
  NicSpec nic;
  FabricSpec fabric;
  NetworkSpec network;

  int gpu_count() const { return nodes * gpus_per_node; }
  int node_of(int gpu_id) const { return gpu_id / gpus_per_node; }
  int local_index(int gpu_id) const { return gpu_id % gpus_per_node; }
  int intra_group_of(int gpu_id) const { return local_index(gpu_id) / intra_node.group_size; }
  // Index of the NIC, within its node, that carries this GPU's inter-node traffic.
  int nic_of(int gpu_id) const { return local_index(gpu_id) * nic.count / gpus_per_node; }
};

const char* to_string(IntraNodeFabric f);
const char* to_string(FabricRouting r);
const char* to_string(AllToAllAlgorithm a);

}  // namespace moesim::hardware
