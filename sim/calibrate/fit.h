// A cluster's link parameters fitted to nccl-tests measurements: per tier (the NVLink inside a
// node from single-node logs, the NIC from multi-node ones, fitted in that order), the link
// efficiency and latency that minimise the squared relative error between each logged
// out-of-place time and the same collective simulated under the cluster's network model.
//
// A ring collective's and an all-to-all's simulated time is a + b / efficiency + c x latency
// + d x message overhead per size while the bottleneck tier stays the same, so four simulations
// give a to d and the fit is linear least squares (efficiency in (0, 1], latency and overhead
// >= 0), redone around its answer. The message overhead (what each further peer of an all-to-all
// phase costs) is the network's, not a tier's; only logs that tell it from the latency can fit it:
// all-to-alls at two or more rank counts, or an all-to-all beside a ring collective on the same
// tier. The residuals come from simulating again with the fitted values, so where the model is not
// linear they show it. All-reduces are simulated as rings, whatever cluster.intra_node.nvls says:
// an all-reduce log taken with NVLink SHARP (NCCL_NVLS_ENABLE=0 turns it off) would fit a faster
// link than the ring's.
#pragma once

#include <string>
#include <vector>

#include "hardware/specs.h"
#include "sim/calibrate/nccl_tests_log.h"

namespace moesim::calibrate {

struct TierFit {
  std::string tier;  // "intra_node" or "nic", as the cluster keys name them
  int logs = 0, sizes = 0;
  hardware::LinkSpec before, after;
  double rms_error = 0;  // relative, over the tier's sizes, after the fit
};

struct OverheadFit {
  Duration before, after;
  std::string fitted_by;  // the tier whose logs fitted it; empty where none could
};

struct Residual {
  std::string path;
  int line = 0;
  network::CollectiveOp op = network::CollectiveOp::kAllReduce;
  int ranks = 0, nodes = 0;
  int64_t bytes = 0;
  double measured_us = 0, simulated_us = 0;
};

struct Calibration {
  hardware::ClusterSpec cluster;  // the input with the fitted links
  std::vector<TierFit> tiers;
  OverheadFit overhead;
  std::vector<Residual> residuals;  // in the order of the logs and their lines
};

// Throws LogError for a log the cluster cannot run (ranks that do not fit its nodes).
Calibration calibrate(const hardware::ClusterSpec& cluster, const std::vector<NcclTestsLog>& logs);

}  // namespace moesim::calibrate
