// Allocations in the step's inner loops: a step costs thousands of all-to-alls and a layer's
// traffic per MoE layer, and none of them may allocate once the thread's buffers are warm. This
// executable replaces the global operator new with one that counts (nothing else runs in it).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "hardware/presets.h"
#include "sim/network/analytic_network.h"
#include "tests/sim/first_layer_traffic.h"

namespace {
std::atomic<long> allocations{0};
}  // namespace

// Out of line, so that the compiler does not pair an inlined free() with a new it cannot see
// is malloc (GCC's -Wmismatched-new-delete).
[[gnu::noinline]] void* operator new(std::size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
// The nothrow form too (std::stable_sort's buffer): AddressSanitizer would otherwise give it its own
// new, whose memory the delete below hands to free().
[[gnu::noinline]] void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace moesim::network {
namespace {

TEST(Allocations, AnAllToAllsCostAllocatesNothingOnceWarm) {
  hardware::ClusterSpec cluster = *hardware::cluster_preset("h800-dgx");
  cluster.nodes = 8;
  const AnalyticNetwork net = make_analytic_network(cluster);
  std::vector<int> gpus;
  for (int g = 0; g < 64; ++g) gpus.push_back(g);
  TrafficMatrix traffic(gpus);
  for (int s = 0; s < 64; ++s)
    for (int d = 0; d < 64; ++d) traffic.at(s, d) = 1e6 * (1 + (s * 7 + d) % 5);
  const std::vector<Transfer> transfers{{0, 9, 1e6}, {9, 0, 2e6}, {3, 4, 5e5}};
  const AllToAllCost first = all_to_all_time(net, traffic);
  transfers_time(net, gpus, transfers);
  const long before = allocations.load();
  AllToAllCost again;
  for (int i = 0; i < 100; ++i) {
    again = all_to_all_time(net, traffic);
    transfers_time(net, gpus, transfers);
  }
  EXPECT_EQ(allocations.load() - before, 0);
  EXPECT_EQ(again.time, first.time);
  EXPECT_GT(allocations.load(), 0);  // the counter counts
}

}  // namespace
}  // namespace moesim::network

namespace moesim {
namespace {

// DeepEP on two H800 nodes, EP 16 (node deduplication: the copies to the other node are rewritten
// into forwarded ones), with AutoModel's consecutive expert sets.
TEST(Allocations, ALayersTrafficAllocatesNothingOnceWarm) {
  const auto s = scenarios::load_scenario_text(
      "cluster: {preset: h800-dgx, nodes: 2}\n"
      "model: {preset: deepseek-v3, layers: 2, mtp_layers: 0, first_moe_layer: 0}\n"
      "parallelism: {ep: 16, zero: 1}\n"
      "training: {global_batch: 16, micro_batch: 1, seq_len: 4096}\n"
      "dispatch: {kernel: deepep}\n"
      "gating: {source: balanced, expert_sets: consecutive}\n"
      "steps: 1\n",
      "allocation.yaml");
  FirstLayer layer(s);
  LayerTraffic traffic;
  layer.traffic(traffic);
  const double rows = traffic.sent_rows[0];
  const long before = allocations.load();
  for (int i = 0; i < 10; ++i) layer.traffic(traffic);
  EXPECT_EQ(allocations.load() - before, 0);
  EXPECT_EQ(traffic.sent_rows[0], rows);
}

}  // namespace
}  // namespace moesim
