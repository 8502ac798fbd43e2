// A deterministic priority queue of timed events.
//
// Events are ordered by (time, insertion sequence): two events at the same time pop in the
// order they were pushed, so a run never depends on heap internals. The payload is a small
// value chosen by the caller (an index, an id); the queue knows nothing of what it means.
// Not thread-safe; one queue per simulation.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "sim/base/units.h"

namespace moesim::engine {

template <typename Payload>
class EventQueue {
 public:
  struct Event {
    SimTime time;
    uint64_t sequence;
    Payload payload;
  };

  void push(SimTime time, Payload payload) {
    heap_.push_back(Event{time, next_sequence_++, std::move(payload)});
    sift_up(heap_.size() - 1);
  }

  // The earliest event, removed from the queue; empty when there is none.
  std::optional<Event> pop() {
    if (heap_.empty()) return std::nullopt;
    Event top = std::move(heap_.front());
    if (heap_.size() > 1) {
      heap_.front() = std::move(heap_.back());
      heap_.pop_back();
      sift_down(0);
    } else {
      heap_.pop_back();
    }
    return top;
  }

  // Time of the earliest event; empty when there is none.
  std::optional<SimTime> next_time() const {
    if (heap_.empty()) return std::nullopt;
    return heap_.front().time;
  }

  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  void reserve(size_t n) { heap_.reserve(n); }
  void clear() {
    heap_.clear();
    next_sequence_ = 0;
  }

 private:
  // A 4-ary heap: shallower than a binary heap, and a node's children share a cache line.
  static constexpr size_t kArity = 4;

  static bool before(const Event& a, const Event& b) { return a.time < b.time || (a.time == b.time && a.sequence < b.sequence); }

  void sift_up(size_t i) {
    Event moving = std::move(heap_[i]);
    while (i > 0) {
      const size_t parent = (i - 1) / kArity;
      if (!before(moving, heap_[parent])) break;
      heap_[i] = std::move(heap_[parent]);
      i = parent;
    }
    heap_[i] = std::move(moving);
  }

  void sift_down(size_t i) {
    const size_t n = heap_.size();
    Event moving = std::move(heap_[i]);
    while (true) {
      const size_t first = i * kArity + 1;
      if (first >= n) break;
      size_t best = first;
      const size_t last = first + kArity < n ? first + kArity : n;
      for (size_t c = first + 1; c < last; ++c) {
        if (before(heap_[c], heap_[best])) best = c;
      }
      if (!before(heap_[best], moving)) break;
      heap_[i] = std::move(heap_[best]);
      i = best;
    }
    heap_[i] = std::move(moving);
  }

  std::vector<Event> heap_;
  uint64_t next_sequence_ = 0;
};

}  // namespace moesim::engine
