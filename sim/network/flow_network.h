// The flow-level network: collectives as flows over the topology's routes, sharing link
// bandwidth max-min fairly, inside the discrete-event engine (an engine::SharedCapacity).
//
// A flow is one collective's transfers taken together (every (source, destination) pair of an
// all-to-all, every hop of a ring): its demand is the bytes it puts on each directed link, from
// routing each pair over the topology (hardware::Router, ECMP). Its transfers progress together,
// so it is done when its busiest link has carried its bytes at the rate it gets. Rates come from
// progressive filling: every unfrozen flow's bandwidth on its own busiest link rises equally
// until some link is full; flows crossing a full link freeze; repeat. They are recomputed
// whenever a flow starts or finishes, so collectives that overlap in time (all-to-alls of several
// expert-parallel groups, gradient all-reduces, expert migration) slow each other down where
// they share a link, and an oversubscribed spine shows up as a bottleneck of its own.
//
// On its own, a flow takes max over links of bytes / capacity: on a non-blocking fabric that is
// the analytic model's busiest port. Not modelled inside a flow: unfairness between its own
// transfers (a skewed all-to-all finishes with its busiest port, as in the analytic model).
//
// Cost: routing a collective of P pairs over h hops is O(P h). Each flow keeps its bottleneck (a
// full link on which no flow has a higher level: max-min fair rates are those that give every
// flow one). A start re-fills the flow that starts, an end the flows whose bottleneck the leaving
// flow was on, around the kept rates of the others. An outside flow above the level at which one
// of its links fills joins that fill there (it must come down to that level); one whose bottleneck
// the new rates take away (the link is no longer full, or no longer its) joins and the group is
// filled again. So a flow bottlenecked elsewhere is not re-filled, though it shares a full link: a
// ring whose every link is full stays out of the re-fills of the all-to-alls beside it until its
// own bottleneck changes or a new flow pushes it down. A fill of I (flow, link) incidences over L
// links that can fill costs O(I + L log L), plus the flows on the links that fill; then O(flows) to
// find the next to finish. Where one flow of the group rises (many starts and ends: the others are
// done sending or there are none), it freezes where its first link fills, found in one pass
// without the heap (sim/network/flow_fill.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "hardware/routing.h"
#include "sim/engine/task_graph.h"
#include "sim/network/flow_demand.h"

namespace moesim::network {

// Which flows a start or an end re-fills: those whose rates it can change, or (the reference
// the first is tested against) every flow.
enum class Refill { kAffected, kEvery };

class FlowNetwork : public engine::SharedCapacity {
 public:
  // Bytes per second each link carries.
  explicit FlowNetwork(std::vector<double> capacity, Refill refill = Refill::kAffected);

  // Forgets all flows and demands and returns to time zero.
  void reset();
  // What task `t` sends when it starts: phases that run one after the other; they must outlive
  // the run. Tasks may come in any order; given again, a task sends the last. A task without any
  // sends nothing.
  void set_demand(engine::TaskId t, std::span<const FlowDemand> phases);

  void start(engine::TaskId t, SimTime now) override;
  std::optional<SimTime> next_finish() const override { return next_finish_; }
  std::optional<engine::TaskId> finish(SimTime now) override;

 private:
  static constexpr hardware::LinkId kNoLink = UINT32_MAX;
  struct Flow {
    engine::TaskId task;
    std::span<const FlowDemand> phases;
    uint64_t started = 0;  // start order: flows are filled, and ties broken, in it
    size_t phase = 0;
    double busiest = 0;  // bytes on the phase's busiest link
    const std::vector<std::pair<hardware::LinkId, double>>& links() const { return phases[phase].links; }
    double remaining = 1;   // fraction of its bytes still to send
    double rate = 0;        // fraction per second
    double level = 0;       // bytes per second on its busiest link: rate x busiest
    double solo_level = 0;  // the most its level can reach: alone on the network
    // Where the last fill froze it: a full link on which no flow has a higher level.
    hardware::LinkId bottleneck = kNoLink;
  };
  using Slot = uint32_t;
  // Levels that differ by less than this share are one level: each fill sums the same rates in
  // its own order.
  static constexpr double kSameLevel = 1e-10;
  // Whether outside flow `o` is above `level`: on a link that fills there, it must come down to it.
  static bool above(const Flow& o, double level) { return o.remaining > 0 && o.level > level * (1 + kSameLevel); }
  void advance(SimTime now);
  // Re-fills the flows in `seeds_` and those whose rates theirs can change (see the .cc), and
  // finds the next to finish.
  void reallocate();
  // After a fill of group_: the flows outside it that the new rates leave without a bottleneck
  // join it (through `join`).
  template <class Join>
  void join_unbottlenecked(const Join& join);
  // Progressive filling of group_ around the flows outside it, admitting those that could not
  // keep their rates: level_ by flow of the group, filled_ the links that filled.
  void fill();
  // For fill(): the group's links that can fill and, by each, what rises on it, what is left of
  // it and the level it fills at; then (index_flows_on) the group's flows on it.
  void index_links();
  void index_flows_on();
  // For fill(), where one flow of the group rises: its fill without the heap, unless an outside
  // flow must join (false, and nothing changed).
  bool fill_alone();
  // For fill(), by used link j: the level it fills at, and what is left of it at `level`.
  double fills_at(uint32_t j) const;
  double left_at(uint32_t j, double level) const;
  // Whether used link j is full at `level`, within rounding (what is left below 1e-12 of it).
  bool full_at(uint32_t j, double level) const;
  // Re-keys used link j in the heap after what rises on it or is left of it changed.
  void rekey(uint32_t j);
  // Indexes `link` as a used link at `level`; returns its index.
  uint32_t use_link(hardware::LinkId link, double level);
  // The outside flows above `level` on used link j join the group, rising from `level`; whether
  // any did.
  bool admit_above(uint32_t j, double level);
  void admit(Slot f, double level);
  // Freezes group flow i (if it is not yet) at `level` on used link j.
  void freeze(uint32_t i, uint32_t j, double level);
  // Moves `f` to its next phase that sends anything; false if none is left.
  bool next_phase(Slot f);
  // Adds (sign 1) or takes back (-1) what `f`'s phase could put on each of its links, and lists
  // it on them (or not).
  void enter_phase(Slot f, double sign);
  // The flows whose bottleneck is one of `f`'s current links join seeds_.
  void seed_from(Slot f);
  void set_bottleneck(Flow& f, hardware::LinkId link);
  // The rate the last fill gives group_[i] (none once it is done sending).
  double filled_rate(size_t i) const;
  // A link counts as one that can fill from this share of its capacity on: far below what rounding
  // leaves (below 1e-12 of capacity is full), so that no link that fills is left out.
  static constexpr double kCanFill = 1 - 1e-6;
  // Here, not in the .cc: the fill (flow_fill.cc) asks it of every link of every flow it indexes.
  bool can_fill(hardware::LinkId l) const { return potential_[l] >= capacity_[l] * kCanFill; }

