// A log that DeepEP's tests printed (github.com/deepseek-ai/DeepEP, tests/test_intranode.py and
// tests/test_internode.py), read for calibration: the setting from the "[config]" line, and each
// "[tuning] SMs N, ..." line of the dispatch and combine tuning, labelled by the "Best dispatch
// (FP8|BF16)" and "Best combine" lines that close their blocks. An intranode log has only NVL
// bandwidths (EP 8); an internode one has RDMA and NVL.
#pragma once

#include <string>
#include <vector>

#include "sim/calibrate/nccl_tests_log.h"

namespace moesim::calibrate {

struct DeepEpTuning {
  int line = 0;
  bool combine = false;
  bool fp8 = false;  // the dispatch's precision (the combine is BF16)
  int sms = 0;
  double rdma_gbps = 0;  // 0 in an intranode log
  double nvl_gbps = 0;
};

struct DeepEpLog {
  std::string path;
  bool internode = false;
  int tokens = 0, hidden = 0, top_k = 0;
  int topk_groups = 0;  // 0 in an intranode log (no groups)
  std::vector<DeepEpTuning> tunings;
};

// Reads `text` (the contents of `path`, which messages name). Throws LogError ("FILE:LINE: what").
DeepEpLog parse_deepep_log(const std::string& text, const std::string& path);
DeepEpLog read_deepep_log(const std::string& path);

}  // namespace moesim::calibrate
