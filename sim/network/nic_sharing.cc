#include "sim/network/nic_sharing.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace moesim::network {

void NicSharing::reset() {
  collectives_.clear();
  nic_ids_.clear();
  ends_.clear();
  for (auto& on : on_nic_) on.clear();
  std::fill(load_.begin(), load_.end(), 0);
  next_finish_.reset();
}

bool NicSharing::rewind() {
  for (Collective& c : collectives_) {
    if (!c.running) continue;
    c.running = false;
    for (uint32_t n : nics(c)) {
      on_nic_[n].clear();
      load_[n] = 0;
    }
  }
  ends_.clear();
  next_finish_.reset();
  return true;
}

void NicSharing::add(engine::TaskId t, Duration alone, Duration nic_busy, std::span<const uint32_t> nics) {
  assert(collectives_.empty() || collectives_.back().task < t);
  assert(nic_busy > Duration() && nic_busy <= alone);
  const auto begin = static_cast<uint32_t>(nic_ids_.size());
  for (uint32_t n : nics) {
    if (n >= load_.size()) {
      on_nic_.resize(n + 1);
      load_.resize(n + 1, 0);
      nic_seen_.resize(n + 1, 0);
      left_.resize(n + 1);
      unfrozen_on_.resize(n + 1);
    }
    if (nic_seen_[n]) continue;  // a NIC named twice is used once
    nic_seen_[n] = 1;
    nic_ids_.push_back(n);
  }
  for (size_t i = begin; i < nic_ids_.size(); ++i) nic_seen_[nic_ids_[i]] = 0;
  const double share = static_cast<double>(nic_busy.picoseconds()) / static_cast<double>(alone.picoseconds());
  collectives_.push_back({.task = t,
                          .share = share,
                          .fixed_share = static_cast<int64_t>(std::ceil(share * static_cast<double>(kWholeNic))),
                          .alone_ps = alone.picoseconds(),
                          .nic_begin = begin,
                          .nic_end = static_cast<uint32_t>(nic_ids_.size()),
                          .since = SimTime::Zero(),
                          .remaining_ps = 0,
                          .rate = 1,
                          .end = SimTime::Zero(),
                          .version = 0,
                          .running = false});
}

NicSharing::Collective& NicSharing::collective_of(engine::TaskId t) {
  const auto it =
      std::lower_bound(collectives_.begin(), collectives_.end(), t, [](const Collective& c, engine::TaskId id) { return c.task < id; });
  assert(it != collectives_.end() && it->task == t);
  return *it;
}

double NicSharing::rate(engine::TaskId t) const {
  const auto it =
      std::lower_bound(collectives_.begin(), collectives_.end(), t, [](const Collective& c, engine::TaskId id) { return c.task < id; });
  return it != collectives_.end() && it->task == t && it->running ? it->rate : 0;
}

void NicSharing::set_rate(uint32_t i, double rate, SimTime now) {
  Collective& c = collectives_[i];
  if (rate == c.rate) return;  // its end stands
  c.remaining_ps = std::max(0.0, c.remaining_ps - c.rate * static_cast<double>((now - c.since).picoseconds()));
  c.since = now;
  c.rate = rate;
  c.end = now + Duration::FromPicoseconds(static_cast<int64_t>(std::ceil(c.remaining_ps / rate)));
  ends_.push_back({c.end, i, ++c.version});
  std::push_heap(ends_.begin(), ends_.end(), later);
}

// A NIC whose collectives' shares alone sum to at most its line rate limits none of them: a
// collective that starts where none of its NICs is over-full runs as alone, and one that starts or
// ends there changes no one's rate.
void NicSharing::start(engine::TaskId t, SimTime now) {
  Collective& c = collective_of(t);
  const auto index = static_cast<uint32_t>(&c - collectives_.data());
  c.running = true;
  c.since = now;
  c.remaining_ps = static_cast<double>(c.alone_ps);
  c.rate = 1;
  c.end = now + Duration::FromPicoseconds(c.alone_ps);
  ends_.push_back({c.end, index, ++c.version});
  std::push_heap(ends_.begin(), ends_.end(), later);
  changed_.clear();
  for (uint32_t n : nics(c)) {
    on_nic_[n].push_back(index);
    if ((load_[n] += c.fixed_share) > kWholeNic) changed_.push_back(n);
  }
  if (!changed_.empty()) rerate(changed_, now);
  find_next_finish();
}

