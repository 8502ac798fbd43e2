#include "results/sweep_outputs.h"

#include <H5Cpp.h>

#include <cmath>
#include <functional>

#include "results/h5_file.h"
#include "results/summary_csv.h"

namespace moesim::results {

std::string sweep_csv(const SweepTable& t) {
  // Appended piece by piece: GCC 12 warns (-Wrestrict, a false positive) on "," + std::string here.
  std::string out = "point";
  for (const auto& axis : t.axes) out.append(",").append(csv_field(axis));
  out.append(",").append(summary_csv_header()).append("\n");
  for (const auto& p : t.points) {
    std::string front = std::to_string(p.point);
    for (const auto& v : p.values) front.append(",").append(csv_field(v));
    for (const auto& policy : p.policies) out.append(front).append(",").append(summary_csv_row(policy)).append("\n");
  }
  return out;
}

namespace {

void strings(H5::Group& g, const std::string& name, const std::vector<std::string>& values) {
  const H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
  const hsize_t n = values.size();
  const H5::DataSet ds = g.createDataSet(name, type, H5::DataSpace(1, &n), untimed_properties());
  std::vector<const char*> raw;
  for (const auto& v : values) raw.push_back(v.c_str());
  if (n > 0) ds.write(raw.data(), type);
}

template <typename T>
void numbers(H5::Group& g, const std::string& name, const std::vector<T>& values, const H5::PredType& type) {
  const hsize_t n = values.size();
  const H5::DataSet ds = g.createDataSet(name, type, H5::DataSpace(1, &n), untimed_properties());
  if (n > 0) ds.write(values.data(), type);
}

void write_table(H5::H5File& file, const SweepTable& t) {
  H5::Group root = file.openGroup("/");
  text_attribute(root, "format", "moesim-sweep");
  int_attribute(root, "version", 1);
  text_attribute(root, "name", t.name);
  strings(root, "axes", t.axes);

  std::vector<int32_t> point;
  std::vector<std::string> policy;
  std::vector<std::vector<std::string>> axis_values(t.axes.size());
  std::vector<const PolicySummary*> rows;
  for (const auto& p : t.points) {
    for (const auto& s : p.policies) {
      point.push_back(p.point);
      policy.push_back(s.label);
      for (size_t a = 0; a < t.axes.size(); ++a) axis_values[a].push_back(p.values[a]);
      rows.push_back(&s);
    }
  }
  numbers(root, "point", point, H5::PredType::NATIVE_INT32);
  strings(root, "policy", policy);
  H5::Group axes = untimed_group(root, "axis");
  for (size_t a = 0; a < t.axes.size(); ++a) strings(axes, t.axes[a], axis_values[a]);

  // The metrics under summary.csv's column names; NaN where a policy has no value.
  H5::Group metrics = untimed_group(root, "metrics");
  const auto column = [&](const char* name, const std::function<double(const PolicySummary&)>& get) {
    std::vector<double> v;
    for (const auto* r : rows) v.push_back(get(*r));
    numbers(metrics, name, v, H5::PredType::NATIVE_DOUBLE);
  };
  const auto or_nan = [](const std::optional<double>& v) { return v.value_or(std::nan("")); };
  column("step_ms_mean", [](const auto& r) { return r.step_ms_mean; });
  column("step_ms_p50", [](const auto& r) { return r.step_ms_p50; });
  column("step_ms_p99", [](const auto& r) { return r.step_ms_p99; });
  column("tokens_per_s", [](const auto& r) { return r.tokens_per_second; });
  column("gpu_util_mean", [](const auto& r) { return r.gpu_utilization; });
  column("gpu_util_min", [](const auto& r) { return r.gpu_utilization_min; });
  column("imbalance_max_mean", [](const auto& r) { return r.imbalance; });
  column("a2a_share", [](const auto& r) { return r.all_to_all_share; });
  column("a2a_inter_node_gb_per_step", [](const auto& r) { return r.inter_node_a2a_gb; });
  column("a2a_intra_node_gb_per_step", [](const auto& r) { return r.intra_node_a2a_gb; });
  column("dropped_fraction", [](const auto& r) { return r.dropped_fraction; });
  column("speedup_vs_static", [](const auto& r) { return r.speedup; });
  column("migration_gb_per_step", [](const auto& r) { return r.migration_gb; });
  column("migration_ms_per_step", [](const auto& r) { return r.migration_ms; });
  column("forecast_error_pp", [&](const auto& r) { return or_nan(r.forecast_error_pp); });
  column("cost_per_mtok", [&](const auto& r) { return or_nan(r.cost_per_mtok); });
  column("tokens_per_s_per_gpu", [](const auto& r) { return r.tokens_per_gpu; });
  column("model_tflops_per_gpu", [](const auto& r) { return r.model_tflops; });
  column("mfu", [](const auto& r) { return r.mfu; });
  column("bubble_share", [](const auto& r) { return r.bubble_share; });
  column("exposed_comm_share", [](const auto& r) { return r.exposed_comm_share; });
  column("peak_memory_gb", [](const auto& r) { return r.peak_memory_gb; });
}

}  // namespace

void write_sweep_h5(const std::string& path, const SweepTable& table) {
  write_h5_atomically(path, [&](H5::H5File& file) { write_table(file, table); });
}

}  // namespace moesim::results
