// Test helper: random task graphs of a few streams, collectives among them, priorities, and
// durations of a few values, zero among them (so that ready times tie), to time in two ways.
#pragma once

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "sim/engine/task_graph.h"

namespace moesim::engine {

inline Duration us(int64_t n) { return Microseconds(n); }

inline void expect_same(const Schedule& a, const Schedule& b) {
  ASSERT_EQ(a.tasks.size(), b.tasks.size());
  for (size_t t = 0; t < a.tasks.size(); ++t) {
    EXPECT_EQ(a.tasks[t].start, b.tasks[t].start) << "task " << t;
    EXPECT_EQ(a.tasks[t].end, b.tasks[t].end) << "task " << t;
  }
  EXPECT_EQ(a.resource_busy, b.resource_busy);
  EXPECT_EQ(a.makespan, b.makespan);
}

// Graphs of up to 60 tasks on up to 6 streams, each run again with some durations changed.
struct RandomGraphs {
  std::mt19937 rng{20261204};
  int pick(int below) { return std::uniform_int_distribution<int>(0, below - 1)(rng); }
  int64_t duration() { return pick(10) == 0 ? 0 : 1 + pick(4); }  // some of zero time

  struct Shape {
    uint32_t resources;
    std::vector<std::vector<ResourceId>> uses;
    std::vector<int32_t> priorities;
    std::vector<std::pair<TaskId, TaskId>> edges;
    std::vector<bool> shared;  // empty: none; a shared task's duration is its tail
  };
  Shape shape() {
    Shape s;
    s.resources = 1 + pick(6);
    const int tasks = 1 + pick(60);
    for (int t = 0; t < tasks; ++t) {
      std::vector<ResourceId> uses;
      const int count = pick(8) == 0 ? 0 : (pick(4) == 0 ? 1 + pick(static_cast<int>(s.resources)) : 1);
      for (ResourceId r = 0; r < s.resources && static_cast<int>(uses.size()) < count; ++r)
        if (pick(2) == 0 || static_cast<int>(s.resources - r) <= count - static_cast<int>(uses.size())) uses.push_back(r);
      s.uses.push_back(uses);
      s.priorities.push_back(pick(3));
      for (int k = pick(3); k > 0 && t > 0; --k) s.edges.emplace_back(static_cast<TaskId>(pick(t)), static_cast<TaskId>(t));
    }
    return s;
  }
  static TaskGraph build(const Shape& s, const std::vector<int64_t>& durations_us) {
    TaskGraph g(s.resources);
    add_all(s, durations_us, g);
    return g;
  }
  // The same graph, built again in `g` (task_graph.h: rebuild()).
  static void rebuild(const Shape& s, const std::vector<int64_t>& durations_us, TaskGraph& g) {
    g.rebuild(s.resources);
    add_all(s, durations_us, g);
  }
  static void add_all(const Shape& s, const std::vector<int64_t>& durations_us, TaskGraph& g) {
    // Each task's dependencies right after it, as a simulation's builder adds them.
    size_t next_edge = 0;
    for (size_t t = 0; t < s.uses.size(); ++t) {
      if (t < s.shared.size() && s.shared[t]) {
        g.add_shared_task(us(durations_us[t]), s.uses[t], s.priorities[t]);
      } else {
        g.add_task(us(durations_us[t]), s.uses[t], s.priorities[t]);
      }
      for (; next_edge < s.edges.size() && s.edges[next_edge].second == t; ++next_edge)
        g.add_dependency(s.edges[next_edge].first, s.edges[next_edge].second);
    }
  }
  // The shape with one change: a task's resources or priority, a dependency more or less, a task
  // more or less at the end.
  void change(Shape& s) {
    const auto t = static_cast<size_t>(pick(static_cast<int>(s.uses.size())));
    switch (pick(5)) {
      case 0: s.uses[t] = s.uses[t].empty() ? std::vector<ResourceId>{0} : std::vector<ResourceId>{}; break;
      case 1: s.priorities[t] = s.priorities[t] == 0 ? 1 : 0; break;
      case 2:
        if (t > 0) {
          auto at = std::find_if(s.edges.begin(), s.edges.end(), [&](const auto& e) { return e.second > t; });
          s.edges.insert(at, {static_cast<TaskId>(pick(static_cast<int>(t))), static_cast<TaskId>(t)});
        }
        break;
      case 3:
        if (!s.edges.empty()) s.edges.erase(s.edges.begin() + pick(static_cast<int>(s.edges.size())));
        break;
      default:
        if (s.uses.size() > 1 && pick(2) == 0) {
          const auto last = static_cast<TaskId>(s.uses.size() - 1);
          s.uses.pop_back();
          s.priorities.pop_back();
          std::erase_if(s.edges, [&](const auto& e) { return e.second == last; });
        } else {
          s.uses.push_back({0});
          s.priorities.push_back(0);
          s.edges.emplace_back(0, static_cast<TaskId>(s.uses.size() - 1));
        }
    }
  }
};

}  // namespace moesim::engine
