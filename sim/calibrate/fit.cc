#include "sim/calibrate/fit.h"

#include <algorithm>
#include <cmath>

#include "sim/calibrate/bounded_least_squares.h"

namespace moesim::calibrate {
namespace {

constexpr int kRounds = 4;
// The fit's bounds beyond the physical ones: an efficiency of 1e-4 and a latency of a second are
// far outside any real link, and keep simulated times of absurd logs finite.
constexpr double kMaxX = 1e4, kMaxLatencyUs = 1e6, kMaxOverheadUs = 1e4;

// The cluster a log ran on: its nodes, and on each the first ranks / nodes GPUs.
struct LogRun {
  const NcclTestsLog* log;
  hardware::ClusterSpec cluster;
  std::vector<int> gpus;
  std::vector<int64_t> sizes;
  std::vector<double> simulated;  // us per row, with the fitted link (fit_tier)
};

LogRun log_run(const hardware::ClusterSpec& base, const NcclTestsLog& log) {
  if (log.nodes < 1 || log.ranks % log.nodes != 0)
    throw LogError(log.path + ": " + std::to_string(log.ranks) + " ranks on " + std::to_string(log.nodes) +
                   " hosts: expected the same number of ranks on every host");
  const int per_node = log.ranks / log.nodes;
  if (per_node > base.gpus_per_node)
    throw LogError(log.path + ": " + std::to_string(per_node) + " ranks per host, more than the cluster's " +
                   std::to_string(base.gpus_per_node) + " GPUs per node");
  LogRun run{&log, base, {}, {}, {}};
  run.cluster.nodes = log.nodes;
  run.cluster.gpus = 0;
  for (int node = 0; node < log.nodes; ++node)
    for (int i = 0; i < per_node; ++i) run.gpus.push_back(node * base.gpus_per_node + i);
  for (const auto& row : log.rows) run.sizes.push_back(row.bytes);
  return run;
}

hardware::LinkSpec& tier_link(hardware::ClusterSpec& c, bool nic) { return nic ? c.nic.link : c.intra_node.link; }

// The unknowns of one tier's fit: 1 / efficiency, the link's latency and the network's message
// overhead (both in us), in that order.
using Unknowns = std::vector<double>;
constexpr size_t kInverseEfficiency = 0, kLatency = 1, kOverhead = 2;
const std::vector<Bounds> kBounds = {{1, kMaxX}, {0, kMaxLatencyUs}, {0, kMaxOverheadUs}};

// Simulated out-of-place times (us) of every row of `runs`, with the tier's link and the
// network's message overhead set from `p`.
std::vector<double> simulate(std::vector<LogRun>& runs, bool nic, const hardware::LinkSpec& base, const Unknowns& p) {
  hardware::LinkSpec link = base;
  link.efficiency = 1 / p[kInverseEfficiency];
  link.latency = Seconds(p[kLatency] * 1e-6);
  std::vector<double> out;
  for (auto& run : runs) {
    tier_link(run.cluster, nic) = link;
    run.cluster.network.message_overhead = Seconds(p[kOverhead] * 1e-6);
    auto network = network::make_network_model(run.cluster);
    // Sizes are the log's own: nccl-tests already rounded them to whole elements per rank.
    for (const auto& sample : network::bench_collective(*network, run.log->op, run.gpus, run.sizes))
      out.push_back(sample.time.seconds() * 1e6);
  }
  return out;
}

// One round of Gauss-Newton: the simulated times linearised around `p` by moving each of the first
// `count` unknowns a little, then least squares on the relative error within the bounds. Returns
// false, leaving `p`, where the data cannot tell those unknowns apart.
bool refit(std::vector<LogRun>& runs, bool nic, const hardware::LinkSpec& base, const std::vector<double>& measured, size_t count,
           Unknowns& p) {
  const std::vector<double> here = simulate(runs, nic, base, p);
  std::vector<std::vector<double>> columns(count, std::vector<double>(measured.size()));
  std::vector<double> rhs(measured.size());
  for (size_t i = 0; i < measured.size(); ++i) rhs[i] = (measured[i] - here[i]) / measured[i];
  for (size_t k = 0; k < count; ++k) {
    Unknowns moved = p;
    moved[k] = k == kInverseEfficiency ? p[k] / 0.9 : std::max(1.5 * p[k], p[k] + 0.1);
    const std::vector<double> there = simulate(runs, nic, base, moved);
    for (size_t i = 0; i < measured.size(); ++i) {
      columns[k][i] = (there[i] - here[i]) / (moved[k] - p[k]) / measured[i];
      rhs[i] += columns[k][i] * p[k];
    }
  }
  if (!full_column_rank(columns)) return false;
  const std::vector<Bounds> bounds(kBounds.begin(), kBounds.begin() + static_cast<ptrdiff_t>(count));
  const BoundedSolution s = bounded_least_squares(columns, rhs, bounds);
  std::copy(s.x.begin(), s.x.end(), p.begin());
  return true;
}

TierFit fit_tier(std::vector<LogRun>& runs, bool nic, hardware::ClusterSpec& cluster, OverheadFit& overhead) {
  TierFit fit;
  fit.tier = nic ? "nic" : "intra_node";
  fit.logs = static_cast<int>(runs.size());
  fit.before = tier_link(cluster, nic);
  std::vector<double> measured;
  for (const auto& run : runs)
    for (const auto& row : run.log->rows) measured.push_back(row.time_us);
  fit.sizes = static_cast<int>(measured.size());
  Unknowns p = {fit.before.efficiency > 0 ? 1 / fit.before.efficiency : 1, std::max(fit.before.latency.seconds() * 1e6, 1.0),
                cluster.network.message_overhead.seconds() * 1e6};
  // The message overhead is the network's, not a tier's: the first tier whose logs tell it apart
  // from the latency fits it, and later tiers keep it.
  size_t count = overhead.fitted_by.empty() ? 3 : 2;
  // The latency term has a kink where another tier's latency takes over, so the fit is redone
  // around its own answer.
  for (int round = 0; round < kRounds; ++round) {
    if (refit(runs, nic, fit.before, measured, count, p) || count == 2) continue;
    count = 2;  // the overhead goes with the latency in these logs
    p[kOverhead] = cluster.network.message_overhead.seconds() * 1e6;
    refit(runs, nic, fit.before, measured, count, p);
  }
  if (count == 3) {
    overhead.fitted_by = fit.tier;
    overhead.after = Seconds(p[kOverhead] * 1e-6);
    cluster.network.message_overhead = overhead.after;
  }
  fit.after = fit.before;
  fit.after.efficiency = 1 / p[kInverseEfficiency];
  fit.after.latency = Seconds(p[kLatency] * 1e-6);
  tier_link(cluster, nic) = fit.after;
  p[kOverhead] = cluster.network.message_overhead.seconds() * 1e6;
  const std::vector<double> after = simulate(runs, nic, fit.before, p);
  double sum = 0;
  for (size_t i = 0; i < measured.size(); ++i) sum += std::pow((after[i] - measured[i]) / measured[i], 2);
  auto row = after.begin();
  for (auto& run : runs) {
    run.simulated.assign(row, row + static_cast<ptrdiff_t>(run.sizes.size()));
    row += static_cast<ptrdiff_t>(run.sizes.size());
  }
  fit.rms_error = std::sqrt(sum / static_cast<double>(measured.size()));
  return fit;
}

}  // namespace

Calibration calibrate(const hardware::ClusterSpec& cluster, const std::vector<NcclTestsLog>& logs) {
  Calibration out;
  // The links are fitted on rings: an NVLS all-reduce's time does not depend on them.
  out.cluster = cluster;
  out.cluster.intra_node.nvls = false;
  out.overhead.before = out.overhead.after = cluster.network.message_overhead;
  std::vector<std::vector<double>> simulated(logs.size());  // per log, from its tier's fit
  for (bool nic : {false, true}) {
    std::vector<LogRun> runs;
    std::vector<size_t> index;
    for (size_t i = 0; i < logs.size(); ++i)
      if ((logs[i].nodes > 1) == nic) runs.push_back(log_run(out.cluster, logs[i])), index.push_back(i);
    if (runs.empty()) continue;
    // The NIC tier is fitted with the NVLink tier already fitted.
    for (auto& run : runs) run.cluster.intra_node.link = out.cluster.intra_node.link;
    out.tiers.push_back(fit_tier(runs, nic, out.cluster, out.overhead));
    for (size_t r = 0; r < runs.size(); ++r) simulated[index[r]] = std::move(runs[r].simulated);
  }
  for (size_t l = 0; l < logs.size(); ++l) {
    const NcclTestsLog& log = logs[l];
    for (size_t i = 0; i < log.rows.size(); ++i)
      out.residuals.push_back(
          {log.path, log.rows[i].line, log.op, log.ranks, log.nodes, log.rows[i].bytes, log.rows[i].time_us, simulated[l][i]});
  }
  out.cluster.intra_node.nvls = cluster.intra_node.nvls;
  return out;
}

}  // namespace moesim::calibrate
