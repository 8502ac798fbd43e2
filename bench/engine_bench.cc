// Event-queue and task-DAG throughput.
#include <benchmark/benchmark.h>

#include <array>

#include "sim/base/random.h"
#include "sim/engine/event_queue.h"
#include "sim/engine/task_graph.h"

namespace moesim::engine {
namespace {

// The hold model: a queue of `range(0)` pending events; each iteration pops the earliest and
// schedules a new one a random delay later, as a simulation does. One item = one push + one pop.
void BM_EventQueueHold(benchmark::State& state) {
  const auto pending = static_cast<size_t>(state.range(0));
  EventQueue<uint32_t> q;
  Rng rng(1, "bench");
  std::vector<int64_t> delays(4096);
  for (auto& d : delays) d = static_cast<int64_t>(rng.below(1'000'000));
  for (size_t i = 0; i < pending; ++i) q.push(SimTime::Zero() + Picoseconds(delays[i % delays.size()]), static_cast<uint32_t>(i));
  size_t i = 0;
  for (auto _ : state) {
    const auto e = q.pop();
    q.push(e->time + Picoseconds(delays[++i & 4095]), e->payload);
    benchmark::DoNotOptimize(e);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_EventQueueHold)->Arg(64)->Arg(1024)->Arg(16384)->Arg(262144);

// A step-shaped DAG: `range(0)` GPUs, each a chain of 400 compute tasks, with a collective over
// all GPUs' communication streams every 4 tasks, and `extra` tasks after the last one.
void add_step_shaped(TaskGraph& g, int gpus, int extra) {
  std::vector<TaskId> last(gpus);
  std::vector<ResourceId> comm;
  for (int gpu = 0; gpu < gpus; ++gpu) comm.push_back(static_cast<ResourceId>(2 * gpu + 1));
  for (int step = 0; step < 400; ++step) {
    for (int gpu = 0; gpu < gpus; ++gpu) {
      const TaskId t = g.add_task(Microseconds(10 + (gpu * 7 + step) % 13), static_cast<ResourceId>(2 * gpu));
      if (step > 0) g.add_dependency(last[gpu], t);
      last[gpu] = t;
    }
    if (step % 4 == 3) {
      const TaskId c = g.add_task(Microseconds(30), comm, 2);
      for (int gpu = 0; gpu < gpus; ++gpu) {
        g.add_dependency(last[gpu], c);
        last[gpu] = c;
      }
    }
  }
  for (int k = 0; k < extra; ++k) g.add_dependency(last[0], g.add_task(Microseconds(1), 0));
}
TaskGraph step_shaped(int gpus, int extra) {
  TaskGraph g(static_cast<uint32_t>(2 * gpus));
  add_step_shaped(g, gpus, extra);
  return g;
}

// One item = one task executed. range(1) = 1: the same graph again, which the executor re-times
// in the order kept from the last run; 0: two graphs of different sizes in turn, so that every
// run runs the events.
void BM_TaskGraphExecute(benchmark::State& state) {
  const int gpus = static_cast<int>(state.range(0));
  const bool same_graph = state.range(1) != 0;
  const TaskGraph g = step_shaped(gpus, 0), other = step_shaped(gpus, same_graph ? 0 : 1);
  TaskGraphExecutor ex;
  Schedule s;
  for (auto _ : state) {
    ex.execute(g, s);
    ex.execute(other, s);
    benchmark::DoNotOptimize(s.makespan);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * (g.task_count() + other.task_count())));
}
BENCHMARK(BM_TaskGraphExecute)->ArgNames({"gpus", "retimed"})->ArgsProduct({{32, 256}, {0, 1}});

// A simulation's step: the graph built and executed. range(1) = 1: rebuilt in place (the shape
// kept, so the executor reuses its successor lists and skips the order's topological check); 0:
// built anew after reset(). Both re-time the order kept from the step before. One item = one task.
void BM_TaskGraphBuildAndExecute(benchmark::State& state) {
  const int gpus = static_cast<int>(state.range(0));
  const bool in_place = state.range(1) != 0;
  TaskGraph g(static_cast<uint32_t>(2 * gpus));
  TaskGraphExecutor ex;
  Schedule s;
  add_step_shaped(g, gpus, 0);
  ex.execute(g, s);  // the first step runs the events; the steps after it re-time their order
  for (auto _ : state) {
    if (in_place)
      g.rebuild(static_cast<uint32_t>(2 * gpus));
    else
      g.reset(static_cast<uint32_t>(2 * gpus));
    add_step_shaped(g, gpus, 0);
    ex.execute(g, s);
    benchmark::DoNotOptimize(s.makespan);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * g.task_count()));
}
BENCHMARK(BM_TaskGraphBuildAndExecute)->ArgNames({"gpus", "in_place"})->ArgsProduct({{256, 2048}, {0, 1}});

}  // namespace
}  // namespace moesim::engine
