#include "sim/calibrate/deepep_fit.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "sim/dispatch_bench.h"

namespace moesim::calibrate {
namespace {

// One tuning line under the model: its figure's bytes (bandwidth x time), its payload time without
// the SM cap, and the cap's time x rate (bytes of the busiest GPU / SMs).
struct LineModel {
  double figure_bytes = 0, network_s = 0, cap_bytes = 0;
  double gbps(double rate_gbps) const { return figure_bytes / std::max(network_s, cap_bytes / (rate_gbps * 1e9)) / 1e9; }
};

LineModel line_model(const scenarios::Scenario& base, const DeepEpTuning& t, bool rdma) {
  auto bench = [&](int sms, Bandwidth rate) {
    scenarios::Scenario s = base;
    s.dispatch.dtype = t.fp8 ? models::Dtype::kFp8 : models::Dtype::kBf16;
    s.dispatch.comm_sms = sms;
    s.cluster.gpu.comm_sm_bandwidth = rate;  // only the line's kernel's applies
    s.cluster.gpu.comm_sm_bandwidth_intranode = rate;
    return bench_dispatch(s);
  };
  const auto figure = [&](const DispatchBench& b) {
    return t.combine ? (rdma ? b.rdma_combine : b.nvl_combine) : (rdma ? b.rdma_dispatch : b.nvl_dispatch);
  };
  const auto seconds = [&](const DispatchBench& b) { return (t.combine ? b.combine : b.dispatch).seconds(); };
  const DispatchBench free = bench(0, GBps(1));
  // At 1 MB/s per SM the cap binds whatever the network.
  const double slow = 1e6;
  const DispatchBench capped = bench(t.sms, Bandwidth::BytesPerSecond(slow));
  LineModel m;
  m.figure_bytes = figure(free) * 1e9 * seconds(free);
  m.network_s = seconds(free);
  m.cap_bytes = seconds(capped) * slow;
  return m;
}

double loss(const std::vector<LineModel>& models, const std::vector<double>& measured, double rate) {
  double sum = 0;
  for (size_t i = 0; i < models.size(); ++i) sum += std::pow(std::log(models[i].gbps(rate) / measured[i]), 2);
  return sum;
}

// The rate of one kernel from its lines: a scan over 0.1 to 1,000 GB/s per SM in log steps, then
// golden-section search around the best. Kept where the lines fit as well with no cap at all.
void fit_rate(const std::vector<LineModel>& models, const std::vector<double>& measured, SmRateFit& fit) {
  fit.after = fit.before;
  fit.blocks = models.size();
  if (models.empty()) return;
  double best = 1, best_loss = INFINITY;
  for (int i = 0; i <= 400; ++i) {
    const double r = 0.1 * std::pow(1e4, i / 400.0);
    const double l = loss(models, measured, r);
    if (l < best_loss) best = r, best_loss = l;
  }
  double lo = best / std::pow(1e4, 1 / 400.0), hi = best * std::pow(1e4, 1 / 400.0);
  const double golden = (std::sqrt(5.0) - 1) / 2;
  for (int i = 0; i < 60; ++i) {
    const double a = hi - golden * (hi - lo), b = lo + golden * (hi - lo);
    if (loss(models, measured, a) < loss(models, measured, b))
      hi = b;
    else
      lo = a;
  }
  const double rate = (lo + hi) / 2;
  const double uncapped = loss(models, measured, INFINITY);
  fit.bound = loss(models, measured, rate) < uncapped * (1 - 1e-9) - 1e-12;
  if (fit.bound) fit.after = GBps(rate);
}

}  // namespace

DeepEpCalibration calibrate_deepep(const hardware::ClusterSpec& cluster, const std::vector<DeepEpCase>& cases) {
  DeepEpCalibration out;
  out.cluster = cluster;
  out.intranode.before = cluster.gpu.comm_sm_bandwidth_intranode;
  out.internode.before = cluster.gpu.comm_sm_bandwidth;
  // Per kernel (false: intranode, true: internode), the model and figure of each block's best
  // line: a block's lines differ in their chunk sizes, which moesim does not model, and its best
  // is what the kernel reaches with those SMs.
  std::vector<LineModel> models[2];
  std::vector<double> measured[2];
  std::vector<std::pair<bool, size_t>> kernel_of;  // per residual: its kernel and block there
  for (const DeepEpCase& c : cases) {
    const bool internode = c.log->internode;
    std::map<std::tuple<bool, bool, int>, size_t> block_of;
    for (const DeepEpTuning& t : c.log->tunings) {
      const auto key = std::make_tuple(t.combine, t.fp8, t.sms);
      const double figure = internode ? t.rdma_gbps : t.nvl_gbps;
      auto it = block_of.find(key);
      if (it == block_of.end()) {
        it = block_of.emplace(key, models[internode].size()).first;
        models[internode].push_back(line_model(c.scenario, t, internode));
        measured[internode].push_back(figure);
      }
      measured[internode][it->second] = std::max(measured[internode][it->second], figure);
      kernel_of.emplace_back(internode, it->second);
      out.residuals.push_back({c.log->path, t.line, t.combine, t.fp8, internode, t.sms, c.ep, figure, 0});
    }
  }
  fit_rate(models[0], measured[0], out.intranode);
  fit_rate(models[1], measured[1], out.internode);
  out.cluster.gpu.comm_sm_bandwidth_intranode = out.intranode.after;
  out.cluster.gpu.comm_sm_bandwidth = out.internode.after;
  const auto rate_of = [&](bool internode) { return (internode ? out.internode.after : out.intranode.after).bytes_per_second() / 1e9; };
  for (size_t i = 0; i < out.residuals.size(); ++i) {
    const auto [internode, k] = kernel_of[i];
    out.residuals[i].simulated_gbps = models[internode][k].gbps(rate_of(internode));
  }
  double squares = 0;
  size_t blocks = 0;
  for (bool internode : {false, true}) {
    for (size_t k = 0; k < models[internode].size(); ++k, ++blocks)
      squares += std::pow(models[internode][k].gbps(rate_of(internode)) / measured[internode][k] - 1, 2);
  }
  out.rms_error = blocks == 0 ? 0 : std::sqrt(squares / static_cast<double>(blocks));
  out.blocks = blocks;
  return out;
}

}  // namespace moesim::calibrate
