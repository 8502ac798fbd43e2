#include "sim/calibrate/fit.h"

#include <algorithm>
#include <cmath>

namespace moesim::calibrate {
namespace {

constexpr int kRounds = 4;
// The fit's bounds beyond the physical ones: an efficiency of 1e-4 and a latency of a second are
// far outside any real link, and keep simulated times of absurd logs finite.
constexpr double kMaxX = 1e4, kMaxLatencyUs = 1e6;

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

// Simulated out-of-place times (us) of every row of `runs`, with the tier's link set to `link`.
std::vector<double> simulate(std::vector<LogRun>& runs, bool nic, const hardware::LinkSpec& link) {
  std::vector<double> out;
  for (auto& run : runs) {
    tier_link(run.cluster, nic) = link;
    auto network = network::make_network_model(run.cluster);
    // Sizes are the log's own: nccl-tests already rounded them to whole elements per rank.
    for (const auto& sample : network::bench_collective(*network, run.log->op, run.gpus, run.sizes))
      out.push_back(sample.time.seconds() * 1e6);
  }
  return out;
}

// Minimises sum ((a + b x + c y - m) / m)^2 over x = 1 / efficiency >= 1 and y = latency >= 0.
struct Solution {
  double x = 1, y = 0;
};
Solution least_squares(const std::vector<double>& a, const std::vector<double>& b, const std::vector<double>& c,
                       const std::vector<double>& m) {
  double bb = 0, bc = 0, cc = 0, br = 0, cr = 0;
  for (size_t i = 0; i < m.size(); ++i) {
    const double w = 1 / (m[i] * m[i]), r = m[i] - a[i];
    bb += w * b[i] * b[i], bc += w * b[i] * c[i], cc += w * c[i] * c[i], br += w * b[i] * r, cr += w * c[i] * r;
  }
  const auto only_x = [&](double y) { return bb > 0 ? std::clamp((br - bc * y) / bb, 1.0, kMaxX) : 1.0; };
  const auto only_y = [&](double x) { return cc > 0 ? std::clamp((cr - bc * x) / cc, 0.0, kMaxLatencyUs) : 0.0; };
  const double det = bb * cc - bc * bc;
  if (det > 1e-12 * bb * cc) {
    const Solution s{(br * cc - cr * bc) / det, (bb * cr - bc * br) / det};
    if (s.x >= 1 && s.x <= kMaxX && s.y >= 0 && s.y <= kMaxLatencyUs) return s;
  }
  // On the boundary: the better of fixing each at its bound and fitting the other.
  const auto cost = [&](Solution s) {
    double sum = 0;
    for (size_t i = 0; i < m.size(); ++i) sum += std::pow((a[i] + b[i] * s.x + c[i] * s.y - m[i]) / m[i], 2);
    return sum;
  };
  const Solution at_x{1, only_y(1)}, at_y{only_x(0), 0};
  const Solution refined_x{only_x(at_x.y), at_x.y}, refined_y{at_y.x, only_y(at_y.x)};
  Solution best = at_x;
  for (const Solution& s : {at_y, refined_x, refined_y})
    if (cost(s) < cost(best)) best = s;
  return best;
}

TierFit fit_tier(std::vector<LogRun>& runs, bool nic, hardware::ClusterSpec& cluster) {
  TierFit fit;
  fit.tier = nic ? "nic" : "intra_node";
  fit.logs = static_cast<int>(runs.size());
  fit.before = tier_link(cluster, nic);
  std::vector<double> measured;
  for (const auto& run : runs)
    for (const auto& row : run.log->rows) measured.push_back(row.time_us);
  fit.sizes = static_cast<int>(measured.size());
  // t(e, l) = a + b / e + c l near (e, l), measured by moving each a little; the latency term has
  // a kink where another tier's latency takes over, so the fit is redone around its own answer.
  hardware::LinkSpec link = fit.before;
  if (!(link.efficiency > 0)) link.efficiency = 1;
  if (link.latency <= Duration()) link.latency = Microseconds(1);
  Solution s{1 / link.efficiency, link.latency.seconds() * 1e6};
  for (int round = 0; round < kRounds; ++round) {
    const double e = 1 / s.x, l = std::max(s.y, 0.1), e_moved = e * 0.9, l_moved = l * 1.5;
    link.efficiency = e;
    link.latency = Seconds(l * 1e-6);
    const std::vector<double> here = simulate(runs, nic, link);
    link.efficiency = e_moved;
    const std::vector<double> slower = simulate(runs, nic, link);
    link.efficiency = e;
    link.latency = Seconds(l_moved * 1e-6);
    const std::vector<double> later = simulate(runs, nic, link);
    std::vector<double> a(measured.size()), b(measured.size()), c(measured.size());
    for (size_t i = 0; i < measured.size(); ++i) {
      b[i] = (slower[i] - here[i]) / (1 / e_moved - 1 / e);
      c[i] = (later[i] - here[i]) / (l_moved - l);
      a[i] = here[i] - b[i] / e - c[i] * l;
    }
    s = least_squares(a, b, c, measured);
  }
  fit.after = fit.before;
  fit.after.efficiency = 1 / s.x;
  fit.after.latency = Seconds(s.y * 1e-6);
  tier_link(cluster, nic) = fit.after;
  const std::vector<double> after = simulate(runs, nic, fit.after);
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
  out.cluster = cluster;
  std::vector<std::vector<double>> simulated(logs.size());  // per log, from its tier's fit
  for (bool nic : {false, true}) {
    std::vector<LogRun> runs;
    std::vector<size_t> index;
    for (size_t i = 0; i < logs.size(); ++i)
      if ((logs[i].nodes > 1) == nic) runs.push_back(log_run(out.cluster, logs[i])), index.push_back(i);
    if (runs.empty()) continue;
    // The NIC tier is fitted with the NVLink tier already fitted.
    for (auto& run : runs) run.cluster.intra_node.link = out.cluster.intra_node.link;
    out.tiers.push_back(fit_tier(runs, nic, out.cluster));
    for (size_t r = 0; r < runs.size(); ++r) simulated[index[r]] = std::move(runs[r].simulated);
  }
  for (size_t l = 0; l < logs.size(); ++l) {
    const NcclTestsLog& log = logs[l];
    for (size_t i = 0; i < log.rows.size(); ++i)
      out.residuals.push_back(
          {log.path, log.rows[i].line, log.op, log.ranks, log.nodes, log.rows[i].bytes, log.rows[i].time_us, simulated[l][i]});
  }
  return out;
}

}  // namespace moesim::calibrate
