#include "sim/network/flow_network.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <iterator>
#include <limits>
#include <optional>

namespace moesim::network {

FlowNetwork::FlowNetwork(std::vector<double> capacity, Refill refill)
    : capacity_(std::move(capacity)),
      refill_(refill),
      on_link_(capacity_.size()),
      potential_(capacity_.size(), 0.0),
      load_(capacity_.size(), 0.0),
      bottlenecked_(capacity_.size(), 0),
      link_listed_(capacity_.size(), 0),
      on_used_(capacity_.size(), kNotUsed) {}

void FlowNetwork::reset() {
  demand_.clear();
  demand_sorted_ = true;
  flows_.clear();
  free_.clear();
  active_.clear();
  for (auto& flows : on_link_) flows.clear();
  started_ = 0;
  now_ = SimTime::Zero();
  next_finish_.reset();
  std::fill(potential_.begin(), potential_.end(), 0.0);
  std::fill(load_.begin(), load_.end(), 0.0);
  std::fill(bottlenecked_.begin(), bottlenecked_.end(), 0);
}

void FlowNetwork::set_demand(engine::TaskId t, std::span<const FlowDemand> phases) {
  if (!demand_.empty() && t < demand_.back().first) demand_sorted_ = false;
  demand_.emplace_back(t, phases);
}

std::span<const FlowDemand> FlowNetwork::demand_of(engine::TaskId t) {
  const auto by_task = [](const auto& a, const auto& b) { return a.first < b.first; };
  if (!demand_sorted_) {
    std::stable_sort(demand_.begin(), demand_.end(), by_task);  // the last set for a task stays last
    demand_sorted_ = true;
  }
  const auto after = std::upper_bound(demand_.begin(), demand_.end(), std::pair{t, std::span<const FlowDemand>()}, by_task);
  return after != demand_.begin() && std::prev(after)->first == t ? std::prev(after)->second : std::span<const FlowDemand>();
}

bool FlowNetwork::next_phase(Slot slot) {
  Flow& f = flows_[slot];
  f.rate = 0;
  for (; f.phase < f.phases.size(); ++f.phase) {
    f.busiest = 0;
    for (const auto& [link, bytes] : f.links()) f.busiest = std::max(f.busiest, bytes);
    if (f.busiest > 0) {
      f.remaining = 1;
      f.solo_level = std::numeric_limits<double>::infinity();
      for (const auto& [link, bytes] : f.links()) f.solo_level = std::min(f.solo_level, capacity_[link] * f.busiest / bytes);
      enter_phase(slot, 1);
      return true;
    }
  }
  f.remaining = 0;
  return false;
}

void FlowNetwork::enter_phase(Slot slot, double sign) {
  const Flow& f = flows_[slot];
  for (const auto& [link, bytes] : f.links()) {
    potential_[link] += sign * f.solo_level * bytes / f.busiest;
    auto& flows = on_link_[link];
    if (sign > 0) {
      flows.push_back(slot);
      continue;
    }
    *std::find(flows.begin(), flows.end(), slot) = flows.back();
    flows.pop_back();
    load_[link] -= f.rate * bytes;
    // Sums of rates round: an empty link starts again from nothing.
    if (flows.empty()) load_[link] = 0;
  }
}

double FlowNetwork::filled_rate(size_t i) const {
  const Flow& f = flows_[group_[i]];
  return f.remaining > 0 ? level_[i] / f.busiest : 0;
}

void FlowNetwork::set_bottleneck(Flow& f, hardware::LinkId link) {
  if (f.bottleneck != kNoLink) --bottlenecked_[f.bottleneck];
  f.bottleneck = link;
  if (link != kNoLink) ++bottlenecked_[link];
}

void FlowNetwork::seed_from(Slot slot) {
  const Flow& f = flows_[slot];
  for (const auto& [link, bytes] : f.links()) {
    if (bottlenecked_[link] == 0) continue;
    for (Slot other : on_link_[link]) {
      if (other != slot && flows_[other].bottleneck == link) seeds_.push_back(other);
    }
  }
}

void FlowNetwork::start(engine::TaskId t, SimTime now) {
  advance(now);
  Slot slot;
  if (free_.empty()) {
    slot = static_cast<Slot>(flows_.size());
    flows_.emplace_back();
  } else {
    slot = free_.back();
    free_.pop_back();
  }
  flows_[slot] = Flow{t, demand_of(t), started_++};
  active_.push_back(slot);
  next_phase(slot);
  seeds_.assign(1, slot);
  reallocate();
}

std::optional<engine::TaskId> FlowNetwork::finish(SimTime now) {
  assert(next_finish_ && now == *next_finish_);
  advance(now);
  const Slot slot = next_;
  Flow& f = flows_[slot];
  seeds_.clear();
  // The phases of a collective follow each other without a gap; their latencies come as the
  // task's tail.
  if (f.phase < f.phases.size()) {  // a flow that sends nothing has no links
    seed_from(slot);
    enter_phase(slot, -1);
  }
  set_bottleneck(f, kNoLink);
  ++f.phase;
  std::optional<engine::TaskId> done;
  if (next_phase(slot)) {
    seeds_.push_back(slot);
  } else {
    done = f.task;
    active_.erase(std::find(active_.begin(), active_.end(), slot));
    free_.push_back(slot);
  }
  // The flow has left the links it seeded from; a finished one must not be filled.
  if (done) std::erase(seeds_, slot);
  reallocate();
  return done;
}

void FlowNetwork::advance(SimTime now) {
  const double dt = (now - now_).seconds();
  if (dt > 0) {
    for (Slot slot : active_) flows_[slot].remaining = std::max(0.0, flows_[slot].remaining - flows_[slot].rate * dt);
  }
  now_ = now;
}

void FlowNetwork::reallocate() {
  // The group: the seeds (a flow that starts or enters a phase, and the flows whose bottleneck a
  // flow that leaves its links was on). Flows outside it keep their rates and their use of each
  // link. Where the group's new rates leave one of them without a bottleneck (a full link on
  // which none has a higher level), it joins and the group is filled again. Then every flow has
  // one: group flows the link each froze on, outside flows the one they had.
  seen_.resize(flows_.size(), 0);
  ++epoch_;
  group_.clear();
  const auto join = [&](Slot slot) {
    if (seen_[slot] == epoch_) return;
    seen_[slot] = epoch_;
    group_.push_back(slot);
  };
  for (Slot slot : refill_ == Refill::kEvery ? std::span<const Slot>(active_) : std::span<const Slot>(seeds_)) join(slot);
  for (;;) {
    std::sort(group_.begin(), group_.end(), [&](Slot a, Slot b) { return flows_[a].started < flows_[b].started; });
    fill();
    const size_t filled = group_.size();
    join_unbottlenecked(join);
    if (group_.size() == filled) break;
  }
  // Commit: each flow's use of its links moves from its old rate to its new one.
  for (size_t i = 0; i < group_.size(); ++i) {
    Flow& f = flows_[group_[i]];
    const bool sends = f.remaining > 0;
    const double rate = filled_rate(i);
    if (f.phase < f.phases.size()) {
      for (const auto& [link, bytes] : f.links()) load_[link] += (rate - f.rate) * bytes;
    }
    f.rate = rate;
    f.level = sends ? level_[i] : 0;
    set_bottleneck(f, sends ? used_[froze_on_[i]] : kNoLink);
  }

  next_finish_.reset();
  // A flow ends round(x) picoseconds from now, x its time left (Duration::FromSeconds); with R
  // those of the first to end so far, round(x) < R exactly when x < R - 0.5, so a flow that
  // cannot end first is passed over before rounding (unless its end would overflow the clock and
  // throw).
  double cannot_beat = std::numeric_limits<double>::infinity();
  const double in_range = Duration::kRangePicoseconds - static_cast<double>(now_.since_start().picoseconds());
  for (Slot slot : active_) {
    const Flow& f = flows_[slot];
    // Held back, for this instant, by a flow done sending whose end comes next: its bottleneck.
    if (f.remaining > 0 && f.rate <= 0) continue;
    const double left = f.remaining > 0 ? f.remaining / f.rate : 0;
    if (const double ps = Duration::UnroundedPicoseconds(left); ps >= cannot_beat && ps < in_range) continue;
    const SimTime done = f.remaining > 0 ? now_ + Seconds(left) : now_;
    if (!next_finish_ || done < *next_finish_) {
      next_finish_ = done;
      next_ = slot;
      const int64_t first = (done - now_).picoseconds();
      cannot_beat = first < (int64_t{1} << 52) ? static_cast<double>(first) - 0.5 : std::numeric_limits<double>::infinity();
    }
  }
}

template <class Join>
void FlowNetwork::join_unbottlenecked(const Join& join) {
  // Only where a group flow froze, or its rate changed, can an outside flow's bottleneck have
  // gone: the links that filled, and those on which a group flow's rate changed. (An outside flow
  // above the level a link filled at was admitted by the fill.)
  ++check_;
  changed_.clear();
  const auto list = [&](hardware::LinkId link) {
    if (link_listed_[link] == check_) return;
    link_listed_[link] = check_;
    changed_.push_back(link);
  };
  for (uint32_t j : filled_) list(used_[j]);
  for (size_t i = 0; i < group_.size(); ++i) {
    const Flow& f = flows_[group_[i]];
    if (f.phase >= f.phases.size() || filled_rate(i) == f.rate) continue;
    for (const auto& [link, bytes] : f.links()) list(link);
  }
  for (hardware::LinkId link : changed_) {
    const uint32_t j = on_used_[link];
    const double level = j == kNotUsed ? std::numeric_limits<double>::infinity() : filled_level_[j];
    const bool full = std::isfinite(level);
    if (!full && bottlenecked_[link] == 0) continue;
    for (Slot other : on_link_[link]) {
      const Flow& o = flows_[other];
      if (seen_[other] == epoch_ || o.remaining <= 0) continue;
      // This link was its bottleneck, and is no longer full, or a group flow has a higher level
      // on it now.
      assert(!(full && above(o, level)));
      if (o.bottleneck == link && (!full || o.level < level * (1 - kSameLevel))) join(other);
    }
  }
}

}  // namespace moesim::network
