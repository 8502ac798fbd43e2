// What one SM of DeepEP's normal kernels moves (cluster.gpu.comm_sm_bandwidth), fitted to DeepEP's
// own test logs (deepep_log.h): each [tuning] line is the kernel at one SM count, and the same
// dispatch or combine simulated with `dispatch.kernel: deepep` on the cluster gives its bandwidth
// by DeepEP's definition (sim/dispatch_bench.h).
//
// Under the model a line's time is max(network time, busiest GPU's bytes / (SMs x rate)), so two
// simulations per line (without the SM cap, and with it binding) give it in closed form for any
// rate; the fit minimises the squared log ratio of simulated to measured bandwidth over all lines.
#pragma once

#include <string>
#include <vector>

#include "hardware/specs.h"
#include "scenarios/scenario.h"
#include "sim/calibrate/deepep_log.h"

namespace moesim::calibrate {

struct DeepEpResidual {
  std::string path;
  int line = 0;
  bool combine = false, fp8 = false, rdma = false;  // which figure: RDMA (internode) or NVL
  int sms = 0, ep = 0;
  double measured_gbps = 0, simulated_gbps = 0;
};

struct DeepEpCalibration {
  hardware::ClusterSpec cluster;  // the input with the fitted SM rate
  Bandwidth before, after;
  double rms_error = 0;  // relative, over every line, after the fit
  std::vector<DeepEpResidual> residuals;
};

// One DeepEP log and the scenario that runs its test on the cluster: DeepEP's setting from the
// log (tokens per rank, hidden, top-k, groups), `dispatch.kernel: deepep`, EP as the log ran.
// Each tuning line runs it at its SM count and precision.
struct DeepEpCase {
  const DeepEpLog* log = nullptr;
  int ep = 0;
  scenarios::Scenario scenario;
};

DeepEpCalibration calibrate_deepep(const hardware::ClusterSpec& cluster, const std::vector<DeepEpCase>& cases);

}  // namespace moesim::calibrate
