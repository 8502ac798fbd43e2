#include "hardware/presets.h"

namespace moesim::hardware {
namespace {

// NVIDIA H100 SXM5 datasheet: 989.4 TFLOP/s dense BF16, 1,978.9 dense FP8, 80 GB HBM3 at
// 3.35 TB/s, NVLink4 900 GB/s total = 450 GB/s per direction.
// GEMM shape terms: the width's half-point (575 wide and deep) fitted on 8 of DeepGEMM's published
// H800 kernel figures (scripts/gemm_shape_fit.py), 4.6 % mean error on the 8 held out, with the
// kernels' own efficiency (0.85) and rows' half-point (128). A training step loses more on small
// GEMMs: GEMM efficiency 0.85 and half of it at 1,536 rows, fitted together on 12 of the 24
// published training runs in scenarios/published/ (every other row; scripts/published.py, README
// "Checked against published runs"), the other 12 held out. They are an effective rate: they stand
// for what a whole step loses that the model does not price, on top of what one kernel loses, and
// lay it on the GEMMs with few rows. The kernels themselves, measured on an H200 at the presets'
// expert shapes, lose far less there (scripts/kernel_check.py).
// The attention core: the fused kernel Transformer Engine runs on Hopper (cuDNN's), its forward and
// backward curves, with the causal mask and without, fitted on half of the lengths
// FlashAttention-3's paper measured it at (scripts/attention_fit.py), checked on DeepSeek-V3's own
// training profile (MLA, H800); what a 64-wide head loses against a 128-wide one, fitted on cuDNN
// measured on an H200 (the same script).
GpuSpec h100_sxm() {
  GpuSpec g{
      .name = "H100-SXM5", .bf16_peak = TFLOPS(989.4), .fp8_peak = TFLOPS(1978.9), .hbm_capacity = GB(80), .hbm_bandwidth = TBps(3.35)};
  g.gemm_efficiency = 0.85;
  g.gemm_half_rows = 1536;
  g.gemm_half_width = 575;
  g.attention.forward = {.efficiency = 0.57, .half_seq = 400, .half_head_dim = 80};
  g.attention.backward = {.efficiency = 0.51, .half_seq = 820, .half_head_dim = 41};
  g.attention.unmasked_forward = {.efficiency = 0.635, .half_seq = 130, .half_head_dim = 80};
  g.attention.unmasked_backward = {.efficiency = 0.555, .half_seq = 410, .half_head_dim = 41};
  return g;
}

// NVLink efficiency: nccl-tests maintainers report ~370 GB/s effective busBw of 450 GB/s line
// rate on 8x H100 (nccl-tests issue #212), i.e. ~0.82.
constexpr double kNvlinkEfficiency = 0.82;
// InfiniBand NDR 400 Gb/s = 50 GB/s line; ~48-49 GB/s achievable per CX-7 NIC (nccl-tests #267).
constexpr double kIbEfficiency = 0.97;
// Third-generation NVSwitch (Hopper) reduces in the switch (NVLink SHARP). Fitted on 8x H100's
// all-reduce with it, ~480 GB/s busBw (nccl-tests #212): the buffer once each way at 480 / 1.75
// = 274 GB/s of the 450 line rate. H800's ~215 GB/s (NCCL #1374) is held out.
constexpr double kNvlsEfficiency = 0.61;

ClusterSpec dgx(std::string name, GpuSpec gpu, Bandwidth nvlink_per_direction, double nvlink_eff, Bandwidth nic_rate) {
  ClusterSpec c;
  c.preset = std::move(name);
  c.nodes = 1;
  c.gpus_per_node = 8;
  c.gpu = std::move(gpu);
  c.intra_node.fabric = IntraNodeFabric::kNvSwitch;
  c.intra_node.group_size = 8;
  c.intra_node.link = LinkSpec{nvlink_per_direction, nvlink_eff, Microseconds(2)};
  c.intra_node.cross_group_link = c.intra_node.link;
  c.nic.count = 8;
  c.nic.link = LinkSpec{nic_rate, kIbEfficiency, Microseconds(3)};
  return c;
}

ClusterSpec hopper_dgx(std::string name, GpuSpec gpu, Bandwidth nvlink_per_direction, double nvlink_eff) {
  ClusterSpec c = dgx(std::move(name), std::move(gpu), nvlink_per_direction, nvlink_eff, Gbps(400));
  c.intra_node.nvls_efficiency = kNvlsEfficiency;
  return c;
}

ClusterSpec h100_dgx() { return hopper_dgx("h100-dgx", h100_sxm(), GBps(450), kNvlinkEfficiency); }

// H200 SXM datasheet: same compute as H100, 141 GB HBM3e at 4.8 TB/s, NVLink 900 GB/s.
ClusterSpec h200_dgx() {
  GpuSpec g = h100_sxm();
  g.name = "H200-SXM";
  g.hbm_capacity = GB(141);
  g.hbm_bandwidth = TBps(4.8);
  return hopper_dgx("h200-dgx", g, GBps(450), kNvlinkEfficiency);
}

// H800 SXM5: H100 compute and memory, NVLink cut to 400 GB/s total (200 per direction);
// DeepSeek-V3 report §3.1 measures ~160 GB/s achievable, so efficiency 0.8. NICs: 400 Gb/s IB.
ClusterSpec h800_dgx() {
  GpuSpec g = h100_sxm();
  g.name = "H800-SXM5";
  return hopper_dgx("h800-dgx", g, GBps(200), 0.80);
}

// NVIDIA A100 SXM4 80GB datasheet: 312 TFLOP/s dense BF16, no FP8, 2.039 TB/s HBM2e,
// NVLink3 600 GB/s total. DGX A100 has 8 HDR 200 Gb/s compute NICs.
ClusterSpec a100_dgx() {
  GpuSpec g{
      .name = "A100-SXM4-80GB", .bf16_peak = TFLOPS(312), .fp8_peak = FlopRate(), .hbm_capacity = GB(80), .hbm_bandwidth = TBps(2.039)};
  g.gemm_half_rows = 128;
  g.sms = 108;
  return dgx("a100-dgx", g, GBps(300), kNvlinkEfficiency, Gbps(200));
}

// Ascend 910B server as in the LocMoE setup (arXiv 2401.13920): 8 NPUs, HCCS within two groups
// of four, PCIe between the groups. NPU: ~320 TFLOP/s FP16 and 64 GB HBM2e at ~1.6 TB/s (vendor
// and press figures); HCCS 30 GB/s per link, 3 links to the other NPUs of a group (Hot Chips 31,
// Ascend 910: 3 x 240 Gb/s HCCS ports); PCIe 4.0 x16 (32 GB/s) across groups; 8 x 100 GbE RoCE.
ClusterSpec ascend_910b() {
  ClusterSpec c;
  c.preset = "ascend-910b";
  c.gpus_per_node = 8;
  c.gpu =
      GpuSpec{.name = "Ascend-910B", .bf16_peak = TFLOPS(320), .fp8_peak = FlopRate(), .hbm_capacity = GB(64), .hbm_bandwidth = TBps(1.6)};
  c.gpu.gemm_efficiency = 0.6;
  c.gpu.sms = 24;  // AI cores
  c.intra_node.fabric = IntraNodeFabric::kHccs;
  c.intra_node.group_size = 4;
  c.intra_node.link = LinkSpec{GBps(90), 0.8, Microseconds(5)};
  c.intra_node.cross_group_link = LinkSpec{GBps(32), 0.8, Microseconds(8)};
  c.nic.count = 8;
  c.nic.link = LinkSpec{Gbps(100), 0.9, Microseconds(8)};
  return c;
}

struct Entry {
  const char* name;
  const char* description;
  ClusterSpec (*make)();
};

constexpr Entry kPresets[] = {
    {"h100-dgx", "8x H100 SXM5 on NVSwitch (450 GB/s per direction), 8x 400 Gb/s NDR, rail-optimized", h100_dgx},
    {"h200-dgx", "8x H200 SXM (141 GB, 4.8 TB/s HBM3e) on NVSwitch, 8x 400 Gb/s NDR, rail-optimized", h200_dgx},
    {"h800-dgx", "8x H800 SXM5, NVLink 200 GB/s per direction, 8x 400 Gb/s NDR, rail-optimized", h800_dgx},
    {"a100-dgx", "8x A100 SXM4 80GB on NVSwitch (300 GB/s per direction), 8x 200 Gb/s HDR", a100_dgx},
    {"ascend-910b", "8x Ascend 910B, HCCS in two groups of four, PCIe across groups, 8x 100 GbE RoCE", ascend_910b},
};

}  // namespace

std::optional<ClusterSpec> cluster_preset(std::string_view name) {
  for (const Entry& e : kPresets) {
    if (name != e.name) continue;
    ClusterSpec c = e.make();
    c.fabric.spines = c.nic.count;  // a non-blocking spine layer needs as many spines as a leaf has rails
    return c;
  }
  return std::nullopt;
}

std::vector<PresetInfo> cluster_presets() {
  std::vector<PresetInfo> out;
  for (const Entry& e : kPresets) out.push_back({e.name, e.description});
  return out;
}

const char* to_string(IntraNodeFabric f) {
  switch (f) {
    case IntraNodeFabric::kNvSwitch: return "nvswitch";
    case IntraNodeFabric::kPcie: return "pcie";
    case IntraNodeFabric::kHccs: return "hccs";
  }
  return "?";
}

const char* to_string(FabricRouting r) {
  switch (r) {
    case FabricRouting::kEcmp: return "ecmp";
    case FabricRouting::kAdaptive: return "adaptive";
  }
  return "?";
}

const char* to_string(AllToAllAlgorithm a) {
  switch (a) {
    case AllToAllAlgorithm::kFlat: return "flat";
    case AllToAllAlgorithm::kHierarchical: return "hierarchical";
    case AllToAllAlgorithm::kPairwise: return "pairwise";
  }
  return "?";
}

}  // namespace moesim::hardware
