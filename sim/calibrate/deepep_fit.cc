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
    s.cluster.gpu.comm_sm_bandwidth = rate;
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

}  // namespace

DeepEpCalibration calibrate_deepep(const hardware::ClusterSpec& cluster, const std::vector<DeepEpCase>& cases) {
  DeepEpCalibration out;
  out.cluster = cluster;
  out.before = cluster.gpu.comm_sm_bandwidth;
  std::vector<LineModel> models;
  std::vector<double> measured;
  for (const DeepEpCase& c : cases) {
    // Lines that differ only in their chunk sizes share one simulation.
    std::map<std::tuple<bool, bool, int>, LineModel> cache;
    for (const DeepEpTuning& t : c.log->tunings) {
      const auto key = std::make_tuple(t.combine, t.fp8, t.sms);
      auto it = cache.find(key);
      if (it == cache.end()) it = cache.emplace(key, line_model(c.scenario, t, c.log->internode)).first;
      models.push_back(it->second);
      measured.push_back(c.log->internode ? t.rdma_gbps : t.nvl_gbps);
      out.residuals.push_back({c.log->path, t.line, t.combine, t.fp8, c.log->internode, t.sms, c.ep, measured.back(), 0});
    }
  }
  // A scan over 0.1 to 1,000 GB/s per SM in log steps, then golden-section search around the best.
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
  out.after = GBps(rate);
  out.cluster.gpu.comm_sm_bandwidth = out.after;
  double squares = 0;
  for (size_t i = 0; i < models.size(); ++i) {
    out.residuals[i].simulated_gbps = models[i].gbps(rate);
    squares += std::pow(out.residuals[i].simulated_gbps / measured[i] - 1, 2);
  }
  out.rms_error = models.empty() ? 0 : std::sqrt(squares / static_cast<double>(models.size()));
  return out;
}

}  // namespace moesim::calibrate
