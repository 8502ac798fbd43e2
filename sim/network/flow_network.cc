#include "sim/network/flow_network.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>

namespace moesim::network {

// Levels that differ by less than this share are one level: each fill sums the same rates in its
// own order.
constexpr double kSameLevel = 1e-10;

// Whether outside flow `o` is above `level`: on a link that fills there, it must come down to it.
bool above(const auto& o, double level) { return o.remaining > 0 && o.level > level * (1 + kSameLevel); }

// A link counts as one that can fill from this share of its capacity on: far below what rounding
// leaves (below 1e-12 of capacity is full), so that no link that fills is left out.
constexpr double kCanFill = 1 - 1e-6;

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
  if (demand_.size() <= t) demand_.resize(t + 1);
  demand_[t] = phases;
}

bool FlowNetwork::can_fill(hardware::LinkId l) const { return potential_[l] >= capacity_[l] * kCanFill; }

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
  flows_[slot] = Flow{t, t < demand_.size() ? demand_[t] : std::span<const FlowDemand>(), started_++};
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
  for (Slot slot : active_) {
    const Flow& f = flows_[slot];
    // Held back, for this instant, by a flow done sending whose end comes next: its bottleneck.
    if (f.remaining > 0 && f.rate <= 0) continue;
    const SimTime done = f.remaining > 0 ? now_ + Seconds(f.remaining / f.rate) : now_;
    if (!next_finish_ || done < *next_finish_) {
      next_finish_ = done;
      next_ = slot;
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

void FlowNetwork::index_links() {
  const std::span<const Slot> group = group_;
  for (hardware::LinkId l : used_) on_used_[l] = kNotUsed;
  used_.clear();
  can_fill_.clear();
  can_fill_begin_.assign(group.size() + 1, 0);
  frozen_.assign(group.size(), 0);
  level_.assign(group.size(), 0.0);
  for (size_t i = 0; i < group.size(); ++i) {
    const Flow& f = flows_[group[i]];
    // One done sending rises nowhere, but its links are indexed all the same: it gives back its use
    // of them.
    frozen_[i] = f.remaining <= 0;
    for (size_t e = 0; f.phase < f.phases.size() && e < f.links().size(); ++e) {
      const auto [link, bytes] = f.links()[e];
      if (!can_fill(link)) continue;
      if (on_used_[link] == kNotUsed) {
        on_used_[link] = static_cast<uint32_t>(used_.size());
        used_.push_back(link);
      }
      if (!frozen_[i]) can_fill_.push_back({on_used_[link], bytes / f.busiest});
    }
    can_fill_begin_[i + 1] = can_fill_.size();
  }
  const size_t links = used_.size();
  // By used link: what rises on it, what is left of it at level `since`, and its flows (CSR).
  weight_.assign(links, 0.0);
  residual_.resize(links);
  since_.assign(links, 0.0);
  fills_at_.resize(links);
  filled_level_.assign(links, std::numeric_limits<double>::infinity());
  admitted_on_.assign(links, kNone);
  admitted_.clear();
  froze_on_.assign(group.size(), 0);
  flows_on_begin_.assign(links + 1, 0);
  for (const auto& [link, weight] : can_fill_) {
    weight_[link] += weight;
    ++flows_on_begin_[link + 1];
  }
  for (size_t j = 0; j < links; ++j) {
    residual_[j] = capacity_[used_[j]] - load_[used_[j]];
    flows_on_begin_[j + 1] += flows_on_begin_[j];
  }
  // What the group's flows put there now is theirs to share again (finished ones' too).
  for (Slot slot : group) {
    const Flow& f = flows_[slot];
    if (f.rate == 0) continue;
    for (const auto& [link, bytes] : f.links()) {
      if (on_used_[link] != kNotUsed) residual_[on_used_[link]] += f.rate * bytes;
    }
  }
  flows_on_.resize(can_fill_.size());
  {
    std::vector<uint32_t>& next = links_scratch_;
    next.assign(flows_on_begin_.begin(), flows_on_begin_.end() - 1);
    for (size_t i = 0; i < group.size(); ++i) {
      for (size_t e = can_fill_begin_[i]; e < can_fill_begin_[i + 1]; ++e) flows_on_[next[can_fill_[e].first]++] = static_cast<uint32_t>(i);
    }
  }
}

double FlowNetwork::fills_at(uint32_t j) const {
  // A link with nothing (left) rising on it never fills.
  return weight_[j] > 1e-12 ? since_[j] + std::max(0.0, residual_[j]) / weight_[j] : std::numeric_limits<double>::infinity();
}

double FlowNetwork::left_at(uint32_t j, double level) const { return residual_[j] - (level - since_[j]) * weight_[j]; }

void FlowNetwork::rekey(uint32_t j) {
  const double before = fills_at_[j];
  fills_at_[j] = fills_at(j);
  // A heap entry is a level the link cannot fill before: one that now fills later is re-keyed
  // when it comes to the top; one that fills sooner needs an entry that says so (an admitted flow
  // can rise past the level it had, and then it takes more of the link than before).
  if (fills_at_[j] < before) {
    heap_.emplace_back(fills_at_[j], j);
    std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
  }
}

uint32_t FlowNetwork::use_link(hardware::LinkId link, double level) {
  const auto j = static_cast<uint32_t>(used_.size());
  on_used_[link] = j;
  used_.push_back(link);
  // No other flow of the group is on it (it would be indexed): the flow being admitted gives back
  // its own use.
  weight_.push_back(0);
  residual_.push_back(capacity_[link] - load_[link]);
  since_.push_back(level);
  fills_at_.push_back(std::numeric_limits<double>::infinity());
  filled_level_.push_back(std::numeric_limits<double>::infinity());
  admitted_on_.push_back(kNone);
  flows_on_begin_.push_back(flows_on_begin_.back());
  return j;
}

void FlowNetwork::admit(Slot slot, double level) {
  const Flow& f = flows_[slot];
  seen_[slot] = epoch_;
  const auto i = static_cast<uint32_t>(group_.size());
  group_.push_back(slot);
  level_.push_back(0);
  frozen_.push_back(0);
  froze_on_.push_back(0);
  ++unfrozen_;
  for (const auto& [link, bytes] : f.links()) {
    if (!can_fill(link)) continue;
    const uint32_t j = on_used_[link] == kNotUsed ? use_link(link, level) : on_used_[link];
    // Never on a link that filled: it would have been admitted there, at a lower level.
    assert(!std::isfinite(filled_level_[j]));
    // What it put there is free again, and from here on it rises with the group.
    const double weight = bytes / f.busiest;
    residual_[j] = left_at(j, level) + f.rate * bytes - level * weight;
    since_[j] = level;
    weight_[j] += weight;
    can_fill_.push_back({j, weight});
    admitted_.push_back({i, admitted_on_[j]});
    admitted_on_[j] = static_cast<uint32_t>(admitted_.size() - 1);
    rekey(j);
  }
  can_fill_begin_.push_back(can_fill_.size());
}

bool FlowNetwork::admit_above(uint32_t j, double level) {
  bool admitted = false;
  for (Slot other : on_link_[used_[j]]) {
    if (seen_[other] != epoch_ && above(flows_[other], level)) {
      admit(other, level);
      admitted = true;
    }
  }
  return admitted;
}

void FlowNetwork::freeze(uint32_t i, uint32_t j, double level) {
  if (frozen_[i]) return;
  frozen_[i] = 1;
  --unfrozen_;
  level_[i] = level;
  froze_on_[i] = j;
  for (size_t e = can_fill_begin_[i]; e < can_fill_begin_[i + 1]; ++e) {
    const auto [l, weight] = can_fill_[e];
    residual_[l] = left_at(l, level);
    since_[l] = level;
    weight_[l] -= weight;
    if (std::isfinite(fills_at_[l])) fills_at_[l] = fills_at(l);
  }
}

void FlowNetwork::fill() {
  // Progressive filling on each flow's bandwidth at its busiest link: a flow at level x puts
  // x * bytes_l / busiest on link l, on top of what flows outside the group put there. Every
  // unfrozen flow is at the same level, so each link fills at a level known in advance (what is
  // left of it over what rises on it) until a flow on it freezes: links wait in a heap keyed by
  // a level they cannot fill before, re-keyed when they come to the top. O(I + L log L) for I
  // (flow, link) entries over L links, where filling round by round, every link and flow each round,
  // costs O((I + L) x rounds).
  //
  // An outside flow above the level at which one of its links is about to fill could not keep its
  // rate: it joins there, as if it had been in the group from the start (none of its links filled
  // below that level, so it would have risen to it), and the link fills later if at all. So the
  // outside flows that a new flow pushes down join in this fill, not one fill after another.
  index_links();
  const size_t links = used_.size();
  heap_.clear();
  for (uint32_t j = 0; j < links; ++j) {
    fills_at_[j] = fills_at(j);
    if (std::isfinite(fills_at_[j])) heap_.emplace_back(fills_at_[j], j);
  }
  const auto later = std::greater<>();
  std::make_heap(heap_.begin(), heap_.end(), later);
  // The link on top once it is keyed by the level it fills at (nullopt when none is left).
  const auto earliest = [&]() -> std::optional<std::pair<double, uint32_t>> {
    while (!heap_.empty()) {
      if (heap_.front().first == fills_at_[heap_.front().second]) return heap_.front();
      std::pop_heap(heap_.begin(), heap_.end(), later);
      const uint32_t j = heap_.back().second;
      if (std::isfinite(fills_at_[j])) {
        heap_.back().first = fills_at_[j];
        std::push_heap(heap_.begin(), heap_.end(), later);
      } else {
        heap_.pop_back();
      }
    }
    return std::nullopt;
  };
  filled_.clear();
  const auto take = [&]() {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    const uint32_t j = heap_.back().second;
    heap_.pop_back();
    fills_at_[j] = std::numeric_limits<double>::infinity();
    filled_.push_back(j);
  };
  unfrozen_ = static_cast<size_t>(std::count(frozen_.begin(), frozen_.end(), 0));
  while (unfrozen_ > 0) {
    const auto top = earliest();
    assert(top);
    const double level = top->first;
    if (admit_above(top->second, level)) continue;
    // Every link full at this level (within rounding) freezes its flows.
    const size_t first = filled_.size();
    take();
    for (auto next = earliest(); next && left_at(next->second, level) <= capacity_[used_[next->second]] * 1e-12; next = earliest()) {
      if (admit_above(next->second, level)) continue;
      take();
    }
    for (size_t n = first; n < filled_.size(); ++n) {
      const uint32_t j = filled_[n];
      filled_level_[j] = level;
      for (uint32_t k = flows_on_begin_[j]; k < flows_on_begin_[j + 1]; ++k) freeze(flows_on_[k], j, level);
      for (uint32_t a = admitted_on_[j]; a != kNone; a = admitted_[a].second) freeze(admitted_[a].first, j, level);
    }
  }
}

}  // namespace moesim::network
