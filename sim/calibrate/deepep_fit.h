// What one SM of DeepEP's normal kernels moves, fitted to DeepEP's own test logs (deepep_log.h):
// each [tuning] line is a kernel at one SM count, and the same dispatch or combine simulated with
// `dispatch.kernel: deepep` on the cluster gives its bandwidth by DeepEP's definition
// (sim/dispatch_bench.h). Intranode logs fit the intranode kernel's rate
// (cluster.gpu.comm_sm_bandwidth_intranode), internode logs the internode kernel's
// (cluster.gpu.comm_sm_bandwidth).
//
// Under the model a line's time is max(its time without the SM cap, busiest GPU's bytes / (SMs x
// rate)), so two simulations per line (without the SM cap, and with it binding) give it in closed
// form for any rate; each fit minimises the squared log ratio of simulated to measured bandwidth
// over the best line of each block (one kernel, precision and SM count: its lines differ only in
// chunk sizes, which moesim does not model). Where the blocks fit as well with no SM cap at all
// (DeepEP's intranode test on H800, whose NVLink binds), they say only that the rate is high
// enough: it is kept.
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

// One kernel's SM rate: before, after, and whether its lines bound it (else after = before).
struct SmRateFit {
  Bandwidth before, after;
  size_t blocks = 0;  // its blocks of lines (one kernel, precision and SM count in a log)
  bool bound = false;
};

struct DeepEpCalibration {
  hardware::ClusterSpec cluster;  // the input with the fitted SM rates
  SmRateFit intranode, internode;
  double rms_error = 0;  // relative, over each block's best line (the ones fitted), after the fit
  size_t blocks = 0;     // blocks of lines (a kernel, precision and SM count in one log)
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
