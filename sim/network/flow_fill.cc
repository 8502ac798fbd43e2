// Progressive filling for FlowNetwork (flow_network.h): the max-min fair rates of a group of flows
// around the kept rates of the others, link by link as each fills.
#include "sim/network/flow_network.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <utility>

namespace moesim::network {

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
  // By used link: what rises on it, what is left of it at level `since`, and the level it fills at.
  weight_.assign(links, 0.0);
  residual_.resize(links);
  since_.assign(links, 0.0);
  fills_at_.resize(links);
  filled_level_.assign(links, std::numeric_limits<double>::infinity());
  froze_on_.assign(group.size(), 0);
  for (const auto& [link, weight] : can_fill_) weight_[link] += weight;
  for (size_t j = 0; j < links; ++j) residual_[j] = capacity_[used_[j]] - load_[used_[j]];
  // What the group's flows put there now is theirs to share again (finished ones' too).
  for (Slot slot : group) {
    const Flow& f = flows_[slot];
    if (f.rate == 0) continue;
    for (const auto& [link, bytes] : f.links()) {
      if (on_used_[link] != kNotUsed) residual_[on_used_[link]] += f.rate * bytes;
    }
  }
  for (size_t j = 0; j < links; ++j) fills_at_[j] = fills_at(static_cast<uint32_t>(j));
}

void FlowNetwork::index_flows_on() {
  // By used link, for the heap's fill: the group's flows on it (CSR), and those admitted (none yet).
  const size_t links = used_.size();
  admitted_on_.assign(links, kNone);
  admitted_.clear();
  flows_on_begin_.assign(links + 1, 0);
  for (const auto& [link, weight] : can_fill_) ++flows_on_begin_[link + 1];
  for (size_t j = 0; j < links; ++j) flows_on_begin_[j + 1] += flows_on_begin_[j];
  flows_on_.resize(can_fill_.size());
  std::vector<uint32_t>& next = links_scratch_;
  next.assign(flows_on_begin_.begin(), flows_on_begin_.end() - 1);
  for (size_t i = 0; i + 1 < can_fill_begin_.size(); ++i) {
    for (size_t e = can_fill_begin_[i]; e < can_fill_begin_[i + 1]; ++e) flows_on_[next[can_fill_[e].first]++] = static_cast<uint32_t>(i);
  }
}

bool FlowNetwork::fill_alone() {
  // The one rising flow freezes on the first of its links to fill, and the fill ends there: what the
  // heap's fill would do, found in one pass.
  const auto links = static_cast<uint32_t>(used_.size());
  // The least level, ties to the first used link: the heap's top.
  uint32_t top = kNotUsed;
  for (uint32_t j = 0; j < links; ++j) {
    if (std::isfinite(fills_at_[j]) && (top == kNotUsed || fills_at_[j] < fills_at_[top])) top = j;
  }
  if (top == kNotUsed) return false;
  const double level = fills_at_[top];
  const auto earlier = [&](uint32_t a, uint32_t b) { return fills_at_[a] < fills_at_[b] || (fills_at_[a] == fills_at_[b] && a < b); };
  // After the top, the heap takes the links in order for as long as each is full at this level:
  // those full before the first that is not.
  std::vector<uint32_t>& taken = links_scratch_;
  taken.clear();
  uint32_t stop = kNotUsed;
  for (uint32_t j = 0; j < links; ++j) {
    if (j == top || !std::isfinite(fills_at_[j])) continue;
    if (full_at(j, level)) {
      taken.push_back(j);
    } else if (stop == kNotUsed || earlier(j, stop)) {
      stop = j;
    }
  }
  // Pushed by link, so in order already where they fill at one level (a collective's symmetric links).
  if (!std::is_sorted(taken.begin(), taken.end(), earlier)) std::sort(taken.begin(), taken.end(), earlier);
  if (stop != kNotUsed)
    taken.erase(std::partition_point(taken.begin(), taken.end(), [&](uint32_t j) { return earlier(j, stop); }), taken.end());
  taken.insert(taken.begin(), top);
  // An outside flow above the level on one of them joins there, which the heap's fill does.
  for (uint32_t j : taken) {
    for (Slot other : on_link_[used_[j]]) {
      if (seen_[other] != epoch_ && above(flows_[other], level)) return false;
    }
  }
  for (uint32_t j : taken) {
    fills_at_[j] = std::numeric_limits<double>::infinity();
    filled_level_[j] = level;
    filled_.push_back(j);
  }
  freeze(static_cast<uint32_t>(std::find(frozen_.begin(), frozen_.end(), 0) - frozen_.begin()), top, level);
  return true;
}

double FlowNetwork::fills_at(uint32_t j) const {
  // A link with nothing (left) rising on it never fills.
  return weight_[j] > 1e-12 ? since_[j] + std::max(0.0, residual_[j]) / weight_[j] : std::numeric_limits<double>::infinity();
}

double FlowNetwork::left_at(uint32_t j, double level) const { return residual_[j] - (level - since_[j]) * weight_[j]; }

bool FlowNetwork::full_at(uint32_t j, double level) const { return left_at(j, level) <= capacity_[used_[j]] * 1e-12; }

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
  filled_.clear();
  unfrozen_ = static_cast<size_t>(std::count(frozen_.begin(), frozen_.end(), 0));
  // A flow rising alone (the group's others done sending) freezes where its first link fills.
  if (unfrozen_ == 1 && fill_alone()) return;
  index_flows_on();
  const size_t links = used_.size();
  heap_.clear();
  for (uint32_t j = 0; j < links; ++j) {
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
  const auto take = [&]() {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    const uint32_t j = heap_.back().second;
    heap_.pop_back();
    fills_at_[j] = std::numeric_limits<double>::infinity();
    filled_.push_back(j);
  };
  while (unfrozen_ > 0) {
    const auto top = earliest();
    assert(top);
    const double level = top->first;
    if (admit_above(top->second, level)) continue;
    // Every link full at this level (within rounding) freezes its flows.
    const size_t first = filled_.size();
    take();
    for (auto next = earliest(); next && full_at(next->second, level); next = earliest()) {
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