std::optional<engine::TaskId> NicSharing::finish(SimTime now) {
  if (!next_finish_) return std::nullopt;
  const uint32_t index = ends_.front().collective;
  std::pop_heap(ends_.begin(), ends_.end(), later);
  ends_.pop_back();
  Collective& c = collectives_[index];
  c.running = false;
  changed_.clear();
  for (uint32_t n : nics(c)) {
    if (load_[n] > kWholeNic) changed_.push_back(n);
    load_[n] -= c.fixed_share;
    auto& on = on_nic_[n];
    *std::find(on.begin(), on.end(), index) = on.back();
    on.pop_back();
  }
  if (!changed_.empty()) rerate(changed_, now);
  find_next_finish();
  return c.task;
}

void NicSharing::rerate(std::span<const uint32_t> changed, SimTime now) {
  // Only a NIC whose collectives' shares alone sum to more than its line rate (over-full) can
  // limit one. The group: the collectives on `changed`, and those linked to them through over-full
  // NICs; the others keep their rates.
  const auto full = [&](uint32_t n) { return load_[n] > kWholeNic; };
  if (in_group_.size() < collectives_.size()) in_group_.resize(collectives_.size(), 0);
  group_.clear();
  group_nics_.clear();
  for (uint32_t n : changed) {
    if (nic_seen_[n]) continue;
    nic_seen_[n] = 1;
    group_nics_.push_back(n);
  }
  for (size_t k = 0; k < group_nics_.size(); ++k) {
    for (uint32_t i : on_nic_[group_nics_[k]]) {
      if (in_group_[i]) continue;
      in_group_[i] = 1;
      group_.push_back(i);
      for (uint32_t n : nics(collectives_[i])) {
        if (nic_seen_[n] || !full(n)) continue;
        nic_seen_[n] = 1;
        group_nics_.push_back(n);
      }
    }
  }
  for (uint32_t i : group_) in_group_[i] = 0;
  for (uint32_t n : group_nics_) nic_seen_[n] = 0;
  std::erase_if(group_nics_, [&](uint32_t n) { return !full(n); });
  // Progressive filling over the over-full NICs: the unfrozen collectives' shares rise together
  // until one reaches what it takes alone or a NIC is full; those freeze; repeat.
  for (uint32_t n : group_nics_) left_[n] = 1;
  std::vector<uint32_t>& unfrozen = group_;
  while (!unfrozen.empty()) {
    for (uint32_t n : group_nics_) unfrozen_on_[n] = 0;
    double level = 1;
    for (uint32_t i : unfrozen) {
      const Collective& c = collectives_[i];
      level = std::min(level, c.share);
      for (uint32_t n : nics(c)) unfrozen_on_[n] += full(n) ? 1 : 0;
    }
    for (uint32_t n : group_nics_) {
      if (unfrozen_on_[n] > 0) level = std::min(level, left_[n] / unfrozen_on_[n]);
    }
    assert(level > 0);
    const double at = level * (1 + 1e-12);
    // NICs full at this level, then the collectives that freeze on them or at what they take alone.
    for (uint32_t n : group_nics_) unfrozen_on_[n] = unfrozen_on_[n] > 0 && left_[n] / unfrozen_on_[n] <= at;
    std::erase_if(unfrozen, [&](uint32_t i) {
      const Collective& c = collectives_[i];
      const auto these = nics(c);
      if (c.share > at && std::none_of(these.begin(), these.end(), [&](uint32_t n) { return full(n) && unfrozen_on_[n] != 0; }))
        return false;
      const double taken = std::min(c.share, level);
      set_rate(i, taken / c.share, now);
      for (uint32_t n : these) {
        if (full(n)) left_[n] -= taken;
      }
      return true;
    });
  }
}

void NicSharing::find_next_finish() {
  while (!ends_.empty()) {
    const End& top = ends_.front();
    const Collective& c = collectives_[top.collective];
    if (c.running && c.version == top.version) break;
    std::pop_heap(ends_.begin(), ends_.end(), later);
    ends_.pop_back();
  }
  next_finish_ = ends_.empty() ? std::nullopt : std::optional<SimTime>(ends_.front().time);
}

}  // namespace moesim::network