  std::vector<double> capacity_;
  Refill refill_;
  // What set_demand was given, by task in the order given: only collectives have a demand, so a
  // table over every task of a step held mostly nothing (70 of the 914 MB of a 1,024-GPU
  // DeepSeek-V3 run). Sorted when first looked up if tasks did not come in order.
  std::vector<std::pair<engine::TaskId, std::span<const FlowDemand>>> demand_;
  bool demand_sorted_ = true;
  std::span<const FlowDemand> demand_of(engine::TaskId t);
  std::vector<Flow> flows_;                 // by slot
  std::vector<Slot> free_, active_;         // slots free, and in use in start order
  std::vector<std::vector<Slot>> on_link_;  // by link: the flows whose phase sends on it
  uint64_t started_ = 0;
  SimTime now_ = SimTime::Zero();
  std::optional<SimTime> next_finish_;
  Slot next_ = 0;
  // By link: the most all current flows could put on it, each at its solo level. Links where that
  // stays below capacity can never fill, so progressive filling leaves them out: they never set a
  // round's step or freeze a flow, which keeps the rates exactly those of filling every link.
  std::vector<double> potential_;
  // By link: what its flows put on it at their rates (bytes per second), and how many have it as
  // their bottleneck.
  std::vector<double> load_;
  std::vector<uint32_t> bottlenecked_;
  // Scratch for reallocate(): the flows to re-fill; by slot, the last epoch that took it in; the
  // links on which the group's rates changed (by link, the last check that listed it).
  std::vector<Slot> seeds_, group_;
  std::vector<uint64_t> seen_, link_listed_;
  uint64_t epoch_ = 0, check_ = 0;
  std::vector<hardware::LinkId> changed_;
  // Scratch for fill(). By flow of the group: its level, whether frozen, and its links that can
  // fill (their index among used_, and what rises on each as the flow's level does).
  std::vector<double> level_;
  std::vector<uint8_t> frozen_;
  std::vector<std::pair<uint32_t, double>> can_fill_;
  std::vector<size_t> can_fill_begin_;  // flow i's from can_fill_begin_[i] to [i + 1]
  // The links the group's flows can fill; by link, its index among them (or kNotUsed).
  static constexpr uint32_t kNotUsed = UINT32_MAX;
  std::vector<hardware::LinkId> used_;
  std::vector<uint32_t> on_used_;
  // By used link: what rises on it, what is left of it at level since_, the level it fills at
  // (then the level it filled at, in filled_level_), and the group's flows on it (flows_on_ from
  // flows_on_begin_). filled_: the used links that filled, in the order they did. By flow of the
  // group: the used link it froze on.
  std::vector<double> weight_, residual_, since_, fills_at_, filled_level_;
  std::vector<uint32_t> froze_on_;
  // The flows admitted during the fill, by used link: (flow of the group, next on the link) from
  // admitted_on_ (kNone ends a list). flows_on_ is laid out before the fill.
  static constexpr uint32_t kNone = UINT32_MAX;
  std::vector<uint32_t> admitted_on_;
  std::vector<std::pair<uint32_t, uint32_t>> admitted_;
  size_t unfrozen_ = 0;
  std::vector<uint32_t> flows_on_begin_, flows_on_, links_scratch_, filled_;
  std::vector<std::pair<double, uint32_t>> heap_;  // (fills at, used link), earliest on top
};

}  // namespace moesim::network
