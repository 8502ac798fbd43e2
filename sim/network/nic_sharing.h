// The analytic model's collectives sharing their GPUs' NICs (an engine::SharedCapacity).
//
// Alone, a collective takes its analytic time and keeps each of its GPUs' NICs busy for part of it
// (its NIC time: the bytes through its busiest NIC at line rate). Two collectives that cross nodes
// at the same moment on one GPU (an expert-parallel all-to-all on its communication stream and a
// data-parallel reduce-scatter on its own, PyTorch's process groups on separate streams) both go
// through that GPU's NIC, and each gets a share of its line rate. The shares are max-min fair: a
// collective never takes more of a NIC than it would alone (its NIC time over its time), what it
// leaves goes to the others, and one spread over several GPUs gets the least of its NICs' shares.
// A collective then runs at its share over what it would take alone, so that alone, or beside
// traffic that leaves it its whole share, it takes exactly its analytic time.
//
// What is left out: the fabric beyond the NIC (the flow model routes it), the two directions of a
// NIC apart (a collective's NIC time is its busier direction's, and a pipeline send counts on both
// ends), and GPUs that share one NIC beyond what a single collective's time already includes.
//
// Cost: a NIC limits its collectives only when their shares alone sum to more than its line rate
// (over-full). A start or an end on no over-full NIC costs O(its NICs + log of the collectives
// running); otherwise the collectives linked to it through over-full NICs are re-rated by
// progressive filling, O(rounds x their NICs), rounds at most their count. A collective's progress
// is brought up to date only when its rate changes, and the next to end comes from a heap of ends
// (stale entries skipped), so what runs elsewhere costs nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "sim/engine/task_graph.h"

namespace moesim::network {

class NicSharing final : public engine::SharedCapacity {
 public:
  // Forgets every collective and returns to time zero.
  void reset();
  // Task `t` is a collective that takes `alone` by itself and keeps each of `nics` busy for
  // `nic_busy` of it (0 < nic_busy <= alone); a NIC named twice counts once. Tasks come in
  // increasing order.
  void add(engine::TaskId t, Duration alone, Duration nic_busy, std::span<const uint32_t> nics);

  void start(engine::TaskId t, SimTime now) override;
  std::optional<SimTime> next_finish() const override { return next_finish_; }
  std::optional<engine::TaskId> finish(SimTime now) override;
  bool rewind() override;

  // The rate at which running task `t` progresses (1: as alone); for tests.
  double rate(engine::TaskId t) const;

 private:
  // Shares of a NIC's line rate in fixed point, so that sums and differences are exact.
  static constexpr int64_t kWholeNic = int64_t{1} << 40;

  struct Collective {
    engine::TaskId task;
    double share;         // of each of its NICs' line rate that it takes alone
    int64_t fixed_share;  // the same in fixed point
    int64_t alone_ps;
    uint32_t nic_begin, nic_end;
    // While it runs, since its rate last changed:
    SimTime since;
    double remaining_ps;  // of its time alone, at `since`
    double rate;          // of its time alone per unit of time
    SimTime end;          // at this rate
    uint32_t version;     // of `end`: a heap entry of another version is stale
    bool running;
  };
  struct End {
    SimTime time;
    uint32_t collective, version;
  };
  // For std::*_heap, the earliest end (ties: the collective added first) on top.
  static bool later(const End& a, const End& b) { return a.time > b.time || (a.time == b.time && a.collective > b.collective); }

  Collective& collective_of(engine::TaskId t);
  std::span<const uint32_t> nics(const Collective& c) const { return {nic_ids_.data() + c.nic_begin, c.nic_end - c.nic_begin}; }
  // Sets running collective `i`'s rate from `now` on, and its end.
  void set_rate(uint32_t i, double rate, SimTime now);
  // Re-rates the running collectives that share a NIC with `nics`, directly or through others.
  void rerate(std::span<const uint32_t> nics, SimTime now);
  // Drops stale ends from the heap's top and notes the next.
  void find_next_finish();

  std::vector<Collective> collectives_;
  std::vector<uint32_t> nic_ids_;
  std::vector<End> ends_;                      // a heap, with stale entries
  std::vector<std::vector<uint32_t>> on_nic_;  // per NIC, the running collectives on it
  std::vector<int64_t> load_;                  // per NIC, their shares alone, summed
  std::optional<SimTime> next_finish_;
  // Scratch for add() and rerate(); the marks are all zero between calls.
  std::vector<uint32_t> changed_, group_, group_nics_;
  std::vector<uint8_t> in_group_, nic_seen_;
  std::vector<double> left_;
  std::vector<uint32_t> unfrozen_on_;
};

}  // namespace moesim::network
