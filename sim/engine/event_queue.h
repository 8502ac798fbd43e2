// A deterministic priority queue of timed events, for a simulation that never schedules into the
// past: an event may not be pushed earlier than the last one popped.
//
// Events pop in order of (time, insertion): two events at the same time pop in the order they
// were pushed, so a run never depends on the queue's internals. The payload is a small value
// chosen by the caller (an index, an id); the queue knows nothing of what it means. Not
// thread-safe; one queue per simulation.
//
// A radix heap (Ahuja, Mehlhorn, Orlin and Tarjan, 1990) on the time in picoseconds: bucket 0
// holds the events at the last time popped, bucket b > 0 those whose time first differs from it
// in bit b - 1. A push is one bucket append; an event moves to a lower bucket at most 64 times in
// all. A binary or 4-ary heap instead pays a logarithmic sift, with an unpredictable branch per
// level, on every push and pop. Within a bucket, events at the same time stay in insertion order:
// a bucket is filled once from a higher one (which keeps its order) and then only appended to.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "sim/base/units.h"

namespace moesim::engine {

template <typename Payload>
class EventQueue {
 public:
  struct Event {
    SimTime time;
    Payload payload;
  };

  // Throws std::logic_error for a time before the last event popped, or before zero.
  void push(SimTime time, Payload payload) {
    const int64_t ps = time.since_start().picoseconds();
    if (ps < 0 || static_cast<uint64_t>(ps) < last_) throw std::logic_error("event queue: an event pushed into the past");
    place(static_cast<uint64_t>(ps), Event{time, std::move(payload)});
    if (earliest_ && static_cast<uint64_t>(ps) < *earliest_) earliest_ = static_cast<uint64_t>(ps);
    ++size_;
  }

  // The earliest event, removed from the queue; empty when there is none.
  std::optional<Event> pop() {
    if (!settle()) return std::nullopt;
    auto& current = buckets_[0];
    Event top = std::move(current[head_++]);
    if (head_ == current.size()) {
      current.clear();
      head_ = 0;
    }
    --size_;
    earliest_.reset();
    return top;
  }

  // Time of the earliest event; empty when there is none. A look does not move the queue on: an
  // event may still be pushed before it, at or after the last time popped.
  std::optional<SimTime> next_time() {
    if (head_ < buckets_[0].size()) return buckets_[0][head_].time;
    if (size_ == 0) return std::nullopt;
    if (!earliest_) earliest_ = key(*earliest_in(buckets_[lowest_bucket()]));
    return SimTime::Zero() + Picoseconds(static_cast<int64_t>(*earliest_));
  }

  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  void clear() {
    for (auto& b : buckets_) b.clear();
    head_ = 0;
    last_ = 0;
    size_ = 0;
    occupied_ = 0;
    earliest_.reset();
  }

 private:
  static constexpr int kBuckets = 65;

  static uint64_t key(const Event& e) { return static_cast<uint64_t>(e.time.since_start().picoseconds()); }
  size_t bucket_of(uint64_t k) const { return k == last_ ? 0 : static_cast<size_t>(64 - __builtin_clzll(k ^ last_)); }

  void place(uint64_t k, Event&& e) {
    const size_t b = bucket_of(k);
    buckets_[b].push_back(std::move(e));
    if (b > 0) occupied_ |= uint64_t{1} << (b - 1);
  }
  // The lowest bucket above 0 that holds any event (there is one when bucket 0 is empty): it
  // holds the earliest.
  int lowest_bucket() const { return __builtin_ctzll(occupied_) + 1; }
  static typename std::vector<Event>::iterator earliest_in(std::vector<Event>& bucket) {
    return std::min_element(bucket.begin(), bucket.end(), [](const Event& x, const Event& y) { return key(x) < key(y); });
  }

  // Brings the earliest events into bucket 0: from the lowest bucket that has any, whose earliest
  // time becomes the last time and whose events all move lower. False when the queue is empty.
  bool settle() {
    if (head_ < buckets_[0].size()) return true;
    if (size_ == 0) return false;
    const int b = lowest_bucket();
    auto& from = buckets_[b];
    last_ = earliest_ ? *earliest_ : key(*earliest_in(from));
    occupied_ &= ~(uint64_t{1} << (b - 1));
    for (Event& e : from) place(key(e), std::move(e));
    from.clear();
    return true;
  }

  std::array<std::vector<Event>, kBuckets> buckets_;
  size_t head_ = 0;    // bucket 0's events before head_ have been popped
  uint64_t last_ = 0;  // the time of bucket 0, in picoseconds
  size_t size_ = 0;
  uint64_t occupied_ = 0;  // bit b - 1: bucket b holds events
  // The earliest time, when bucket 0 is empty and next_time() has looked for it since the last pop.
  std::optional<uint64_t> earliest_;
};

}  // namespace moesim::engine
